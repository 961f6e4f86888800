// Benchmark: online feature serving. Writes 100k entities x 20 features into each online store (a SQLite file,
// Redis), then measures POST /v1/features with autocannon against the real server in a child process, next to
// baselines measured in the same run: the raw store round trip (better-sqlite3 point SELECT, ioredis HMGET),
// sluice's in-process client on the same keys, a hand-written minimal HTTP service doing the raw store read, and
// an HTTP floor (same Fastify, canned response). Usage:
//   npm run bench:serve -- [--entities 100000] [--duration 5] [--repeat 3] [--samples 20000] [--skip redis|sqlite]
// Prints a table and writes bench/results/serve.json.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import BetterSqlite3 from 'better-sqlite3';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { asset } from '../src/define/asset.ts';
import { entity, featureService, featureView } from '../src/define/features.ts';
import { defineProject, type Project } from '../src/define/project.ts';
import { testRedisUrl } from '../src/config.ts';
import { createFeatureClient, type OnlineFeaturesRequest } from '../src/features/online-read.ts';
import { encodeKey } from '../src/features/keys.ts';
import { createLogger } from '../src/logger.ts';
import { seededRandom } from '../src/random.ts';
import { startServer } from '../src/server/server.ts';
import type { OnlineRecord, OnlineStore } from '../src/store/online/online-store.ts';
import { openOnlineStore } from '../src/store/online/open-online-store.ts';
import { median, numberFlag, writeResult } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);

const ENTITIES = numberFlag('entities', 100_000);
const DURATION = numberFlag('duration', 5);
const SAMPLES = numberFlag('samples', 20_000);
const REPEAT = numberFlag('repeat', 3);
const BATCH = 100;
const FEATURES = Array.from({ length: 20 }, (_, i) => `f${String(i).padStart(2, '0')}`);
const VIEW = 'user_features';
const SERVICE = 'bench_service';

function benchProject(): { project: Project; keys: readonly { name: string; type: 'int' | 'string' }[] } {
  const source = asset('bench_source', { sql: 'SELECT 1 AS user_id' });
  const user = entity('user', { keys: { user_id: 'int' } });
  const view = featureView(VIEW, { entity: user, source, timestamp: 'ts', ttl: '30d', features: FEATURES });
  const service = featureService(SERVICE, { features: [view] });
  return { project: defineProject({ name: 'bench', assets: [source], featureServices: [service] }), keys: user.keys };
}

/** Where a backend's data is, for the store and for the hand-written baseline that reads it directly. */
interface Target {
  readonly backend: 'sqlite' | 'redis';
  readonly storeUrl: string;
  readonly sqliteFile?: string;
  readonly redisUrl?: string;
  readonly redisPrefix?: string;
}

// ---- the child: sluice's server, a hand-written service over the raw store, and an HTTP floor

/** What a hand-written service would do: the raw store read and the values back as JSON, nothing else. */
function rawReader(target: Target): { read: (ids: number[]) => Promise<unknown[]>; close: () => Promise<void> } {
  if (target.backend === 'sqlite') {
    const db = new BetterSqlite3(target.sqliteFile ?? '', { readonly: true });
    const get = db.prepare<[string], [number, string]>(`SELECT event_micros, vals FROM fv_${VIEW} WHERE entity_key = ?`).raw();
    return {
      read: (ids) => Promise.resolve(ids.map((id) => {
        const row = get.get(`[${id}]`);
        return row === undefined ? null : { ts: row[0], values: JSON.parse(row[1]) as unknown };
      })),
      close: () => {
        db.close();
        return Promise.resolve();
      },
    };
  }
  const redis = new Redis(target.redisUrl ?? '');
  const fields = ['__ts', ...FEATURES];
  return {
    read: async (ids) => {
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hmget(`${target.redisPrefix}${VIEW}:[${id}]`, ...fields);
      const replies = (await pipeline.exec()) ?? [];
      return replies.map(([, reply]) => {
        const values = reply as (string | null)[];
        return values[0] === null ? null : { ts: Number(values[0]), values: values.slice(1).map((v) => (v === null ? null : JSON.parse(v) as unknown)) };
      });
    },
    close: async () => { await redis.quit(); },
  };
}

async function serveChild(target: Target): Promise<void> {
  const { project } = benchProject();
  const logger = createLogger('error');
  const store = await openOnlineStore(target.storeUrl);
  const server = await startServer({ project, store, logger, host: '127.0.0.1', port: 0, processMetrics: false });
  const raw = rawReader(target);
  const baseline: FastifyInstance = Fastify({ logger: false });
  baseline.post<{ Body: { entities: { user_id: number }[] } }>('/raw', async (request) => ({ results: await raw.read(request.body.entities.map((e) => e.user_id)) }));
  // The floor: the same framework, body parsing and a response of the sluice response's size, with no lookup.
  const canned = new Map<number, unknown>();
  baseline.post<{ Body: { entities: { user_id: number }[] } }>('/floor', (request, reply) => {
    const n = request.body.entities.length;
    let response = canned.get(n);
    if (response === undefined) {
      const features = Object.fromEntries(FEATURES.map((f) => [f, { value: 12.34, status: 'present', eventTimestamp: '2026-01-01T00:00:00.000Z' }]));
      response = { service: SERVICE, features: FEATURES, results: Array.from({ length: n }, (_, i) => ({ entity: { user_id: i }, features })) };
      canned.set(n, response);
    }
    void reply.send(response);
  });
  await baseline.listen({ host: '127.0.0.1', port: 0 });
  const address = baseline.server.address();
  const baselineUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  process.stdout.write(`${JSON.stringify({ url: server.url, baselineUrl })}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
  await server.close();
  await baseline.close();
  await raw.close();
  await store.close();
}

// ---- the parent

interface Latency { p50: number; p99: number; mean: number; n: number }

function percentiles(ms: number[]): Latency {
  const sorted = Float64Array.from(ms).sort();
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  return { p50: at(50), p99: at(99), mean: ms.reduce((a, b) => a + b, 0) / ms.length, n: ms.length };
}

/**
 * Sequential calls, each timed, of two functions taking turns (a, b, a, b...): the latency of one caller,
 * with any drift in machine load shared by both.
 */
async function timePair(n: number, a: () => unknown, b: () => unknown): Promise<[Latency, Latency]> {
  for (let i = 0; i < Math.min(2000, n); i++) {
    await a();
    await b();
  }
  const msA: number[] = [];
  const msB: number[] = [];
  for (let i = 0; i < n; i++) {
    let t0 = performance.now();
    await a();
    msA.push(performance.now() - t0);
    t0 = performance.now();
    await b();
    msB.push(performance.now() - t0);
  }
  return [percentiles(msA), percentiles(msB)];
}

/** Per metric, the median over repeated runs. */
function medianRun(runs: LoadResult[]): LoadResult {
  const m = (pick: (r: LoadResult) => number): number => median(runs.map(pick));
  return {
    latency: { p50: m((r) => r.latency.p50), p99: m((r) => r.latency.p99), mean: m((r) => r.latency.mean), n: runs.reduce((t, r) => t + r.latency.n, 0) },
    autocannonMs: { p50: m((r) => r.autocannonMs.p50), p99: m((r) => r.autocannonMs.p99) },
    requestsPerSecond: m((r) => r.requestsPerSecond),
    non2xx: runs.reduce((t, r) => t + r.non2xx, 0),
    errors: runs.reduce((t, r) => t + r.errors, 0),
    repeats: runs.map((r) => ({ p50: r.latency.p50, p99: r.latency.p99, requestsPerSecond: r.requestsPerSecond })),
  };
}

function makeValues(id: number): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  FEATURES.forEach((f, i) => {
    switch (i % 4) {
      case 0: values[f] = (id * 7 + i) % 1000; break;
      case 1: values[f] = ((id * 13 + i) % 10_000) / 100; break;
      case 2: values[f] = `plan_${(id + i) % 5}`; break;
      default: values[f] = (id + i) % 2 === 0;
    }
  });
  return values;
}

async function load(store: OnlineStore, keys: readonly { name: string; type: 'int' | 'string' }[]): Promise<number> {
  const t0 = performance.now();
  const now = Date.now();
  let batch: OnlineRecord[] = [];
  for (let id = 1; id <= ENTITIES; id++) {
    batch.push({ key: encodeKey(keys, [id]), eventTimeMicros: (now - (id % 86_400) * 1000) * 1000, values: makeValues(id) });
    if (batch.length === 5000 || id === ENTITIES) {
      await store.write(VIEW, batch, { ttlMs: 30 * 86_400_000 });
      batch = [];
    }
  }
  return performance.now() - t0;
}

interface LoadResult {
  latency: Latency;
  autocannonMs: { p50: number; p99: number };
  requestsPerSecond: number;
  non2xx: number;
  errors: number;
  /** Each repeat's figures, when this is a median over repeats. */
  repeats?: { p50: number; p99: number; requestsPerSecond: number }[];
}

/** One autocannon run; latencies are taken per response at microsecond resolution (autocannon's own histogram has 1 ms). */
function cannon(url: string, body: (random: () => number) => string, options: { rate?: number; connections: number; seconds: number }): Promise<LoadResult> {
  const random = seededRandom(7);
  const ms: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url,
      method: 'POST',
      connections: options.connections,
      duration: options.seconds,
      ...(options.rate === undefined ? {} : { overallRate: options.rate }),
      headers: { 'content-type': 'application/json' },
      requests: [{ method: 'POST', setupRequest: (request) => ({ ...request, body: body(random) }) }],
    }, (error: unknown, result) => {
      if (error !== null && error !== undefined) {
        reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
        return;
      }
      resolve({
        latency: percentiles(ms),
        autocannonMs: { p50: result.latency.p50, p99: result.latency.p99 },
        requestsPerSecond: result.requests.total / options.seconds,
        non2xx: result.non2xx,
        errors: result.errors,
      });
    });
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode === 200) ms.push(responseTime);
    });
  });
}

async function startChild(target: Target): Promise<{ child: ChildProcess; url: string; baselineUrl: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--child', JSON.stringify(target)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
  });
  lines.close();
  const parsed = JSON.parse(first) as { url: string; baselineUrl: string };
  return { child, ...parsed };
}

async function stopChild(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

interface BackendResult {
  backend: string;
  loadSeconds: number;
  /** One-minute load average around the HTTP runs: above ~1 on this machine, other processes competed for CPU. */
  loadAverageBefore: number;
  loadAverageAfter: number;
  raw: { single: Latency; batch100: Latency; note: string };
  inProcess: { single: Latency; batch100: Latency };
  http: Record<string, Record<string, LoadResult>>;
}

async function benchBackend(target: Target): Promise<BackendResult> {
  const { project, keys } = benchProject();
  const random = seededRandom(42);
  const id = (): number => 1 + Math.floor(random() * ENTITIES);
  const ids = (n: number): number[] => Array.from({ length: n }, id);

  const store = await openOnlineStore(target.storeUrl);
  let raw: BackendResult['raw'];
  let inProcess: BackendResult['inProcess'];
  let loadMs: number;
  try {
    await store.dropView(VIEW);
    process.stderr.write(`${target.backend}: writing ${ENTITIES} entities x ${FEATURES.length} features ...\n`);
    loadMs = await load(store, keys);
    process.stderr.write(`${target.backend}: written in ${(loadMs / 1000).toFixed(1)} s; raw and in-process latencies ...\n`);

    // Raw store round trips in this process: what the store costs with no sluice code at all (values decoded).
    // Raw store round trips (no sluice code, values decoded) and sluice's in-process client, taking turns.
    const reader = rawReader(target);
    const client = createFeatureClient({ project, store });
    const lookup = (n: number): OnlineFeaturesRequest => ({ service: SERVICE, entities: ids(n).map((user_id) => ({ user_id })) });
    try {
      const [rawSingle, clientSingle] = await timePair(SAMPLES, () => reader.read(ids(1)), () => client.getOnlineFeatures(lookup(1)));
      const [rawBatch, clientBatch] = await timePair(SAMPLES / 10, () => reader.read(ids(BATCH)), () => client.getOnlineFeatures(lookup(BATCH)));
      raw = {
        single: rawSingle,
        batch100: rawBatch,
        note: target.backend === 'sqlite'
          ? 'better-sqlite3 prepared point SELECT event_micros, vals ... WHERE entity_key = ? per entity, JSON.parse of vals'
          : 'ioredis HMGET __ts + 20 fields per entity (a pipeline of 100 for the batch: one round trip), JSON.parse per field',
      };
      inProcess = { single: clientSingle, batch100: clientBatch };
    } finally {
      await reader.close();
    }
  } finally {
    await store.close();
  }

  const { child, url, baselineUrl } = await startChild(target);
  const loadAverage = os.loadavg()[0] ?? 0;
  if (loadAverage > 1) process.stderr.write(`warning: load average ${loadAverage.toFixed(2)} before the HTTP runs: other work is competing for the CPUs\n`);
  const http: BackendResult['http'] = {};
  try {
    const body = (n: number) => (r: () => number): string => {
      let entities = '';
      for (let i = 0; i < n; i++) entities += `${i === 0 ? '' : ','}{"user_id":${1 + Math.floor(r() * ENTITIES)}}`;
      return `{"service":"${SERVICE}","entities":[${entities}]}`;
    };
    const servers = { sluice: `${url}/v1/features`, hand_written: `${baselineUrl}/raw`, http_floor: `${baselineUrl}/floor` };
    // autocannon's rate limit lets each connection send its share of a second's requests back to back at the
    // start of the second, then pause. With one connection the server sees a sequential stream at 1000 req/s
    // (latency without self-inflicted queueing: the goal's case); with ten it sees bursts of ten concurrent
    // requests each second, which is kept as a harsher view.
    const scenarios = {
      single_1k_rps: { body: body(1), rate: 1000, connections: 1 },
      single_1k_rps_burst10: { body: body(1), rate: 1000, connections: 10 },
      single_max: { body: body(1), connections: 10 },
      batch100_200_rps: { body: body(BATCH), rate: 200, connections: 1 },
      batch100_max: { body: body(BATCH), connections: 10 },
    } as const;
    for (const serverUrl of Object.values(servers)) await cannon(serverUrl, body(1), { connections: 10, seconds: 2 }); // warm up JIT and caches
    // Servers take turns within each scenario, in a rotating order, and the whole round repeats, so that load
    // from elsewhere on the machine and the garbage a previous run left in the (shared) server process hit all
    // of them alike; each measured run follows a discarded second of the same load. The table shows medians.
    const samples = new Map<string, LoadResult[]>();
    const serverList = Object.entries(servers);
    for (let round = 0; round < REPEAT; round++) {
      const order = [...serverList.slice(round % serverList.length), ...serverList.slice(0, round % serverList.length)];
      for (const [scenario, s] of Object.entries(scenarios)) {
        for (const [server, serverUrl] of order) {
          if (server === 'http_floor' && scenario.includes('burst')) continue;
          process.stderr.write(`${target.backend}: round ${round + 1}/${REPEAT} ${scenario} ${server} (${DURATION} s) ...\n`);
          const load = { connections: s.connections, ...('rate' in s ? { rate: s.rate } : {}) };
          await cannon(serverUrl, s.body, { ...load, seconds: 1 });
          const result = await cannon(serverUrl, s.body, { ...load, seconds: DURATION });
          if (result.non2xx > 0 || result.errors > 0) throw new Error(`${server} ${scenario}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
          const key = `${server}\u0000${scenario}`;
          samples.set(key, [...(samples.get(key) ?? []), result]);
        }
      }
    }
    for (const [key, results] of samples) {
      const [server = '', scenario = ''] = key.split('\u0000');
      const runs = http[server] ?? {};
      runs[scenario] = medianRun(results);
      http[server] = runs;
    }
  } finally {
    await stopChild(child);
  }
  return { backend: target.backend, loadSeconds: loadMs / 1000, loadAverageBefore: loadAverage, loadAverageAfter: os.loadavg()[0] ?? 0, raw, inProcess, http };
}

async function main(): Promise<void> {
  const skip = new Set((process.argv.includes('--skip') ? process.argv[process.argv.indexOf('--skip') + 1] ?? '' : '').split(','));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-serve-'));
  const prefix = `sluice-bench-serve-${process.pid}:`;
  const targets: Target[] = [];
  if (!skip.has('sqlite')) {
    const file = path.join(scratch, 'online.db');
    targets.push({ backend: 'sqlite', storeUrl: `sqlite:${file}`, sqliteFile: file });
  }
  if (!skip.has('redis')) {
    targets.push({ backend: 'redis', storeUrl: `${testRedisUrl()}?prefix=${encodeURIComponent(prefix)}`, redisUrl: testRedisUrl(), redisPrefix: prefix });
  }
  const results: BackendResult[] = [];
  try {
    for (const target of targets) results.push(await benchBackend(target));
  } finally {
    for (const target of targets) {
      if (target.backend !== 'redis') continue;
      const store = await openOnlineStore(target.storeUrl);
      await store.dropView(VIEW);
      await store.close();
    }
    fs.rmSync(scratch, { recursive: true, force: true });
  }

  const f = (ms: number): string => ms.toFixed(3);
  const rows: string[][] = [['backend', 'what', 'p50 ms', 'p99 ms', 'req/s', 'p50 / raw']];
  const summary: Record<string, unknown> = {};
  for (const r of results) {
    const single = r.http['sluice']?.['single_1k_rps'];
    const hand = r.http['hand_written']?.['single_1k_rps'];
    const floor = r.http['http_floor']?.['single_1k_rps'];
    rows.push([r.backend, 'raw store, 1 entity (in process)', f(r.raw.single.p50), f(r.raw.single.p99), '', '1.00']);
    rows.push([r.backend, 'sluice client, 1 entity (in process)', f(r.inProcess.single.p50), f(r.inProcess.single.p99), '', (r.inProcess.single.p50 / r.raw.single.p50).toFixed(2)]);
    rows.push([r.backend, 'raw store, 100 entities (in process)', f(r.raw.batch100.p50), f(r.raw.batch100.p99), '', '1.00']);
    rows.push([r.backend, 'sluice client, 100 entities (in process)', f(r.inProcess.batch100.p50), f(r.inProcess.batch100.p99), '', (r.inProcess.batch100.p50 / r.raw.batch100.p50).toFixed(2)]);
    for (const [server, scenarios] of Object.entries(r.http)) {
      for (const [scenario, x] of Object.entries(scenarios)) {
        const rawP50 = scenario.startsWith('batch') ? r.raw.batch100.p50 : r.raw.single.p50;
        rows.push([r.backend, `HTTP ${server} ${scenario}`, f(x.latency.p50), f(x.latency.p99), x.requestsPerSecond.toFixed(0), (x.latency.p50 / rawP50).toFixed(2)]);
      }
    }
    summary[r.backend] = {
      single_1k_rps_p99_ms: single?.latency.p99,
      goal_single_p99_le_2ms: single !== undefined && single.latency.p99 <= 2,
      in_process_over_raw_p50: r.inProcess.single.p50 / r.raw.single.p50,
      in_process_over_raw_p50_batch100: r.inProcess.batch100.p50 / r.raw.batch100.p50,
      http_sluice_over_hand_written_p50: single !== undefined && hand !== undefined ? single.latency.p50 / hand.latency.p50 : null,
      http_sluice_over_hand_written_p50_batch100: (r.http['sluice']?.['batch100_200_rps']?.latency.p50 ?? NaN) / (r.http['hand_written']?.['batch100_200_rps']?.latency.p50 ?? NaN),
      http_sluice_over_raw_store_p50: single === undefined ? null : single.latency.p50 / r.raw.single.p50,
      http_sluice_minus_floor_p50_ms: single !== undefined && floor !== undefined ? single.latency.p50 - floor.latency.p50 : null,
      max_rps_single: r.http['sluice']?.['single_max']?.requestsPerSecond,
      max_entities_per_second_batch100: (r.http['sluice']?.['batch100_max']?.requestsPerSecond ?? 0) * BATCH,
    };
  }
  const result = {
    benchmark: 'serve',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    shape: { entities: ENTITIES, features: FEATURES.length, batch: BATCH, durationSeconds: DURATION, repeats: REPEAT, sequentialSamples: SAMPLES },
    scenarios: {
      single_1k_rps: '1 entity per request, autocannon overallRate 1000, 1 connection',
      single_1k_rps_burst10: '1 entity, overallRate 1000 over 10 connections (autocannon sends each second\'s share in bursts of 10 concurrent requests)',
      single_max: '1 entity, 10 connections, no rate limit',
      batch100_200_rps: '100 entities per request, overallRate 200 (20k entities/s), 1 connection',
      batch100_max: '100 entities, 10 connections, no rate limit',
    },
    method: {
      http: 'autocannon 9 in this process against servers in one child process (sluice startServer; a hand-written Fastify service doing the raw store read; an HTTP floor returning a canned response of the same shape), taking turns per scenario in rotating order, each run after 1 s of discarded warm-up load; medians of the repeats. Random entities from a seeded PRNG. Latency per 200 response from autocannon\'s response event (microsecond resolution; autocannon\'s own histogram rounds to 1 ms and is kept as autocannonMs).',
      raw: 'the store read with no sluice code, sequential calls in this process, values decoded',
      inProcess: 'createFeatureClient().getOnlineFeatures, sequential calls in this process on the same store',
      overhead: 'like for like: sluice in process vs the raw read in process (both sequential, same keys), and sluice over HTTP vs the hand-written service over HTTP (same client, transport, rate). http_sluice_over_raw_store_p50 compares an HTTP round trip with an in-process call and is given for completeness.',
    },
    backends: results,
    summary,
  };
  fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
  writeResult('serve', result);

  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  process.stdout.write(`serve: ${ENTITIES.toLocaleString('en-US')} entities x ${FEATURES.length} features, HTTP runs of ${DURATION} s, median of ${REPEAT}, ${os.cpus().length} CPUs\n`);
  for (const row of rows) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}\n`);
  for (const [backend, s] of Object.entries(summary)) process.stdout.write(`${backend}: ${JSON.stringify(s)}\n`);
}

if (process.argv[2] === '--child') await serveChild(JSON.parse(process.argv[3] ?? '{}') as Target);
else await main();
