/**
 * The Primary's update state machine, as a table (CONVENTIONS.md §9; mender `state_machine.cpp`):
 * every (state, event) -> state row is here and nowhere else. Each state's action does one
 * thing and emits one event (actions/*.ts); the machine (machine.ts) looks the row up. A pair
 * that is not in the table is rejected (IllegalTransitionError).
 *
 * Special events:
 * - `resume`: the Primary restarted (crash, power loss) with this state persisted. Before the
 *   commit point a half-done installation is rolled back (UN R156 §7.2: restore the previous
 *   version if an update is interrupted); download, verification and waiting just resume;
 *   commit and rollback are idempotent and finish.
 * - `loop`: the loop guard (loop-guard.ts) saw the same (state, event) pair too often without
 *   progress; every state goes to `stuck` (report and stuck themselves give the cycle up).
 * Rollback and loop detection are states (`rollback`, `stuck`).
 */
import { IllegalTransitionError } from '../errors.js';

export const STATES = [
  'idle', 'checkin', 'verify', 'download', 'preconditions', 'consent', 'distribute', 'recheck',
  'install', 'confirm', 'commit', 'rollback', 'report', 'stuck',
] as const;
export type State = (typeof STATES)[number];

export const EVENTS = [
  'start', 'sent', 'error', 'updates', 'noUpdates', 'blocked', 'rejected', 'next', 'done', 'met', 'unmet',
  'timeout', 'accepted', 'declined', 'refused', 'failed', 'ok', 'resume', 'loop', 'held',
] as const;
export type Event = (typeof EVENTS)[number];

type Row = readonly [State, Event, State];

/** Every allowed transition. */
export const TRANSITIONS: readonly Row[] = [
  ['idle', 'start', 'checkin'], // new cycle: reference time captured once

  ['checkin', 'sent', 'verify'], // signed vehicle manifest accepted
  ['checkin', 'error', 'report'], // server unreachable (after retries)
  ['checkin', 'resume', 'checkin'],
  ['checkin', 'loop', 'stuck'],

  ['verify', 'updates', 'download'], // Uptane 5.4.4.2 full verification passed, something to install
  ['verify', 'noUpdates', 'idle'], // every ECU already runs what the Director wants
  ['verify', 'blocked', 'report'], // this bundle failed maxBundleAttempts times
  ['verify', 'rejected', 'report'], // an attack or a broken repository: recorded, reported
  ['verify', 'error', 'report'], // network
  ['verify', 'resume', 'verify'],
  ['verify', 'loop', 'stuck'],

  ['download', 'next', 'download'], // one image per step
  ['download', 'done', 'preconditions'],
  ['download', 'held', 'report'], // download-only campaign: images kept, nothing installed, 'downloaded' reported
  ['download', 'rejected', 'report'], // endless data, wrong hashes
  ['download', 'error', 'report'], // network (after resumed retries)
  ['download', 'resume', 'download'], // HTTP Range from the bytes on disk
  ['download', 'loop', 'stuck'],

  ['preconditions', 'met', 'consent'], // R156 §7.2: stationary, parked, enough battery
  ['preconditions', 'unmet', 'preconditions'], // waited (bounded backoff); never executes
  ['preconditions', 'timeout', 'report'],
  ['preconditions', 'resume', 'preconditions'],
  ['preconditions', 'loop', 'stuck'],

  ['consent', 'accepted', 'distribute'], // R156 §7.2 user approval (or a forced update, user informed)
  ['consent', 'declined', 'report'], // old software stays; decline reported
  ['consent', 'resume', 'consent'], // ask again
  ['consent', 'loop', 'stuck'],

  ['distribute', 'next', 'distribute'], // one ECU per step: its own verification, then its inactive bank
  ['distribute', 'done', 'recheck'],
  ['distribute', 'refused', 'rollback'], // an ECU refused metadata or image
  ['distribute', 'failed', 'rollback'],
  ['distribute', 'resume', 'distribute'], // nothing activated yet: writing again is safe
  ['distribute', 'loop', 'stuck'],

  ['recheck', 'met', 'install'], // R156 §7.2: re-checked right before execution
  ['recheck', 'unmet', 'recheck'],
  ['recheck', 'timeout', 'rollback'], // written banks are discarded
  ['recheck', 'resume', 'recheck'],
  ['recheck', 'loop', 'stuck'],

  ['install', 'next', 'install'], // one ECU per step: switch boot selection, reboot
  ['install', 'done', 'confirm'],
  ['install', 'failed', 'rollback'], // an ECU did not come up on its new image
  ['install', 'resume', 'rollback'], // interrupted while activating: restore every ECU
  ['install', 'loop', 'stuck'],

  ['confirm', 'ok', 'commit'], // integration check: every ECU attests its expected image
  ['confirm', 'failed', 'rollback'], // partial bundle: roll back all
  ['confirm', 'resume', 'rollback'],
  ['confirm', 'loop', 'stuck'],

  ['commit', 'next', 'commit'], // one ECU per step: pending -> good (the commit point is entering this state)
  ['commit', 'done', 'report'],
  ['commit', 'failed', 'rollback'], // an ECU fell back meanwhile: the old banks are still good
  ['commit', 'resume', 'commit'], // past the commit point: finish
  ['commit', 'loop', 'stuck'],

  ['rollback', 'next', 'rollback'], // one ECU per step
  ['rollback', 'done', 'report'],
  ['rollback', 'failed', 'stuck'], // an ECU cannot go back: safe state, report
  ['rollback', 'resume', 'rollback'],
  ['rollback', 'loop', 'stuck'],

  ['report', 'sent', 'idle'],
  ['report', 'failed', 'idle'], // kept in the outbox, sent with the next report
  ['report', 'resume', 'report'], // at least once (same cycle id)
  ['report', 'loop', 'idle'], // the report itself loops: give the cycle up (never an infinite loop)

  ['stuck', 'done', 'report'], // best-effort rollback done, bundle blocked
  ['stuck', 'resume', 'stuck'],
  ['stuck', 'loop', 'idle'], // even the safe state loops: give the cycle up
];

const INDEX = new Map<string, State>(TRANSITIONS.map(([s, e, t]) => [`${s}/${e}`, t]));

/** The next state, or IllegalTransitionError when the table has no row for the pair. */
export function transition(state: State, event: Event): State {
  const next = INDEX.get(`${state}/${event}`);
  if (next === undefined) throw new IllegalTransitionError(state, event);
  return next;
}

export function accepts(state: State, event: Event): boolean {
  return INDEX.has(`${state}/${event}`);
}

/** States in which some ECU may run (or be about to boot) a bundle image that is not committed. */
export const IN_FLIGHT: ReadonlySet<State> = new Set<State>(['install', 'confirm', 'commit', 'rollback', 'stuck']);

export function isState(v: unknown): v is State {
  return typeof v === 'string' && (STATES as readonly string[]).includes(v);
}
