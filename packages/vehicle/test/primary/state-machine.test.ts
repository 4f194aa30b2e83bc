/**
 * The Primary's state table (CONVENTIONS.md §9): every state reachable, every state leads back
 * to idle, every (state, event) pair handled or explicitly rejected, crash recovery by the
 * `resume` rows, and loop detection (never an infinite loop).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IllegalTransitionError } from '../../src/errors.js';
import { ACTIONS } from '../../src/primary/actions/index.js';
import { observe, FRESH_LOOP } from '../../src/primary/loop-guard.js';
import { VSS } from '../../src/primary/ports.js';
import { EVENTS, STATES, TRANSITIONS, accepts, transition } from '../../src/primary/table.js';
import type { Event, State } from '../../src/primary/table.js';
import { assertAllOn } from '../support/assertions.js';
import { InterceptedLink } from '../support/links.js';
import { TestVehicle } from '../support/vehicle.js';
import type { TestVehicleOptions } from '../support/vehicle.js';

/** What each state's action may emit (actions/*.ts); `resume` and `loop` come from the machine. */
const EMITS: Readonly<Record<State, readonly Event[]>> = {
  idle: ['start'],
  checkin: ['sent', 'error'],
  verify: ['updates', 'noUpdates', 'blocked', 'rejected', 'error'],
  download: ['next', 'done', 'held', 'rejected', 'error'],
  preconditions: ['met', 'unmet', 'timeout'],
  consent: ['accepted', 'declined'],
  distribute: ['next', 'done', 'refused', 'failed'],
  recheck: ['met', 'unmet', 'timeout'],
  install: ['next', 'done', 'failed'],
  confirm: ['ok', 'failed'],
  commit: ['next', 'done', 'failed'],
  rollback: ['next', 'done', 'failed'],
  report: ['sent', 'failed'],
  stuck: ['done'],
};
const MACHINE_EVENTS: readonly Event[] = ['resume', 'loop'];

function reachable(from: State, edges: ReadonlyArray<readonly [State, State]>): Set<State> {
  const seen = new Set<State>([from]);
  const todo = [from];
  while (todo.length > 0) {
    const s = todo.pop()!;
    for (const [a, b] of edges) if (a === s && !seen.has(b)) { seen.add(b); todo.push(b); }
  }
  return seen;
}

void describe('the state table', () => {
  void it('every state is reachable from idle, and every state leads back to idle', () => {
    const edges = TRANSITIONS.map(([s, , t]) => [s, t] as const);
    assert.deepEqual([...reachable('idle', edges)].sort(), [...STATES].sort());
    const back = edges.map(([a, b]) => [b, a] as const);
    assert.deepEqual([...reachable('idle', back)].sort(), [...STATES].sort());
  });

  void it('every (state, event) pair is handled or explicitly rejected (table-driven)', () => {
    let handled = 0;
    let rejected = 0;
    for (const s of STATES) {
      for (const e of EVENTS) {
        const expected = EMITS[s].includes(e) || (s !== 'idle' && MACHINE_EVENTS.includes(e));
        assert.equal(accepts(s, e), expected, `${s}/${e}`);
        if (expected) {
          assert.ok(STATES.includes(transition(s, e)), `${s}/${e} leads to a state`);
          handled++;
        } else {
          assert.throws(() => transition(s, e), (err: unknown) => err instanceof IllegalTransitionError && err.code === 'ILLEGAL_TRANSITION', `${s}/${e} is rejected`);
          rejected++;
        }
      }
    }
    assert.equal(handled, TRANSITIONS.length, 'no row the actions cannot take');
    assert.equal(handled + rejected, STATES.length * EVENTS.length);
    assert.equal(new Set(TRANSITIONS.map(([s, e]) => `${s}/${e}`)).size, TRANSITIONS.length, 'no duplicate rows');
  });

  void it('every state has exactly one action', () => {
    assert.deepEqual(Object.keys(ACTIONS).sort(), [...STATES].sort());
  });

  void it('resume: before the commit point an interrupted installation rolls back; commit and rollback finish', () => {
    assert.equal(transition('install', 'resume'), 'rollback');
    assert.equal(transition('confirm', 'resume'), 'rollback');
    assert.equal(transition('commit', 'resume'), 'commit');
    assert.equal(transition('rollback', 'resume'), 'rollback');
    for (const s of ['checkin', 'verify', 'download', 'preconditions', 'consent', 'distribute', 'recheck', 'report', 'stuck'] as const) assert.equal(transition(s, 'resume'), s);
    for (const s of STATES) if (s !== 'idle') assert.ok(['stuck', 'idle'].includes(transition(s, 'loop')));
  });

  void it('loop guard: trips past the limit without progress, progress resets it', () => {
    let loop = FRESH_LOOP;
    for (let i = 1; i <= 3; i++) {
      const o = observe(loop, 'recheck', 'unmet', 7, 3);
      assert.equal(o.tripped, false);
      loop = o.loop;
    }
    assert.equal(observe(loop, 'recheck', 'unmet', 7, 3).tripped, true);
    assert.equal(observe(loop, 'recheck', 'unmet', 8, 3).count, 1, 'progress made: counting starts again');
  });
});

void describe('the machine', () => {
  const vehicles: TestVehicle[] = [];
  const vehicle = async (opts: TestVehicleOptions = {}): Promise<TestVehicle> => {
    const v = await TestVehicle.create(opts);
    vehicles.push(v);
    v.world.assignAll(2);
    return v;
  };
  after(async () => {
    for (const v of vehicles) await v.cleanup();
  });

  void it('loop detection: a wait that repeats without progress ends in stuck, reported, and the bundle is blocked', async () => {
    const v = await vehicle({ config: { loopLimit: 4, preconditionWait: { baseMs: 1, factor: 1, capMs: 1, maxAttempts: 1000 } } });
    v.signals.set(VSS.speed, 50);
    const r = await v.cycle();
    assert.equal(r.outcome, 'stuck');
    assert.equal(r.record.outcome?.code, 'LOOP_DETECTED');
    assert.equal(v.states().filter((s) => s === 'preconditions').length, 5);
    assert.deepEqual(v.states().slice(-3), ['stuck', 'report', 'idle']);
    assert.equal(v.backend.reports.at(-1)!.outcome, 'stuck');
    assertAllOn(v, 1);
    v.signals.set(VSS.speed, 0);
    const again = await v.cycle();
    assert.equal(again.outcome, 'blocked', 'not tried again until the Director changes the assignment');
  });

  void it('loop detection: a crash loop (the same state crashing after every restart) ends in stuck', async () => {
    const crash = new Error('simulated firmware bug in the transfer');
    const v = await vehicle({
      config: { loopLimit: 3 },
      wrapLinks: (ecus) => ecus.map((e) => (e.serial === 'brk-0001' ? new InterceptedLink(e, { onCall: (_s, m) => { if (m === 'writeInactive') throw crash; } }) : e)),
    });
    let crashes = 0;
    for (;;) {
      try {
        const r = await v.cycle();
        assert.equal(r.outcome, 'stuck');
        break;
      } catch (err) {
        assert.equal(err, crash);
        crashes++;
        assert.ok(crashes < 10, 'never an infinite loop');
        await v.open(); // restart
      }
    }
    assert.equal(crashes, 4, 'distribute, then 3 resumes, then the guard trips');
    assertAllOn(v, 1);
  });

  void it('a crash during installation: after the restart every ECU is rolled back, then the next cycle installs', async () => {
    let armed = true;
    const v = await vehicle({
      wrapLinks: (ecus) => ecus.map((e) => (e.serial === 'str-0001' ? new InterceptedLink(e, { onCall: (_s, m) => { if (m === 'reboot' && armed) { armed = false; throw new Error('power cut'); } } }) : e)),
    });
    await assert.rejects(v.cycle(), /power cut/);
    assert.equal((await v.primary.record()).state, 'install');
    await v.open(); // power returns: every ECU boots, the Primary resumes
    const r = await v.cycle();
    assert.equal(r.outcome, 'rolled-back');
    assert.equal(r.record.outcome?.code, 'INTERRUPTED');
    assertAllOn(v, 1);
    assert.equal((await v.cycle()).outcome, 'success');
    assertAllOn(v, 2);
  });

  void it('a crash after the commit point: the restart finishes the commit', async () => {
    let armed = true;
    const v = await vehicle({
      wrapLinks: (ecus) => ecus.map((e) => (e.serial === 'str-0001' ? new InterceptedLink(e, { onCall: (_s, m) => { if (m === 'confirm' && armed) { armed = false; throw new Error('power cut'); } } }) : e)),
    });
    await assert.rejects(v.cycle(), /power cut/);
    assert.equal((await v.primary.record()).state, 'commit');
    await v.open();
    const r = await v.cycle();
    assert.equal(r.outcome, 'success');
    assertAllOn(v, 2);
  });

  void it('server unreachable: the cycle ends offline, the report waits in the outbox and goes with the next one', async () => {
    const v = await vehicle();
    v.backend.faults.offline = true;
    const r = await v.cycle();
    assert.equal(r.outcome, 'offline');
    assert.equal(r.record.outbox.length, 1);
    assert.equal(v.sleeps.length, 2 + 2, 'check-in and report retried with backoff');
    v.backend.faults = {};
    const ok = await v.cycle();
    assert.equal(ok.outcome, 'success');
    assert.deepEqual(v.backend.reports.map((x) => x.outcome), ['offline', 'success']);
    assert.equal(ok.record.outbox.length, 0);
  });
});
