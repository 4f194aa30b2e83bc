/**
 * The TUF 1.0 client workflow (§5.1-§5.7) over injected I/O: a Fetcher for the repository and a
 * MetadataStore for the trusted copies. The pure core decides what to fetch, in which order and
 * with which size limit; the adapters (HTTP, files, an offline bundle) only move bytes.
 * Used by the `tuf-client` command and, twice (Director and Image repository), by Uptane
 * full verification in the vehicle.
 */
import { FetchError, ReflashError, RepositoryError, UsageError, encodeRole } from '@reflash/metadata';
import type { Metadata, Root, TargetFile, Targets } from '@reflash/metadata';
import type { Limits } from './config.js';
import { findTarget } from './delegation.js';
import type { SearchResult } from './delegation.js';
import { EqualVersionError } from './errors.js';
import { TrustedMetadataSet } from './trusted-set.js';

export interface Fetcher {
  /**
   * Bytes at `url`, at most `maxLength` of them: more is a DownloadLengthError (endless data).
   * A missing file is a FetchError with status 404.
   */
  fetch(url: string, maxLength: number): Promise<Uint8Array>;
}

/** Trusted metadata by role name (stored under unversioned names). */
export interface MetadataStore {
  load(role: string): Promise<Uint8Array | undefined>;
  save(role: string, bytes: Uint8Array): Promise<void>;
  remove(role: string): Promise<void>;
}

export interface UpdaterOptions {
  /** Base URL of the metadata, ending in "/". */
  readonly metadataBaseUrl: string;
  readonly fetcher: Fetcher;
  readonly store: MetadataStore;
  /** TUF 5.1: the reference time, fixed for this update cycle (ms since the epoch). */
  readonly referenceTime: number;
  readonly limits?: Partial<Limits>;
}

export { encodeRole };

export class Updater {
  readonly #opts: UpdaterOptions;
  #trusted: TrustedMetadataSet | undefined;
  #refreshed = false;

  constructor(opts: UpdaterOptions) {
    this.#opts = opts;
  }

  get trusted(): TrustedMetadataSet {
    if (this.#trusted === undefined) throw new RepositoryError('NOT_REFRESHED', 'refresh() has not run');
    return this.#trusted;
  }

  /** TUF 5.2: load the trusted root from the store (it was installed out of band). */
  async #load(): Promise<TrustedMetadataSet> {
    if (this.#trusted !== undefined) return this.#trusted;
    const root = await this.#opts.store.load('root');
    if (root === undefined) throw new RepositoryError('NO_TRUSTED_ROOT', 'no trusted root.json in the metadata store');
    this.#trusted = new TrustedMetadataSet(root, this.#opts.referenceTime, this.#opts.limits);
    return this.#trusted;
  }

  #url(name: string): string {
    return `${this.#opts.metadataBaseUrl}${name}`;
  }

  /** TUF 5.1-5.6 for the top-level roles: root chain, timestamp, snapshot, targets. */
  async refresh(): Promise<void> {
    const ts = await this.#load();
    await this.#updateRoot(ts);
    await this.#updateTimestamp(ts);
    await this.#updateSnapshot(ts);
    await this.#loadTargets(ts, 'targets', 'root');
    this.#refreshed = true;
  }

  /** TUF 5.3: fetch N+1.root.json until there is none, each verified by old and new keys. */
  async #updateRoot(ts: TrustedMetadataSet): Promise<void> {
    const first: Metadata<Root> = ts.root;
    const lower = first.signed.version;
    // TUF 5.3.3: at most maxRootRotations new versions in one cycle.
    for (let v = lower + 1; v <= lower + ts.limits.maxRootRotations; v++) {
      let bytes: Uint8Array;
      try {
        bytes = await this.#opts.fetcher.fetch(this.#url(`${v}.root.json`), ts.limits.rootMaxLength);
      } catch (err) {
        if (err instanceof FetchError && (err.status === 404 || err.status === 403)) break;
        throw err;
      }
      ts.updateRoot(bytes);
      // TUF 5.3.8: persist each new trusted root.
      await this.#opts.store.save('root', bytes);
    }
    // TUF 5.3.11: "If the timestamp and / or snapshot keys have been rotated, then delete the
    // trusted timestamp and snapshot metadata files", so that a fast-forward attack made with the
    // old keys can be recovered from. Both files: a trusted timestamp naming a fast-forwarded
    // snapshot version would otherwise block the recovered snapshot (TUF 5.4.3.2).
    const final = ts.root.signed;
    if (final.version !== first.signed.version) {
      const same = (r: 'timestamp' | 'snapshot'): boolean => {
        const a = first.signed.role(r).keyids;
        const b = final.role(r).keyids;
        return a.length === b.length && a.every((k) => b.includes(k));
      };
      if (!same('timestamp') || !same('snapshot')) {
        await this.#opts.store.remove('timestamp');
        await this.#opts.store.remove('snapshot');
      }
    }
  }

  async #updateTimestamp(ts: TrustedMetadataSet): Promise<void> {
    // A trusted local timestamp (if still valid) is the baseline for the rollback checks.
    await this.#tryLocal(() => this.#opts.store.load('timestamp'), (b) => ts.updateTimestamp(b));
    const bytes = await this.#opts.fetcher.fetch(this.#url('timestamp.json'), ts.limits.timestampMaxLength);
    try {
      ts.updateTimestamp(bytes);
    } catch (err) {
      // TUF 5.4.3.1: the same version again is normal; keep the trusted one.
      if (err instanceof EqualVersionError) return;
      throw err;
    }
    await this.#opts.store.save('timestamp', bytes); // TUF 5.4.5
  }

  async #updateSnapshot(ts: TrustedMetadataSet): Promise<void> {
    const local = await this.#tryLocal(() => this.#opts.store.load('snapshot'), (b) => ts.updateSnapshot(b, true));
    if (local) return; // the trusted snapshot is still the one the timestamp names
    const meta = ts.timestamp!.signed.snapshotMeta;
    const name = ts.root.signed.consistentSnapshot === true ? `${meta.version}.snapshot.json` : 'snapshot.json';
    const bytes = await this.#opts.fetcher.fetch(this.#url(name), meta.length ?? ts.limits.snapshotMaxLength);
    ts.updateSnapshot(bytes);
    await this.#opts.store.save('snapshot', bytes); // TUF 5.5.7
  }

  async #loadTargets(ts: TrustedMetadataSet, role: string, parent: string): Promise<Metadata<Targets>> {
    const have = ts.getTargets(role);
    if (have !== undefined) return have;
    const local = await this.#tryLocal(() => this.#opts.store.load(encodeRole(role)), (b) => ts.updateDelegatedTargets(b, role, parent));
    if (local) return ts.getTargets(role)!;
    const meta = ts.metaFor(role);
    const enc = encodeRole(role);
    const name = ts.root.signed.consistentSnapshot === true ? `${meta.version}.${enc}.json` : `${enc}.json`;
    const bytes = await this.#opts.fetcher.fetch(this.#url(name), meta.length ?? ts.limits.targetsMaxLength);
    const md = ts.updateDelegatedTargets(bytes, role, parent);
    await this.#opts.store.save(enc, bytes); // TUF 5.6.6
    return md;
  }

  /** Load a local copy: true if it verified as the final version; invalid copies are ignored. */
  async #tryLocal(load: () => Promise<Uint8Array | undefined>, apply: (b: Uint8Array) => unknown): Promise<boolean> {
    const bytes = await load();
    if (bytes === undefined) return false;
    try {
      apply(bytes);
      return true;
    } catch (err) {
      // A local copy that no longer verifies (expired, superseded, corrupted) is simply not used.
      if (err instanceof ReflashError && !(err instanceof UsageError)) return false;
      throw err;
    }
  }

  /** TUF 5.6.7: find a target's metadata through the delegation tree (refreshing first if needed). */
  async search(path: string): Promise<SearchResult> {
    if (!this.#refreshed) await this.refresh();
    const ts = this.trusted;
    return findTarget(path, (role, parent) => this.#loadTargets(ts, role, parent), ts.limits.maxDelegations);
  }

  async getTargetInfo(path: string): Promise<TargetFile | undefined> {
    return (await this.search(path)).target;
  }

  /**
   * TUF 5.7.3: the URL of a target. With consistent snapshots the file name is prefixed with one
   * of its hashes (`dir/HASH.name`): the first one listed, as python-tuf and tuf-js do, so that
   * repositories that store each target under that name only work with every client.
   */
  targetUrl(target: TargetFile, targetBaseUrl: string): string {
    const consistent = this.trusted.root.signed.consistentSnapshot === true;
    if (!consistent) return `${targetBaseUrl}${target.path}`;
    const slash = target.path.lastIndexOf('/');
    const hash = Object.values(target.hashes)[0]!;
    return `${targetBaseUrl}${target.path.slice(0, slash + 1)}${hash}.${target.path.slice(slash + 1)}`;
  }
}
