/**
 * What must hold on disk at every instant, whatever the moment the power went (checked by the
 * power-loss test after every SIGKILL):
 * - every ECU's bank record parses and keeps its invariant (the selected bank is good or
 *   pending, a pending selection has a good fallback);
 * - every ECU has a bootable good bank: status 'good' and its bytes are its recorded image;
 * - the bundle can always end consistent: all ECUs still hold their old image in a good bank,
 *   or all hold their new image in a good or pending bank;
 * - when the Primary is not in the middle of an installation (table.ts IN_FLIGHT), the vehicle
 *   is at rest: every ECU's selected bank is good, and all run the old images or all the new.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileIsImage } from '../../src/digest.js';
import type { ImageInfo } from '../../src/digest.js';
import { BANK_IDS, parseBankRecord } from '../../src/ecu/bank-record.js';
import type { BankRecord } from '../../src/ecu/bank-record.js';
import { readJsonFile } from '../../src/io/json-file.js';
import { IN_FLIGHT, isState } from '../../src/primary/table.js';
import type { State } from '../../src/primary/table.js';
import { ecuDir, primaryDir } from './vehicle.js';
import type { World } from './world.js';

export interface DiskView {
  readonly primaryState: State;
  readonly running: Readonly<Record<string, 'old' | 'new' | 'other'>>;
  readonly atRest: boolean;
}

function imageOf(world: World, hw: string, rc: number): ImageInfo {
  const t = world.release(hw, rc).target;
  return { filepath: t.path, length: t.length, hashes: t.hashes };
}

function holds(r: BankRecord, want: ImageInfo, statuses: readonly string[]): Array<'a' | 'b'> {
  return BANK_IDS.filter((id) => statuses.includes(r.banks[id].status) && r.banks[id].image?.filepath === want.filepath);
}

export async function checkVehicleOnDisk(root: string, world: World, where: string): Promise<DiskView> {
  const json = await readJsonFile(join(primaryDir(root), 'primary.json'));
  const s = json === undefined ? 'idle' : (json as { state: unknown }).state;
  assert.ok(isState(s), `${where}: primary state ${String(s)}`);
  let oldRestorable = true;
  let newReachable = true;
  const running: Record<string, 'old' | 'new' | 'other'> = {};
  for (const e of world.ecus) {
    const dir = ecuDir(root, e.serial);
    const r = parseBankRecord(await readJsonFile(join(dir, 'banks.json')), `${where}: ${e.serial} banks.json`);
    const bankFile = (id: 'a' | 'b'): string => join(dir, `bank-${id}.img`);
    let bootableGood = false;
    for (const id of BANK_IDS) {
      const b = r.banks[id];
      if (b.status === 'good' && b.image !== null && await fileIsImage(bankFile(id), b.image)) bootableGood = true;
    }
    assert.ok(bootableGood, `${where}: ECU ${e.serial} has no bootable good bank: ${JSON.stringify(r)}`);
    const oldImg = imageOf(world, e.hardwareId, 1);
    const newImg = imageOf(world, e.hardwareId, 2);
    let old = false;
    for (const id of holds(r, oldImg, ['good'])) old ||= await fileIsImage(bankFile(id), oldImg);
    let neu = false;
    for (const id of holds(r, newImg, ['good', 'pending'])) neu ||= await fileIsImage(bankFile(id), newImg);
    oldRestorable &&= old;
    newReachable &&= neu;
    const sel = r.banks[r.active].image?.filepath;
    running[e.serial] = sel === oldImg.filepath ? 'old' : sel === newImg.filepath ? 'new' : 'other';
    if (!IN_FLIGHT.has(s)) assert.equal(r.banks[r.active].status, 'good', `${where}: at rest (${s}) but ECU ${e.serial} selects a ${r.banks[r.active].status} bank`);
  }
  assert.ok(oldRestorable || newReachable, `${where}: neither all-old nor all-new is reachable any more (${JSON.stringify(running)})`);
  const atRest = !IN_FLIGHT.has(s);
  if (atRest) {
    const kinds = new Set(Object.values(running));
    assert.ok(kinds.size === 1 && !kinds.has('other'), `${where}: at rest (${s}) with a mix: ${JSON.stringify(running)}`);
  }
  return { primaryState: s, running, atRest };
}
