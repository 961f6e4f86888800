// Point-in-time training sets against a brute-force oracle in plain TypeScript: seeded random views (plain,
// string-keyed, composite-keyed, windowed) with ties, TTL edges, missing entities and on-demand features; a
// hand-made case for each edge; the Feast-style ROW_NUMBER baseline; spine formats; errors.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asset, defineProject, entity, featureService, featureView, fileSource, onDemandFeature, select } from '../src/index.ts';
import type { FeatureRow } from '../src/define/features.ts';
import { runAssets } from '../src/batch/runner.ts';
import { Engine } from '../src/engine/engine.ts';
import { SluiceError } from '../src/errors.ts';
import { getHistoricalFeatures, runPointInTime, type PointInTimeView, type TrainingSet } from '../src/features/historical.ts';
import { openViewSource } from '../src/features/view-source.ts';
import { seededRandom } from '../src/random.ts';
import { quoteLiteral } from '../src/sql/identifiers.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { duck, makeTempDir } from './helpers/temp.ts';

// --- data ------------------------------------------------------------------------------------------------------

const SECOND = 1_000_000; // microseconds
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const BASE = Date.UTC(2026, 0, 1) * 1000;
const MERCHANTS = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];

interface ProfileRow { user_id: number; ts: number; seq: number | null; amount: number | null; tier: string }
interface MerchantRow { merchant_id: string; ts: number; category: string; risk: number }
interface PairRow { user_id: number; merchant_id: string; ts: number; visits: number }
interface TxRow { user_id: number; tx_ts: number; amount: number | null; kind: string | null }
interface SpineRow { spine_id: number; user_id: number; merchant_id: string; event_timestamp: number; label: number; multiplier: number | null; note: string }

interface Data {
  profiles: ProfileRow[];
  merchants: MerchantRow[];
  pairs: PairRow[];
  tx: TxRow[];
  spine: SpineRow[];
}

function generate(seed: number): Data {
  const random = seededRandom(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const pick = <T>(values: readonly T[]): T => values[int(0, values.length - 1)] as T;
  const minute = (): number => BASE + int(0, 240) * MINUTE;
  const profiles: ProfileRow[] = Array.from({ length: 160 }, (_, i) => ({ user_id: int(1, 12), ts: minute(), seq: i, amount: random() < 0.1 ? null : int(0, 80) / 4, tier: pick(['a', 'b', 'c']) }));
  // Same entity and time, another row: the greatest tie-breaker wins.
  for (let i = 0; i < 20; i++) profiles.push({ ...(profiles[i] as ProfileRow), seq: 1000 - i, amount: int(0, 80) / 4, tier: pick(['a', 'b', 'c']) });
  // A NULL tie-breaker loses to any value (it sorts first), whatever its features.
  for (let i = 20; i < 35; i++) profiles.push({ ...(profiles[i] as ProfileRow), seq: null, amount: 99, tier: 'z' });
  const merchants: MerchantRow[] = Array.from({ length: 50 }, () => ({ merchant_id: pick(MERCHANTS), ts: minute(), category: pick(['food', 'games', 'travel']), risk: int(0, 9) }));
  for (let i = 0; i < 12; i++) merchants.push({ ...(merchants[i] as MerchantRow), category: pick(['food', 'games', 'travel']), risk: int(0, 9) });
  const pairs: PairRow[] = Array.from({ length: 150 }, () => ({ user_id: int(1, 12), merchant_id: pick(MERCHANTS), ts: minute(), visits: int(0, 20) }));
  for (let i = 0; i < 10; i++) pairs.push({ ...(pairs[i] as PairRow), visits: int(0, 20) });
  const tx: TxRow[] = Array.from({ length: 260 }, () => ({
    user_id: int(1, 12),
    tx_ts: minute() + (random() < 0.5 ? 0 : int(1, 59) * SECOND),
    amount: random() < 0.1 ? null : int(1, 100),
    kind: random() < 0.1 ? null : pick(['card', 'cash', 'wire']),
  }));
  for (let i = 0; i < 20; i++) tx.push({ ...(tx[i] as TxRow), amount: random() < 0.2 ? null : int(1, 100), kind: pick(['card', 'cash', 'wire']) });
  const spine: SpineRow[] = [];
  for (let i = 0; i < 500; i++) {
    const r = random();
    let user = int(1, 13); // 13 has no rows anywhere
    let merchant = pick([...MERCHANTS, 'm_missing']);
    let ts: number;
    if (r < 0.4) ts = BASE + int(-30, 300) * MINUTE + (random() < 0.3 ? int(1, 59) * SECOND : 0);
    else if (r < 0.5) { const p = pick(profiles); user = p.user_id; ts = p.ts; } // equal to a feature time
    else if (r < 0.58) { const p = pick(profiles); user = p.user_id; ts = p.ts + 2 * HOUR; } // exactly the TTL old
    else if (r < 0.66) { const p = pick(profiles); user = p.user_id; ts = p.ts + 2 * HOUR + 1; } // 1 microsecond more
    else if (r < 0.74) { const p = pick(pairs); user = p.user_id; merchant = p.merchant_id; ts = p.ts + 30 * MINUTE + (random() < 0.5 ? 0 : 1); }
    else if (r < 0.82) { const t = pick(tx); user = t.user_id; ts = t.tx_ts + (random() < 0.3 ? 0 : HOUR + (random() < 0.5 ? 0 : 1)); }
    else if (r < 0.9) { const m = pick(merchants); merchant = m.merchant_id; ts = m.ts + int(0, 1) * 24 * HOUR; }
    else if (r < 0.95) ts = BASE - HOUR; // before any feature row
    else ts = BASE + int(0, 240) * MINUTE;
    spine.push({ spine_id: i, user_id: user, merchant_id: merchant, event_timestamp: ts, label: int(0, 1), multiplier: random() < 0.1 ? null : int(1, 8) / 2, note: `n${i}` });
  }
  // The same spine row twice: two output rows.
  spine.push({ ...(spine[3] as SpineRow), spine_id: 500 }, { ...(spine[3] as SpineRow), spine_id: 501 });
  return { profiles, merchants, pairs, tx, spine };
}

// --- definitions ---------------------------------------------------------------------------------------------------

const user = entity('user', { keys: { user_id: 'int' } });
const merchant = entity('merchant', { keys: { merchant_id: 'string' } });
const userMerchant = entity('user_merchant', { keys: { user_id: 'int', merchant_id: 'string' } });
const raw = (name: string): ReturnType<typeof fileSource> => fileSource(`${name}_raw`, { format: 'parquet', path: `data/${name}.parquet` });
const sources = { profiles: raw('profiles'), merchants: raw('merchants'), pairs: raw('pairs'), tx: raw('tx') };
const tableOf = (name: keyof typeof sources): ReturnType<typeof asset> => asset(name, { sql: ({ ref }) => `SELECT * FROM ${ref(sources[name])}` });
const tables = { profiles: tableOf('profiles'), merchants: tableOf('merchants'), pairs: tableOf('pairs'), tx: tableOf('tx') };

const userProfile = featureView('user_profile', { entity: user, source: tables.profiles, timestamp: 'ts', ttl: '2h', features: ['amount', 'tier'], tieBreaker: 'seq' });
const merchantInfo = featureView('merchant_info', { entity: merchant, source: tables.merchants, timestamp: 'ts', features: ['category', 'risk'] });
const pairStats = featureView('pair_stats', { entity: userMerchant, source: tables.pairs, timestamp: 'ts', ttl: '30m', features: ['visits'] });
const userTx = featureView('user_tx', {
  entity: user, source: tables.tx, timestamp: 'tx_ts', ttl: '1h',
  aggregations: {
    tx_count_1h: { function: 'count', window: '1h' },
    tx_sum_1h: { function: 'sum', column: 'amount', window: '1h' },
    tx_avg_1h: { function: 'avg', column: 'amount', window: '1h' },
    tx_max_1d: { function: 'max', column: 'amount', window: '1d' },
    tx_kinds_1d: { function: 'count_distinct', column: 'kind', window: '1d' },
    tx_last: { function: 'last', column: 'amount', window: '1d' },
  },
});

const seenTypes = new Set<string>();
const riskFn = (row: FeatureRow): Record<string, unknown> => {
  const amount = row['amount'] as number | null;
  const multiplier = row['multiplier'] as number | null;
  seenTypes.add(`amount:${typeof amount}`).add(`multiplier:${typeof multiplier}`);
  return {
    scaled: amount === null || multiplier === null ? null : amount * multiplier,
    big: amount !== null && amount > 10,
    tier_label: `${(row['tier'] as string | null) ?? 'none'}`,
    amount_floor: amount === null ? null : Math.floor(amount),
  };
};
const risk = onDemandFeature('risk', {
  inputs: [userProfile],
  request: { multiplier: 'float' },
  outputs: { scaled: 'float', big: 'bool', tier_label: 'string', amount_floor: 'int' },
  fn: riskFn,
});
// Counts arrive as numbers, not bigints: `+ 1` on a bigint would throw.
const txFn = (row: FeatureRow): Record<string, unknown> => ({ tx_count_plus: row['tx_count_1h'] === null ? null : (row['tx_count_1h'] as number) + 1 });
const txPlus = onDemandFeature('tx_plus', { inputs: [userTx], outputs: { tx_count_plus: 'int' }, fn: txFn });

const training = featureService('training', { features: [select(userProfile, ['amount']), merchantInfo, pairStats, userTx, risk, txPlus] });
const plain = featureService('plain', { features: [pairStats, select(userProfile, ['tier', 'amount'])] });
const broken = featureView('broken', { entity: user, source: tables.profiles, timestamp: 'ts', features: ['no_such_column'] });
const brokenService = featureService('broken_service', { features: [broken] });

const FEATURES = ['amount', 'category', 'risk', 'visits', 'tx_count_1h', 'tx_sum_1h', 'tx_avg_1h', 'tx_max_1d', 'tx_kinds_1d', 'tx_last', 'scaled', 'big', 'tier_label', 'amount_floor', 'tx_count_plus'];
const SPINE_COLUMNS = ['spine_id', 'user_id', 'merchant_id', 'event_timestamp', 'label', 'multiplier', 'note'];

// --- the oracle --------------------------------------------------------------------------------------------------

type Values = Record<string, number | string | null>;
interface Versioned { ts: number; values: Values }

/** The tie rule, field by field: a NULL tie-breaker sorts before any value (it loses). */
function compareTuples(a: readonly (number | string | null)[], b: readonly (number | string | null)[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === null || y === null) {
      if (x === y) continue;
      return x === null ? -1 : 1;
    }
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

/** One row per entity and time (the greatest tuple wins), per entity sorted by time. */
function plainHistory<R>(rows: readonly R[], key: (r: R) => string, ts: (r: R) => number, tuple: (r: R) => (number | string | null)[], values: (r: R) => Values): Map<string, Versioned[]> {
  const best = new Map<string, R>();
  for (const row of rows) {
    const id = `${key(row)}@${ts(row)}`;
    const known = best.get(id);
    if (known === undefined || compareTuples(tuple(row), tuple(known)) > 0) best.set(id, row);
  }
  const byKey = new Map<string, Versioned[]>();
  for (const row of best.values()) {
    const list = byKey.get(key(row)) ?? [];
    list.push({ ts: ts(row), values: values(row) });
    byKey.set(key(row), list);
  }
  for (const list of byKey.values()) list.sort((a, b) => a.ts - b.ts);
  return byKey;
}

/** Aggregates of each user's events in (e - window, e], at each of its distinct event times e. */
function windowedHistory(tx: readonly TxRow[]): Map<string, Versioned[]> {
  const byKey = new Map<string, Versioned[]>();
  for (const userId of new Set(tx.map((t) => t.user_id))) {
    const events = tx.filter((t) => t.user_id === userId);
    const times = [...new Set(events.map((t) => t.tx_ts))].sort((a, b) => a - b);
    byKey.set(String(userId), times.map((e) => {
      const within = (window: number): TxRow[] => events.filter((t) => t.tx_ts > e - window && t.tx_ts <= e);
      const amounts = (rows: TxRow[]): number[] => rows.flatMap((t) => (t.amount === null ? [] : [t.amount]));
      const hour = amounts(within(HOUR));
      const day = amounts(within(24 * HOUR));
      const atE = amounts(events.filter((t) => t.tx_ts === e));
      return {
        ts: e,
        values: {
          tx_count_1h: within(HOUR).length,
          tx_sum_1h: hour.length === 0 ? null : hour.reduce((a, b) => a + b, 0),
          tx_avg_1h: hour.length === 0 ? null : round(hour.reduce((a, b) => a + b, 0) / hour.length),
          tx_max_1d: day.length === 0 ? null : Math.max(...day),
          tx_kinds_1d: new Set(within(24 * HOUR).flatMap((t) => (t.kind === null ? [] : [t.kind]))).size,
          tx_last: atE.length === 0 ? null : Math.max(...atE),
        },
      };
    }));
  }
  return byKey;
}

/** The latest version at or before `at`; its values, or nulls when there is none or it is older than the TTL. */
function asOf(history: Map<string, Versioned[]>, key: string, at: number, ttl: number | undefined, features: readonly string[]): Values {
  let found: Versioned | undefined;
  for (const version of history.get(key) ?? []) if (version.ts <= at) found = version;
  const fresh = found !== undefined && (ttl === undefined || at - found.ts <= ttl);
  return Object.fromEntries(features.map((f) => [f, fresh ? (found as Versioned).values[f] ?? null : null]));
}

function oracle(data: Data): Record<string, unknown>[] {
  const profiles = plainHistory(data.profiles, (r) => String(r.user_id), (r) => r.ts, (r) => [r.seq], (r) => ({ amount: r.amount, tier: r.tier }));
  const merchants = plainHistory(data.merchants, (r) => r.merchant_id, (r) => r.ts, (r) => [r.category, r.risk], (r) => ({ category: r.category, risk: r.risk }));
  const pairs = plainHistory(data.pairs, (r) => `${r.user_id}|${r.merchant_id}`, (r) => r.ts, (r) => [r.visits], (r) => ({ visits: r.visits }));
  const tx = windowedHistory(data.tx);
  const txFeatures = ['tx_count_1h', 'tx_sum_1h', 'tx_avg_1h', 'tx_max_1d', 'tx_kinds_1d', 'tx_last'];
  return data.spine.map((s) => {
    const t = s.event_timestamp;
    const profile = asOf(profiles, String(s.user_id), t, 2 * HOUR, ['amount', 'tier']);
    const txValues = asOf(tx, String(s.user_id), t, HOUR, txFeatures);
    const riskOut = riskFn({ ...profile, multiplier: s.multiplier });
    return {
      ...spineExpected(s),
      amount: profile['amount'],
      ...asOf(merchants, s.merchant_id, t, undefined, ['category', 'risk']),
      ...asOf(pairs, `${s.user_id}|${s.merchant_id}`, t, 30 * MINUTE, ['visits']),
      ...txValues,
      ...riskOut,
      ...txFn(txValues),
    };
  });
}

function spineExpected(s: SpineRow): Record<string, unknown> {
  return { ...s, event_timestamp: Math.floor(s.event_timestamp / 1000) };
}

function round(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

/** DuckDB values as the oracle writes them: integers as numbers, times as epoch milliseconds, floats rounded. */
function normalise(rows: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k,
    typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.getTime() : typeof v === 'number' && !Number.isInteger(v) ? round(v) : v])));
}

// --- writing the data ----------------------------------------------------------------------------------------------

function valuesSql(rows: readonly Record<string, unknown>[], columns: Readonly<Record<string, string>>): string {
  const names = Object.keys(columns);
  const literal = (v: unknown): string => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : quoteLiteral(v as string));
  const tuples = rows.map((row) => `(${names.map((n) => literal(row[n])).join(', ')})`);
  const select = names.map((n, i) => {
    const type = columns[n] as string;
    const c = `c${i}`;
    return type.startsWith('TIMESTAMP') ? `CAST(make_timestamp(${c}::BIGINT) AS ${type}) AS ${n}` : `CAST(${c} AS ${type}) AS ${n}`;
  });
  return `SELECT ${select.join(', ')} FROM (VALUES ${tuples.join(', ')}) AS t(${names.map((_, i) => `c${i}`).join(', ')})`;
}

const SPINE_TYPES = { spine_id: 'INTEGER', user_id: 'BIGINT', merchant_id: 'VARCHAR', event_timestamp: 'TIMESTAMP', label: 'BIGINT', multiplier: 'DOUBLE', note: 'VARCHAR' };

async function writeData(dir: string, data: Data): Promise<void> {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const engine = await Engine.open();
  try {
    await engine.withSession(async (s) => {
      const copy = async (name: string, sql: string): Promise<void> => s.run(`COPY (${sql}) TO ${quoteLiteral(path.join(dir, 'data', `${name}.parquet`))} (FORMAT parquet)`);
      // Key types differ from the spine's BIGINT on purpose (INTEGER), and one view's time is TIMESTAMPTZ.
      await copy('profiles', valuesSql(data.profiles as unknown as Record<string, unknown>[], { user_id: 'INTEGER', ts: 'TIMESTAMP', seq: 'INTEGER', amount: 'DOUBLE', tier: 'VARCHAR' }));
      await copy('merchants', valuesSql(data.merchants as unknown as Record<string, unknown>[], { merchant_id: 'VARCHAR', ts: 'TIMESTAMPTZ', category: 'VARCHAR', risk: 'DOUBLE' }));
      await copy('pairs', valuesSql(data.pairs as unknown as Record<string, unknown>[], { user_id: 'INTEGER', merchant_id: 'VARCHAR', ts: 'TIMESTAMP', visits: 'BIGINT' }));
      await copy('tx', valuesSql(data.tx as unknown as Record<string, unknown>[], { user_id: 'BIGINT', tx_ts: 'TIMESTAMP', amount: 'INTEGER', kind: 'VARCHAR' }));
      await copy('spine', valuesSql(data.spine as unknown as Record<string, unknown>[], SPINE_TYPES));
    });
  } finally {
    engine.close();
  }
}

// --- tests ---------------------------------------------------------------------------------------------------------

let dir: string;
let cleanup: () => void;
let ws: Workspace;
let data: Data;
let spineFile: string;

beforeAll(async () => {
  ({ dir, cleanup } = makeTempDir('sluice-pit-'));
  data = generate(20261125);
  await writeData(dir, data);
  spineFile = path.join(dir, 'data', 'spine.parquet');
  const project = defineProject({ name: 'pit', sources: Object.values(sources), assets: Object.values(tables), featureServices: [training, plain, brokenService] });
  ws = await openWorkspace(project, dir);
  const summary = await runAssets(ws);
  if (summary.status !== 'success') throw new Error(`building the test assets failed: ${JSON.stringify(summary.steps)}`);
});

afterAll(async () => {
  await ws?.close();
  cleanup?.();
});

function rowsOf(result: TrainingSet): Record<string, unknown>[] {
  return normalise(result.rows ?? []);
}

async function thrown(promise: Promise<unknown>): Promise<SluiceError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw error;
  }
  throw new Error('expected a SluiceError');
}

describe('getHistoricalFeatures', () => {
  it('equals the brute-force oracle: one row per spine row, in order, labels kept, features as of each row', async () => {
    const result = await getHistoricalFeatures(ws, { spine: spineFile, service: 'training' });
    expect(result.columns.map((c) => c.name)).toEqual([...SPINE_COLUMNS, ...FEATURES]);
    expect(result.rowCount).toBe(data.spine.length);
    const expected = oracle(data);
    expect(rowsOf(result)).toEqual(expected);
    // The data exercised what it should: matches, expiries, missing entities and both edges of each TTL.
    const amounts = expected.map((r) => r['amount']);
    expect(amounts.filter((a) => a === null).length).toBeGreaterThan(50);
    expect(amounts.filter((a) => a !== null).length).toBeGreaterThan(100);
    expect(expected.filter((r) => r['visits'] !== null).length).toBeGreaterThan(20);
    expect(expected.filter((r) => r['tx_count_1h'] !== null).length).toBeGreaterThan(20);
    expect(expected.filter((r) => r['category'] === null && r['merchant_id'] !== 'm_missing').length).toBeGreaterThan(5);
    expect([...seenTypes].sort()).toEqual(['amount:number', 'amount:object', 'multiplier:number', 'multiplier:object']);
  });

  it('types on-demand outputs as declared and returns only the service features', async () => {
    const result = await getHistoricalFeatures(ws, { spine: spineFile, service: training });
    const types = Object.fromEntries(result.columns.map((c) => [c.name, c.type]));
    expect(types).toMatchObject({ scaled: 'DOUBLE', big: 'BOOLEAN', tier_label: 'VARCHAR', amount_floor: 'BIGINT', tx_count_plus: 'BIGINT', spine_id: 'INTEGER', user_id: 'BIGINT' });
    expect(types['tier']).toBeUndefined(); // fetched for the on-demand feature, not a service feature
  });

  it('writes Parquet (zstd) with the same rows as returned', async () => {
    const out = path.join(dir, 'out', 'training.parquet');
    const written = await getHistoricalFeatures(ws, { spine: spineFile, service: 'training', out });
    expect(written).toMatchObject({ rowCount: data.spine.length, path: out });
    expect(written.rows).toBeUndefined();
    const back = await duck(`SELECT * FROM read_parquet(${quoteLiteral(out)})`);
    expect(normalise(back)).toEqual(oracle(data));
    const codecs = await duck<{ c: string }>(`SELECT DISTINCT compression AS c FROM parquet_metadata(${quoteLiteral(out)})`);
    expect(codecs.map((c) => c.c)).toEqual(['ZSTD']);
  });

  it('reads CSV and JSON spines and relations; casts text keys and ISO text times', async () => {
    const expected = normalise((await getHistoricalFeatures(ws, { spine: spineFile, service: 'plain' })).rows ?? []);
    const features = (rows: Record<string, unknown>[]): Record<string, unknown>[] => rows.map((r) => ({ spine_id: r['spine_id'], visits: r['visits'], tier: r['tier'], amount: r['amount'] }));
    const csv = path.join(dir, 'data', 'spine.csv');
    const json = path.join(dir, 'data', 'spine.json');
    await duck(`COPY (SELECT * FROM read_parquet(${quoteLiteral(spineFile)})) TO ${quoteLiteral(csv)} (HEADER, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S.%f')`);
    await duck(`COPY (SELECT * FROM read_parquet(${quoteLiteral(spineFile)})) TO ${quoteLiteral(json)} (FORMAT json)`);
    for (const spine of [csv, json]) {
      const result = await getHistoricalFeatures(ws, { spine, service: 'plain' });
      expect(features(normalise(result.rows ?? []))).toEqual(features(expected));
    }
    // Keys as text, the time as ISO text with a zone under another name.
    const text = `SELECT spine_id, CAST(user_id AS VARCHAR) AS user_id, merchant_id, strftime(event_timestamp, '%Y-%m-%dT%H:%M:%S.%fZ') AS at FROM read_parquet(${quoteLiteral(spineFile)})`;
    const result = await getHistoricalFeatures(ws, { spine: { sql: text }, service: 'plain', timestampColumn: 'at' });
    expect(result.columns.map((c) => c.name)).toEqual(['spine_id', 'user_id', 'merchant_id', 'at', 'visits', 'tier', 'amount']);
    expect(features(normalise(result.rows ?? []))).toEqual(features(expected));
  });

  it('hand-made edges: equal times count, exactly the TTL is valid and 1 microsecond more is not, ties, order', async () => {
    const at = (iso: string, micros = 0): string => `make_timestamp(${Date.parse(`${iso}Z`) * 1000 + micros}::BIGINT)`;
    const spine = `SELECT * FROM (VALUES
      (1, 7, 'm1', ${at('2026-01-01T00:59:59')}),
      (2, 7, 'm1', ${at('2026-01-01T12:00:00')}),
      (3, 7, 'm1', ${at('2026-01-01T14:00:00')}),
      (4, 7, 'm1', ${at('2026-01-01T14:00:00', 1)}),
      (5, 99, 'm1', ${at('2026-01-01T12:00:00')}),
      (6, 7, 'm1', ${at('2026-01-01T12:00:00')}),
      (7, 7, 'm1', NULL)
    ) AS t(id, user_id, merchant_id, event_timestamp)`;
    const profiles = `SELECT * FROM (VALUES
      (7, ${at('2026-01-01T12:00:00')}, 1, 1.5, 'x'),
      (7, ${at('2026-01-01T12:00:00')}, 3, 2.5, 'winner'),
      (7, ${at('2026-01-01T12:00:00')}, 2, 3.5, 'y'),
      (7, ${at('2026-01-01T14:00:00', 2)}, 4, 9.5, 'later')
    ) AS t(user_id, ts, seq, amount, tier)`;
    for (const method of ['asof', 'row_number'] as const) {
      await ws.engine.withSession(async (session) => {
        const result = await runPointInTime(session, { spine, views: [{ view: userProfile, sourceRelation: profiles }], method });
        expect(normalise(result.rows ?? []).map((r) => [r['id'], r['amount'], r['tier']])).toEqual([
          [1, null, null], // before any row
          [2, 2.5, 'winner'], // a row at exactly the spine time; the greatest tie-breaker of three
          [3, 2.5, 'winner'], // exactly 2h old: valid
          [4, null, null], // 2h + 1 microsecond old, and the next row is 1 microsecond in the future
          [5, null, null], // unknown entity
          [6, 2.5, 'winner'], // duplicate spine rows stay two rows
          [7, null, null], // no time
        ]);
      });
    }
  });

  it('the Feast-style ROW_NUMBER baseline gives the same result as ASOF', async () => {
    await ws.engine.withSession(async (session) => {
      const views: PointInTimeView[] = [];
      for (const view of [userProfile, merchantInfo, pairStats, userTx]) {
        views.push({ view, sourceRelation: (await openViewSource(ws, session, view)).relation });
      }
      const spine = `SELECT * FROM read_parquet(${quoteLiteral(spineFile)})`;
      const asof = await runPointInTime(session, { spine, views });
      const baseline = await runPointInTime(session, { spine, views, method: 'row_number' });
      expect(asof.rowCount).toBe(data.spine.length);
      expect(baseline.columns).toEqual(asof.columns);
      expect(normalise(baseline.rows ?? [])).toEqual(normalise(asof.rows ?? []));
    });
  });

  it('errors name the missing spine column, request field or source column', async () => {
    const spineWithout = (drop: string): { sql: string } => ({ sql: `SELECT * EXCLUDE (${drop}) FROM read_parquet(${quoteLiteral(spineFile)})` });
    const noKey = await thrown(getHistoricalFeatures(ws, { spine: spineWithout('merchant_id'), service: 'training' }));
    expect(noKey.code).toBe('FEATURE_REQUEST');
    expect(noKey.message).toContain('"merchant_id"');
    expect(noKey.message).toContain('spine_id, user_id, event_timestamp, label, multiplier, note');
    const noTime = await thrown(getHistoricalFeatures(ws, { spine: spineFile, service: 'training', timestampColumn: 'ts' }));
    expect(noTime.code).toBe('FEATURE_REQUEST');
    expect(noTime.message).toMatch(/no timestamp column "ts".*spine_id, user_id, merchant_id, event_timestamp/);
    const noField = await thrown(getHistoricalFeatures(ws, { spine: spineWithout('multiplier'), service: 'training' }));
    expect(noField.code).toBe('FEATURE_REQUEST');
    expect(noField.message).toContain('request field "multiplier"');
    const noColumn = await thrown(getHistoricalFeatures(ws, { spine: spineFile, service: brokenService }));
    expect(noColumn.code).toBe('SOURCE_SCHEMA');
    expect(noColumn.message).toMatch(/feature view "broken" \(asset "profiles"\): column "no_such_column"/);
    const clash = await thrown(getHistoricalFeatures(ws, { spine: { sql: `SELECT *, 1 AS visits FROM read_parquet(${quoteLiteral(spineFile)})` }, service: 'plain' }));
    expect(clash.message).toContain('spine column "visits"');
    const unknown = await thrown(getHistoricalFeatures(ws, { spine: spineFile, service: 'trainin' }));
    expect(unknown.code).toBe('FEATURE_NOT_FOUND');
    const badFn = featureService('bad_fn', { features: [onDemandFeature('bad', { inputs: [userProfile], outputs: { n: 'int' }, fn: () => ({ n: 'seven' }) })] });
    const badOutput = await thrown(getHistoricalFeatures(ws, { spine: spineFile, service: badFn }));
    expect(badOutput.message).toMatch(/output "n" is declared int, but fn returned "seven"/);
  });
});
