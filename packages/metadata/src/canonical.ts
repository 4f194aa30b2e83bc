/**
 * OLPC canonical JSON exactly as securesystemslib and @tufjs/canonical-json produce it, so that
 * signatures interoperate with python-tuf, tuf-js and go-tuf:
 * - objects: keys sorted by Unicode code point, no whitespace, `,` and `:` separators;
 * - strings: only `\` and `"` are escaped, everything else is emitted as-is (UTF-8);
 * - numbers: integers only (floats are not representable);
 * - true, false, null as in JSON.
 * Linear in the size of the value (plus the key sort of each object).
 */
import { CanonicalizationError } from './errors.js';

const NEEDS_ESCAPE = /["\\]/;
const SURROGATE = /[\ud800-\udfff]/;
const LONE_SURROGATE = /\p{Cs}/u;

function encodeString(s: string): string {
  // A lone surrogate has no UTF-8 encoding: the signed bytes would silently change.
  if (SURROGATE.test(s) && LONE_SURROGATE.test(s)) throw new CanonicalizationError('string contains a lone surrogate');
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Python sorts str by code point; JS sorts by UTF-16 unit. They differ only for astral chars. */
function compareCodePoints(a: string, b: string): number {
  const ai = a[Symbol.iterator]();
  const bi = b[Symbol.iterator]();
  for (;;) {
    const x = ai.next();
    const y = bi.next();
    if (x.done === true) return y.done === true ? 0 : -1;
    if (y.done === true) return 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

function sortedKeys(o: object): string[] {
  const keys = Object.keys(o);
  if (keys.some((k) => SURROGATE.test(k))) return keys.sort(compareCodePoints);
  return keys.sort();
}

function encode(value: unknown, out: string[], depth: number): void {
  if (depth > 512) throw new CanonicalizationError('value nested too deeply');
  switch (typeof value) {
    case 'string':
      out.push(encodeString(value));
      return;
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new CanonicalizationError(`number ${String(value)} is not a safe integer`);
      }
      out.push(String(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'object':
      if (value === null) {
        out.push('null');
        return;
      }
      if (Array.isArray(value)) {
        out.push('[');
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out.push(',');
          encode(value[i], out, depth + 1);
        }
        out.push(']');
        return;
      }
      {
        out.push('{');
        let first = true;
        const rec = value as Record<string, unknown>;
        for (const k of sortedKeys(rec)) {
          const v = rec[k];
          if (v === undefined) continue;
          if (!first) out.push(',');
          first = false;
          out.push(encodeString(k), ':');
          encode(v, out, depth + 1);
        }
        out.push('}');
      }
      return;
    default:
      throw new CanonicalizationError(`type ${typeof value} is not representable in canonical JSON`);
  }
}

/** Thrown inside the fast path when only the exact encoder can be trusted. */
class NeedsExactEncoder extends Error {}

function isIndexLike(k: string): boolean {
  const c = k.charCodeAt(0);
  return c >= 48 && c <= 57 && /^(?:0|[1-9]\d{0,9})$/.test(k) && Number(k) < 4294967295;
}

/**
 * The value with every object's keys in sorted order (a copy only where needed), checking that
 * every value is representable. V8's JSON.stringify then writes exactly the canonical form,
 * except where it escapes (control characters, lone surrogates: detected by a backslash in its
 * output) and where code-unit and code-point order differ (astral characters: detected by a
 * surrogate in the output); those cases go to the exact encoder.
 */
function prepare(v: unknown, depth: number): unknown {
  if (typeof v !== 'object') {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new CanonicalizationError(`number ${String(v)} is not a safe integer`);
      return v;
    }
    if (typeof v === 'string' || typeof v === 'boolean') return v;
    throw new CanonicalizationError(`type ${typeof v} is not representable in canonical JSON`);
  }
  if (v === null) return v;
  if (depth > 512) throw new CanonicalizationError('value nested too deeply');
  if (Array.isArray(v)) {
    let out: unknown[] = v;
    for (let i = 0; i < v.length; i++) {
      const e: unknown = v[i];
      if (e === undefined) throw new CanonicalizationError('undefined is not representable in canonical JSON');
      const n = typeof e === 'object' || typeof e === 'number' ? prepare(e, depth + 1) : typeof e === 'string' || typeof e === 'boolean' ? e : prepare(e, depth + 1);
      if (n !== e) {
        if (out === v) out = v.slice();
        out[i] = n;
      }
    }
    return out;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) throw new NeedsExactEncoder();
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if (!(keys[i - 1]! < keys[i]!)) {
      sorted = false;
      break;
    }
  }
  let copy: Record<string, unknown> | undefined;
  if (!sorted) {
    // A copy cannot reorder index-like keys: V8 always enumerates them first, numerically.
    if (keys.some(isIndexLike)) throw new NeedsExactEncoder();
    keys.sort();
    copy = Object.create(null) as Record<string, unknown>;
  }
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const val = o[k];
    const n = val === undefined ? undefined : typeof val === 'string' || typeof val === 'boolean' ? val : prepare(val, depth + 1);
    if (copy === undefined && n !== val) {
      copy = Object.create(null) as Record<string, unknown>;
      for (let j = 0; j < i; j++) copy[keys[j]!] = o[keys[j]!];
    }
    if (copy !== undefined && n !== undefined) copy[k] = n;
  }
  return copy ?? o;
}

const ESCAPED_OR_ASTRAL = /[\\\ud800-\udfff]/;

/** Canonical JSON text of a JSON value. */
export function canonicalize(value: unknown): string {
  try {
    const s = JSON.stringify(prepare(value, 0));
    if (!ESCAPED_OR_ASTRAL.test(s)) return s;
  } catch (err) {
    if (!(err instanceof NeedsExactEncoder)) throw err;
  }
  const out: string[] = [];
  encode(value, out, 0);
  return out.join('');
}

/**
 * JSON text with every object's keys sorted (valid JSON, unlike canonical JSON when strings hold
 * control characters). Files written this way re-canonicalise without copying.
 */
export function sortedJSON(value: unknown): string {
  try {
    return JSON.stringify(prepare(value, 0));
  } catch (err) {
    if (!(err instanceof NeedsExactEncoder)) throw err;
    return JSON.stringify(value);
  }
}

/** Canonical JSON as UTF-8 bytes: the exact bytes TUF signs. */
export function canonicalBytes(value: unknown): Uint8Array {
  return Buffer.from(canonicalize(value), 'utf8');
}
