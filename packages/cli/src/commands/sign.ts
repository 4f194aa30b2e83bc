/**
 * `reflash sign`: offline signing of Image-repository targets (top-level or delegated) by
 * release officers. The current bytes come from the server, the change is applied, version+1 is
 * signed with the officer's keys here (private keys never leave the key store), and the
 * threshold is checked against the current root (or the delegating role) with the non-throwing
 * checkThreshold (CONVENTIONS.md §11): met -> uploaded; not met -> the partially signed file is
 * written (atomically) for the next officer, who runs `reflash sign --in FILE --key ...`.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  DelegatedRole, Delegations, Metadata, SPEC_VERSION, TargetFile, Targets, UsageError, checkThreshold,
  formatExpires, readUptaneCustom, uptaneCustom,
} from '@reflash/metadata';
import type { Key, PrivateKeySigner, Role, Root, VerificationResult } from '@reflash/metadata';
import type { AdminClient } from '../client/admin.js';
import { ApiClientError } from '../client/errors.js';
import { getImage, getRoleBytes, getRoot, getTargetsRole, putRole, putRoot } from '../client/image-repo-api.js';
import { CONSOLE } from '../client/output.js';
import type { Output } from '../client/output.js';
import { addServerOptions, adminClientFrom, collect, positiveInt } from '../client/options.js';
import type { ServerOptions } from '../client/options.js';
import { writeFileAtomic } from '../io/atomic.js';
import { keystoreDir } from './keys.js';
import { Keystore, envOrPromptPassphrase } from './keystore.js';
import type { PassphraseSource } from './keystore.js';

const DAY = 86_400_000;
/** How deep `sign` looks for the role delegating to a delegated role. */
const MAX_DELEGATION_DEPTH = 4;

export interface SigningContext {
  readonly client: AdminClient;
  readonly keystore: Keystore;
  readonly passphrase: PassphraseSource;
  /** test keys (unencrypted) may be used */
  readonly allowTest: boolean;
  /** reference time, ms (captured once per command) */
  readonly now: number;
  readonly out: Output;
}

/** The signing context of a CLI command: server, key store, passphrase, clock, console. */
export async function signingContext(o: ServerOptions & { keystore?: string; test?: boolean }): Promise<SigningContext> {
  return {
    client: await adminClientFrom(o, process.env),
    keystore: new Keystore(keystoreDir(o.keystore, process.env)),
    passphrase: envOrPromptPassphrase(process.env),
    allowTest: o.test === true,
    now: Date.now(),
    out: CONSOLE,
  };
}

export interface ThresholdCheck {
  /** what signs for it, e.g. "root v3 (trusted)" */
  readonly against: string;
  readonly result: VerificationResult;
}

export function missingSignatures(checks: readonly ThresholdCheck[]): number {
  return Math.max(0, ...checks.map((c) => Math.max(0, c.result.threshold - c.result.signed.length)));
}

/** The keys and role entry that sign for a delegated role, searched from `targets` down. */
async function delegatorOf(client: AdminClient, role: string): Promise<{ name: string; keys: ReadonlyMap<string, Key>; role: Role } | undefined> {
  let level: string[] = ['targets'];
  const seen = new Set<string>();
  for (let depth = 0; depth < MAX_DELEGATION_DEPTH && level.length > 0; depth++) {
    const next: string[] = [];
    for (const parent of level) {
      if (seen.has(parent)) continue;
      seen.add(parent);
      const md = await getTargetsRole(client, parent);
      const d = md?.signed.delegations;
      if (d === undefined) continue;
      const r = d.role(role);
      if (r !== undefined) return { name: parent, keys: d.keys, role: r };
      if (d.roles !== undefined) next.push(...d.roles.keys());
    }
    level = next;
  }
  return undefined;
}

/** Which thresholds `md` (the new version of `role`) must meet, and how it does. */
export async function checkRoleThresholds(client: AdminClient, role: string, md: Metadata): Promise<ThresholdCheck[]> {
  if (role === 'root') {
    const next = md as Metadata<Root>;
    const checks: ThresholdCheck[] = [];
    // TUF 5.3.4: root N+1 is signed by a threshold of root N's keys and of its own.
    if (next.signed.version > 1) {
      const trusted = await getRoot(client);
      checks.push({ against: `root v${trusted.signed.version} (trusted)`, result: checkThreshold('root', trusted.signed.keys, trusted.signed.role('root'), md) });
    }
    checks.push({ against: `root v${next.signed.version} (new)`, result: checkThreshold('root', next.signed.keys, next.signed.role('root'), md) });
    return checks;
  }
  if (role === 'targets') {
    const root = await getRoot(client);
    return [{ against: `root v${root.signed.version}`, result: checkThreshold('targets', root.signed.keys, root.signed.role('targets'), md) }];
  }
  const d = await delegatorOf(client, role);
  if (d === undefined) throw new UsageError(`no role delegates to ${role} (searched ${MAX_DELEGATION_DEPTH} levels from targets); add it with --delegate first`);
  return [{ against: `delegation from ${d.name}`, result: checkThreshold(role, d.keys, d.role, md) }];
}

/** Warn about keys whose signature cannot count for `role`. */
function warnUselessSigners(checks: readonly ThresholdCheck[], signers: readonly PrivateKeySigner[], role: string, out: Output): void {
  for (const s of signers) {
    const counted = checks.some((c) => c.result.signed.includes(s.keyId) || c.result.missing.includes(s.keyId));
    if (!counted) out.note(`warning: key ${s.keyId} is not a key of ${role}; its signature does not count`);
  }
}

/**
 * Upload `md` if every threshold is met, else write it to `outFile` and say how many signatures
 * are missing. Returns what happened.
 */
export async function finishSigning(ctx: SigningContext, role: string, md: Metadata, signers: readonly PrivateKeySigner[], outFile: string | undefined): Promise<{ uploaded: boolean; missing: number }> {
  const checks = await checkRoleThresholds(ctx.client, role, md);
  warnUselessSigners(checks, signers, role, ctx.out);
  for (const c of checks) {
    if (c.result.invalid.length > 0) ctx.out.note(`warning: invalid signature(s) on ${role} from ${c.result.invalid.join(', ')}`);
  }
  const missing = missingSignatures(checks);
  const what = `${role} v${md.signed.version}`;
  if (missing === 0) {
    if (role === 'root') await putRoot(ctx.client, md as Metadata<Root>);
    else await putRole(ctx.client, role, md);
    ctx.out.out(`${what} uploaded (${checks.map((c) => `${c.result.signed.length} valid signature(s) of ${c.result.threshold} required by ${c.against}`).join('; ')})`);
    return { uploaded: true, missing: 0 };
  }
  if (outFile === undefined) {
    throw new UsageError(`${what}: ${missing} more signature(s) needed; pass --out FILE to save the partially signed metadata`);
  }
  await writeFileAtomic(outFile, md.toBytes());
  for (const c of checks) ctx.out.note(`${what}: ${c.result.signed.length} valid signature(s) of ${c.result.threshold} required by ${c.against}`);
  ctx.out.out(`${missing} more signature(s) needed; wrote ${outFile} (next: reflash sign --in ${outFile} --key NAME${role === 'targets' || role === 'root' ? '' : ` --role ${role}`})`);
  return { uploaded: false, missing };
}

export interface AddSpec {
  path: string;
  hardwareIds: string[];
  releaseCounter?: number;
}

export interface DelegateSpec {
  readonly name: string;
  /** key store names (or .pub.json files) of the delegate's keys */
  readonly keys: readonly string[];
  readonly paths: readonly string[];
  readonly terminating: boolean;
  readonly threshold: number;
}

export interface SignOptions {
  readonly role: string;
  readonly keys: readonly string[];
  readonly adds?: readonly AddSpec[];
  readonly removes?: readonly string[];
  readonly delegate?: DelegateSpec | undefined;
  readonly expiresDays?: number;
  readonly in?: string | undefined;
  readonly out?: string | undefined;
}

/** The target entry for an uploaded image (Uptane custom: hardwareIds, releaseCounter, targetFormat). */
async function targetFor(ctx: SigningContext, add: AddSpec, previous: TargetFile | undefined): Promise<TargetFile> {
  if (add.hardwareIds.length === 0) throw new UsageError(`--add ${add.path}: give at least one --hardware-id`);
  const info = await getImage(ctx.client, add.path);
  const hashes = { sha256: info.sha256, sha512: info.sha512 };
  const candidate = new TargetFile({ path: add.path, length: info.length, hashes });
  const before = previous === undefined ? undefined : readUptaneCustom(previous).releaseCounter;
  // Uptane 5.4.3.4 step 5: a file name's release counter never decreases.
  let counter = add.releaseCounter;
  if (counter === undefined) counter = before === undefined ? 1 : previous!.sameFileAs(candidate) ? before : before + 1;
  if (before !== undefined && counter < before) throw new UsageError(`--add ${add.path}: release counter ${counter} is below the current ${before}`);
  return new TargetFile({ path: add.path, length: info.length, hashes, custom: uptaneCustom({ hardwareIds: add.hardwareIds, releaseCounter: counter, targetFormat: 'BINARY' }) });
}

async function delegateKeys(ks: Keystore, names: readonly string[]): Promise<Map<string, Key>> {
  const keys = new Map<string, Key>();
  for (const n of names) {
    const e = await ks.publicKey(n);
    keys.set(e.keyid, e.key);
  }
  return keys;
}

/** Build version+1 of a targets role with the requested changes (unsigned). */
export async function nextTargets(ctx: SigningContext, opts: SignOptions): Promise<Targets> {
  // A role the server does not have yet starts at version 1 (targets after a multi-party
  // `image-repo init`, a new delegated role).
  const current = await getTargetsRole(ctx.client, opts.role);
  const old = current?.signed;
  const targets = new Map(old?.targets ?? []);
  for (const add of opts.adds ?? []) targets.set(add.path, await targetFor(ctx, add, targets.get(add.path)));
  for (const path of opts.removes ?? []) {
    if (!targets.delete(path)) throw new UsageError(`--remove ${path}: ${opts.role} has no such target`);
  }
  let delegations = old?.delegations;
  if (opts.delegate !== undefined) {
    const d = opts.delegate;
    if (d.keys.length === 0) throw new UsageError('--delegate needs at least one --delegate-key');
    if (d.paths.length === 0) throw new UsageError('--delegate needs --paths');
    if (d.threshold > d.keys.length) throw new UsageError(`--delegate-threshold ${d.threshold} is more than the ${d.keys.length} key(s)`);
    if (delegations?.succinctRoles !== undefined) throw new UsageError(`${opts.role} delegates with succinct hash bins; named delegations cannot be added`);
    const newKeys = await delegateKeys(ctx.keystore, d.keys);
    const role = new DelegatedRole({ name: d.name, keyids: [...newKeys.keys()], threshold: d.threshold, terminating: d.terminating, paths: d.paths });
    const roles = [...(delegations?.roles?.values() ?? [])].filter((r) => r.name !== d.name);
    roles.push(role);
    // Keys still used by some role, plus the new ones.
    const used = new Set(roles.flatMap((r) => r.keyids));
    const keys = new Map([...(delegations?.keys ?? new Map<string, Key>())].filter(([id]) => used.has(id)));
    for (const [id, k] of newKeys) keys.set(id, k);
    delegations = new Delegations({ keys, roles, ...(delegations === undefined ? {} : { unrecognized: delegations.unrecognized }) });
  }
  return new Targets({
    specVersion: old?.specVersion ?? SPEC_VERSION,
    version: (old?.version ?? 0) + 1,
    expires: formatExpires(ctx.now + (opts.expiresDays ?? 90) * DAY),
    ...(old === undefined ? {} : { unrecognized: old.unrecognized }),
    targets,
    delegations,
  });
}

/** Add signatures to a partially signed file, after checking it is still the next version. */
async function continueSigning(ctx: SigningContext, opts: SignOptions & { in: string }, signers: PrivateKeySigner[]): Promise<{ uploaded: boolean; missing: number }> {
  const md = Metadata.fromBytes(await readFile(opts.in));
  const role = md.signed.type === 'root' ? 'root' : opts.role;
  if (md.signed.type !== 'root' && md.signed.type !== 'targets') throw new UsageError(`${opts.in}: ${md.signed.type} metadata is signed by the server's online keys, not here`);
  // Root v1 from a multi-party `image-repo init` has no current root before it.
  const currentBytes = await getRoleBytes(ctx.client, role);
  const current = currentBytes === undefined ? undefined : Metadata.fromBytes(currentBytes, role === 'root' ? 'root' : 'targets');
  const expected = (current?.signed.version ?? 0) + 1;
  if (md.signed.version !== expected) {
    throw new ApiClientError('STALE_METADATA', 409, `${opts.in} is ${role} v${md.signed.version}, but the server is at v${expected - 1}: start again from the current version`);
  }
  if (md.signed.isExpired(ctx.now)) throw new UsageError(`${opts.in} expired at ${md.signed.expires}`);
  return finishSigning(ctx, role, md.sign(...signers), signers, opts.out ?? opts.in);
}

export async function signCommand(ctx: SigningContext, opts: SignOptions): Promise<{ uploaded: boolean; missing: number }> {
  const signers = await ctx.keystore.signers(opts.keys, { passphrase: ctx.passphrase, allowTest: ctx.allowTest });
  if (opts.in !== undefined) {
    if ((opts.adds?.length ?? 0) > 0 || (opts.removes?.length ?? 0) > 0 || opts.delegate !== undefined) {
      throw new UsageError('--in only adds signatures: make changes without --in');
    }
    return continueSigning(ctx, { ...opts, in: opts.in }, signers);
  }
  if (opts.role === 'root') throw new UsageError('a new root is made with `reflash image-repo rotate-root`; `sign --in FILE` adds signatures to one');
  if (opts.role === 'snapshot' || opts.role === 'timestamp') throw new UsageError(`${opts.role} is signed by the server's online keys`);
  const md = Metadata.of(await nextTargets(ctx, opts), ...signers);
  return finishSigning(ctx, opts.role, md, signers, opts.out);
}

interface SignCliOptions extends ServerOptions {
  keystore?: string;
  key?: string[];
  role: string;
  remove?: string[];
  expiresDays?: string;
  out?: string;
  in?: string;
  test?: boolean;
  delegate?: string;
  delegateKey?: string[];
  paths?: string[];
  terminating?: boolean;
  delegateThreshold?: string;
}

export function registerSign(program: Command): void {
  // --add starts a target; --hardware-id and --release-counter apply to the --add before them.
  const adds: AddSpec[] = [];
  const last = (flag: string): AddSpec => {
    const a = adds[adds.length - 1];
    if (a === undefined) throw new UsageError(`${flag} must follow an --add PATH`);
    return a;
  };
  const cmd = program.command('sign')
    .description('sign a new version of Image-repository targets offline (or add signatures with --in); uploads when the threshold is met')
    .option('--keystore <dir>', 'key store folder (default: $REFLASH_KEYSTORE)')
    .option('--key <name>', 'sign with this key (repeatable)', collect)
    .option('--role <role>', 'targets or a delegated role', 'targets')
    .option('--add <path>', 'add or replace the uploaded image PATH (repeatable)', (v: string) => {
      adds.push({ path: v, hardwareIds: [] });
      return v;
    })
    .option('--hardware-id <hw>', 'ECU hardware id for the preceding --add (repeatable)', (v: string) => {
      last('--hardware-id').hardwareIds.push(v);
      return v;
    })
    .option('--release-counter <n>', 'release counter for the preceding --add (default: kept, or +1 for new bytes)', (v: string) => {
      last('--release-counter').releaseCounter = positiveInt('--release-counter', v);
      return v;
    })
    .option('--remove <path>', 'remove a target (repeatable)', collect)
    .option('--delegate <role>', 'add (or replace) a delegation to this role')
    .option('--delegate-key <name>', 'a key of the delegated role, from the key store (repeatable)', collect)
    .option('--paths <pattern>', 'target path pattern of the delegated role, e.g. supplier/* (repeatable)', collect)
    .option('--terminating', 'the delegation is terminating')
    .option('--delegate-threshold <n>', 'signatures the delegated role needs', '1')
    .option('--expires-days <n>', 'expiry of the new version, days', '90')
    .option('--out <file>', 'where to write the metadata when more signatures are needed')
    .option('--in <file>', 'add signatures to this partially signed file (and upload it when complete)')
    .option('--test', 'allow unencrypted test keys');
  addServerOptions(cmd).action(async (o: SignCliOptions) => {
    const ctx = await signingContext(o);
    const delegate: DelegateSpec | undefined = o.delegate === undefined ? undefined : {
      name: o.delegate, keys: o.delegateKey ?? [], paths: o.paths ?? [], terminating: o.terminating === true,
      threshold: positiveInt('--delegate-threshold', o.delegateThreshold, 1),
    };
    if (o.delegate === undefined && (o.delegateKey !== undefined || o.paths !== undefined)) throw new UsageError('--delegate-key and --paths need --delegate ROLE');
    await signCommand(ctx, {
      role: o.role, keys: o.key ?? [], adds, removes: o.remove ?? [], delegate,
      expiresDays: positiveInt('--expires-days', o.expiresDays, 90), in: o.in, out: o.out,
    });
  });
}
