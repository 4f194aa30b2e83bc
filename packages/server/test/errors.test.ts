/** The error catalogue (CONVENTIONS.md §6): codes unique and well-formed, every entry used. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ERRORS } from '../src/errors.js';

const SRC = new URL('../../src/', import.meta.url).pathname;

function sources(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out += sources(p);
    else if (name.endsWith('.ts') && name !== 'errors.ts') out += readFileSync(p, 'utf8');
  }
  return out;
}

it('every catalogue code is UPPER_SNAKE, unique, with a 4xx/5xx status and a message', () => {
  const codes = Object.keys(ERRORS);
  assert.equal(new Set(codes).size, codes.length);
  for (const [code, e] of Object.entries(ERRORS)) {
    assert.match(code, /^[A-Z][A-Z0-9_]+$/);
    assert.ok(e.status >= 400 && e.status < 600, code);
    assert.ok(e.message.length > 0, code);
  }
});

it('every catalogue entry is used by the server', () => {
  const src = sources(SRC);
  const unused = Object.keys(ERRORS).filter((code) => !src.includes(`'${code}'`) && !src.includes(`"${code}"`));
  assert.deepEqual(unused, []);
});
