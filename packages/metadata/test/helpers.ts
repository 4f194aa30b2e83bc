/** Shared test helpers: seeded PRNG, error assertions, a sample repository. Not a test file. */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ReflashError } from '../src/errors.js';
import { generateSigner } from '../src/keys.js';
import type { PrivateKeySigner } from '../src/keys.js';
import { RepositoryBuilder } from '../src/repository.js';
import { uptaneCustom } from '../src/uptane.js';
import { prng } from '../src/prng.js';

/** 2030-01-01T00:00:00Z: the fixed reference time of the tests. */
export const NOW = Date.UTC(2030, 0, 1);

// Seeded PRNG (mulberry32) so that failures reproduce.
export { prng } from '../src/prng.js';

export interface Rand {
  readonly next: () => number;
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  bool(p?: number): boolean;
}

export function rand(seed: number): Rand {
  const next = prng(seed);
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick<T>(xs: readonly T[]): T {
      const x = xs[Math.floor(next() * xs.length)];
      if (x === undefined) throw new Error('pick from an empty list');
      return x;
    },
    bool: (p = 0.5) => next() < p,
  };
}

/** The seed from FUZZ_SEED (to reproduce a failure), else `fallback`. */
export function seedFrom(fallback: number): number {
  const s = process.env['FUZZ_SEED'];
  return s === undefined ? fallback : Number.parseInt(s, 10);
}

/** Assert that `fn` throws a ReflashError with `code` whose message contains every `parts`. */
export function throwsCode(fn: () => unknown, code: string, ...parts: string[]): ReflashError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected a ${code} error, nothing was thrown`);
  assert.ok(caught instanceof ReflashError, `expected a ReflashError, got ${inspect(caught)}`);
  assert.equal(caught.code, code, `wrong code for: ${caught.message}`);
  for (const p of parts) assert.ok(caught.message.includes(p), `message "${caught.message}" does not mention "${p}"`);
  return caught;
}

export function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('utf8');
}

export function bytesOf(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}

/** A JSON deep copy (values only). */
export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

export interface SampleRepo {
  readonly repo: RepositoryBuilder;
  readonly signers: {
    readonly root: readonly PrivateKeySigner[];
    readonly timestamp: PrivateKeySigner;
    readonly snapshot: PrivateKeySigner;
    readonly targets: PrivateKeySigner;
    readonly delegate: PrivateKeySigner;
  };
}

/**
 * A published repository: root (2 of 2 ed25519 + ecdsa), one target with Uptane custom in
 * targets, a delegation "ecu-a" (paths) holding a target with delta/encryption custom.
 */
export function sampleRepo(): SampleRepo {
  const root = [generateSigner('ed25519'), generateSigner('ecdsa-sha2-nistp256')];
  const timestamp = generateSigner('ed25519');
  const snapshot = generateSigner('ed25519');
  const targets = generateSigner('ed25519');
  const delegate = generateSigner('ecdsa-sha2-nistp256');
  const repo = new RepositoryBuilder({
    now: NOW,
    keys: {
      root: { signers: root, threshold: 2 },
      timestamp: { signers: [timestamp] },
      snapshot: { signers: [snapshot] },
      targets: { signers: [targets] },
    },
    snapshotMetaHashes: true,
  });
  repo.addTarget('ecu-main/firmware-1.0.bin', bytesOf('main firmware 1.0'), uptaneCustom({
    hardwareIds: ['hw-main'],
    releaseCounter: 3,
    targetFormat: 'binary',
  }));
  repo.delegate('targets', { name: 'ecu-a', paths: ['ecu-a/*'], terminating: true }, [delegate]);
  repo.addTarget('ecu-a/app-2.0.bin', bytesOf('ecu a app 2.0'), uptaneCustom({
    hardwareIds: ['hw-a'],
    ecuIdentifiers: { 'SER-A': { hardwareId: 'hw-a' } },
    releaseCounter: 7,
    encryption: { algorithm: 'aes-256-gcm', keyId: 'k1', iv: '00112233' },
    delta: { format: 'bsdiff', fromFilename: 'ecu-a/app-1.0.bin', fromLength: 10, fromHashes: { sha256: 'ab'.repeat(32) } },
  }, { vendor: { note: 'kept' } }), 'ecu-a');
  repo.publish();
  return { repo, signers: { root, timestamp, snapshot, targets, delegate } };
}

/** The published bytes of `name` (e.g. "root.json"). */
export function fileOf(repo: RepositoryBuilder, name: string): Uint8Array {
  const b = repo.files.get(name);
  if (b === undefined) throw new Error(`no file ${name}`);
  return b;
}
