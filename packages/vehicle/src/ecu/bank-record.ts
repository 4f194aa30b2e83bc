/**
 * The A/B bank record of an ECU and its transitions, as pure functions (CONVENTIONS.md §9: plan
 * the install before writing; STANDARDS.md §3 EVITA / A/B swap; rauc `src/install.c`):
 *
 *   install:  plan (the INACTIVE bank; only when the active bank is good)
 *             -> markWriting: inactive bank 'bad', image null (persisted BEFORE any write)
 *             -> (write, read back) -> markWritten: still 'bad', image = verified content
 *             -> activate: 'pending', boot selection switched to it, previous = the good bank,
 *                bootAttempts 0
 *   boot:     bootSelect: a pending bank is booted at most maxBootAttempts times (the attempt
 *             is counted, and persisted, before the image runs); then the bootloader falls back
 *             to the previous good bank and marks the pending one 'bad'
 *   confirm:  the running pending bank becomes 'good' (the previous bank stays 'good', so the
 *             whole bundle can still be rolled back until the next install overwrites it)
 *   rollback: if the ECU runs (or would boot) the image being rolled back, switch back to the
 *             previous good bank and mark the other 'bad'
 *
 * Invariant (checkRecord): the selected bank is 'good' or 'pending', and a pending selection
 * always has a 'good' previous bank. So there is always a bootable good bank.
 */
import { expectHashes, expectObject, expectString, expectUint } from '@reflash/metadata';
import type { ImageInfo } from '../digest.js';
import { sameImage } from '../digest.js';
import { EcuCodes, EcuError } from '../errors.js';

export type BankId = 'a' | 'b';
export type BankStatus = 'good' | 'bad' | 'pending';

export interface Bank {
  readonly status: BankStatus;
  readonly image: ImageInfo | null;
}

export interface BankRecord {
  /** the boot selection */
  readonly active: BankId;
  /** the good bank to fall back to (set while a newer bank is pending or newly confirmed) */
  readonly previous: BankId | null;
  readonly banks: Readonly<Record<BankId, Bank>>;
  /** boots of the selected bank while it is pending */
  readonly bootAttempts: number;
}

export const BANK_IDS: readonly BankId[] = ['a', 'b'];

export function otherBank(id: BankId): BankId {
  return id === 'a' ? 'b' : 'a';
}

function withBank(r: BankRecord, id: BankId, bank: Bank): Readonly<Record<BankId, Bank>> {
  return id === 'a' ? { a: bank, b: r.banks.b } : { a: r.banks.a, b: bank };
}

/** The invariant every persisted record keeps. Throws EcuError(BAD_BANK_RECORD). */
export function checkRecord(r: BankRecord): BankRecord {
  const sel = r.banks[r.active];
  if (sel.status === 'bad') throw new EcuError(EcuCodes.BAD_BANK_RECORD, `selected bank ${r.active} is bad`);
  if (sel.image === null) throw new EcuError(EcuCodes.BAD_BANK_RECORD, `selected bank ${r.active} holds no image`);
  if (sel.status === 'pending') {
    if (r.previous === null || r.previous === r.active || r.banks[r.previous].status !== 'good') {
      throw new EcuError(EcuCodes.BAD_BANK_RECORD, `pending bank ${r.active} has no good bank to fall back to`);
    }
  }
  if (!Number.isSafeInteger(r.bootAttempts) || r.bootAttempts < 0) throw new EcuError(EcuCodes.BAD_BANK_RECORD, 'bootAttempts must be a non-negative integer');
  return r;
}

export interface InstallPlan {
  /** the inactive bank, which will be overwritten */
  readonly bank: BankId;
  /** the good bank that keeps running and stays the fallback */
  readonly keep: BankId;
}

/** Plan an install (pure): only into the inactive bank, only while the selected bank is good. */
export function planInstall(r: BankRecord): InstallPlan {
  checkRecord(r);
  // Installing while a pending bank is selected would overwrite its only fallback.
  if (r.banks[r.active].status !== 'good') {
    throw new EcuError(EcuCodes.NOT_INSTALLABLE, `bank ${r.active} is still pending: confirm or roll back first`);
  }
  return { bank: otherBank(r.active), keep: r.active };
}

/** Mark the bank about to be written 'bad' (persist this BEFORE writing; rauc "mark bad"). */
export function markWriting(r: BankRecord, plan: InstallPlan): BankRecord {
  return checkRecord({
    active: r.active,
    previous: r.previous === plan.bank ? null : r.previous,
    banks: withBank(r, plan.bank, { status: 'bad', image: null }),
    bootAttempts: r.bootAttempts,
  });
}

/** The bank holds `image`, read back and verified; not bootable until activated. */
export function markWritten(r: BankRecord, plan: InstallPlan, image: ImageInfo): BankRecord {
  if (r.banks[plan.bank].status !== 'bad') throw new EcuError(EcuCodes.NOT_INSTALLABLE, `bank ${plan.bank} was not marked for writing`);
  return checkRecord({ ...r, banks: withBank(r, plan.bank, { status: 'bad', image }) });
}

/** Switch the boot selection to the written bank, as 'pending' with a fresh boot-attempt count. */
export function activate(r: BankRecord, image: ImageInfo): BankRecord {
  checkRecord(r);
  const target = otherBank(r.active);
  const b = r.banks[target];
  if (r.banks[r.active].status !== 'good') throw new EcuError(EcuCodes.NOT_INSTALLABLE, `bank ${r.active} is not good: cannot activate another`);
  if (b.status !== 'bad' || b.image === null || !sameImage(b.image, image)) {
    throw new EcuError(EcuCodes.NO_APPROVED_IMAGE, `bank ${target} does not hold the approved image`);
  }
  return checkRecord({ active: target, previous: r.active, banks: withBank(r, target, { status: 'pending', image: b.image }), bootAttempts: 0 });
}

export interface BootSelection {
  readonly record: BankRecord;
  readonly bank: BankId;
  /** the bootloader gave up on a pending bank in this selection */
  readonly fellBack: boolean;
}

/** Bootloader (pure): count the attempt of a pending bank; past the limit, fall back. */
export function bootSelect(r: BankRecord, maxBootAttempts: number): BootSelection {
  checkRecord(r);
  const sel = r.banks[r.active];
  if (sel.status !== 'pending') return { record: r, bank: r.active, fellBack: false };
  const attempts = r.bootAttempts + 1;
  if (attempts <= maxBootAttempts) return { record: { ...r, bootAttempts: attempts }, bank: r.active, fellBack: false };
  const back = r.previous!;
  const record = checkRecord({ active: back, previous: null, banks: withBank(r, r.active, { status: 'bad', image: sel.image }), bootAttempts: 0 });
  return { record, bank: back, fellBack: true };
}

/** The selected good bank does not verify at boot (secure boot): use the other good bank if any. */
export function bootFailedGood(r: BankRecord): BankRecord | undefined {
  const other = otherBank(r.active);
  if (r.banks[r.active].status !== 'good' || r.banks[other].status !== 'good') return undefined;
  return checkRecord({ active: other, previous: null, banks: withBank(r, r.active, { status: 'bad', image: r.banks[r.active].image }), bootAttempts: 0 });
}

/** The pending selected bank booted and is healthy: it becomes 'good' (previous kept). */
export function confirmRunning(r: BankRecord): BankRecord {
  const sel = r.banks[r.active];
  if (sel.status !== 'pending') throw new EcuError(EcuCodes.NOT_RUNNING_PENDING, `bank ${r.active} is ${sel.status}, not pending`);
  return checkRecord({ ...r, banks: withBank(r, r.active, { status: 'good', image: sel.image }), bootAttempts: 0 });
}

export interface RollbackPlan {
  readonly record: BankRecord;
  /** the boot selection changed: the ECU must reboot into the previous bank */
  readonly reboot: boolean;
}

/**
 * Roll back `from` (pure): if the selected bank holds it, switch to the previous good bank and
 * mark it 'bad'; if only the inactive bank holds it (written, or fallen back), mark that 'bad'.
 */
export function rollbackFrom(r: BankRecord, from: Pick<ImageInfo, 'length' | 'hashes'>): RollbackPlan {
  checkRecord(r);
  const sel = r.banks[r.active];
  const other = otherBank(r.active);
  if (sel.image !== null && sameImage(sel.image, from)) {
    const back = r.previous;
    if (back === null || r.banks[back].status !== 'good') {
      throw new EcuError(EcuCodes.ROLLBACK_IMPOSSIBLE, `bank ${r.active} runs the image to roll back and no good bank is left to go back to`);
    }
    return { record: checkRecord({ active: back, previous: null, banks: withBank(r, r.active, { status: 'bad', image: sel.image }), bootAttempts: 0 }), reboot: true };
  }
  const o = r.banks[other];
  if (o.image !== null && sameImage(o.image, from) && o.status !== 'bad') {
    return { record: checkRecord({ ...r, previous: r.previous === other ? null : r.previous, banks: withBank(r, other, { status: 'bad', image: o.image }) }), reboot: false };
  }
  return { record: r, reboot: false };
}

export function parseImage(v: unknown, path: string): ImageInfo | null {
  if (v === null) return null;
  const o = expectObject(v, path);
  return {
    filepath: expectString(o['filepath'], `${path}.filepath`),
    length: expectUint(o['length'], `${path}.length`),
    hashes: expectHashes(o['hashes'], `${path}.hashes`),
    ...(o['releaseCounter'] === undefined ? {} : { releaseCounter: expectUint(o['releaseCounter'], `${path}.releaseCounter`) }),
  };
}

function parseBankId(v: unknown, path: string): BankId {
  if (v !== 'a' && v !== 'b') throw new EcuError(EcuCodes.BAD_BANK_RECORD, `${path}: expected "a" or "b"`);
  return v;
}

function parseBank(v: unknown, path: string): Bank {
  const o = expectObject(v, path);
  const status = o['status'];
  if (status !== 'good' && status !== 'bad' && status !== 'pending') throw new EcuError(EcuCodes.BAD_BANK_RECORD, `${path}.status: unknown status`);
  return { status, image: parseImage(o['image'], `${path}.image`) };
}

export function parseBankRecord(v: unknown, path = 'banks.json'): BankRecord {
  const o = expectObject(v, path);
  const banks = expectObject(o['banks'], `${path}.banks`);
  return checkRecord({
    active: parseBankId(o['active'], `${path}.active`),
    previous: o['previous'] === null ? null : parseBankId(o['previous'], `${path}.previous`),
    banks: { a: parseBank(banks['a'], `${path}.banks.a`), b: parseBank(banks['b'], `${path}.banks.b`) },
    bootAttempts: expectUint(o['bootAttempts'], `${path}.bootAttempts`),
  });
}
