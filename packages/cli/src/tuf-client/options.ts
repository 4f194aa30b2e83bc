/** Global options of the conformance client (tuf-conformance CLIENT-CLI.md) and their checks. */
import { UsageError } from '@reflash/metadata';

export interface GlobalOptions {
  readonly metadataDir?: string;
  readonly metadataUrl?: string;
  readonly targetName: readonly string[];
  readonly targetBaseUrl?: string;
  readonly targetDir?: string;
}

/** The value of a required option, or a UsageError naming the flag. */
export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required for this command`);
  return value;
}

/** Base URLs are joined with file names, so they must end in "/". */
export function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/**
 * The file name a target is stored under in the target directory: the URL-encoded target path
 * (`a/b.txt` -> `a%2Fb.txt`), so every target is one flat file with a stable name.
 */
export function targetFileName(targetPath: string): string {
  const name = encodeURIComponent(targetPath);
  if (name === '' || name === '.' || name === '..') throw new UsageError(`target path ${JSON.stringify(targetPath)} cannot be stored as a file`);
  return name;
}
