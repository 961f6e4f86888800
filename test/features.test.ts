// Materialisation and skew, on both online stores: the latest value per entity against a brute-force oracle,
// idempotent and order-independent writes, incremental state in the catalog, and a skew injected online
// found feature by feature (API and CLI).
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asset, defineProject, entity, featureService, featureView, fileSource } from '../src/index.ts';
import { runAssets } from '../src/batch/runner.ts';
import { testRedisUrl } from '../src/config.ts';
import { encodeKey } from '../src/features/keys.ts';
import { materialize } from '../src/features/materialize.ts';
import { measureSkew } from '../src/features/skew.ts';
import { seededRandom } from '../src/random.ts';
import { openOnlineStore } from '../src/store/online/open-online-store.ts';
import type { OnlineStore } from '../src/store/online/online-store.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { deleteRedisPrefix } from './helpers/redis.ts';
import { makeTempDir, runCli, writeParquet } from './helpers/temp.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 1);
const MICROS = 1000;

interface ProfileRow { user_id: number; ts: number; score: number; tier: string }
interface TxnRow { card_id: number; ts: number; amount: number; merchant: string }

function makeProfiles(seed: number, users: number, rows: number, offsetHours = 0): ProfileRow[] {
  const random = seededRandom(seed);
  return Array.from({ length: rows }, () => ({
    user_id: 1 + Math.floor(random() * users),
    // whole minutes, so equal timestamps (ties) happen
    ts: T0 + (offsetHours * 60 + Math.floor(random() * 72 * 60)) * 60_000,
    score: Math.round(random() * 1000) / 10,
    tier: ['a', 'b', 'c'][Math.floor(random() * 3)] as string,
  }));
}

function makeTxns(seed: number, cards: number, rows: number): TxnRow[] {
  const random = seededRandom(seed);
  return Array.from({ length: rows }, () => ({
    card_id: 1 + Math.floor(random() * cards),
    ts: T0 + Math.floor(random() * 72 * 60) * 60_000,
    amount: Math.round(random() * 10_000) / 100,
    merchant: `m${Math.floor(random() * 6)}`,
  }));
}

function valuesSql(rows: readonly Record<string, number | string>[], columns: Record<string, string>): string {
  const names = Object.keys(columns);
  const tuples = rows.map((r) => `(${names.map((n) => {
    const v = r[n] as number | string;
    if (columns[n] === 'TIMESTAMP') return `make_timestamp(${(v as number) * MICROS}::BIGINT)`;
    return typeof v === 'number' ? String(v) : `'${v}'`;
  }).join(', ')})`);
  return `SELECT ${names.map((n) => `CAST(${n} AS ${columns[n] as string}) AS ${n}`).join(', ')} FROM (VALUES ${tuples.join(', ')}) AS t(${names.join(', ')})`;
}

const PROFILE_COLUMNS = { user_id: 'BIGINT', ts: 'TIMESTAMP', score: 'DOUBLE', tier: 'VARCHAR' };
const TXN_COLUMNS = { card_id: 'BIGINT', ts: 'TIMESTAMP', amount: 'DOUBLE', merchant: 'VARCHAR' };

/** Oracle: the row with the latest ts in [from, to] per user; ties to the greatest (score, tier). */
function latestProfiles(rows: readonly ProfileRow[], from: number, to: number): Map<number, ProfileRow> {
  const best = new Map<number, ProfileRow>();
  for (const row of rows) {
    if (row.ts < from || row.ts > to) continue;
    const current = best.get(row.user_id);
    if (current === undefined || row.ts > current.ts || (row.ts === current.ts && (row.score > current.score || (row.score === current.score && row.tier > current.tier)))) {
      best.set(row.user_id, row);
    }
  }
  return best;
}

/** Oracle for the windowed view as of each card's latest event in [from, to]. */
function windowedAsOfLatest(rows: readonly TxnRow[], from: number, to: number): Map<number, { ts: number; n_1h: number; sum_1h: number; distinct_6h: number }> {
  const out = new Map<number, { ts: number; n_1h: number; sum_1h: number; distinct_6h: number }>();
  const latest = new Map<number, number>();
  for (const r of rows) if (r.ts >= from && r.ts <= to && r.ts > (latest.get(r.card_id) ?? -Infinity)) latest.set(r.card_id, r.ts);
  for (const [card, e] of latest) {
    const own = rows.filter((r) => r.card_id === card);
    const hour = own.filter((r) => r.ts > e - HOUR && r.ts <= e);
    const six = own.filter((r) => r.ts > e - 6 * HOUR && r.ts <= e);
    out.set(card, { ts: e, n_1h: hour.length, sum_1h: hour.reduce((s, r) => s + r.amount, 0), distinct_6h: new Set(six.map((r) => r.merchant)).size });
  }
  return out;
}

const user = entity('user', { keys: { user_id: 'int' } });
const card = entity('card', { keys: { card_id: 'int' } });
const profilesSource = fileSource('profiles_raw', { format: 'parquet', path: 'data/profiles.parquet' });
const txnsSource = fileSource('txns_raw', { format: 'parquet', path: 'data/txns.parquet' });
const profiles = asset('profiles', { sql: ({ ref }) => `SELECT * FROM ${ref(profilesSource)}` });
const txns = asset('txns', { sql: ({ ref }) => `SELECT * FROM ${ref(txnsSource)}` });
const profileView = featureView('profile', { entity: user, source: profiles, timestamp: 'ts', ttl: '1d', features: ['score', 'tier'] });
const txnView = featureView('txn_windows', {
  entity: card,
  source: txns,
  timestamp: 'ts',
  ttl: '2d',
  aggregations: {
    n_1h: { function: 'count', window: '1h' },
    sum_1h: { function: 'sum', column: 'amount', window: '1h' },
    distinct_6h: { function: 'count_distinct', column: 'merchant', window: '6h' },
  },
});
const service = featureService('model', { features: [profileView, txnView] });
const project = defineProject({ name: 'fs', sources: [profilesSource, txnsSource], assets: [profiles, txns], featureServices: [service] });

const CONFIG = `import { asset, defineProject, entity, featureService, featureView, fileSource } from 'sluice';
const user = entity('user', { keys: { user_id: 'int' } });
const profilesSource = fileSource('profiles_raw', { format: 'parquet', path: 'data/profiles.parquet' });
const profiles = asset('profiles', { sql: ({ ref }) => \`SELECT * FROM \${ref(profilesSource)}\` });
const profileView = featureView('profile', { entity: user, source: profiles, timestamp: 'ts', ttl: '1d', features: ['score', 'tier'] });
export default defineProject({ name: 'fs', assets: [profiles], featureServices: [featureService('model', { features: [profileView] })] });
`;

const redisPrefix = `sluice-test-fs-${randomBytes(4).toString('hex')}:`;
const stores = [
  { name: 'sqlite', url: (dir: string) => `sqlite:${path.join(dir, 'online.db')}` },
  { name: 'redis', url: () => `${testRedisUrl()}?prefix=${encodeURIComponent(redisPrefix)}` },
];

afterAll(async () => {
  await deleteRedisPrefix(redisPrefix);
});

describe.each(stores)('feature store on $name', ({ url }) => {
  let dir: string;
  let cleanup: () => void;
  let ws: Workspace;
  let store: OnlineStore;
  let storeUrl: string;

  beforeEach(async () => {
    ({ dir, cleanup } = makeTempDir('sluice-features-'));
    storeUrl = url(dir);
    store = await openOnlineStore(storeUrl);
    for (const view of ['profile', 'txn_windows']) await store.dropView(view);
    ws = await openWorkspace(project, dir);
  });
  afterEach(async () => {
    await store.close();
    await ws.close();
    cleanup();
  });

  async function build(profileRows: ProfileRow[], txnRows: TxnRow[]): Promise<void> {
    await writeParquet(path.join(dir, 'data/profiles.parquet'), valuesSql(profileRows as unknown as Record<string, number | string>[], PROFILE_COLUMNS));
    await writeParquet(path.join(dir, 'data/txns.parquet'), valuesSql(txnRows as unknown as Record<string, number | string>[], TXN_COLUMNS));
    const summary = await runAssets(ws);
    expect(summary.status).toBe('success');
  }

  async function readAll(view: string, keys: number[], features: string[]): Promise<Map<number, { ts: number; values: Record<string, unknown> } | undefined>> {
    const [found = []] = await store.read([{ view, keys: keys.map((k) => encodeKey([{ name: 'k', type: 'int' }], [k])), features }]);
    return new Map(keys.map((k, i) => [k, found[i] === undefined ? undefined : { ts: found[i].eventTimeMicros / MICROS, values: { ...found[i].values } }]));
  }

  it('writes the latest value per entity in [from, to], equal to a brute-force oracle', async () => {
    const profileRows = makeProfiles(1, 40, 600);
    const txnRows = makeTxns(2, 25, 800);
    await build(profileRows, txnRows);
    const from = T0 + 12 * HOUR;
    const to = T0 + 48 * HOUR;
    const results = await materialize(ws, store, { fromMicros: from * MICROS, toMicros: to * MICROS });
    const expectedProfiles = latestProfiles(profileRows, from, to);
    const expectedTxns = windowedAsOfLatest(txnRows, from, to);
    expect(results.map((r) => [r.view, r.written, r.stale])).toEqual([['profile', expectedProfiles.size, 0], ['txn_windows', expectedTxns.size, 0]]);

    const users = Array.from({ length: 41 }, (_, i) => i + 1);
    const stored = await readAll('profile', users, ['score', 'tier']);
    for (const u of users) {
      const want = expectedProfiles.get(u);
      expect(stored.get(u), `user ${u}`).toEqual(want === undefined ? undefined : { ts: want.ts, values: { score: want.score, tier: want.tier } });
    }
    const cards = Array.from({ length: 26 }, (_, i) => i + 1);
    const storedTxns = await readAll('txn_windows', cards, ['n_1h', 'sum_1h', 'distinct_6h']);
    for (const c of cards) {
      const want = expectedTxns.get(c);
      const got = storedTxns.get(c);
      if (want === undefined) { expect(got, `card ${c}`).toBeUndefined(); continue; }
      expect(got?.ts).toBe(want.ts);
      expect(got?.values['n_1h']).toBe(want.n_1h);
      expect(got?.values['sum_1h'] as number).toBeCloseTo(want.sum_1h, 6);
      expect(got?.values['distinct_6h']).toBe(want.distinct_6h);
    }
  });

  it('is idempotent, and an older range never overwrites newer values', async () => {
    const profileRows = makeProfiles(3, 30, 400);
    await build(profileRows, makeTxns(4, 5, 50));
    const to = T0 + 72 * HOUR;
    await materialize(ws, store, { views: ['profile'], toMicros: to * MICROS });
    const users = Array.from({ length: 30 }, (_, i) => i + 1);
    const first = await readAll('profile', users, ['score', 'tier']);
    const again = await materialize(ws, store, { views: ['profile'], toMicros: to * MICROS });
    expect(again[0]?.stale).toBe(0); // equal event times rewrite the same values
    expect(await readAll('profile', users, ['score', 'tier'])).toEqual(first);
    // An earlier window: every entity with a value then has a newer one stored, so nothing changes.
    const older = await materialize(ws, store, { views: ['profile'], toMicros: (T0 + 24 * HOUR) * MICROS });
    const olderEntities = latestProfiles(profileRows, -Infinity, T0 + 24 * HOUR);
    const newerThanOld = [...olderEntities].filter(([u, row]) => (first.get(u)?.ts ?? 0) > row.ts).length;
    expect(older[0]?.stale).toBe(newerThanOld);
    expect(older[0]?.written).toBe(olderEntities.size - newerThanOld);
    expect(await readAll('profile', users, ['score', 'tier'])).toEqual(first);
  });

  it('--incremental continues from the state recorded in the catalog', async () => {
    const firstRows = makeProfiles(5, 20, 200);
    await build(firstRows, makeTxns(6, 5, 50));
    const to1 = T0 + 72 * HOUR;
    const [run1] = await materialize(ws, store, { views: ['profile'], incremental: true, toMicros: to1 * MICROS });
    expect(run1?.fromMicros).toBeNull();
    expect(run1?.written).toBe(latestProfiles(firstRows, -Infinity, to1).size);
    // The state is the latest event time read, not the end of the range asked for.
    const mark1 = Math.max(...firstRows.map((r) => r.ts).filter((ts) => ts <= to1));
    expect(await ws.catalog.lastMaterialization('profile', store.location)).toMatchObject({ toMicros: to1 * MICROS, resumeMicros: mark1 * MICROS, rowsWritten: run1?.written });

    // New rows arrive for 5 users, later than everything so far.
    const newRows = makeProfiles(7, 5, 20, 80);
    await build([...firstRows, ...newRows], makeTxns(6, 5, 50));
    const to2 = T0 + 200 * HOUR;
    const [run2] = await materialize(ws, store, { views: ['profile'], incremental: true, toMicros: to2 * MICROS });
    expect(run2?.fromMicros).toBe(mark1 * MICROS);
    expect(run2?.written).toBe(latestProfiles([...firstRows, ...newRows], mark1, to2).size);
    const all = latestProfiles([...firstRows, ...newRows], -Infinity, to2);
    const stored = await readAll('profile', [...all.keys()], ['score', 'tier']);
    for (const [u, row] of all) expect(stored.get(u)).toEqual({ ts: row.ts, values: { score: row.score, tier: row.tier } });

    // Rows land late: event times before the latest one read. They came with a new version of the asset, so
    // incremental reaches back to the earliest of them (the rows that version changed), no further.
    const mark2 = Math.max(...[...firstRows, ...newRows].map((r) => r.ts).filter((ts) => ts <= to2));
    const lateRows = Array.from({ length: 3 }, (_, i) => ({ user_id: 1000 + i, ts: mark2 - (i + 1) * HOUR, score: 1, tier: 'late' }));
    await build([...firstRows, ...newRows, ...lateRows], makeTxns(6, 5, 50));
    const [late] = await materialize(ws, store, { views: ['profile'], incremental: true, toMicros: (to2 + HOUR) * MICROS });
    expect(late?.fromMicros).toBe((mark2 - 3 * HOUR) * MICROS);
    expect(late?.rewritten?.sinceVersion).toBe(run2?.assetVersion);
    expect(late?.written).toBe(latestProfiles([...firstRows, ...newRows, ...lateRows], mark2 - 3 * HOUR, to2 + HOUR).size);
    expect((await readAll('profile', [1000, 1001, 1002], ['tier'])).get(1000)?.values).toEqual({ tier: 'late' });
    // Without a new version, a lookback still reads again before the mark.
    const [caught] = await materialize(ws, store, { views: ['profile'], incremental: true, lookbackMs: 4 * HOUR, toMicros: (to2 + HOUR) * MICROS });
    expect(caught?.rewritten).toBeNull();
    expect(caught?.fromMicros).toBe((mark2 - 4 * HOUR) * MICROS);
    expect(caught?.written).toBe(latestProfiles([...firstRows, ...newRows, ...lateRows], mark2 - 4 * HOUR, to2).size);
    expect((await readAll('profile', [1000, 1001, 1002], ['tier'])).get(1002)?.values).toEqual({ tier: 'late' });
  });

  it('--incremental also rewrites what a new version of the asset corrected, before the mark (columns and windowed views)', async () => {
    const profileRows = makeProfiles(21, 10, 80);
    const txnRows = makeTxns(22, 4, 60);
    await build(profileRows, txnRows);
    const to = T0 + 100 * HOUR;
    await materialize(ws, store, { incremental: true, toMicros: to * MICROS });
    const mark = Math.max(...profileRows.map((r) => r.ts));
    // Correct the latest row of a user whose latest value is older than the mark, and the amount of a card's
    // latest transaction older than the txn mark; same event times, new values.
    const latest = latestProfiles(profileRows, -Infinity, to);
    const [user, row] = [...latest].filter(([, r]) => r.ts < mark).sort((a, b) => a[1].ts - b[1].ts)[0] as [number, ProfileRow];
    const corrected = profileRows.map((r) => (r === row ? { ...r, score: 4242 } : r));
    const txnMark = Math.max(...txnRows.map((r) => r.ts));
    const lastPerCard = new Map<number, TxnRow>();
    for (const r of txnRows) if (r.ts > (lastPerCard.get(r.card_id)?.ts ?? -Infinity)) lastPerCard.set(r.card_id, r);
    const target = [...lastPerCard.values()].filter((r) => r.ts < txnMark && txnRows.filter((t) => t.card_id === r.card_id && t.ts === r.ts).length === 1)[0] as TxnRow;
    const fixedTxns = txnRows.map((r) => (r === target ? { ...r, amount: r.amount + 1000 } : r));
    await build(corrected, fixedTxns);
    const results = await materialize(ws, store, { incremental: true, toMicros: to * MICROS });
    const profile = results.find((r) => r.view === 'profile');
    expect(profile?.fromMicros).toBe(row.ts * MICROS);
    expect(profile?.rewritten).not.toBeNull();
    expect((await readAll('profile', [user], ['score'])).get(user)).toEqual({ ts: row.ts, values: { score: 4242 } });
    const windows = results.find((r) => r.view === 'txn_windows');
    expect(windows?.fromMicros).toBe(target.ts * MICROS);
    const expected = windowedAsOfLatest(fixedTxns, -Infinity, to).get(target.card_id);
    const stored = (await readAll('txn_windows', [target.card_id], ['sum_1h'])).get(target.card_id);
    expect(stored?.values['sum_1h']).toBeCloseTo(expected?.sum_1h ?? Number.NaN, 6);
    // Nothing changed since: the next incremental run reaches back no further than its mark.
    const [again] = await materialize(ws, store, { views: ['profile'], incremental: true, toMicros: to * MICROS });
    expect(again?.rewritten).toBeNull();
    expect(again?.fromMicros).toBe(mark * MICROS);
  });

  it('--incremental resumes from the data\'s event times: history loaded after a run up to now is picked up', async () => {
    // Data from the past, materialised up to now (the default end): the run ends at today's wall clock.
    const firstRows = makeProfiles(11, 10, 60);
    await build(firstRows, makeTxns(6, 5, 50));
    const [run1] = await materialize(ws, store, { views: ['profile'], incremental: true });
    expect(run1?.written).toBe(latestProfiles(firstRows, -Infinity, Infinity).size);
    // More history arrives: later than the first rows, still long before now.
    const moreRows = makeProfiles(12, 10, 60, 100).map((r) => ({ ...r, user_id: r.user_id + 500 }));
    await build([...firstRows, ...moreRows], makeTxns(6, 5, 50));
    const [run2] = await materialize(ws, store, { views: ['profile'], incremental: true });
    expect(run2?.fromMicros).toBe(Math.max(...firstRows.map((r) => r.ts)) * MICROS);
    expect(run2?.written).toBeGreaterThanOrEqual(latestProfiles(moreRows, -Infinity, Infinity).size);
    const stored = await readAll('profile', [...latestProfiles(moreRows, -Infinity, Infinity).keys()], ['tier']);
    for (const [u, row] of latestProfiles(moreRows, -Infinity, Infinity)) expect(stored.get(u)).toEqual({ ts: row.ts, values: { tier: row.tier } });
    // A run that finds nothing new keeps the mark where it was.
    const [run3] = await materialize(ws, store, { views: ['profile'], incremental: true });
    const mark = Math.max(...moreRows.map((r) => r.ts)) * MICROS;
    expect(run3?.fromMicros).toBe(mark);
    expect((await ws.catalog.lastMaterialization('profile', store.location))?.resumeMicros).toBe(mark);
  });

  it('measures zero skew after materialisation, and finds an injected skew feature by feature', async () => {
    const profileRows = makeProfiles(8, 50, 500);
    const txnRows = makeTxns(9, 30, 600);
    await build(profileRows, txnRows);
    await materialize(ws, store, { toMicros: (T0 + 100 * HOUR) * MICROS });
    const clean = await measureSkew(ws, store, { service: 'model', sample: 1000 });
    expect(clean.passed).toBe(true);
    expect(clean.features.map((f) => [f.feature, f.compared, f.mismatches, f.missing, f.extra])).toEqual([
      ['score', 50, 0, 0, 0], ['tier', 50, 0, 0, 0], ['n_1h', 30, 0, 0, 0], ['sum_1h', 30, 0, 0, 0], ['distinct_6h', 30, 0, 0, 0],
    ]);

    // A different transform writes some values online: score scaled by 1.1 for 10 users (same event times),
    // tier dropped for 5 of them, and a user that does not exist offline.
    const latest = latestProfiles(profileRows, -Infinity, T0 + 100 * HOUR);
    const skewed = [...latest.values()].slice(0, 10).map((row, i) => ({
      key: encodeKey([{ name: 'user_id', type: 'int' }], [row.user_id]),
      eventTimeMicros: row.ts * MICROS,
      values: i < 5 ? { score: row.score * 1.1 } : { score: row.score * 1.1, tier: row.tier },
    }));
    skewed.push({ key: encodeKey([{ name: 'user_id', type: 'int' }], [9999]), eventTimeMicros: T0 * MICROS, values: { score: 1, tier: 'a' } });
    await store.write('profile', skewed);
    const report = await measureSkew(ws, store, { service: 'model', sample: 1000, threshold: 0.05 });
    expect(report.passed).toBe(false);
    const byFeature = Object.fromEntries(report.features.map((f) => [f.feature, f]));
    const scoreRowsChanged = skewed.slice(0, 10).filter((s) => s.values.score !== latest.get(JSON.parse(s.key)[0] as number)?.score).length;
    expect(byFeature['score']).toMatchObject({ compared: 51, mismatches: scoreRowsChanged, missing: 0, extra: 1 });
    expect(byFeature['score']?.smape).toBeGreaterThan(0);
    expect(byFeature['tier']).toMatchObject({ compared: 51, mismatches: 0, missing: 5, extra: 1 });
    expect(byFeature['n_1h']).toMatchObject({ mismatches: 0, missing: 0, extra: 0 });
    expect(byFeature['score']?.examples.length).toBeGreaterThan(0);
  });

  it('runs from the CLI: materialize, skew with exit code, list', async () => {
    fs.writeFileSync(path.join(dir, 'sluice.config.ts'), CONFIG);
    await writeParquet(path.join(dir, 'data/profiles.parquet'), valuesSql(makeProfiles(10, 20, 100) as unknown as Record<string, number | string>[], PROFILE_COLUMNS));
    const env = { SLUICE_ONLINE_URL: storeUrl };
    expect((await runCli(['run', '-p', dir], { env })).code).toBe(0);
    const mat = await runCli(['features', 'materialize', '--to', '2026-11-10', '--json', '-p', dir], { env });
    expect(mat.code, mat.stderr).toBe(0);
    const matJson = JSON.parse(mat.stdout) as { views: { view: string; written: number }[] };
    expect(matJson.views[0]).toMatchObject({ view: 'profile', written: 20 });
    const skew = await runCli(['features', 'skew', '--service', 'model', '--sample', '100', '-p', dir], { env });
    expect(skew.code, skew.stderr).toBe(0);
    expect(skew.stdout).toMatch(/no skew above 0\.00% in 2 feature\(s\) of model/);
    await store.write('profile', [{ key: encodeKey([{ name: 'user_id', type: 'int' }], [1]), eventTimeMicros: Date.UTC(2026, 10, 9) * MICROS, values: { score: -1, tier: 'zzz' } }]);
    const skewed = await runCli(['features', 'skew', '--service', 'model', '-p', dir], { env });
    expect(skewed.code).toBe(1);
    expect(skewed.stdout).toMatch(/skew above 0\.00%: profile\.score \(5\.00%\), profile\.tier \(5\.00%\)/);
    const unknown = await runCli(['features', 'skew', '--service', 'modle', '-p', dir], { env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no feature service named "modle".*did you mean "model"/);
    const list = await runCli(['features', 'list', '-p', dir], { env });
    expect(list.stdout).toMatch(/profile .*user\(user_id\).*profiles.*columns.*1d.*score, tier/);
  });
});
