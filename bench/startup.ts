// Benchmark: CLI start-up. Medians of 10 runs of `sluice --help` and `sluice status` (on a project with one
// built asset), run from the compiled dist/ (what `npm ci` builds) against the baseline, the TypeScript
// sources through tsx (SLUICE_FROM_SOURCE=1, how every start worked before), in the same run, alternating.
// Goal (issue 13): --help under 0.3 s, status under 0.6 s. Prints a table and writes bench/results/startup.json.
// Usage: npm run bench:startup -- [--runs 10]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeResult } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runsIndex = process.argv.indexOf('--runs');
const runs = runsIndex >= 0 ? Number(process.argv[runsIndex + 1]) : 10;
const bin = path.join(root, 'bin', 'sluice.mjs');

if (!fs.existsSync(path.join(root, 'dist', '.build-stamp'))) {
  process.stderr.write('dist/ is not built: run `npm run build` (npm ci does) first\n');
  process.exit(1);
}

function timeOnce(args: readonly string[], fromSource: boolean, cwd: string): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, [bin, ...args], { cwd, env: { ...process.env, SLUICE_FROM_SOURCE: fromSource ? '1' : '0', SLUICE_LOG_LEVEL: 'error' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - started;
  if (result.status !== 0) throw new Error(`sluice ${args.join(' ')} failed: ${result.stderr.toString()}`);
  return ms;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const project = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-startup-'));
const loadBefore = os.loadavg();
try {
  // A small project with one built asset, so `status` reads a real catalog and table.
  if (spawnSync(process.execPath, [bin, 'init', project], { stdio: 'ignore' }).status !== 0) throw new Error('sluice init failed');
  if (spawnSync(process.execPath, [bin, 'run'], { cwd: project, stdio: 'ignore' }).status !== 0) throw new Error('sluice run failed');
  const commands: { name: string; args: string[]; goalMs: number }[] = [
    { name: 'sluice --help', args: ['--help'], goalMs: 300 },
    { name: 'sluice status', args: ['status'], goalMs: 600 },
  ];
  const results = commands.map((command) => {
    const compiled: number[] = [];
    const source: number[] = [];
    timeOnce(command.args, false, project); // warm the file cache
    for (let i = 0; i < runs; i++) {
      compiled.push(timeOnce(command.args, false, project));
      source.push(timeOnce(command.args, true, project));
    }
    return { command: command.name, goalMs: command.goalMs, compiledMedianMs: median(compiled), sourceMedianMs: median(source), ratio: median(compiled) / median(source) };
  });
  const loadAfter = os.loadavg();
  const pad = (text: string, width: number): string => text.padStart(width);
  process.stdout.write(`load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} (before), ${loadAfter.map((l) => l.toFixed(2)).join(' ')} (after); node alone starts in ${median(Array.from({ length: 5 }, () => { const t = performance.now(); spawnSync(process.execPath, ['-e', '0']); return performance.now() - t; })).toFixed(0)} ms\n`);
  process.stdout.write(`${'command'.padEnd(16)}${pad('dist (ms)', 12)}${pad('tsx src (ms)', 14)}${pad('ratio', 8)}${pad('goal (ms)', 11)}\n`);
  for (const r of results) process.stdout.write(`${r.command.padEnd(16)}${pad(r.compiledMedianMs.toFixed(0), 12)}${pad(r.sourceMedianMs.toFixed(0), 14)}${pad(`${r.ratio.toFixed(2)}x`, 8)}${pad(String(r.goalMs), 11)}\n`);
  fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
  writeResult('startup', { benchmark: 'startup', runs, machine: { cpus: os.cpus().length, node: process.version, loadAverage: loadBefore, loadAverageAfter: loadAfter }, results });
} finally {
  fs.rmSync(project, { recursive: true, force: true });
}
