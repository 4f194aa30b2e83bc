/**
 * Bounded exponential backoff (pure delay computation + a retry helper). Sleeping is injected
 * so tests run without waiting and can check the delays.
 */
import type { BackoffPolicy } from '../config.js';

export type Sleep = (ms: number) => Promise<void>;

/** Delay before retry number `retry` (0 = the first retry): base * factor^retry, at most cap. */
export function backoffDelay(p: BackoffPolicy, retry: number): number {
  return Math.min(p.capMs, Math.round(p.baseMs * p.factor ** retry));
}

/**
 * Run `fn` up to `p.maxAttempts` times; between attempts sleep the backoff delay. Only errors
 * for which `retryable` says yes are retried; the last one is rethrown (never swallowed).
 */
export async function withRetry<T>(p: BackoffPolicy, sleep: Sleep, retryable: (err: unknown) => boolean, fn: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!retryable(err) || attempt + 1 >= p.maxAttempts) throw err;
      await sleep(backoffDelay(p, attempt));
    }
  }
}
