/**
 * The three commands of the tuf-conformance client protocol. The TUF workflow itself (which
 * files, in which order, with which limits) is the verify package's Updater; this module only
 * wires it to HTTP and the metadata directory and stores targets.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Updater, DelegationError, TargetNotFoundError } from '@reflash/verify';
import { writeFileAtomic } from '../io/atomic.js';
import { downloadTarget, fileMatchesTarget } from '../io/download.js';
import { FsStore } from '../io/fs-store.js';
import type { HttpFetcher } from '../io/http-fetcher.js';
import { required, targetFileName, withTrailingSlash } from './options.js';
import type { GlobalOptions } from './options.js';

export interface Context {
  /** TUF 5.1: reference time, captured once at start (Date.now(), so faketime applies). */
  readonly referenceTime: number;
  readonly fetcher: HttpFetcher;
}

/** Install the trusted root out of band (TUF 5.2): a plain copy, no request, no checks. */
export async function init(opts: GlobalOptions, trustedRoot: string): Promise<void> {
  const dir = required(opts.metadataDir, '--metadata-dir');
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, 'root.json'), await readFile(trustedRoot));
}

function updater(opts: GlobalOptions, ctx: Context): Updater {
  return new Updater({
    metadataBaseUrl: withTrailingSlash(required(opts.metadataUrl, '--metadata-url')),
    fetcher: ctx.fetcher,
    store: new FsStore(required(opts.metadataDir, '--metadata-dir')),
    referenceTime: ctx.referenceTime,
  });
}

/** TUF 5.3-5.6: root chain, timestamp, snapshot, top-level targets. */
export async function refresh(opts: GlobalOptions, ctx: Context): Promise<void> {
  await updater(opts, ctx).refresh();
}

/** Refresh, then for each target: search the delegations (5.6.7), reuse a cached copy or download it (5.7). */
export async function download(opts: GlobalOptions, ctx: Context): Promise<void> {
  const targetBaseUrl = withTrailingSlash(required(opts.targetBaseUrl, '--target-base-url'));
  const targetDir = required(opts.targetDir, '--target-dir');
  if (opts.targetName.length === 0) required(undefined, '--target-name');
  const names = opts.targetName.map((name) => ({ name, file: join(targetDir, targetFileName(name)) }));
  const u = updater(opts, ctx);
  await u.refresh();
  await mkdir(targetDir, { recursive: true });
  for (const { name, file } of names) {
    const found = await u.search(name);
    if (found.target === undefined) {
      if (found.limitReached) throw new DelegationError('DELEGATION_LIMIT', `target ${name}: delegation search stopped after ${found.visited.length} roles`);
      throw new TargetNotFoundError(`target ${name} is not in the repository (searched ${found.visited.join(', ')})`);
    }
    if (await fileMatchesTarget(file, found.target)) continue;
    await downloadTarget(ctx.fetcher, u.targetUrl(found.target, targetBaseUrl), found.target, file);
  }
}
