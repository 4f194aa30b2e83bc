/**
 * Shape checks for untrusted JSON. Every failure is a FormatError naming the JSON path, so a
 * malformed file gets a clear, specific message. `unknown` in, typed values out.
 */
import { FormatError } from './errors.js';

export type JSONObject = { [key: string]: JSONValue };
export type JSONValue = string | number | boolean | null | JSONValue[] | JSONObject;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function expectObject(v: unknown, path: string): Record<string, unknown> {
  if (!isObject(v)) throw new FormatError(`${path}: expected an object`);
  return v;
}

export function expectArray(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new FormatError(`${path}: expected an array`);
  return v;
}

export function expectString(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new FormatError(`${path}: expected a string`);
  return v;
}

export function expectBoolean(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new FormatError(`${path}: expected a boolean`);
  return v;
}

/** A non-negative safe integer (lengths, versions, counters). */
export function expectUint(v: unknown, path: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new FormatError(`${path}: expected an integer >= ${min}`);
  }
  return v;
}

const HEX = /^[0-9a-fA-F]*$/;

export function isHex(s: string): boolean {
  return s.length % 2 === 0 && HEX.test(s);
}

export function expectHex(v: unknown, path: string): string {
  const s = expectString(v, path);
  if (s.length === 0 || !isHex(s)) throw new FormatError(`${path}: expected a non-empty hex string`);
  return s;
}

/** Hash maps `{ "sha256": "<hex>", ... }`: at least one entry, every value hex. */
export function expectHashes(v: unknown, path: string): Readonly<Record<string, string>> {
  const o = expectObject(v, path);
  const keys = Object.keys(o);
  if (keys.length === 0) throw new FormatError(`${path}: expected at least one hash`);
  for (const k of keys) expectHex(o[k], `${path}.${k}`);
  return o as Record<string, string>;
}

/** The fields of `o` that are not in `known`, kept so that re-serialisation is byte-exact. */
export function unrecognized(o: Record<string, unknown>, known: readonly string[]): Readonly<Record<string, unknown>> {
  // Object.fromEntries, not assignment: a "__proto__" key must stay an own property.
  const extra = Object.keys(o).filter((k) => !known.includes(k));
  return extra.length === 0 ? EMPTY : Object.fromEntries(extra.map((k) => [k, o[k]]));
}

export const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});

/** Parse JSON bytes; a syntax error becomes a FormatError. */
export function parseJSON(bytes: Uint8Array | string, what: string): unknown {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new FormatError(`${what}: not valid JSON`, { cause: err });
  }
}
