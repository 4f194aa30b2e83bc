/**
 * Loop detection (CONVENTIONS.md §9), pure: counts each (state, event) pair taken since the
 * last progress (a counter the actions advance when they persist real work: bytes downloaded,
 * an ECU written, activated, committed or rolled back). A pair taken more than `limit` times
 * without progress trips the guard, and the machine takes the `loop` event to `stuck`. The
 * counts are part of the persisted record, so a crash loop (the same state resumed again and
 * again) trips it too. They are reset when a new cycle starts.
 */
export interface LoopState {
  /** the progress value the counts were taken at */
  readonly progress: number;
  /** "state/event" -> times taken since that progress */
  readonly counts: Readonly<Record<string, number>>;
}

export const FRESH_LOOP: LoopState = { progress: 0, counts: {} };

export interface LoopObservation {
  readonly loop: LoopState;
  readonly count: number;
  readonly tripped: boolean;
}

export function observe(loop: LoopState, state: string, event: string, progress: number, limit: number): LoopObservation {
  const counts = progress === loop.progress ? loop.counts : {};
  const key = `${state}/${event}`;
  const count = (counts[key] ?? 0) + 1;
  return { loop: { progress, counts: { ...counts, [key]: count } }, count, tripped: count > limit };
}
