// Benchmark: a point-in-time training set (3 plain feature views, a spine with labels) written to Parquet, by
// sluice's ASOF LEFT JOIN chain vs the Feast-style baseline (join on key with feature time <= spine time within
// the TTL, then ROW_NUMBER() = 1 per spine row), both on the same DuckDB through runPointInTime.
// Usage: npm run bench:pit -- [--rows 10000000] [--entities 1000000] [--spine 1000000] [--repeat 3] [--seed 42]
// Each mode runs in its own process (peak RSS is its own). Prints a table and writes bench/results/pit.json
// (other scales: pit-r<rows>-e<entities>-s<spine>.json). Data is generated once per scale into bench/data/
// (git-ignored). The machine may be shared: the JSON records the load average and each mode's CPU seconds.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { entity, featureView, type FeatureView } from '../src/define/features.ts';
import { Engine } from '../src/engine/engine.ts';
import { runPointInTime } from '../src/features/historical.ts';
import { quoteIdent, quoteLiteral } from '../src/sql/identifiers.ts';
import { median, numberFlag, writeResult } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MODES = ['asof', 'row_number'] as const;
type Mode = (typeof MODES)[number];

/** The three views: one feature of each type, different TTLs (the last never expires). */
function views(): FeatureView[] {
  const user = entity('user', { keys: { user_id: 'int' } });
  const ttls = ['7d', '30d', undefined] as const;
  return ttls.map((ttl, i) => featureView(`view${i + 1}`, {
    entity: user,
    source: `view${i + 1}_source`,
    timestamp: 'ts',
    ...(ttl === undefined ? {} : { ttl }),
    features: [`v${i + 1}_amount`, `v${i + 1}_count`, `v${i + 1}_segment`],
  }));
}

function files(dataDir: string): { spine: string; views: string[] } {
  return { spine: path.join(dataDir, 'spine.parquet'), views: [1, 2, 3].map((i) => path.join(dataDir, `view${i}.parquet`)) };
}

/** Deterministic data, all in DuckDB: feature rows spread over a year, spine times over the same year. */
async function generate(dataDir: string, shape: { rows: number; entities: number; spine: number; seed: number }): Promise<void> {
  fs.mkdirSync(dataDir, { recursive: true });
  const { spine, views: viewFiles } = files(dataDir);
  const start = Date.UTC(2025, 0, 1) * 1000;
  const year = 365 * 86_400 * 1_000_000;
  const engine = await Engine.open();
  try {
    await engine.withSession(async (s) => {
      for (const [i, file] of viewFiles.entries()) {
        const v = i + 1;
        const h = (salt: string): string => `hash(i, ${shape.seed}, ${v}, '${salt}')`;
        await s.run(`COPY (
          SELECT (${h('key')} % ${shape.entities})::BIGINT AS user_id,
                 make_timestamp((${start} + ${h('ts')} % ${year} // 1000000 * 1000000)::BIGINT) AS ts,
                 (${h('amount')} % 100000)::DOUBLE / 100 AS v${v}_amount,
                 (${h('count')} % 1000)::BIGINT AS v${v}_count,
                 ['bronze', 'silver', 'gold', 'platinum'][(1 + ${h('segment')} % 4)::BIGINT] AS v${v}_segment
          FROM range(${shape.rows}) t(i)
        ) TO ${quoteLiteral(`${file}.tmp`)} (FORMAT parquet, COMPRESSION zstd)`);
        fs.renameSync(`${file}.tmp`, file);
      }
      await s.run(`COPY (
        SELECT i AS spine_id, (hash(i, ${shape.seed}, 'spine_key') % ${shape.entities})::BIGINT AS user_id,
               make_timestamp((${start} + hash(i, ${shape.seed}, 'spine_ts') % ${year})::BIGINT) AS event_timestamp,
               (hash(i, ${shape.seed}, 'label') % 2)::INTEGER AS label
        FROM range(${shape.spine}) t(i)
      ) TO ${quoteLiteral(`${spine}.tmp`)} (FORMAT parquet, COMPRESSION zstd)`);
      fs.renameSync(`${spine}.tmp`, spine);
    });
  } finally {
    engine.close();
  }
}

/** One measured run, in this (child) process: prints { ms, rowCount }. */
async function worker(mode: Mode, dataDir: string, out: string): Promise<void> {
  const { spine, views: viewFiles } = files(dataDir);
  const engine = await Engine.open({ tempDir: path.join(path.dirname(out), 'spill') });
  try {
    const t0 = performance.now();
    const result = await engine.withSession((session) => runPointInTime(session, {
      spine: `SELECT * FROM read_parquet(${quoteLiteral(spine)})`,
      views: views().map((view, i) => ({ view, sourceRelation: `SELECT * FROM read_parquet(${quoteLiteral(viewFiles[i] as string)})` })),
      method: mode,
      out,
    }));
    const ms = performance.now() - t0;
    process.stdout.write(`${JSON.stringify({ mode, ms, rowCount: result.rowCount })}\n`);
  } finally {
    engine.close();
  }
}

interface Sample { ms: number; processMs: number; cpuSeconds: number; maxRssMb: number; rowCount: number }

/** Run a mode in a child process under GNU time: its own wall time and peak RSS. */
function measure(mode: Mode, dataDir: string, out: string): Sample {
  fs.rmSync(out, { force: true });
  const t0 = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', '__RSS_KB=%M __CPU=%U+%S', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--worker', mode, dataDir, out], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const processMs = performance.now() - t0;
  if (run.status !== 0) throw new Error(`${mode} failed:\n${run.stderr}`);
  const rss = /__RSS_KB=(\d+)/.exec(run.stderr);
  const cpu = /__CPU=([\d.]+)\+([\d.]+)/.exec(run.stderr);
  const line = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { ms: number; rowCount: number };
  return { ms: line.ms, processMs, cpuSeconds: Number(cpu?.[1] ?? NaN) + Number(cpu?.[2] ?? NaN), maxRssMb: Number(rss?.[1] ?? NaN) / 1024, rowCount: line.rowCount };
}

/** Row count and an order-sensitive checksum over every column (row position included). */
async function checksum(file: string): Promise<{ rows: number; checksum: string }> {
  const engine = await Engine.open();
  try {
    return await engine.withSession(async (s) => {
      const relation = `read_parquet(${quoteLiteral(file)}, file_row_number = true)`;
      const columns = (await s.describe(`SELECT * FROM ${relation}`)).map((c) => quoteIdent(c.name));
      const [row] = await s.query<{ n: bigint; h: string }>(`SELECT count(*) AS n, sum(hash(${columns.join(', ')}))::VARCHAR AS h FROM ${relation}`);
      return { rows: Number(row?.n ?? -1n), checksum: row?.h ?? '' };
    });
  } finally {
    engine.close();
  }
}

async function main(): Promise<void> {
  const shape = { rows: numberFlag('rows', 10_000_000), entities: numberFlag('entities', 1_000_000), spine: numberFlag('spine', 1_000_000), seed: numberFlag('seed', 42) };
  const repeat = numberFlag('repeat', 3);
  const dataDir = path.join(root, 'bench', 'data', `pit-r${shape.rows}-e${shape.entities}-s${shape.spine}-seed${shape.seed}`);
  if (!fs.existsSync(files(dataDir).spine)) {
    process.stderr.write(`generating 3 x ${shape.rows} feature rows and ${shape.spine} spine rows into ${dataDir} ...\n`);
    const t0 = performance.now();
    await generate(dataDir, shape);
    process.stderr.write(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const loadBefore = os.loadavg()[0];
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-pit-'));
  try {
    const samples: Record<Mode, Sample[]> = { asof: [], row_number: [] };
    for (let i = 0; i < repeat; i++) {
      for (const mode of MODES) {
        samples[mode].push(measure(mode, dataDir, path.join(scratch, `${mode}.parquet`)));
        process.stderr.write(`${mode} #${i + 1}: ${samples[mode].at(-1)?.ms.toFixed(0)} ms\n`);
      }
    }
    const sums = { asof: await checksum(path.join(scratch, 'asof.parquet')), row_number: await checksum(path.join(scratch, 'row_number.parquet')) };
    const agree = sums.asof.rows === shape.spine && sums.asof.rows === sums.row_number.rows && sums.asof.checksum === sums.row_number.checksum;
    const summary = (mode: Mode): { ms: number; processMs: number; cpuSeconds: number; maxRssMb: number; samplesMs: number[] } => ({
      ms: median(samples[mode].map((s) => s.ms)),
      processMs: median(samples[mode].map((s) => s.processMs)),
      cpuSeconds: median(samples[mode].map((s) => s.cpuSeconds)),
      maxRssMb: Math.max(...samples[mode].map((s) => s.maxRssMb)),
      samplesMs: samples[mode].map((s) => Math.round(s.ms)),
    });
    const asof = summary('asof');
    const baseline = summary('row_number');
    const speedup = baseline.ms / asof.ms;
    const result = {
      benchmark: 'pit',
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage1m: { before: loadBefore, after: os.loadavg()[0] } },
      shape: { views: 3, featureRowsPerView: shape.rows, entities: shape.entities, spineRows: shape.spine, seed: shape.seed, ttls: ['7d', '30d', 'none'], repeat },
      what: 'runPointInTime over Parquet sources, each mode in its own process: spine into a temp table, the point-in-time join of 3 views, the training set written to Parquet (zstd)',
      modes: {
        asof: { ...asof, note: "one chain of ASOF LEFT JOINs over each view's (key, event time) pairs for the spine's entities, TTL as a CASE on the matched time; feature values then read (viewRowsSql's tie rule) only at the matched (key, time) pairs" },
        row_number: { ...baseline, note: "Feast-style: per view, join the spine on key to the view's rows (viewRowsSql: the source deduplicated per entity and time) with feature_ts <= spine_ts within the TTL, ROW_NUMBER() OVER (PARTITION BY spine row ORDER BY feature_ts DESC) = 1, joined back to the spine" },
      },
      speedup: { row_number_over_asof: speedup, goal: '>= 5' },
      outputsAgree: { agree, asof: sums.asof, row_number: sums.row_number },
    };
    fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
    const isDefault = shape.rows === 10_000_000 && shape.entities === 1_000_000 && shape.spine === 1_000_000;
    const name = isDefault ? 'pit.json' : `pit-r${shape.rows}-e${shape.entities}-s${shape.spine}.json`;
    writeResult(name.replace(/\.json$/, ''), result);

    const rows = [
      ['mode', 'wall ms (median)', 'process ms', 'CPU s', 'peak RSS MB', 'runs ms', 'ratio'],
      ['sluice ASOF', asof.ms.toFixed(0), asof.processMs.toFixed(0), asof.cpuSeconds.toFixed(1), asof.maxRssMb.toFixed(0), asof.samplesMs.join(' / '), '1.00'],
      ['Feast-style ROW_NUMBER', baseline.ms.toFixed(0), baseline.processMs.toFixed(0), baseline.cpuSeconds.toFixed(1), baseline.maxRssMb.toFixed(0), baseline.samplesMs.join(' / '), speedup.toFixed(2)],
    ];
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
    process.stdout.write(`pit: 3 views x ${shape.rows.toLocaleString('en-US')} feature rows over ${shape.entities.toLocaleString('en-US')} entities, ${shape.spine.toLocaleString('en-US')} spine rows, median of ${repeat}\n`);
    for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}\n`);
    process.stdout.write(`ROW_NUMBER / ASOF = ${speedup.toFixed(2)}x (goal >= 5); outputs agree (rows and checksum): ${agree ? 'yes' : 'NO'}\n`);
    process.stdout.write(`results: ${path.join('bench', 'results', name)}\n`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--worker') {
  await worker(process.argv[3] as Mode, process.argv[4] as string, process.argv[5] as string);
} else {
  await main();
}
