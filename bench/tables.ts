// Benchmark: table metadata at scale. An hourly table backfilled one partition per commit (8,760 partitions:
// a year of hours; and 365 for comparison), then 100 more commits of one partition each (rebuilds). Reports
// metadata bytes on disk (log, snapshots, folder marker), commit time p50/p99 over the 100 rebuilds and over
// the whole backfill, and the time for a fresh process to open the current version and one from the middle.
// Baseline, in the same run: the format sluice wrote before the version log (a full JSON manifest of every
// partition per version), at 365 partitions; its bytes grow with the square of the partition count.
// Usage: npm run bench:tables -- [--partitions 8760,365] [--rebuilds 100]
// Prints a table and writes bench/results/tables.json.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TableStore } from '../src/store/tables/table-store.ts';
import { flag, median, quantile, writeResult } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sizes = flag('partitions', '8760,365').split(',').map(Number);
const rebuilds = Number(flag('rebuilds', '100'));
const schema = [
  { name: 'station', type: 'VARCHAR' }, { name: 'temperature', type: 'DOUBLE' }, { name: 'humidity', type: 'DOUBLE' },
  { name: 'readings', type: 'BIGINT' }, { name: 'hour', type: 'DATE' },
];

function hourKey(i: number): string {
  return new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString().slice(0, 13);
}

function bytesUnder(dir: string, keep: (file: string) => boolean = () => true): number {
  if (!fs.existsSync(dir)) return 0;
  let total = 0;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (keep(file)) total += fs.statSync(file).size;
  }
  return total;
}

interface Row {
  format: string;
  partitions: number;
  commits: number;
  metadataBytes: number;
  backfillCommitP50Ms: number;
  backfillCommitP99Ms: number;
  rebuildCommitP50Ms: number;
  rebuildCommitP99Ms: number;
  openLatestMs: number | null;
  openMiddleMs: number | null;
}

async function benchLog(partitions: number): Promise<Row> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-tables-'));
  try {
    const options = { tablesDir: path.join(dir, 'tables'), stagingDir: path.join(dir, 'staging') };
    const store = new TableStore(options);
    const commit = async (i: number, run: string): Promise<number> => {
      const key = hourKey(i);
      const staged = store.stagingPath(run, 'hourly', key);
      fs.writeFileSync(staged, randomBytes(64));
      const t0 = performance.now();
      await store.commit({
        asset: 'hourly', partition: key, partitionColumn: 'hour', stagedFile: staged, schema, rows: 24, runId: run,
        fingerprint: randomBytes(32).toString('hex'),
        inputs: [{ dataset: 'raw_readings', kind: 'source', version: null, partitions: [key], fingerprint: randomBytes(32).toString('hex') }],
      });
      return performance.now() - t0;
    };
    const backfill: number[] = [];
    for (let i = 0; i < partitions; i++) backfill.push(await commit(i, 'backfill'));
    const rebuild: number[] = [];
    for (let i = 0; i < rebuilds; i++) rebuild.push(await commit(Math.floor((i * 7919) % partitions), `rebuild-${i}`));
    const versions = partitions + rebuilds;
    const openLatest: number[] = [];
    const openMiddle: number[] = [];
    for (let i = 0; i < 5; i++) {
      const fresh = new TableStore(options);
      // Open = the manifest and its partition map ready to use.
      let t0 = performance.now();
      const latest = await fresh.latest('hourly');
      if (Object.keys(latest?.partitions ?? {}).length === 0) throw new Error('no partitions');
      openLatest.push(performance.now() - t0);
      const other = new TableStore(options);
      t0 = performance.now();
      const middle = await other.read('hourly', Math.floor(versions / 2) + 37);
      if (Object.keys(middle.partitions).length === 0) throw new Error('no partitions');
      openMiddle.push(performance.now() - t0);
    }
    const metadata = bytesUnder(path.join(dir, 'versions'), (f) => !f.endsWith('.parquet'));
    return {
      format: 'log + snapshots', partitions, commits: versions, metadataBytes: metadata,
      backfillCommitP50Ms: median(backfill), backfillCommitP99Ms: quantile(backfill, 0.99),
      rebuildCommitP50Ms: median(rebuild), rebuildCommitP99Ms: quantile(rebuild, 0.99),
      openLatestMs: median(openLatest), openMiddleMs: median(openMiddle),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The earlier format: each commit writes (and fsyncs) a manifest of every partition. */
function benchFullManifests(partitions: number): Row {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-tables-v1-'));
  try {
    const entries = new Map<string, unknown>();
    const times: number[] = [];
    const commitAt = (i: number, version: number, run: string): void => {
      const key = hourKey(i);
      const t0 = performance.now();
      entries.set(key, {
        key, files: [{ path: `hour=${key}/part-${randomBytes(32).toString('hex')}.parquet`, sha256: randomBytes(32).toString('hex'), bytes: 64, rows: 24 }],
        rows: 24, bytes: 64, fingerprint: randomBytes(32).toString('hex'), runId: run, committedAt: new Date().toISOString(),
        inputs: [{ dataset: 'raw_readings', kind: 'source', version: null, partitions: [key], fingerprint: randomBytes(32).toString('hex') }],
      });
      const manifest = { format: 1, asset: 'hourly', version, schema, changed: [key], partitions: Object.fromEntries([...entries].sort()) };
      const file = path.join(dir, `${String(version).padStart(8, '0')}.json`);
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, `${JSON.stringify(manifest, null, 2)}\n`);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      times.push(performance.now() - t0);
    };
    for (let i = 0; i < partitions; i++) commitAt(i, i + 1, 'backfill');
    const backfill = [...times];
    times.length = 0;
    for (let i = 0; i < rebuilds; i++) commitAt(Math.floor((i * 7919) % partitions), partitions + i + 1, `rebuild-${i}`);
    return {
      format: 'full manifest per version (before)', partitions, commits: partitions + rebuilds, metadataBytes: bytesUnder(dir),
      backfillCommitP50Ms: median(backfill), backfillCommitP99Ms: quantile(backfill, 0.99),
      rebuildCommitP50Ms: median(times), rebuildCommitP99Ms: quantile(times, 0.99), openLatestMs: null, openMiddleMs: null,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const loadBefore = os.loadavg();
const results: Row[] = [];
for (const size of sizes) results.push(await benchLog(size));
const baselineSize = Math.min(...sizes);
const baseline = benchFullManifests(baselineSize);
results.push(baseline);
const ours = results.find((r) => r.partitions === baselineSize && r.format !== baseline.format);

const line = (cells: readonly string[]): string => cells.map((c, i) => (i < 1 ? c.padEnd(36) : c.padStart(12))).join(' ');
console.log(`load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} (before), ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (after)`);
console.log(line(['format', 'partitions', 'metadata MB', 'fill p50 ms', 'fill p99 ms', 'commit p50', 'commit p99', 'open latest', 'open middle']));
for (const r of results) {
  console.log(line([r.format, String(r.partitions), (r.metadataBytes / 1e6).toFixed(2), r.backfillCommitP50Ms.toFixed(2), r.backfillCommitP99Ms.toFixed(2),
    r.rebuildCommitP50Ms.toFixed(2), r.rebuildCommitP99Ms.toFixed(2), r.openLatestMs?.toFixed(1) ?? '', r.openMiddleMs?.toFixed(1) ?? '']));
}
const ratios = ours === undefined ? null : {
  partitions: baselineSize,
  metadataBytes: ours.metadataBytes / baseline.metadataBytes,
  rebuildCommitP99: ours.rebuildCommitP99Ms / baseline.rebuildCommitP99Ms,
};
if (ratios !== null) console.log(`at ${baselineSize} partitions, log/before: metadata ${ratios.metadataBytes.toFixed(3)}x, rebuild commit p99 ${ratios.rebuildCommitP99.toFixed(2)}x`);
const result = {
  benchmark: 'tables',
  goal: 'at 8,760 partitions: metadata < 50 MB, commit p99 < 50 ms, opening any version < 200 ms',
  machine: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage: loadBefore, loadAverageAfter: os.loadavg() },
  rebuilds,
  results,
  ratiosAgainstBefore: ratios,
};
fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
writeResult('tables', result);
