import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalize, sortedJSON } from '../src/canonical.js';

/** Reference: the plain recursive encoder the specification describes (code-point key order). */
function reference(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort((a, b) => {
    const x = [...a].map((c) => c.codePointAt(0)!);
    const y = [...b].map((c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return x.length - y.length;
  });
  return `{${keys.map((k) => `${reference(k)}:${reference(o[k])}`).join(',')}}`;
}

describe('canonical JSON fast path falls back exactly where JSON.stringify differs', () => {
  const cases: Array<[string, unknown]> = [
    ['unsorted keys', { b: 1, a: { d: [1, { z: 0, y: 'x' }], c: true } }],
    ['index-like keys in string order differ from V8 order', { 10: 'a', 9: 'b', x: 'c', 0: 'd' }],
    ['index-like keys already in agreeing order', { 1: 'a', 2: 'b' }],
    ['__proto__ as an own key', JSON.parse('{"z":1,"__proto__":{"a":1},"a":2}') as unknown],
    ['control characters stay raw', { a: 'line\nbreak\t\u0001' }],
    ['quotes and backslashes', { 'k"\\': 'v"\\\\' }],
    ['astral keys sort by code point', { '\u{1F600}': 1, '\uFFFF': 2, '\uE000': 3 }],
    ['astral values', { a: '\u{1F680} launch' }],
    ['U+2028 and U+2029 are not escaped', { a: '\u2028\u2029' }],
    ['undefined properties are skipped', { a: undefined, b: 1 }],
    ['negative integers and zero', { a: -5, b: 0, c: -0 }],
    ['sorted input with nested arrays of objects', { a: [{ a: 1, b: 2 }, { c: [] }], b: {} }],
  ];
  for (const [name, value] of cases) {
    it(name, () => {
      assert.equal(canonicalize(value), reference(value));
    });
  }

  it('rejects undefined inside arrays, floats, and non-JSON types with CANONICAL_JSON', () => {
    for (const bad of [[1, undefined], { a: 1.5 }, { a: Number.NaN }, { a: 2 ** 60 }, { a: (): void => undefined }, { a: 10n }]) {
      assert.throws(() => canonicalize(bad), (e: unknown) => (e as { code?: string }).code === 'CANONICAL_JSON');
    }
  });

  it('sortedJSON writes valid JSON with sorted keys that re-canonicalises to the same bytes', () => {
    const v = { b: 'x\ny', a: [{ d: 1, c: 2 }] };
    const text = sortedJSON(v);
    assert.equal(text, '{"a":[{"c":2,"d":1}],"b":"x\\ny"}');
    assert.equal(canonicalize(JSON.parse(text)), canonicalize(v));
  });
});
