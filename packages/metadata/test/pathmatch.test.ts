import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesPathPattern } from '../src/pathmatch.js';
import { FNMATCH_FIXED, FNMATCH_RANDOM } from './fnmatch-table.js';
import { rand, seedFrom } from './helpers.js';

describe('pathmatch: fnmatch semantics per "/" segment', () => {
  it('"*" matches within a segment and never crosses "/"', () => {
    assert.ok(matchesPathPattern('ecu-a/app.bin', 'ecu-a/*'));
    assert.ok(matchesPathPattern('ecu-a/app.bin', '*/*.bin'));
    assert.ok(!matchesPathPattern('ecu-a/sub/app.bin', 'ecu-a/*'));
    assert.ok(!matchesPathPattern('ecu-a/app.bin', '*'));
    assert.ok(!matchesPathPattern('a/b/c', 'a/**'));
    assert.ok(matchesPathPattern('', '*'));
  });

  it('the pattern and the path must have the same number of segments', () => {
    assert.ok(!matchesPathPattern('a/b', 'a/b/*'));
    assert.ok(!matchesPathPattern('a/b/', 'a/b'));
    assert.ok(matchesPathPattern('a/b/', 'a/b/*'));
    assert.ok(matchesPathPattern('/a', '*/a'));
  });

  it('"?" matches exactly one character (one code point)', () => {
    assert.ok(matchesPathPattern('fw-1.bin', 'fw-?.bin'));
    assert.ok(!matchesPathPattern('fw-10.bin', 'fw-?.bin'));
    assert.ok(!matchesPathPattern('fw-.bin', 'fw-?.bin'));
    assert.ok(matchesPathPattern('fw-\u{1F600}.bin', 'fw-?.bin'));
  });

  it('[abc], [a-c], [!abc] classes', () => {
    assert.ok(matchesPathPattern('v1', 'v[123]'));
    assert.ok(!matchesPathPattern('v4', 'v[123]'));
    assert.ok(matchesPathPattern('v3', 'v[1-3]'));
    assert.ok(matchesPathPattern('v4', 'v[!123]'));
    assert.ok(!matchesPathPattern('v2', 'v[!123]'));
    assert.ok(!matchesPathPattern('v2', 'v[!1-3]'));
  });

  it('regular-expression metacharacters are literal', () => {
    for (const lit of ['file.bin', 'a+b', '(x)', 'a|b', '$^', '{a}', 'a{2}', 'a\\b', 'x.*']) {
      assert.ok(matchesPathPattern(lit, lit), lit);
    }
    assert.ok(!matchesPathPattern('fileXbin', 'file.bin'));
    assert.ok(!matchesPathPattern('aab', 'a+b'));
    assert.ok(!matchesPathPattern('x', '(x)'));
    assert.ok(!matchesPathPattern('a', 'a|b'));
    assert.ok(!matchesPathPattern('aa', 'a{2}'));
    assert.ok(!matchesPathPattern('xabc', 'x.*'));
  });

  it('matching is case-sensitive', () => {
    assert.ok(!matchesPathPattern('Firmware.bin', 'firmware.bin'));
  });

  it('an unclosed "[" is literal', () => {
    assert.ok(matchesPathPattern('a[b', 'a[b'));
    assert.ok(!matchesPathPattern('ab', 'a[b'));
  });

  it('"[!]" alone is literal and does not match every character (python-tuf parity)', () => {
    assert.ok(!matchesPathPattern('x', '[!]'));
    assert.ok(matchesPathPattern('[!]', '[!]'));
  });

  it('"[!]x]" is a negated class of "]" and "x" (python-tuf parity)', () => {
    assert.ok(matchesPathPattern('a', '[!]x]'));
    assert.ok(!matchesPathPattern(']', '[!]x]'));
    assert.ok(!matchesPathPattern('ax]', '[!]x]'));
  });

  it('a reversed range matches nothing instead of throwing (python-tuf parity)', () => {
    assert.doesNotThrow(() => matchesPathPattern('a', 'fw-[9-0].bin'));
    assert.ok(!matchesPathPattern('fw-5.bin', 'fw-[9-0].bin'));
    assert.ok(matchesPathPattern('a', '[az-a]'));
    assert.ok(!matchesPathPattern('b', '[az-a]'));
  });

  for (const [target, pattern, want] of FNMATCH_FIXED) {
    it(`python-tuf parity: ${JSON.stringify(target)} vs ${JSON.stringify(pattern)} -> ${String(want)}`, () => {
      assert.equal(matchesPathPattern(target, pattern), want);
    });
  }

  it(`python-tuf parity on ${FNMATCH_RANDOM.length} random patterns`, () => {
    for (const [target, pattern, want] of FNMATCH_RANDOM) {
      assert.equal(matchesPathPattern(target, pattern), want, `${JSON.stringify(target)} vs ${JSON.stringify(pattern)}`);
    }
  });

  it('never throws on arbitrary patterns (seeded)', () => {
    const seed = seedFrom(7);
    const r = rand(seed);
    const alphabet = ['a', 'b', '-', '!', '^', '[', ']', '*', '?', '\\', '.', '(', ')', '{', '}', '|', '$', '+', '/', 'é', '\u{1F600}', '\uD800', '&', '~'];
    for (let i = 0; i < 3000; i++) {
      let p = '';
      let t = '';
      for (let n = r.int(9); n > 0; n--) p += r.pick(alphabet);
      for (let n = r.int(6); n > 0; n--) t += r.pick(alphabet);
      assert.equal(typeof matchesPathPattern(t, p), 'boolean', `seed ${seed}: ${JSON.stringify(t)} vs ${JSON.stringify(p)}`);
    }
  });

  it('stays correct past the compiled-pattern cache limit', () => {
    for (let i = 0; i < 10_050; i++) assert.ok(matchesPathPattern(`d${i}/x`, `d${i}/*`));
    assert.ok(matchesPathPattern('d0/y', 'd0/*'));
    assert.ok(!matchesPathPattern('d1/y/z', 'd1/*'));
  });
});
