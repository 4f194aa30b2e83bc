// Parse + verify of one signed targets metadata file with 1k, 10k and 100k targets, as a client
// does it: ours (Metadata.fromBytes + verifyThreshold) against @tufjs/models (Metadata.fromJSON
// + Root.verifyDelegate), with raw JSON.parse and a raw node:crypto ed25519 verify of the same
// canonical bytes as the floor.
import { Buffer } from 'node:buffer';
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { createRequire } from 'node:module';
import {
  Metadata, RepositoryBuilder, SPEC_VERSION, TargetFile, Targets, canonicalBytes, formatExpires,
  generateSigner, uptaneCustom, verifyThreshold,
} from '@reflash/metadata';
import { fmtBytes, fmtInt, fmtLong, fmtMs, fmtRatio, fmtStat, measure, now, printTable } from './lib.mjs';

// @tufjs/models and @tufjs/canonical-json are CommonJS; require them the way tuf-js does.
const require = createRequire(import.meta.url);
const tuf = require('@tufjs/models');
const { canonicalize: tufCanonicalize } = require('@tufjs/canonical-json');

export const title = 'Parse + verify of targets metadata with 1k, 10k and 100k targets: ours vs @tufjs/models';

const SIZES = [1_000, 10_000, 100_000];
const GOALS = new Map([[10_000, 100], [100_000, 1_000]]);
const NOW = Date.parse('2026-11-21T12:00:00Z');
const DAY = 86_400_000;
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

// tuf-js time budget: a run over 10 s is kept as the only warm-up and the number of runs is cut
// to what fits in TUF_BUDGET_MS; 100k is skipped when the 10k median exceeds 5 s.
const TUF_SLOW_RUN_MS = 10_000;
const TUF_BUDGET_MS = 30_000;
const TUF_SKIP_NEXT_MS = 5_000;
// ... and also when the extrapolated next size would take longer than this (keeps `all` short).
const TUF_MAX_EXTRAPOLATED_MS = 60_000;

/** The signed targets file: N targets with sha256 + sha512 and Uptane custom fields. */
function makeTargetsFile(n, signer) {
  const targets = new Map();
  for (let i = 0; i < n; i++) {
    const path = `firmware/ecu-${i}/image-${i}.bin`;
    const seed = `image ${i}`;
    targets.set(path, new TargetFile({
      path,
      length: 1_048_576 + i,
      hashes: {
        sha256: createHash('sha256').update(seed).digest('hex'),
        sha512: createHash('sha512').update(seed).digest('hex'),
      },
      custom: uptaneCustom({ hardwareIds: [`hw-ecu-${i % 64}`], releaseCounter: i }),
    }));
  }
  const signed = new Targets({ specVersion: SPEC_VERSION, version: 1, expires: formatExpires(NOW + 90 * DAY), targets });
  const md = Metadata.of(signed, signer);
  return { bytes: md.toBytes(), signedBytes: md.signedBytes(), sig: md.signatures.get(signer.keyId).sig };
}

/** A tuf-js root (built with @tufjs/models) whose targets role is our targets key. */
function tufRootFor(signer) {
  const root = new tuf.Root({ expires: formatExpires(NOW + 365 * DAY) });
  const key = new tuf.Key({
    keyID: signer.keyId,
    keyType: signer.key.keytype,
    scheme: signer.key.scheme,
    keyVal: { public: signer.key.publicValue },
  });
  root.addKey(key, 'targets');
  return new tuf.Metadata(root);
}

function parseBytes(bytes) {
  return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
}

export async function run({ runs, log }) {
  // Our trusted root, parsed as the client would have it; its targets key signs every file.
  const keys = { root: generateSigner(), timestamp: generateSigner(), snapshot: generateSigner(), targets: generateSigner() };
  const repo = new RepositoryBuilder({
    now: NOW,
    keys: { root: { signers: [keys.root] }, timestamp: { signers: [keys.timestamp] }, snapshot: { signers: [keys.snapshot] }, targets: { signers: [keys.targets] } },
  });
  const root = Metadata.fromBytes(repo.files.get('1.root.json'), 'root');
  const rootKeys = root.signed.keys;
  const targetsRole = root.signed.role('targets');
  const tufRoot = tufRootFor(keys.targets);
  const rawKey = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(keys.targets.key.publicValue, 'hex')]), format: 'der', type: 'spki' });

  const results = [];
  let tufSkipReason;
  for (const n of SIZES) {
    const r = { n };
    results.push(r);
    log(`-- ${fmtInt(n)} targets`);
    let t0 = now();
    const file = makeTargetsFile(n, keys.targets);
    r.generateMs = now() - t0;
    r.bytes = file.bytes.byteLength;
    log(`   generated and signed ${fmtBytes(r.bytes)} in ${fmtMs(r.generateMs)}`);

    // Interoperability: is our canonical form byte-identical to @tufjs/canonical-json's?
    t0 = now();
    const parsed = parseBytes(file.bytes);
    r.canonicalIdenticalToTufJs = Buffer.from(tufCanonicalize(parsed.signed), 'utf8').equals(Buffer.from(file.signedBytes));
    log(`   canonical JSON identical to @tufjs/canonical-json: ${r.canonicalIdenticalToTufJs ? 'yes' : 'NO'} (${fmtMs(now() - t0)})`);

    // OURS: what the client does with a downloaded targets file.
    r.ours = await measure(() => {
      const md = Metadata.fromBytes(file.bytes, 'targets');
      verifyThreshold('targets', rootKeys, targetsRole, md);
      return md;
    }, { runs, check: (md) => { if (md.signed.targets.size !== n) throw new Error('ours: wrong number of targets'); } });
    log(`   ours:         ${fmtStat(r.ours)}`);

    // Floors: raw JSON.parse of the file; raw ed25519 verify of the canonical bytes.
    r.jsonParse = await measure(() => parseBytes(file.bytes), { runs });
    log(`   JSON.parse:   ${fmtStat(r.jsonParse)}`);
    const sigBuf = Buffer.from(file.sig, 'hex');
    r.rawVerify = await measure(() => cryptoVerify(null, file.signedBytes, rawKey, sigBuf), {
      runs, check: (ok) => { if (ok !== true) throw new Error('raw verify failed'); },
    });
    log(`   raw verify:   ${fmtStat(r.rawVerify)}`);

    // Where ours spends time, measured piece by piece on an already parsed copy.
    r.oursModel = await measure(() => Targets.fromJSON(parsed.signed), { runs });
    r.oursCanonical = await measure(() => canonicalBytes(parsed.signed), { runs });
    log(`   ours, pieces: Targets.fromJSON ${fmtMs(r.oursModel.median)}, canonicalBytes ${fmtMs(r.oursCanonical.median)}`);

    // THEIRS: @tufjs/models 4.1.1.
    if (tufSkipReason !== undefined) {
      r.tufjs = { skipped: true, reason: tufSkipReason };
      log(`   tuf-js:       ${tufSkipReason}`);
      continue;
    }
    try {
      r.tufjs = await measure(() => {
        const md = tuf.Metadata.fromJSON('targets', parseBytes(file.bytes));
        tufRoot.verifyDelegate('targets', md); // throws UnsignedMetadataError below threshold
        return md;
      }, {
        runs,
        slowAboveMs: TUF_SLOW_RUN_MS,
        budgetMs: TUF_BUDGET_MS,
        check: (md) => { if (Object.keys(md.signed.targets).length !== n) throw new Error('tuf-js: wrong number of targets'); },
      });
      r.tufjsVerifiesOurSignature = true;
      log(`   tuf-js:       ${fmtStat(r.tufjs)}${r.tufjs.note ? ` [${r.tufjs.note}]` : ''}; our signature verifies in tuf-js`);
    } catch (err) {
      r.tufjsVerifiesOurSignature = false;
      r.tufjs = { error: String(err?.message ?? err) };
      log(`   tuf-js:       FAILED: ${r.tufjs.error} (our signature does NOT verify in tuf-js)`);
      continue;
    }
    const prev = results.at(-2);
    const next = SIZES[SIZES.indexOf(n) + 1];
    // Fit t = c * n^k through the two measured sizes and extend it to the next size.
    const k = prev?.tufjs?.median !== undefined ? Math.log(r.tufjs.median / prev.tufjs.median) / Math.log(n / prev.n) : undefined;
    const extrapolatedMs = k === undefined || next === undefined ? undefined : r.tufjs.median * (next / n) ** k;
    if (next !== undefined && (r.tufjs.median > TUF_SKIP_NEXT_MS || (extrapolatedMs ?? 0) > TUF_MAX_EXTRAPOLATED_MS)) {
      tufSkipReason = k === undefined
        ? `skipped (${fmtMs(r.tufjs.median)} at ${fmtInt(n)} exceeds ${fmtMs(TUF_SKIP_NEXT_MS)})`
        : `skipped (extrapolated ${fmtLong(extrapolatedMs)} from the ${prev.n / 1000}k->${n / 1000}k growth)`;
      r.tufjsNext = { n: next, growthExponent: k, extrapolatedMs };
    }
  }

  // Summary table.
  log('');
  const rows = results.map((r) => {
    const ours = r.ours.median;
    const raw = r.jsonParse.median + r.rawVerify.median;
    const goal = GOALS.get(r.n);
    let tufCol = '-';
    let speedup = '-';
    if (r.tufjs?.median !== undefined) {
      tufCol = `${fmtMs(r.tufjs.median)}${r.tufjs.runs < runs ? ` (${r.tufjs.runs} run${r.tufjs.runs === 1 ? '' : 's'})` : ''}`;
      speedup = fmtRatio(r.tufjs.median / ours);
    } else if (r.tufjs?.skipped) {
      tufCol = r.tufjs.reason;
    } else if (r.tufjs?.error) {
      tufCol = `error: ${r.tufjs.error}`;
    }
    return {
      n: fmtInt(r.n),
      size: fmtBytes(r.bytes),
      ours: fmtStat(r.ours),
      tufjs: tufCol,
      speedup,
      parse: fmtMs(r.jsonParse.median),
      verify: fmtMs(r.rawVerify.median),
      ratio: fmtRatio(ours / raw),
      goal: goal === undefined ? '-' : `< ${fmtMs(goal)}: ${ours < goal ? 'met' : 'MISSED'}`,
    };
  });
  printTable([
    { key: 'n', title: 'N' },
    { key: 'size', title: 'file size' },
    { key: 'ours', title: 'ours median (min-max)' },
    { key: 'tufjs', title: 'tuf-js median', align: 'left' },
    { key: 'speedup', title: 'speed-up' },
    { key: 'parse', title: 'JSON.parse median' },
    { key: 'verify', title: 'raw verify median' },
    { key: 'ratio', title: 'ours / (parse+verify)' },
    { key: 'goal', title: 'goal', align: 'left' },
  ], rows, log);
  log('');
  log('Where ours goes (medians; measured separately, so the pieces need not add up exactly):');
  printTable([
    { key: 'n', title: 'N' },
    { key: 'ours', title: 'ours total' },
    { key: 'parse', title: 'JSON.parse' },
    { key: 'model', title: 'Targets.fromJSON' },
    { key: 'canon', title: 'canonicalBytes' },
    { key: 'verify', title: 'ed25519 verify' },
    { key: 'other', title: 'rest' },
  ], results.map((r) => ({
    n: fmtInt(r.n),
    ours: fmtMs(r.ours.median),
    parse: fmtMs(r.jsonParse.median),
    model: fmtMs(r.oursModel.median),
    canon: fmtMs(r.oursCanonical.median),
    verify: fmtMs(r.rawVerify.median),
    other: fmtMs(r.ours.median - r.jsonParse.median - r.oursModel.median - r.oursCanonical.median - r.rawVerify.median),
  })), log);
  return { sizes: SIZES, goalsMs: Object.fromEntries(GOALS), results };
}
