/**
 * Power loss (UN R156 §7.2: an interrupted update restores the previous version or completes;
 * STANDARDS.md §3 A/B; CONVENTIONS.md §8): the Primary runs in a child process
 * (support/primary-runner.ts) over file-based ECU and Primary state, and is killed with SIGKILL
 * at random points, at least 50 times over a few vehicles: half at a random delay after start,
 * half right after a random transition (a random step count). After every kill the state on
 * disk is checked (support/invariants.ts: a bootable good bank on every ECU, never a mix at
 * rest, all-old or all-new always reachable); then the child is restarted, until a run
 * completes. At the end every ECU runs its new image from a good bank, the last report says
 * success, and the report counters in the manifests the backend received strictly increase
 * (a counter never repeats across crashes). The seed is printed; set REFLASH_POWERLOSS_SEED to
 * replay a run.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { vehicleManifestFromJSON } from '@reflash/metadata';
import type { UpdateReport } from '../../src/primary/ports.js';
import { prng } from '../support/deterministic.js';
import { checkVehicleOnDisk } from '../support/invariants.js';
import { powerLossWorld } from '../support/power-loss-world.js';
import { provisionVehicle } from '../support/vehicle.js';

const RUNNER = new URL('../support/primary-runner.js', import.meta.url).pathname;
const MIN_KILLS = 50;
/** random delays are drawn from [0, MAX_DELAY_MS) after the child says it started */
const MAX_DELAY_MS = 250;
/** random step counts from [1, MAX_STEP]: a full update cycle takes about 20 transitions */
const MAX_STEP = 24;

interface Run {
  readonly killed: boolean;
  readonly code: number | null;
  readonly output: string;
}

function runChild(root: string, seed: string, kill: { delayMs?: number; step?: number }, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const args = [RUNNER, root, seed, ...(kill.step === undefined ? [] : [String(kill.step)])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let timer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      output += `${line}\n`;
      if (line === 'started' && kill.delayMs !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), kill.delayMs);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(guard);
      resolve({ killed: signal === 'SIGKILL', code, output });
    });
  });
}

async function backendLog(root: string): Promise<Array<{ kind: string; value: unknown }>> {
  let text = '';
  try {
    text = await readFile(join(root, 'backend-log.jsonl'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { kind: string; value: unknown });
}

it('SIGKILL at >= 50 random points: every vehicle ends all-new, never a mix, never without a good bank', { timeout: 180_000 }, async (t) => {
  const seed = Number(process.env['REFLASH_POWERLOSS_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
  t.diagnostic(`seed ${seed} (REFLASH_POWERLOSS_SEED=${seed} replays it)`);
  console.log(`power-loss seed ${seed}`);
  const rnd = prng(seed);
  let kills = 0;
  let vehicles = 0;
  const statesAtKill = new Map<string, number>();
  while (kills < MIN_KILLS) {
    const root = await mkdtemp(join(tmpdir(), 'reflash-powerloss-'));
    const worldSeed = `power-loss-${seed}-${vehicles}`;
    const world = powerLossWorld(worldSeed);
    try {
      await provisionVehicle(root, world);
      const planned = 10 + Math.floor(rnd() * 8);
      let done = false;
      for (let k = 0; k < planned && !done; k++) {
        const kill = rnd() < 0.5 ? { delayMs: Math.floor(rnd() * MAX_DELAY_MS) } : { step: 1 + Math.floor(rnd() * MAX_STEP) };
        const run = await runChild(root, worldSeed, kill);
        if (!run.killed) {
          assert.equal(run.code, 0, `vehicle ${vehicles} run ${k} exited ${run.code}: ${run.output}`);
          done = true;
        } else {
          kills++;
        }
        const view = await checkVehicleOnDisk(root, world, `seed ${seed} vehicle ${vehicles} after run ${k} (${JSON.stringify(kill)})`);
        statesAtKill.set(view.primaryState, (statesAtKill.get(view.primaryState) ?? 0) + 1);
      }
      if (!done) {
        // Restart until the cycle completes without a kill.
        const final = await runChild(root, worldSeed, {});
        assert.equal(final.killed, false);
        assert.equal(final.code, 0, `vehicle ${vehicles} final run exited ${final.code}: ${final.output}`);
      }
      const view = await checkVehicleOnDisk(root, world, `seed ${seed} vehicle ${vehicles} at the end`);
      assert.deepEqual(Object.values(view.running), world.ecus.map(() => 'new'), `vehicle ${vehicles} ends all-new`);
      const log = await backendLog(root);
      const reports = log.filter((e) => e.kind === 'report').map((e) => e.value as UpdateReport);
      const last = reports.at(-1)!;
      assert.equal(last.outcome, 'success', JSON.stringify(last));
      assert.deepEqual(last.ecus.map((e) => e.status).sort(), ['installed', 'installed', 'installed']);
      for (const r of reports) assert.ok(['success', 'rolled-back'].includes(r.outcome), `unexpected report ${JSON.stringify(r)}`);
      // Counters never repeat across crashes: strictly increasing in what the backend accepted.
      const lastCounter = new Map<string, number>();
      for (const e of log.filter((x) => x.kind === 'manifest')) {
        for (const [serial, rep] of vehicleManifestFromJSON(e.value).signed.ecuVersionReports) {
          const c = rep.signed.reportCounter;
          assert.ok(c > (lastCounter.get(serial) ?? 0), `ECU ${serial} counter ${c} after ${lastCounter.get(serial)}`);
          lastCounter.set(serial, c);
        }
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
    vehicles++;
  }
  t.diagnostic(`${kills} kills over ${vehicles} vehicles; Primary state at the kills: ${JSON.stringify(Object.fromEntries(statesAtKill))}`);
  assert.ok(kills >= MIN_KILLS);
});
