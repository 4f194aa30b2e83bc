/**
 * Crash safety: a server process killed with SIGKILL in the middle of a burst of check-ins
 * loses nothing it acknowledged. Every manifest that got a 200 is reflected in the ECU counters
 * after a restart on the same database (SQLite file: WAL with synchronous=FULL, one transaction
 * per check-in, the answer sent only after the commit).
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer } from './support/server-process.js';
import type { ServerChild } from './support/server-process.js';
import { fleet, httpTransport, operatorRequest } from './support/vehicle.js';
import type { SimulatedVehicle } from './support/vehicle.js';

const MASTER_KEY = 'kill-test-master-key-0123456789abcdef0123';
const VEHICLES = 8;

let dataDir: string;
const children: ServerChild[] = [];
before(() => { dataDir = mkdtempSync(join(tmpdir(), 'reflash-kill-')); });
after(async () => {
  await Promise.all(children.map((c) => c.stop()));
  rmSync(dataDir, { recursive: true, force: true });
});

it('a SIGKILLed server loses no acknowledged check-in', { timeout: 60_000 }, async () => {
  const env = { REFLASH_DATA_DIR: dataDir, REFLASH_MASTER_KEY: MASTER_KEY };
  const first = await spawnServer(env);
  children.push(first);
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const vehicles = fleet(VEHICLES, { prefix: 'KILL', transport: httpTransport(first.url), clock: Date.now });
  for (const v of vehicles) assert.equal((await v.provision(token)).status, 201);

  // Each vehicle checks in again and again (counters 1, 2, 3, ...), all vehicles at once.
  const acked = new Map<string, number>();
  const sent = new Map<string, number>();
  let total = 0;
  let killed = false;
  const killAfter = 40;
  const burst = async (v: SimulatedVehicle): Promise<void> => {
    for (;;) {
      let res;
      try {
        sent.set(v.vin, v.primary.counter + 1);
        res = await v.checkIn();
      } catch (err) {
        // The connection died with the server: this check-in was never acknowledged.
        assert.ok(killed, `request failed before the kill: ${String(err)}`);
        return;
      }
      assert.equal(res.status, 200, res.body.toString());
      acked.set(v.vin, v.primary.counter);
      total++;
      if (total === killAfter) {
        // Kill while the other vehicles' requests are in flight.
        killed = true;
        await first.kill();
      }
      if (killed) return;
    }
  };
  await Promise.all(vehicles.map(burst));
  assert.ok(killed && total >= killAfter);

  const second = await spawnServer(env);
  children.push(second);
  const t = httpTransport(second.url);
  for (const v of vehicles) {
    const r = await operatorRequest(t, token, 'GET', `/api/v1/vehicles/${v.vin}`);
    assert.equal(r.status, 200);
    const view = r.json<{ manifestCount: number; ecus: Array<{ serial: string; lastCounter: number | null }> }>();
    const stored = Math.min(...view.ecus.map((e) => e.lastCounter ?? 0));
    const a = acked.get(v.vin) ?? 0;
    assert.ok(stored >= a, `${v.vin}: acknowledged counter ${a} but ${stored} survived`);
    assert.ok(stored <= (sent.get(v.vin) ?? 0), `${v.vin}: stored ${stored}, never sent above ${sent.get(v.vin) ?? 0}`);
    assert.ok(view.manifestCount >= a);
    // Stored counters match the database's own count of accepted manifests (counters 1..n in order).
    assert.equal(view.manifestCount, stored, `${v.vin}: one accepted manifest per counter`);
  }
  // The restarted server carries on where the vehicles are.
  for (const v of vehicles) {
    v.transport = t;
    const r = await v.checkIn({ reports: Object.fromEntries([...v.ecus.keys()].map((s) => [s, { counter: (sent.get(v.vin) ?? 0) + 1 }])) });
    assert.equal(r.status, 200, r.body.toString());
  }
});
