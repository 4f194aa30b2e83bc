/** The A/B bank record's pure transitions (STANDARDS.md §3; CONVENTIONS.md §9). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageInfo } from '../../src/digest.js';
import { activate, bootSelect, checkRecord, confirmRunning, markWriting, markWritten, planInstall, rollbackFrom } from '../../src/ecu/bank-record.js';
import type { BankRecord } from '../../src/ecu/bank-record.js';
import { EcuError } from '../../src/errors.js';

const img = (n: number): ImageInfo => ({ filepath: `fw-${n}.bin`, length: 10 + n, hashes: { sha256: String(n).repeat(64).slice(0, 64) } });
const FACTORY: BankRecord = { active: 'a', previous: null, banks: { a: { status: 'good', image: img(1) }, b: { status: 'bad', image: null } }, bootAttempts: 0 };
const code = (c: string) => (err: unknown) => err instanceof EcuError && err.code === c;

function installed(r: BankRecord, image: ImageInfo): BankRecord {
  const plan = planInstall(r);
  return activate(markWritten(markWriting(r, plan), plan, image), image);
}

void describe('bank record', () => {
  void it('install: the inactive bank is marked bad first, then pending and selected with a fresh boot count', () => {
    const plan = planInstall(FACTORY);
    assert.deepEqual(plan, { bank: 'b', keep: 'a' });
    const writing = markWriting(FACTORY, plan);
    assert.deepEqual(writing.banks.b, { status: 'bad', image: null });
    const written = markWritten(writing, plan, img(2));
    assert.equal(written.active, 'a', 'not bootable until activated');
    const act = activate(written, img(2));
    assert.deepEqual(act, { active: 'b', previous: 'a', banks: { a: FACTORY.banks.a, b: { status: 'pending', image: img(2) } }, bootAttempts: 0 });
  });

  void it('never installs over the fallback: no install while a bank is pending', () => {
    const pending = installed(FACTORY, img(2));
    assert.throws(() => planInstall(pending), code('ECU_NOT_INSTALLABLE'));
  });

  void it('boot: a pending bank boots maxBootAttempts times, then the bootloader falls back and marks it bad', () => {
    let r = installed(FACTORY, img(2));
    for (let i = 1; i <= 3; i++) {
      const s = bootSelect(r, 3);
      assert.equal(s.bank, 'b');
      assert.equal(s.record.bootAttempts, i);
      r = s.record;
    }
    const s = bootSelect(r, 3);
    assert.equal(s.fellBack, true);
    assert.equal(s.bank, 'a');
    assert.deepEqual(s.record.banks.b.status, 'bad');
    assert.equal(s.record.banks.a.status, 'good');
  });

  void it('confirm keeps the previous bank good, so the bundle can still roll back; the next install overwrites it', () => {
    const good = confirmRunning(installed(FACTORY, img(2)));
    assert.equal(good.banks.b.status, 'good');
    assert.equal(good.banks.a.status, 'good');
    const back = rollbackFrom(good, img(2));
    assert.equal(back.reboot, true);
    assert.equal(back.record.active, 'a');
    assert.equal(back.record.banks.b.status, 'bad');
    const next = planInstall(good);
    assert.equal(next.bank, 'a');
    const writing = markWriting(good, next);
    assert.equal(writing.previous, null);
    assert.equal(writing.banks.b.status, 'good', 'the running bank stays the good one');
  });

  void it('rollback of an image only written (never activated) discards it; of an unrelated image does nothing', () => {
    const plan = planInstall(FACTORY);
    const written = markWritten(markWriting(FACTORY, plan), plan, img(2));
    assert.equal(rollbackFrom(written, img(2)).reboot, false);
    assert.equal(rollbackFrom(FACTORY, img(7)).record, FACTORY);
  });

  void it('the invariant: a selected bank is never bad, a pending one always has a good fallback', () => {
    assert.throws(() => checkRecord({ ...FACTORY, active: 'b' }), code('ECU_BAD_BANK_RECORD'));
    assert.throws(() => checkRecord({ active: 'b', previous: null, banks: { a: FACTORY.banks.a, b: { status: 'pending', image: img(2) } }, bootAttempts: 0 }), code('ECU_BAD_BANK_RECORD'));
    const confirmedOnly: BankRecord = { active: 'a', previous: null, banks: { a: { status: 'good', image: img(2) }, b: { status: 'bad', image: img(1) } }, bootAttempts: 0 };
    assert.throws(() => rollbackFrom(confirmedOnly, img(2)), code('ECU_ROLLBACK_IMPOSSIBLE'));
  });
});
