// Benchmark: what planning and skipping cost as history grows. A project of years of partitions: a source of
// one CSV file per partition for two entities, an asset per partition (`obs`) and a rolling window over it
// (`rolling`, lookback 6 days or 23 hours). For each size: the cold build of the whole range in one
// `sluice run --from --to`, then a no-op rerun (every step skipped), then a one-partition change (that
// partition's file rewritten: 1 + lookback steps rebuild), all through the CLI as a user runs it. The baseline,
// in the same invocation, is the same sequence over 30 partitions.
// Usage: npm run bench:plan -- [--sizes daily:30,daily:1461,hourly:8760] [--repeat 3]
// Prints a table and writes bench/results/plan.json.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag, median, writeResult } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sluice = path.join(root, 'bin/sluice.mjs');

interface Size { readonly kind: 'daily' | 'hourly'; readonly count: number }
const sizes: Size[] = flag('sizes', 'daily:30,daily:1461,hourly:8760').split(',').map((s) => {
  const [kind, count] = s.split(':');
  if (kind !== 'daily' && kind !== 'hourly') throw new Error(`--sizes: ${s}: expected daily:N or hourly:N`);
  return { kind, count: Number(count) };
});
const repeat = Number(flag('repeat', '3'));
const START = Date.parse('2022-01-01T00:00:00Z');
const env = { ...process.env, SLUICE_LOG_LEVEL: 'error' };

function keyOf(size: Size, i: number): string {
  const t = new Date(START + i * (size.kind === 'daily' ? 86_400_000 : 3_600_000)).toISOString();
  return size.kind === 'daily' ? t.slice(0, 10) : t.slice(0, 13);
}

function fileOf(dir: string, size: Size, key: string): string {
  return size.kind === 'daily' ? path.join(dir, 'data', `${key}.csv`) : path.join(dir, 'data', key.slice(0, 10), `${key.slice(11, 13)}.csv`);
}

/** Two entities, one observation each per partition; `bump` changes the values of that partition. */
function observations(i: number, bump = 0): string {
  return `entity,value,humidity\na,${(i % 97) + bump},${(i % 13) / 10}\nb,${(i % 89) * 2 + bump},${(i % 7) / 10}\n`;
}

function config(size: Size): string {
  const partitions = size.kind === 'daily' ? `dailyPartitions({ start: '${keyOf(size, 0)}' })` : `hourlyPartitions({ start: '${keyOf(size, 0).slice(0, 10)}' })`;
  const pathTemplate = size.kind === 'daily' ? 'data/{date}.csv' : 'data/{date}/{hour}.csv';
  const lookback = size.kind === 'daily' ? 6 : 23;
  return `import { asset, dailyPartitions, defineProject, fileSource, hourlyPartitions } from 'sluice';
const partitions = ${partitions};
const readings = fileSource('readings', { format: 'csv', path: '${pathTemplate}', partitions, columns: { entity: 'VARCHAR', value: 'DOUBLE', humidity: 'DOUBLE' } });
const obs = asset('obs', { partitions, sql: ({ ref }) => \`SELECT entity, value, humidity FROM \${ref(readings)}\` });
const rolling = asset('rolling', { partitions, sql: ({ ref }) => \`SELECT entity, avg(value) AS value_avg, max(humidity) AS humidity_max, count(*) AS n FROM \${ref(obs, { lookback: ${lookback} })} GROUP BY entity\` });
export default defineProject({ name: 'plan_bench', sources: [readings], assets: [obs, rolling] });
`;
}

function cli(dir: string, args: string[]): { ms: number; stdout: string } {
  const t0 = performance.now();
  const result = spawnSync(process.execPath, [sluice, '-p', dir, ...args], { env, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  const ms = performance.now() - t0;
  if (result.status !== 0) throw new Error(`sluice ${args.join(' ')} failed:\n${result.stderr}\n${result.stdout.slice(0, 2000)}`);
  return { ms, stdout: result.stdout };
}

interface RunJson { steps: { status: string }[] }
interface Counted { ms: number; steps: number; built: number; skipped: number }

function run(dir: string, size: Size): Counted {
  const { ms, stdout } = cli(dir, ['run', 'rolling', '--from', keyOf(size, 0), '--to', keyOf(size, size.count - 1), '--json']);
  const steps = (JSON.parse(stdout) as RunJson).steps;
  const failed = steps.filter((s) => s.status !== 'success' && s.status !== 'skipped');
  if (failed.length > 0) throw new Error(`${failed.length} step(s) did not succeed`);
  return { ms, steps: steps.length, built: steps.filter((s) => s.status === 'success').length, skipped: steps.filter((s) => s.status === 'skipped').length };
}

interface Result {
  readonly size: string;
  readonly steps: number;
  readonly coldMs: number;
  readonly noopMs: number;
  readonly changeMs: number;
  readonly changeBuilt: number;
  readonly noopPerStepMs: number;
  readonly stateBytes: number;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

function measure(size: Size): Result {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-bench-plan-${size.kind}-${size.count}-`));
  try {
    fs.writeFileSync(path.join(dir, 'sluice.config.ts'), config(size));
    for (let i = 0; i < size.count; i++) {
      const file = fileOf(dir, size, keyOf(size, i));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, observations(i));
    }
    process.stderr.write(`${size.kind} x ${size.count}: cold build ...\n`);
    const cold = run(dir, size);
    const noops: Counted[] = [];
    const changes: Counted[] = [];
    for (let r = 0; r < repeat; r++) {
      process.stderr.write(`${size.kind} x ${size.count}: no-op and one-partition change ${r + 1}/${repeat} ...\n`);
      const noop = run(dir, size);
      if (noop.built !== 0) throw new Error(`a no-op run built ${noop.built} step(s)`);
      noops.push(noop);
      // A partition in the middle of the range changes: it and the windows that read it rebuild.
      const i = Math.floor(size.count / 2) + r;
      fs.writeFileSync(fileOf(dir, size, keyOf(size, i)), observations(i, 1000 + r));
      const change = run(dir, size);
      const expected = 1 + (size.kind === 'daily' ? 7 : 24);
      if (change.built !== Math.min(expected, 1 + size.count - i)) throw new Error(`a one-partition change built ${change.built} step(s), expected ${expected}`);
      changes.push(change);
    }
    const noopMs = median(noops.map((n) => n.ms));
    return {
      size: `${size.kind} x ${size.count}`, steps: cold.steps, coldMs: Math.round(cold.ms), noopMs: Math.round(noopMs),
      changeMs: Math.round(median(changes.map((c) => c.ms))), changeBuilt: changes[0]?.built ?? 0,
      noopPerStepMs: Math.round((noopMs / cold.steps) * 1000) / 1000, stateBytes: dirBytes(path.join(dir, '.sluice')),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const loadBefore = os.loadavg();
const baseline = measure({ kind: 'daily', count: 30 });
const results = [baseline, ...sizes.filter((s) => !(s.kind === 'daily' && s.count === 30)).map(measure)];
const header = ['partitions', 'steps', 'cold build s', 'no-op run s', 'no-op vs 30', 'one-partition change s', 'built', 'change vs 30', 'no-op ms/step', '.sluice MB'];
const table = [header, ...results.map((r) => [
  r.size, String(r.steps), (r.coldMs / 1000).toFixed(1), (r.noopMs / 1000).toFixed(2), `${(r.noopMs / baseline.noopMs).toFixed(2)}x`,
  (r.changeMs / 1000).toFixed(2), String(r.changeBuilt), `${(r.changeMs / baseline.changeMs).toFixed(2)}x`, r.noopPerStepMs.toFixed(3), (r.stateBytes / 1e6).toFixed(1),
])];
const widths = header.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
process.stdout.write(`planning and skipping, two assets (lookback 6 days / 23 hours), CLI wall time, median of ${repeat}, ${os.cpus().length} cores, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}\n`);
for (const row of table) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}\n`);
fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
writeResult('plan', { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadBefore, loadAfter: os.loadavg(), repeat, baseline: baseline.size, results });
