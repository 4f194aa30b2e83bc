/** idle: start a cycle. The reference time is captured here, once (CONVENTIONS.md §4; TUF 5.1). */
import { randomUUID } from 'node:crypto';
import type { Action } from '../context.js';

export const start: Action = (ctx, rec) => Promise.resolve({
  event: 'start',
  record: {
    ...rec,
    cycle: { id: randomUUID(), number: (rec.cycle?.number ?? 0) + 1, referenceTime: ctx.clock() },
    directorTargetsVersion: null, bundle: null, cursor: 0, waits: 0, consent: null, outcome: null, attacks: [],
    loop: { progress: rec.progress, counts: {} },
  },
});
