/**
 * In-memory repository simulator (CONVENTIONS.md §13): a RepositoryBuilder served through the
 * Updater's Fetcher interface, recording every URL fetched, plus an in-memory MetadataStore.
 * Each attack test mutates the served files and runs one refresh.
 */
import { createHash } from 'node:crypto';
import { FetchError, DownloadLengthError, Metadata, MetaFile, RepositoryBuilder, Snapshot, Timestamp, generateSigner } from '@reflash/metadata';
import type { RoleType, Signed, Signer } from '@reflash/metadata';
import { Updater } from '../../src/updater.js';
import type { Fetcher, MetadataStore } from '../../src/updater.js';
import type { Limits } from '../../src/config.js';

export const NOW = Date.parse('2026-11-21T12:00:00Z');
export const BASE = 'https://repo.test/metadata/';
export const TARGET_BASE = 'https://repo.test/targets/';

/** A META entry describing `bytes` as `version` (length and sha256), as a repository writes it. */
export function metaFileOf(bytes: Uint8Array, version: number): MetaFile {
  return new MetaFile({ version, length: bytes.byteLength, hashes: { sha256: createHash('sha256').update(bytes).digest('hex') } });
}

export class MemoryStore implements MetadataStore {
  readonly files = new Map<string, Uint8Array>();
  /** Every write, in order: "save:<role>" or "remove:<role>". */
  readonly log: string[] = [];
  /** Bytes of every save, in order. */
  readonly saved: Array<{ role: string; bytes: Uint8Array }> = [];
  load(role: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.files.get(role));
  }
  save(role: string, bytes: Uint8Array): Promise<void> {
    this.files.set(role, bytes);
    this.log.push(`save:${role}`);
    this.saved.push({ role, bytes });
    return Promise.resolve();
  }
  remove(role: string): Promise<void> {
    this.files.delete(role);
    this.log.push(`remove:${role}`);
    return Promise.resolve();
  }
  /** Version of the stored copy of `role`, or undefined. */
  version(role: string): number | undefined {
    const b = this.files.get(role);
    return b === undefined ? undefined : Metadata.fromBytes(b).signed.version;
  }
  /** Forget the write log (after a setup refresh). */
  clearLog(): void {
    this.log.length = 0;
    this.saved.length = 0;
  }
}

export class SimulatedFetcher implements Fetcher {
  /** URL path relative to BASE/TARGET_BASE -> bytes; overrides take precedence over the repo. */
  readonly overrides = new Map<string, Uint8Array>();
  readonly fetched: string[] = [];
  constructor(readonly repo: RepositoryBuilder) {}

  fetch(url: string, maxLength: number): Promise<Uint8Array> {
    this.fetched.push(url);
    const failure = this.failures.get(url.startsWith(BASE) ? url.slice(BASE.length) : url);
    if (failure !== undefined) return Promise.reject(failure);
    let bytes: Uint8Array | undefined;
    if (url.startsWith(BASE)) {
      const name = url.slice(BASE.length);
      bytes = this.overrides.get(name) ?? this.repo.files.get(name);
    } else if (url.startsWith(TARGET_BASE)) {
      const name = url.slice(TARGET_BASE.length);
      bytes = this.overrides.get(`targets/${name}`);
      if (bytes === undefined) {
        for (const [path, data] of this.repo.targetData) if (this.repo.targetFileNames(path).includes(name)) bytes = data;
      }
    }
    if (bytes === undefined) return Promise.reject(new FetchError(404, `404 ${url}`));
    if (bytes.byteLength > maxLength) return Promise.reject(new DownloadLengthError(`${url}: more than ${maxLength} bytes`));
    return Promise.resolve(bytes);
  }

  /** Throw `error` instead of answering for `name` (relative to BASE). */
  readonly failures = new Map<string, Error>();

  /** Names fetched, relative to the metadata base URL. */
  names(): string[] {
    return this.fetched.map((u) => (u.startsWith(BASE) ? u.slice(BASE.length) : u));
  }
}

export interface Keys {
  root: Signer[];
  timestamp: Signer[];
  snapshot: Signer[];
  targets: Signer[];
}

export function newKeys(): Keys {
  return {
    root: [generateSigner(), generateSigner()],
    timestamp: [generateSigner()],
    snapshot: [generateSigner()],
    targets: [generateSigner()],
  };
}

export class Simulator {
  readonly repo: RepositoryBuilder;
  readonly fetcher: SimulatedFetcher;
  readonly store = new MemoryStore();
  readonly keys: Keys;

  constructor(opts: { keys?: Keys; consistentSnapshot?: boolean; rootThreshold?: number; now?: number; snapshotMetaHashes?: boolean } = {}) {
    this.keys = opts.keys ?? newKeys();
    const rk = (r: RoleType) => ({ signers: this.keys[r], threshold: r === 'root' ? opts.rootThreshold ?? 2 : 1 });
    this.repo = new RepositoryBuilder({
      now: opts.now ?? NOW,
      consistentSnapshot: opts.consistentSnapshot ?? true,
      snapshotMetaHashes: opts.snapshotMetaHashes ?? false,
      keys: { root: rk('root'), timestamp: rk('timestamp'), snapshot: rk('snapshot'), targets: rk('targets') },
    });
    this.fetcher = new SimulatedFetcher(this.repo);
    this.store.files.set('root', this.repo.files.get('1.root.json')!);
  }

  updater(opts: { referenceTime?: number; limits?: Partial<Limits> } = {}): Updater {
    return new Updater({
      metadataBaseUrl: BASE,
      fetcher: this.fetcher,
      store: this.store,
      referenceTime: opts.referenceTime ?? NOW + 60_000,
      ...(opts.limits === undefined ? {} : { limits: opts.limits }),
    });
  }

  /** Run a full refresh with a new updater (a new update cycle) and return it. */
  async refresh(opts: { referenceTime?: number; limits?: Partial<Limits> } = {}): Promise<Updater> {
    const u = this.updater(opts);
    await u.refresh();
    return u;
  }

  /** A refresh as setup: then forget what was fetched and written. */
  async baseline(opts: { referenceTime?: number; limits?: Partial<Limits> } = {}): Promise<Updater> {
    const u = await this.refresh(opts);
    this.fetcher.fetched.length = 0;
    this.store.clearLog();
    return u;
  }

  /** Published bytes of a metadata file name (e.g. "2.snapshot.json"). */
  file(name: string): Uint8Array {
    const b = this.repo.files.get(name);
    if (b === undefined) throw new Error(`no published file ${name}`);
    return b;
  }

  /** Serve `bytes` under `name` instead of what the repository published. */
  serve(name: string, bytes: Uint8Array): void {
    this.fetcher.overrides.set(name, bytes);
  }

  /** Sign `signed` with the repository's signers of `role` (or the given ones) and serialise. */
  signed(role: string, signed: Signed, signers?: readonly Signer[]): Uint8Array {
    return (signers === undefined ? this.repo.sign(role, signed) : Metadata.of(signed, ...signers)).toBytes();
  }

  /**
   * Publish a snapshot with version+1 whose META is `edit`ed first (rollback and mix-and-match
   * attacks by someone holding the snapshot key), then a timestamp naming it with correct hashes.
   */
  publishSnapshot(edit: (meta: Map<string, MetaFile>) => void): void {
    const cur = this.repo.snapshot.signed;
    const meta = new Map(cur.meta);
    edit(meta);
    this.repo.snapshot = this.repo.sign('snapshot', new Snapshot({ ...this.repo.fresh('snapshot', cur.version + 1), meta }));
    this.repo.storeMeta('snapshot', this.repo.snapshot);
    this.repo.bumpTimestamp();
  }

  /** A timestamp of `version` naming `snapshotMeta`, signed by the timestamp key (or `signers`). */
  timestampBytes(version: number, snapshotMeta: MetaFile, signers?: readonly Signer[]): Uint8Array {
    return this.signed('timestamp', new Timestamp({ ...this.repo.fresh('timestamp', version), snapshotMeta }), signers);
  }

  /** Run `fn` with a different expiry period for `role` (new metadata signed meanwhile keeps it). */
  withExpiry(role: RoleType, ms: number, fn: () => void): void {
    const saved = this.repo.expiryMs[role];
    this.repo.expiryMs[role] = ms;
    try {
      fn();
    } finally {
      this.repo.expiryMs[role] = saved;
    }
  }
}
