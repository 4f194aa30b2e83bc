import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { LOG_ERROR_CODES, LogError, LogFormatError, LogProofError, LogSignatureError, LogStorageError, LogUsageError } from '../src/index.js';

void describe('errors: one catalogue of stable codes', () => {
  void it('every catalogued code is thrown somewhere in the package, and every thrown code is catalogued', () => {
    const dir = new URL('../src/', import.meta.url);
    const src = readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'errors.js').map((f) => readFileSync(new URL(f, dir), 'utf8')).join('\n');
    for (const code of Object.keys(LOG_ERROR_CODES)) assert.ok(src.includes(`'${code}'`) || code === 'LOG_INVALID_ARGUMENT', `${code} is never used`);
    for (const m of src.matchAll(/'(LOG_[A-Z_]+)'/g)) assert.ok(m[1]! in LOG_ERROR_CODES, `${m[1]} is not catalogued`);
  });

  void it('classes say who is at fault and keep code, name and cause', () => {
    const cause = new Error('root cause');
    const e = new LogProofError('LOG_BAD_INCLUSION_PROOF', 'x', { cause });
    assert.ok(e instanceof LogError && e instanceof Error);
    assert.equal(e.name, 'LogProofError');
    assert.equal(e.code, 'LOG_BAD_INCLUSION_PROOF');
    assert.equal(e.cause, cause);
    assert.equal(new LogUsageError('misuse').code, 'LOG_INVALID_ARGUMENT');
    for (const C of [LogFormatError, LogSignatureError, LogStorageError]) assert.ok(new C('LOG_MALFORMED_NOTE', 'm') instanceof LogError);
  });
});
