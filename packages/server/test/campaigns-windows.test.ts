/** Maintenance windows in the vehicle's time zone (src/campaigns/windows.ts) and rollout group splits (targeting.ts). */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { localTime, validTimeZone, windowOpen } from '../src/campaigns/windows.js';
import { splitGroups } from '../src/campaigns/targeting.js';
import type { CampaignSpec } from '../src/campaigns/model.js';

const at = (iso: string): number => Date.parse(iso);

it('local weekday and time follow the vehicle\'s time zone, daylight saving included', () => {
  assert.deepEqual(localTime(at('2026-11-21T12:00:00Z'), 'UTC'), { weekday: 6, minutes: 12 * 60 });
  assert.deepEqual(localTime(at('2026-11-21T17:30:00Z'), 'Asia/Tokyo'), { weekday: 7, minutes: 2 * 60 + 30 });
  assert.deepEqual(localTime(at('2026-07-01T00:30:00Z'), 'Europe/Berlin'), { weekday: 3, minutes: 2 * 60 + 30 });
  assert.deepEqual(localTime(at('2026-01-07T00:30:00Z'), 'Europe/Berlin'), { weekday: 3, minutes: 60 + 30 });
  assert.ok(validTimeZone('America/New_York'));
  assert.ok(!validTimeZone('Mars/Olympus'));
});

it('a window is open from start (inclusive) to end (exclusive) on its days; over midnight it belongs to the day it opens', () => {
  const w = [{ days: [1, 2, 3, 4, 5], start: '02:00', end: '04:00' }];
  assert.ok(windowOpen(w, at('2026-11-23T02:00:00Z'), 'UTC'), 'Monday 02:00');
  assert.ok(!windowOpen(w, at('2026-11-23T04:00:00Z'), 'UTC'), 'Monday 04:00');
  assert.ok(!windowOpen(w, at('2026-11-22T03:00:00Z'), 'UTC'), 'Sunday');
  const night = [{ days: [5], start: '22:00', end: '05:00' }];
  assert.ok(windowOpen(night, at('2026-11-27T23:00:00Z'), 'UTC'), 'Friday 23:00');
  assert.ok(windowOpen(night, at('2026-11-28T04:59:00Z'), 'UTC'), 'Saturday 04:59, opened Friday');
  assert.ok(!windowOpen(night, at('2026-11-28T23:00:00Z'), 'UTC'), 'Saturday 23:00');
  assert.ok(!windowOpen(night, at('2026-11-27T04:00:00Z'), 'UTC'), 'Friday 04:00, Thursday had no window');
  assert.ok(windowOpen(undefined, 0, 'UTC') && windowOpen([], 0, 'UTC'), 'no windows: always open');
});

it('rollout groups: explicit VINs first, then counts and percentages of a fixed pseudo-random order; the rest joins the last group', () => {
  const vins = Array.from({ length: 100 }, (_, i) => `V${String(i).padStart(3, '0')}`);
  const spec = { groups: [{ vins: ['V007', 'NOT-TARGETED'] }, { count: 5 }, { percent: 10 }, { percent: 1 }] } as unknown as CampaignSpec;
  const g = splitGroups('cmp-000000000001', spec, vins);
  assert.deepEqual(g.map((x) => x.length), [1, 5, 10, 84]);
  assert.deepEqual(g[0], ['V007']);
  assert.equal(new Set(g.flat()).size, 100, 'every targeted vehicle exactly once');
  assert.deepEqual(splitGroups('cmp-000000000001', spec, vins), g, 'deterministic');
  assert.notDeepEqual(splitGroups('cmp-000000000002', spec, vins)[1], g[1], 'another campaign samples others');
});
