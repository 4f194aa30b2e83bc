/**
 * `reflash image-repo init|rotate-root|online-key`: the Image repository's offline root.
 * - init: root v1 (consistent snapshots) naming the offline root and targets keys and the
 *   server's active online snapshot and timestamp keys, signed with the root keys here; then an
 *   empty targets v1 signed with the targets keys.
 * - rotate-root: root N+1 signed by the old root keys and the new ones (TUF 5.3.4); with
 *   --online it names the server's pending online keys (rotation of snapshot/timestamp keys).
 * Keys whose private part is not in this key store (held by another officer) are named but not
 * used for signing; when a threshold is then not met, the file is written for `reflash sign --in`.
 */
import type { Command } from 'commander';
import { Metadata, Role, Root, SPEC_VERSION, Targets, UsageError, commonOf, formatExpires } from '@reflash/metadata';
import type { Key, PrivateKeySigner, RoleType } from '@reflash/metadata';
import { CONSOLE } from '../client/output.js';
import { addServerOptions, adminClientFrom, collect, positiveInt } from '../client/options.js';
import type { ServerOptions } from '../client/options.js';
import { ONLINE_ROLES, createOnlineKey, getOnlineKeys, getRoot } from '../client/image-repo-api.js';
import type { OnlineRole } from '../client/image-repo-api.js';
import type { KeyEntry, Keystore } from './keystore.js';
import { finishSigning, signingContext } from './sign.js';
import type { SigningContext } from './sign.js';

const DAY = 86_400_000;

function checkThresholdArg(what: string, threshold: number, keys: number): void {
  if (keys === 0) throw new UsageError(`${what}: give at least one key`);
  if (threshold > keys) throw new UsageError(`${what}: threshold ${threshold} is more than the ${keys} key(s)`);
}

async function publicEntries(ks: Keystore, names: readonly string[]): Promise<KeyEntry[]> {
  const out: KeyEntry[] = [];
  for (const n of names) out.push(await ks.publicKey(n));
  const ids = new Set(out.map((e) => e.keyid));
  if (ids.size !== out.length) throw new UsageError(`the same key is named twice in ${names.join(', ')}`);
  return out;
}

async function signersFor(ctx: SigningContext, names: readonly string[]): Promise<PrivateKeySigner[]> {
  const { signers, absent } = await ctx.keystore.availableSigners(names, { passphrase: ctx.passphrase, allowTest: ctx.allowTest });
  for (const e of absent) ctx.out.note(`no private key for ${e.name} (${e.keyid.slice(0, 12)}...) in this key store: not signing with it`);
  return signers;
}

function unique(signers: readonly PrivateKeySigner[]): PrivateKeySigner[] {
  return [...new Map(signers.map((s) => [s.keyId, s])).values()];
}

export interface InitOptions {
  readonly rootKeys: readonly string[];
  readonly rootThreshold: number;
  readonly targetsKeys: readonly string[];
  readonly targetsThreshold: number;
  /** root lifetime, days (default 365) */
  readonly expiresDays?: number;
  /** targets v1 lifetime, days (default 90) */
  readonly targetsExpiresDays?: number;
  /** where a root that still needs signatures is written */
  readonly out?: string | undefined;
}

export async function initImageRepo(ctx: SigningContext, opts: InitOptions): Promise<{ root: Metadata<Root>; targets: Metadata<Targets> | undefined }> {
  checkThresholdArg('--root-key/--root-threshold', opts.rootThreshold, opts.rootKeys.length);
  checkThresholdArg('--targets-key/--targets-threshold', opts.targetsThreshold, opts.targetsKeys.length);
  const rootEntries = await publicEntries(ctx.keystore, opts.rootKeys);
  const targetsEntries = await publicEntries(ctx.keystore, opts.targetsKeys);
  const shared = targetsEntries.filter((t) => rootEntries.some((r) => r.keyid === t.keyid));
  if (shared.length > 0) ctx.out.note(`warning: ${shared.map((e) => e.name).join(', ')} sign(s) for both root and targets; keep root keys apart`);
  const online = await getOnlineKeys(ctx.client);
  const keys = new Map<string, Key>();
  const roles = new Map<RoleType, Role>();
  const put = (role: RoleType, ks: readonly Key[], threshold: number): void => {
    for (const k of ks) keys.set(k.keyId(), k);
    roles.set(role, new Role(ks.map((k) => k.keyId()), threshold));
  };
  put('root', rootEntries.map((e) => e.key), opts.rootThreshold);
  put('targets', targetsEntries.map((e) => e.key), opts.targetsThreshold);
  for (const r of ONLINE_ROLES) {
    const active = online[r].active;
    if (active.length === 0) throw new UsageError(`the server has no active ${r} key`);
    put(r, active, 1);
  }
  const root = new Root({
    specVersion: SPEC_VERSION, version: 1, expires: formatExpires(ctx.now + (opts.expiresDays ?? 365) * DAY),
    consistentSnapshot: true, keys, roles,
  });
  const rootSigners = await signersFor(ctx, opts.rootKeys);
  const rootMd = Metadata.of(root, ...rootSigners);
  const r = await finishSigning(ctx, 'root', rootMd, rootSigners, opts.out);
  if (!r.uploaded) {
    ctx.out.note('targets v1 is made once the root is uploaded: then run `reflash sign --key TARGETS-KEY`');
    return { root: rootMd, targets: undefined };
  }
  const targets = new Targets({
    specVersion: SPEC_VERSION, version: 1, expires: formatExpires(ctx.now + (opts.targetsExpiresDays ?? 90) * DAY), targets: new Map(),
  });
  const targetsSigners = await signersFor(ctx, opts.targetsKeys);
  const targetsMd = Metadata.of(targets, ...targetsSigners);
  await finishSigning(ctx, 'targets', targetsMd, targetsSigners, opts.out === undefined ? undefined : `${opts.out}.targets.json`);
  return { root: rootMd, targets: targetsMd };
}

export interface RotateOptions {
  readonly oldRootKeys: readonly string[];
  readonly rootKeys: readonly string[];
  readonly rootThreshold?: number | undefined;
  readonly targetsKeys?: readonly string[] | undefined;
  readonly targetsThreshold?: number | undefined;
  /** name the server's pending online keys instead of the current ones */
  readonly online: boolean;
  readonly expiresDays?: number;
  readonly out?: string | undefined;
}

export async function rotateRoot(ctx: SigningContext, opts: RotateOptions): Promise<Metadata<Root>> {
  const current = (await getRoot(ctx.client)).signed;
  const rootEntries = await publicEntries(ctx.keystore, opts.rootKeys);
  const rootThreshold = opts.rootThreshold ?? Math.min(current.role('root').threshold, rootEntries.length);
  checkThresholdArg('--root-key/--root-threshold', rootThreshold, rootEntries.length);
  const available = new Map(current.keys);
  const roles = new Map(current.roles);
  const setRole = (role: RoleType, ks: readonly Key[], threshold: number): void => {
    for (const k of ks) available.set(k.keyId(), k);
    roles.set(role, new Role(ks.map((k) => k.keyId()), threshold));
  };
  setRole('root', rootEntries.map((e) => e.key), rootThreshold);
  if (opts.targetsKeys !== undefined && opts.targetsKeys.length > 0) {
    const t = await publicEntries(ctx.keystore, opts.targetsKeys);
    const threshold = opts.targetsThreshold ?? Math.min(current.role('targets').threshold, t.length);
    checkThresholdArg('--targets-key/--targets-threshold', threshold, t.length);
    setRole('targets', t.map((e) => e.key), threshold);
  }
  if (opts.online) {
    const online = await getOnlineKeys(ctx.client);
    const withPending = ONLINE_ROLES.filter((r) => online[r].pending.length > 0);
    if (withPending.length === 0) throw new UsageError('the server has no pending online keys: create them with `reflash image-repo online-key --role snapshot|timestamp`');
    for (const r of withPending) setRole(r, online[r].pending, 1);
    for (const r of ONLINE_ROLES.filter((x: OnlineRole) => !withPending.includes(x))) ctx.out.note(`${r}: no pending key on the server; its current keys stay`);
  }
  // Only keys some role still names.
  const used = new Set([...roles.values()].flatMap((r) => r.keyids));
  const keys = new Map([...available].filter(([id]) => used.has(id)));
  const next = new Root({
    ...commonOf(current), version: current.version + 1, expires: formatExpires(ctx.now + (opts.expiresDays ?? 365) * DAY),
    consistentSnapshot: current.consistentSnapshot ?? true, keys, roles,
  });
  const oldIds = new Set(current.role('root').keyids);
  const oldEntries = await publicEntries(ctx.keystore, opts.oldRootKeys);
  for (const e of oldEntries) if (!oldIds.has(e.keyid)) ctx.out.note(`warning: ${e.name} is not a root key of root v${current.version}`);
  const signers = unique([...(await signersFor(ctx, opts.oldRootKeys)), ...(await signersFor(ctx, opts.rootKeys))]);
  const md = Metadata.of(next, ...signers);
  await finishSigning(ctx, 'root', md, signers, opts.out);
  return md;
}

interface RepoCliOptions extends ServerOptions {
  keystore?: string;
  test?: boolean;
  out?: string;
  expiresDays?: string;
}

export function registerImageRepo(program: Command): void {
  const repo = program.command('image-repo').description('the Image repository\'s offline root and targets keys');
  const init = repo.command('init')
    .description('create root v1 (offline root and targets keys + the server\'s online keys) and an empty targets v1')
    .option('--keystore <dir>', 'key store folder (default: $REFLASH_KEYSTORE)')
    .requiredOption('--root-key <name>', 'a root key (repeatable)', collect)
    .requiredOption('--root-threshold <n>', 'root signatures required')
    .requiredOption('--targets-key <name>', 'a targets key (repeatable)', collect)
    .option('--targets-threshold <n>', 'targets signatures required', '1')
    .option('--expires-days <n>', 'root lifetime in days', '365')
    .option('--out <file>', 'write the root here if more signatures are needed')
    .option('--test', 'allow unencrypted test keys');
  addServerOptions(init).action(async (o: RepoCliOptions & { rootKey: string[]; rootThreshold: string; targetsKey: string[]; targetsThreshold?: string }) => {
    const ctx = await signingContext(o);
    await initImageRepo(ctx, {
      rootKeys: o.rootKey, rootThreshold: positiveInt('--root-threshold', o.rootThreshold),
      targetsKeys: o.targetsKey, targetsThreshold: positiveInt('--targets-threshold', o.targetsThreshold, 1),
      expiresDays: positiveInt('--expires-days', o.expiresDays, 365), out: o.out,
    });
  });
  const rotate = repo.command('rotate-root')
    .description('root N+1 signed by the old and the new root keys')
    .option('--keystore <dir>', 'key store folder (default: $REFLASH_KEYSTORE)')
    .requiredOption('--old-root-key <name>', 'a key of the current root (repeatable)', collect)
    .requiredOption('--root-key <name>', 'a key of the new root (repeatable; repeat an old one to keep it)', collect)
    .option('--root-threshold <n>', 'root signatures required (default: unchanged)')
    .option('--targets-key <name>', 'replace the targets keys (repeatable)', collect)
    .option('--targets-threshold <n>', 'targets signatures required (default: unchanged)')
    .option('--online', 'name the server\'s pending online snapshot/timestamp keys')
    .option('--expires-days <n>', 'root lifetime in days', '365')
    .option('--out <file>', 'write the root here if more signatures are needed')
    .option('--test', 'allow unencrypted test keys');
  addServerOptions(rotate).action(async (o: RepoCliOptions & { oldRootKey: string[]; rootKey: string[]; rootThreshold?: string; targetsKey?: string[]; targetsThreshold?: string; online?: boolean }) => {
    const ctx = await signingContext(o);
    await rotateRoot(ctx, {
      oldRootKeys: o.oldRootKey, rootKeys: o.rootKey,
      rootThreshold: o.rootThreshold === undefined ? undefined : positiveInt('--root-threshold', o.rootThreshold),
      targetsKeys: o.targetsKey,
      targetsThreshold: o.targetsThreshold === undefined ? undefined : positiveInt('--targets-threshold', o.targetsThreshold),
      online: o.online === true, expiresDays: positiveInt('--expires-days', o.expiresDays, 365), out: o.out,
    });
  });
  const onlineKey = repo.command('online-key')
    .description('ask the server for a new pending online key (then rotate-root --online names it)')
    .requiredOption('--role <role>', 'snapshot or timestamp');
  addServerOptions(onlineKey).action(async (o: ServerOptions & { role: string }) => {
    if (o.role !== 'snapshot' && o.role !== 'timestamp') throw new UsageError('--role must be snapshot or timestamp');
    const res = await createOnlineKey(await adminClientFrom(o, process.env), o.role);
    CONSOLE.out(JSON.stringify(res, null, 2));
  });
}
