/** Assertions on the error class and stable code (CONVENTIONS.md §5) of a failure. */
import assert from 'node:assert/strict';
import type { ReflashError } from '@reflash/metadata';

type ErrorClass = abstract new (...args: never[]) => ReflashError;

function check(err: unknown, cls: ErrorClass, code: string): ReflashError {
  assert.ok(err instanceof cls, `expected ${cls.name} (${code}), got ${String(err)}`);
  assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
  return err;
}

/** `p` rejects with an instance of `cls` carrying `code`; returns the error. */
export async function rejectsWith(p: Promise<unknown>, cls: ErrorClass, code: string): Promise<ReflashError> {
  try {
    await p;
  } catch (err) {
    return check(err, cls, code);
  }
  assert.fail(`expected ${cls.name} (${code}), but it resolved`);
}

/** `fn` throws an instance of `cls` carrying `code`; returns the error. */
export function throwsWith(fn: () => unknown, cls: ErrorClass, code: string): ReflashError {
  try {
    fn();
  } catch (err) {
    return check(err, cls, code);
  }
  assert.fail(`expected ${cls.name} (${code}), but it returned`);
}
