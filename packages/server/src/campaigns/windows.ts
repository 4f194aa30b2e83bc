/**
 * Maintenance windows, evaluated in the vehicle's own time zone at a given instant. Pure.
 * A window `{days, start, end}` opens at `start` on each listed ISO weekday (1 = Monday) and
 * closes at `end`; when `end` <= `start` it runs over midnight into the next day.
 */
import type { MaintenanceWindow } from './model.js';

const WEEKDAY: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Is `tz` an IANA time zone this runtime knows? */
export function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    // RangeError: unknown time zone; the caller reports it.
    return false;
  }
}

/** ISO weekday and minutes since midnight of instant `ms` in time zone `tz`. */
export function localTime(ms: number, tz: string): { weekday: number; minutes: number } {
  let f = formatters.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(tz, f);
  }
  let weekday = 0;
  let hour = 0;
  let minute = 0;
  for (const p of f.formatToParts(new Date(ms))) {
    if (p.type === 'weekday') weekday = WEEKDAY[p.value] ?? 0;
    else if (p.type === 'hour') hour = Number(p.value);
    else if (p.type === 'minute') minute = Number(p.value);
  }
  return { weekday, minutes: hour * 60 + minute };
}

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** Is any window open at `ms` in `tz`? No windows: always open. */
export function windowOpen(windows: readonly MaintenanceWindow[] | undefined, ms: number, tz: string): boolean {
  if (windows === undefined || windows.length === 0) return true;
  const { weekday, minutes } = localTime(ms, tz);
  const yesterday = weekday === 1 ? 7 : weekday - 1;
  return windows.some((w) => {
    const start = minutesOf(w.start);
    const end = minutesOf(w.end);
    if (start < end) return w.days.includes(weekday) && minutes >= start && minutes < end;
    // Over midnight: from start today, or until end when it opened yesterday.
    return (w.days.includes(weekday) && minutes >= start) || (w.days.includes(yesterday) && minutes < end);
  });
}
