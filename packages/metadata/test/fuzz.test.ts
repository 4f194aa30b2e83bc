/**
 * Fuzz-style robustness: seeded random mutations of valid metadata and manifests. Parsing must
 * either succeed or throw a coded RepositoryError (never TypeError, RangeError, SyntaxError...),
 * and whatever parses after a change to the signed part must fail threshold verification with
 * the original keys. Reproduce a failure with FUZZ_SEED=<seed printed in the failure>.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalize } from '../src/canonical.js';
import { ReflashError, RepositoryError } from '../src/errors.js';
import type { Key } from '../src/keys.js';
import { generateSigner } from '../src/keys.js';
import { signEcuReport, signVehicleManifest, vehicleManifestFromJSON } from '../src/manifest.js';
import type { VehicleManifest } from '../src/manifest.js';
import { Metadata } from '../src/metadata.js';
import { Role } from '../src/signed.js';
import type { RoleType } from '../src/signed.js';
import { checkThreshold } from '../src/threshold.js';
import { readUptaneCustom } from '../src/uptane.js';
import { NOW, bytesOf, fileOf, rand, sampleRepo, seedFrom, utf8 } from './helpers.js';
import type { Rand } from './helpers.js';

const MUTATIONS_PER_SUBJECT = 1000;
const BASE_SEED = seedFrom(0x5eed);

/** Verbatim JSON text inside a value tree (numbers JSON.stringify cannot write, deep nesting...). */
class Raw {
  constructor(readonly text: string) {}
}

function emit(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(emit).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${emit(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

type Container = Record<string, unknown> | unknown[];
interface Slot { readonly parent: Container; readonly key: string | number }

/** Every (container, key) slot of a JSON tree, so a mutation can target any field. */
function slots(v: unknown, out: Slot[] = []): Slot[] {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push({ parent: v, key: i });
      slots(x, out);
    });
  } else if (typeof v === 'object' && v !== null && !(v instanceof Raw)) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      out.push({ parent: o, key: k });
      slots(o[k], out);
    }
  }
  return out;
}

function containers(v: unknown, out: Container[] = []): Container[] {
  if (Array.isArray(v)) {
    out.push(v);
    for (const x of v) containers(x, out);
  } else if (typeof v === 'object' && v !== null && !(v instanceof Raw)) {
    out.push(v as Record<string, unknown>);
    for (const x of Object.values(v)) containers(x, out);
  }
  return out;
}

function get(s: Slot): unknown {
  return Array.isArray(s.parent) ? s.parent[s.key as number] : s.parent[s.key as string];
}

function put(s: Slot, value: unknown): void {
  if (Array.isArray(s.parent)) s.parent[s.key as number] = value;
  else Object.defineProperty(s.parent, s.key, { value, enumerable: true, writable: true, configurable: true });
}

function remove(s: Slot): void {
  if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
  else Reflect.deleteProperty(s.parent, s.key);
}

const nested = (n: number, open: string, inner: string, close: string): Raw => new Raw(open.repeat(n) + inner + close.repeat(n));

const ODD_VALUES: readonly (() => unknown)[] = [
  () => null, () => [], () => ({}), () => '', () => true, () => false, () => 0, () => -1, () => 2 ** 31, () => 'x',
  () => new Raw('1e400'), () => new Raw('-1e400'), () => new Raw('123456789012345678901234567890'),
  () => new Raw('9007199254740993'), () => new Raw('1.5'), () => new Raw('-0'), () => new Raw('1.0'), () => new Raw('1e2'),
  () => new Raw('0.1e1'), () => new Raw('"\\ud800"'), () => new Raw('"\\udfff x"'), () => new Raw('"\\u0000"'),
  () => nested(600, '[', '', ']'), () => nested(5_000, '[', '1', ']'), () => nested(100_000, '[', '', ']'),
  () => nested(2_000, '{"a":', '1', '}'), () => 'a'.repeat(100_000), () => ['ab'.repeat(32)], () => ({ sha256: 'zz' }),
  () => '2030-01-01T00:00:00Z', () => '../../etc/passwd', () => '[z-a]*', () => '\u{1F600}',
];

const ODD_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x', '', '_type', 'signed', 'signatures', 'keyids', '\u{1F600}'];

function retype(v: unknown): unknown {
  if (typeof v === 'string') return v.length > 0 && /^\d+$/.test(v) ? Number(v) : v.length;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 0;
  if (Array.isArray(v)) return Object.fromEntries(v.map((x, i) => [String(i), x]));
  if (v === null) return {};
  if (v instanceof Raw) return null;
  return Object.values(v as object);
}

/** One JSON-level mutation of `doc` in place; returns its description. */
function mutateJSON(r: Rand, doc: unknown): string {
  const all = slots(doc);
  if (all.length === 0) return 'no-op';
  const s = r.pick(all);
  const where = String(s.key);
  switch (r.int(9)) {
    case 0:
      remove(s);
      return `delete ${where}`;
    case 1: {
      const cur = get(s);
      if (Array.isArray(s.parent)) {
        s.parent.splice(s.key as number, 0, structuredClone(cur));
        return `duplicate element ${where}`;
      }
      // A duplicated key in the text: JSON.parse keeps the last one.
      put(s, new Raw(`${emit(cur)},${JSON.stringify(where)}:${emit(r.pick(ODD_VALUES)())}`));
      return `duplicate key ${where}`;
    }
    case 2:
      put(s, retype(get(s)));
      return `retype ${where}`;
    case 3: {
      const odd = r.pick(ODD_VALUES)();
      put(s, odd);
      return `replace ${where} with ${odd instanceof Raw ? odd.text.slice(0, 20) : JSON.stringify(odd)?.slice(0, 20)}`;
    }
    case 4: {
      const c = r.pick(containers(doc));
      const value = r.pick(ODD_VALUES)();
      if (Array.isArray(c)) {
        c.push(value);
        return 'append element';
      }
      const key = r.pick(ODD_KEYS);
      Object.defineProperty(c, key, { value, enumerable: true, writable: true, configurable: true });
      return `insert key ${key}`;
    }
    case 5: {
      const cur = get(s);
      if (typeof cur === 'number') put(s, cur + r.pick([1, -1, -cur, 0.5]));
      else if (typeof cur === 'string') put(s, r.bool() ? cur.slice(0, -1) : `${cur}${r.pick(['a', '0', '"', '\\', '/', '*', '\u{1F600}'])}`);
      else put(s, r.pick(ODD_VALUES)());
      return `tweak ${where}`;
    }
    case 6: {
      const siblings = slots(doc).filter((x) => x.parent === s.parent && x.key !== s.key);
      if (siblings.length === 0) return 'no-op';
      const t = r.pick(siblings);
      const a = get(s);
      put(s, get(t));
      put(t, a);
      return `swap ${where} and ${String(t.key)}`;
    }
    case 7: {
      // Rename a key (e.g. "keyids" -> "keyid", "meta" -> "Meta").
      if (Array.isArray(s.parent)) return 'no-op';
      const v = get(s);
      remove(s);
      const renamed = r.pick([`${where}s`, where.slice(0, -1), where.toUpperCase(), ` ${where}`]);
      Object.defineProperty(s.parent, renamed, { value: v, enumerable: true, writable: true, configurable: true });
      return `rename ${where}`;
    }
    default:
      put(s, nested(r.pick([10, 513, 20_000]), '[', emit(get(s)), ']'));
      return `nest ${where}`;
  }
}

/** One byte-level mutation. */
function mutateBytes(r: Rand, bytes: Uint8Array): [Uint8Array, string] {
  const b = Buffer.from(bytes);
  const pos = r.int(b.length);
  switch (r.int(5)) {
    case 0: {
      b[pos] = (b[pos] ?? 0) ^ (1 + r.int(255));
      return [b, `flip byte ${pos}`];
    }
    case 1:
      return [b.subarray(0, pos), `truncate at ${pos}`];
    case 2: {
      const ins = Buffer.from(r.pick(['{', '}', '[', ']', '"', ',', ':', '\\', '0', '-', 'e', ' ', '\u0000', '\u00ff', '\uD83D']), 'utf8');
      return [Buffer.concat([b.subarray(0, pos), ins, b.subarray(pos)]), `insert at ${pos}`];
    }
    case 3: {
      const len = 1 + r.int(16);
      return [Buffer.concat([b.subarray(0, pos), b.subarray(pos + len)]), `cut ${len} at ${pos}`];
    }
    default: {
      const len = 1 + r.int(32);
      return [Buffer.concat([b.subarray(0, pos + len), b.subarray(pos, pos + len), b.subarray(pos + len)]), `repeat ${len} at ${pos}`];
    }
  }
}

function mutate(r: Rand, original: Uint8Array): [Uint8Array, string] {
  if (r.bool(0.3)) return mutateBytes(r, original);
  const doc = JSON.parse(utf8(original)) as unknown;
  const steps: string[] = [];
  for (let n = 1 + (r.bool(0.25) ? r.int(3) : 0); n > 0; n--) steps.push(mutateJSON(r, doc));
  return [bytesOf(emit(doc)), steps.join('; ')];
}

interface Subject {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** Parse; on success run the extra checks and return the canonical signed text. */
  check(bytes: Uint8Array): void;
}

function expectNoThrowOrCoded(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ReflashError) || typeof err.code !== 'string') throw err;
  }
}

function metadataSubject(name: string, role: RoleType, bytes: Uint8Array, keys: ReadonlyMap<string, Key>, signers: Role): Subject {
  const original = utf8(Metadata.fromBytes(bytes, role).signedBytes());
  return {
    name,
    bytes,
    check(b) {
      const md = Metadata.fromBytes(b, role);
      const signed = utf8(md.signedBytes());
      // The model re-serialises to exactly the bytes that signatures cover.
      assert.equal(canonicalize(md.signed.toJSON()), signed, 'model round trip');
      const result = checkThreshold(name, keys, signers, md);
      if (signed !== original) assert.equal(result.verified, false, 'changed signed part still verifies');
      else if (md.signatures.size === 0) assert.equal(result.verified, false);
      md.signed.isExpired(NOW);
      if (md.signed.type === 'targets') {
        const t = md.signed;
        for (const tf of t.targets.values()) expectNoThrowOrCoded(() => readUptaneCustom(tf));
        const d = t.delegations;
        if (d !== undefined) {
          for (const path of ['ecu-a/app-2.0.bin', 'ecu-main/firmware-1.0.bin', '', '/']) {
            for (const { name: child } of d.rolesForTarget(path)) d.role(child);
          }
        }
      }
    },
  };
}

function manifestSubject(m: VehicleManifest, primaryKey: Key, primaryId: string, ecuKeys: ReadonlyMap<string, [string, Key]>): Subject {
  const bytes = bytesOf(JSON.stringify(m.toJSON()));
  const original = utf8(m.signedBytes());
  const originalReports = new Map([...m.signed.ecuVersionReports].map(([s, rep]) => [s, utf8(rep.signedBytes())]));
  return {
    name: 'vehicle manifest',
    bytes,
    check(b) {
      const parsed = vehicleManifestFromJSON(b);
      const result = checkThreshold('manifest', new Map([[primaryId, primaryKey]]), new Role([primaryId], 1), parsed);
      if (utf8(parsed.signedBytes()) !== original) assert.equal(result.verified, false, 'changed manifest still verifies');
      for (const [serial, report] of parsed.signed.ecuVersionReports) {
        const ecu = ecuKeys.get(serial);
        if (ecu === undefined) continue;
        const ok = checkThreshold(serial, new Map([ecu]), new Role([ecu[0]], 1), report).verified;
        if (utf8(report.signedBytes()) !== originalReports.get(serial)) assert.equal(ok, false, `changed report ${serial} still verifies`);
      }
    },
  };
}

function subjects(): Subject[] {
  const { repo } = sampleRepo();
  const rootMd = Metadata.fromBytes(fileOf(repo, 'root.json'), 'root');
  const root = rootMd.signed;
  const targetsMd = Metadata.fromBytes(fileOf(repo, 'targets.json'), 'targets');
  const deleg = targetsMd.signed.delegations;
  assert.ok(deleg !== undefined);
  const ecuRole = deleg.role('ecu-a');
  assert.ok(ecuRole !== undefined);

  const primary = generateSigner('ed25519');
  const ecuA = generateSigner('ecdsa-sha2-nistp256');
  const ecuB = generateSigner('ed25519');
  const h = 'ab'.repeat(32);
  const manifest = signVehicleManifest('VIN-FUZZ', 'SER-A', [
    signEcuReport({ ecuSerial: 'SER-A', installedImage: { filepath: 'ecu-a/app-2.0.bin', length: 13, hashes: { sha256: h } }, attacksDetected: '', reportCounter: 3, nonce: 'n1', latestTime: '2030-01-01T00:00:00Z' }, ecuA),
    signEcuReport({ ecuSerial: 'SER-B', installedImage: { filepath: 'ecu-b/fw.bin', length: 1, hashes: { sha256: h, sha512: h + h } }, attacksDetected: 'none', reportCounter: 0, attestation: { pcr: [1, 2] } }, ecuB),
  ], primary);

  return [
    metadataSubject('root', 'root', fileOf(repo, 'root.json'), root.keys, root.role('root')),
    metadataSubject('timestamp', 'timestamp', fileOf(repo, 'timestamp.json'), root.keys, root.role('timestamp')),
    metadataSubject('snapshot', 'snapshot', fileOf(repo, 'snapshot.json'), root.keys, root.role('snapshot')),
    metadataSubject('targets', 'targets', fileOf(repo, 'targets.json'), root.keys, root.role('targets')),
    metadataSubject('delegated targets', 'targets', fileOf(repo, 'ecu-a.json'), deleg.keys, ecuRole),
    manifestSubject(manifest, primary.key, primary.keyId, new Map([['SER-A', [ecuA.keyId, ecuA.key]], ['SER-B', [ecuB.keyId, ecuB.key]]])),
  ];
}

describe('fuzz: seeded mutations of metadata and manifests', () => {
  const all = subjects();

  it('the unmutated subjects parse and verify', () => {
    for (const s of all) s.check(s.bytes);
  });

  all.forEach((subject, index) => {
    it(`${subject.name}: ${MUTATIONS_PER_SUBJECT} mutations parse or fail with a coded RepositoryError`, (t) => {
      const seed = BASE_SEED + index;
      const r = rand(seed);
      let parsed = 0;
      let rejected = 0;
      for (let i = 0; i < MUTATIONS_PER_SUBJECT; i++) {
        const [bytes, what] = mutate(r, subject.bytes);
        const context = `FUZZ_SEED=${BASE_SEED} (subject seed ${seed}), ${subject.name} mutation #${i}: ${what}`;
        try {
          subject.check(bytes);
          parsed++;
        } catch (err) {
          if (err instanceof RepositoryError && typeof err.code === 'string' && err.code.length > 0) {
            rejected++;
            continue;
          }
          const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
          assert.fail(`${context}\n  -> ${detail.slice(0, 500)}`);
        }
      }
      t.diagnostic(`seed ${seed}: ${parsed} parsed, ${rejected} rejected`);
      // The mutations must exercise both outcomes.
      assert.ok(parsed > 0 && rejected > 0, `seed ${seed}: parsed ${parsed}, rejected ${rejected}`);
    });
  });
});
