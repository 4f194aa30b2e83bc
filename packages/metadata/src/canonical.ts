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

/** Canonical JSON text of a JSON value. */
export function canonicalize(value: unknown): string {
  const out: string[] = [];
  encode(value, out, 0);
  return out.join('');
}

/** Canonical JSON as UTF-8 bytes: the exact bytes TUF signs. */
export function canonicalBytes(value: unknown): Uint8Array {
  return Buffer.from(canonicalize(value), 'utf8');
}
