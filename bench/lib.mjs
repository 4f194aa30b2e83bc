// Shared helpers for the benchmarks in bench/*.mjs (run them through scripts/bench.mjs).
// Measuring: one warm-up run (not counted), then N measured runs, one after another in this
// process; the report is median, min and max. Before every run the heap is collected (when a gc
// hook is available), so that garbage from the previous run is not billed to the next one.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const BENCH_DIR = new URL('.', import.meta.url);
export const OUT_DIR = new URL('out/', BENCH_DIR);
export const DEFAULT_RUNS = 5;

// `--expose-gc` at run time: the flag is read when a new context is created.
setFlagsFromString('--expose-gc');
const gc = (() => {
  try {
    const f = runInNewContext('gc');
    return typeof f === 'function' ? f : undefined;
  } catch {
    return undefined;
  }
})();

/** Collect garbage now if possible (outside any measured region). */
export function collectGarbage() {
  if (gc !== undefined) gc();
}

export function now() {
  return performance.now();
}

/** Time one call (sync or async) in milliseconds; returns { ms, value }. */
export async function timeOnce(fn) {
  collectGarbage();
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  return { ms, value };
}

/** A positive integer from the environment (a benchmark knob), or `fallback` when unset. */
export function envInt(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got ${v}`);
  return n;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(samples, extra = {}) {
  return {
    runs: samples.length,
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    samples,
    ...extra,
  };
}

/**
 * Run `fn` once as warm-up, then `runs` measured times. Options:
 * - warmup: number of warm-up runs (default 1);
 * - fastRuns / fastBelowMs: when the first measured run is faster than fastBelowMs, measure
 *   fastRuns times instead (more samples for quick benchmarks);
 * - budgetMs / slowAboveMs: for slow functions. The first run is timed; when it takes longer
 *   than slowAboveMs, it is kept as a sample (a warm-up is pointless at that size) and no more
 *   than floor(budgetMs / firstRun) runs in total are made (at least 1).
 * - check(value, index): called with the result of the warm-up run (index -1) and of every
 *   measured run, outside the timed region.
 * Returns { runs, median, min, max, samples, warmupMs, note }.
 */
export async function measure(fn, opts = {}) {
  let runs = opts.runs ?? DEFAULT_RUNS;
  const warmup = opts.warmup ?? 1;
  const samples = [];
  let warmupMs;
  let note = '';
  for (let i = 0; i < warmup; i++) {
    const { ms, value } = await timeOnce(fn);
    if (opts.check !== undefined) opts.check(value, -1);
    warmupMs = ms;
    if (opts.slowAboveMs !== undefined && ms > opts.slowAboveMs) {
      // A single run this slow is its own warm-up: keep it and cut the number of runs.
      samples.push(ms);
      runs = Math.max(1, Math.min(runs, Math.floor((opts.budgetMs ?? 0) / ms)));
      note = `first run ${fmtMs(ms)} > ${fmtMs(opts.slowAboveMs)}: ${runs} run(s), no separate warm-up`;
      break;
    }
  }
  while (samples.length < runs) {
    const { ms, value } = await timeOnce(fn);
    if (opts.check !== undefined) opts.check(value, samples.length);
    samples.push(ms);
    if (samples.length === 1 && opts.fastRuns !== undefined && ms < (opts.fastBelowMs ?? 0) && runs < opts.fastRuns) {
      runs = opts.fastRuns;
      note = `first run ${fmtMs(ms)} < ${fmtMs(opts.fastBelowMs)}: ${runs} runs`;
    }
  }
  return { ...summarize(samples), warmupMs, note };
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** Milliseconds, three significant digits: 0.0412 ms, 4.12 ms, 41.2 ms, 412 ms, 4.12 s. */
export function fmtMs(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '-';
  if (ms >= 1000) return `${(ms / 1000).toPrecision(3)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  return `${ms.toPrecision(3)} ms`;
}

/** A long duration for estimates: "~41 s", "~2,180 s (~36 min)", "~21,800 s (~6.1 h)". */
export function fmtLong(ms) {
  const s = ms / 1000;
  const base = `~${s >= 100 ? fmtInt(Number(s.toPrecision(3))) : s.toPrecision(2)} s`;
  if (s >= 3600) return `${base} (~${(s / 3600).toPrecision(2)} h)`;
  if (s >= 120) return `${base} (~${(s / 60).toPrecision(2)} min)`;
  return base;
}

/** "median (min-max)" of a summary. */
export function fmtStat(s) {
  if (s === undefined) return '-';
  if (s.runs === 1) return `${fmtMs(s.median)} (1 run)`;
  return `${fmtMs(s.median)} (${fmtMs(s.min)}-${fmtMs(s.max)})`;
}

export function fmtBytes(n) {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toPrecision(3)} MiB`;
  if (n >= 1024) return `${(n / 1024).toPrecision(3)} KiB`;
  return `${n} B`;
}

export function fmtRatio(x) {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x >= 100 ? `${x.toFixed(0)}x` : `${x.toPrecision(3)}x`;
}

export function fmtInt(n) {
  return n.toLocaleString('en-US');
}

/**
 * Print a table. columns: [{ key, title, align?: 'left' | 'right' }]; rows: objects whose values
 * are already strings (or numbers). Returns the printed text.
 */
export function printTable(columns, rows, log = console.log) {
  const cell = (r, c) => String(r[c.key] ?? '');
  const widths = columns.map((c) => Math.max(c.title.length, ...rows.map((r) => cell(r, c).length)));
  const pad = (s, w, align) => (align === 'left' ? s.padEnd(w) : s.padStart(w));
  const line = (vals) => `| ${vals.join(' | ')} |`;
  const out = [
    line(columns.map((c, i) => pad(c.title, widths[i], c.align ?? 'right'))),
    `|${widths.map((w, i) => (columns[i].align === 'left' ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map((r) => line(columns.map((c, i) => pad(cell(r, c), widths[i], c.align ?? 'right')))),
  ];
  const text = out.join('\n');
  log(text);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Environment and results

export function environment() {
  const cs = cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    cpu: cs[0]?.model.trim() ?? 'unknown',
    cores: cs.length,
    gcBetweenRuns: gc !== undefined,
  };
}

export function printEnvironment(env = environment(), log = console.log) {
  log(`Node ${env.node} (V8 ${env.v8}), ${env.platform}`);
  log(`CPU: ${env.cpu}, ${env.cores} core(s)${env.gcBetweenRuns ? '' : ' (no gc hook: GC may land in measured runs)'}`);
}

/** Write bench/out/<name>.json; returns the file path. */
export function writeResult(name, result) {
  mkdirSync(OUT_DIR, { recursive: true });
  const file = new URL(`${name}.json`, OUT_DIR);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file.pathname;
}
