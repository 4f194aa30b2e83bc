/**
 * Child process of power-loss.test.ts: a vehicle (ECU and Primary state folders under <root>,
 * provisioned by the parent) with the in-memory backend rebuilt deterministically from <seed>.
 * Runs update cycles until the vehicle is up to date (exit 0). The parent kills it with SIGKILL
 * at random moments; with [killAtStep] it kills itself (SIGKILL) right after that transition
 * was persisted. Everything sent to the backend is appended to <root>/backend-log.jsonl.
 * Usage: node primary-runner.js <root> <seed> [killAtStep]
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ecu } from '../../src/ecu/ecu.js';
import { Primary } from '../../src/primary/primary.js';
import { FakeHmi, FakeSignals } from './fakes.js';
import { MemoryBackend } from './memory-backend.js';
import { TEST_CONFIG, ecuDir, primaryDir } from './vehicle.js';
import { NOW, PRIMARY_SERIAL, VIN } from './world.js';
import { powerLossWorld } from './power-loss-world.js';

const [root, seed, killArg] = process.argv.slice(2) as [string, string, string | undefined];
const killAtStep = killArg === undefined ? undefined : Number(killArg);
process.stdout.write('started\n');

const world = powerLossWorld(seed);
const backend = new MemoryBackend(world);
backend.chunkBytes = 2048;
backend.chunkDelayMs = 1;
const logPath = join(root, 'backend-log.jsonl');
backend.onSent = (kind, value) => appendFileSync(logPath, `${JSON.stringify({ kind, value })}\n`);

const ecus: Ecu[] = [];
for (const e of world.ecus) ecus.push(await Ecu.open(ecuDir(root, e.serial), { flashWriteDelayMs: 1 }));
const primary = await Primary.open({
  dir: primaryDir(root), vin: VIN, primaryEcuSerial: PRIMARY_SERIAL, signer: ecus.find((e) => e.serial === PRIMARY_SERIAL)!.signer,
  ecus, backend, signals: new FakeSignals(), hmi: new FakeHmi(), clock: () => NOW + 60_000, sleep: () => Promise.resolve(),
  // Power losses are not the bundle's fault: never block it here (loop detection stays on).
  config: { ...TEST_CONFIG, maxBundleAttempts: 1_000_000 },
  onTransition: (t) => {
    if (t.step === killAtStep) process.kill(process.pid, 'SIGKILL');
  },
});
for (let i = 0; i < 30; i++) {
  const r = await primary.runCycle();
  process.stdout.write(`cycle ${r.outcome}\n`);
  if (r.outcome === 'success' || r.outcome === 'no-update') process.exit(0);
}
process.exit(3);
