#!/usr/bin/env node
// Benchmark runner. `npm run bench` (= `tsc -b && node scripts/bench.mjs`) lists the benchmarks
// in bench/; `npm run bench -- <name> [--runs N]` runs one, `npm run bench -- all` runs them all,
// one after another in this process. Every benchmark module exports `title` and
// `run({ runs, runsExplicit, log })`, which prints its tables and returns a JSON-able result;
// the result is also written to bench/out/<name>.json.
import { readdirSync } from 'node:fs';
import { DEFAULT_RUNS, environment, printEnvironment, writeResult } from '../bench/lib.mjs';

const benchDir = new URL('../bench/', import.meta.url);
const names = readdirSync(benchDir)
  .filter((f) => f.endsWith('.mjs') && f !== 'lib.mjs')
  .map((f) => f.slice(0, -'.mjs'.length))
  .sort();

function usage() {
  console.log('usage: npm run bench -- <name|all> [--runs N]');
  console.log('       node scripts/bench.mjs <name|all> [--runs N]');
}

function parseArgs(argv) {
  const selected = [];
  let runs;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs' || a.startsWith('--runs=')) {
      const v = a === '--runs' ? argv[++i] : a.slice('--runs='.length);
      runs = Number(v);
      if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a positive integer, got ${String(v)}`);
    } else if (a === '--help' || a === '-h') {
      return { help: true, selected, runs };
    } else if (a.startsWith('-')) {
      throw new Error(`unknown option ${a}`);
    } else {
      selected.push(a);
    }
  }
  return { help: false, selected, runs };
}

async function listBenchmarks() {
  console.log('Benchmarks (bench/*.mjs):');
  for (const name of names) {
    const mod = await import(new URL(`${name}.mjs`, benchDir).href);
    console.log(`  ${name.padEnd(12)} ${mod.title ?? ''}`);
  }
  console.log('');
  usage();
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${err.message}`);
    usage();
    return 2;
  }
  if (args.help || args.selected.length === 0) {
    await listBenchmarks();
    return 0;
  }
  const selected = args.selected.includes('all') ? names : args.selected;
  const unknown = selected.filter((n) => !names.includes(n));
  if (unknown.length > 0) {
    console.error(`bench: unknown benchmark(s) ${unknown.join(', ')}; known: ${names.join(', ')}`);
    return 2;
  }
  const env = environment();
  printEnvironment(env);
  const runs = args.runs ?? DEFAULT_RUNS;
  console.log(`Runs per measurement: ${runs}${args.runs === undefined ? ' (default; --runs N to change)' : ''}, after 1 warm-up run`);
  for (const name of selected) {
    const mod = await import(new URL(`${name}.mjs`, benchDir).href);
    console.log('');
    console.log(`== ${name}: ${mod.title}`);
    const t0 = Date.now();
    const result = await mod.run({ runs, runsExplicit: args.runs !== undefined, log: console.log });
    const seconds = (Date.now() - t0) / 1000;
    const file = writeResult(name, { name, title: mod.title, date: new Date().toISOString(), environment: env, runs, seconds, ...result });
    console.log(`(${name}: ${seconds.toFixed(1)} s in total; results in ${file})`);
  }
  return 0;
}

process.exitCode = await main();
