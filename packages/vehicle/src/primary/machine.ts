/**
 * The machine that runs the table (table.ts) with the actions (actions/index.ts):
 *
 *   loop: action(state) -> event; row (state, event) -> next; loop guard; record.state = next;
 *         save the record (atomic) BEFORE the next state's side effects; until back at idle.
 *
 * On the first step of a run whose persisted state is not idle, the event is `resume` (the
 * Primary restarted mid-cycle; table.ts says whether that resumes or rolls back). Leaving a
 * state resets the per-state cursor and wait counter. The loop guard (loop-guard.ts) turns a
 * repetition without progress into the `loop` event.
 */
import type { ActionContext } from './context.js';
import { withOutcome } from './context.js';
import { ACTIONS } from './actions/index.js';
import { observe } from './loop-guard.js';
import type { PrimaryRecord, RecordStore } from './record.js';
import type { ProgressState } from './ports.js';
import { transition } from './table.js';
import type { Event, State } from './table.js';

export interface TransitionInfo {
  readonly from: State;
  readonly event: Event;
  readonly to: State;
  /** the record as saved, in state `to` */
  readonly record: PrimaryRecord;
  /** transitions taken by this machine so far */
  readonly step: number;
}

export type TransitionObserver = (t: TransitionInfo) => void | Promise<void>;

export class Machine {
  readonly #ctx: Omit<ActionContext, 'save'>;
  readonly #store: RecordStore;
  readonly #observer: TransitionObserver | undefined;
  #steps = 0;

  constructor(ctx: Omit<ActionContext, 'save'>, store: RecordStore, observer?: TransitionObserver) {
    this.#ctx = ctx;
    this.#store = store;
    this.#observer = observer;
  }

  /**
   * Tell the server where a campaign's cycle stands, on entering: download -> downloading; a
   * precondition found unmet (before consent, or re-checked before installing) ->
   * waiting-preconditions; consent -> awaiting-consent; distribute -> installing. Best effort:
   * progress is informative, the cycle's result is reported by the report state.
   */
  async #progress(ctx: ActionContext, from: State, event: Event, to: State, rec: PrimaryRecord): Promise<void> {
    const backend = ctx.backend;
    const bundle = rec.bundle;
    // Only a campaign's targets (custom.campaign.id) have a progress view on the server.
    if (backend.progress === undefined || bundle === null || bundle.campaign.id === undefined) return;
    const state: ProgressState | undefined = to === 'download' && from !== 'download' ? 'downloading'
      : (to === 'preconditions' || to === 'recheck') && event === 'unmet' && rec.waits <= 1 ? 'waiting-preconditions'
        : to === 'consent' && from !== 'consent' ? 'awaiting-consent'
          : to === 'distribute' && from !== 'distribute' ? 'installing'
            : undefined;
    if (state === undefined) return;
    try {
      await backend.progress({
        state,
        campaignId: bundle.campaign.id,
        ecus: bundle.items.map((i) => ({ ecuSerial: i.ecuSerial, filepath: i.image.filepath })),
      });
    } catch (err) {
      ctx.log(`progress ${state} not reported: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Run from the persisted state until the machine is back at idle; returns the final record. */
  async runCycle(): Promise<PrimaryRecord> {
    const ctx: ActionContext = { ...this.#ctx, save: (r) => this.#store.save(r) };
    let rec = await this.#store.load();
    let pending: Event | undefined = rec.state === 'idle' ? undefined : 'resume';
    for (;;) {
      let event: Event;
      if (pending !== undefined) {
        event = pending;
        pending = undefined;
      } else {
        const r = await ACTIONS[rec.state](ctx, rec);
        rec = r.record;
        event = r.event;
      }
      const from = rec.state;
      let to = transition(from, event);
      const seen = observe(rec.loop, from, event, rec.progress, ctx.config.loopLimit);
      rec = { ...rec, loop: seen.loop };
      if (seen.tripped) {
        const reason = `loop detected: ${from}/${event} taken ${seen.count} times without progress`;
        ctx.log(reason);
        event = 'loop';
        to = transition(from, 'loop');
        rec = withOutcome(rec, 'stuck', { code: 'LOOP_DETECTED', reason });
      }
      rec = to === from ? { ...rec, state: to } : { ...rec, state: to, cursor: 0, waits: 0 };
      // The state record is durable before the next state does anything (CONVENTIONS.md §8).
      await this.#store.save(rec);
      this.#steps++;
      ctx.log(`${from} --${event}--> ${to}`);
      await this.#observer?.({ from, event, to, record: rec, step: this.#steps });
      await this.#progress(ctx, from, event, to, rec);
      if (to === 'idle') return rec;
    }
  }
}
