// The churn data generator: determinism, the log schema, late arrivals, and the messiness users.csv promises.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.ts';
import { SluiceError } from '../src/errors.ts';
import { generateChurn } from '../src/generate/churn.ts';
import type { GenerateSummary } from '../src/generate/churn.ts';
import { quoteLiteral } from '../src/sql/identifiers.ts';

const USERS = 3000;
const DAYS = 12;
const END = '2026-03-10';

let root: string;
let engine: Engine;
let summary: GenerateSummary;
let dir: string;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-churn-'));
  engine = await Engine.open({});
  dir = path.join(root, 'a');
  summary = await generateChurn({ users: USERS, days: DAYS, seed: 7, out: dir, endDate: END, engine });
});

afterAll(() => {
  engine.close();
  fs.rmSync(root, { recursive: true, force: true });
});

function fileHashes(out: string): Map<string, string> {
  const hashes = new Map<string, string>();
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else hashes.set(path.relative(out, p), crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
    }
  };
  walk(out);
  return hashes;
}

const logs = (): string => quoteLiteral(path.join(dir, 'logs', '*', '*.parquet'));

async function one<T extends Record<string, unknown>>(sql: string): Promise<T> {
  const rows = await engine.withSession((s) => s.query<T>(sql));
  const [row] = rows;
  if (row === undefined) throw new Error(`no row from ${sql}`);
  return row;
}

describe('generateChurn', () => {
  it('writes one zstd Parquet file per day ending on endDate, and users.csv', async () => {
    const folders = fs.readdirSync(path.join(dir, 'logs')).sort();
    expect(folders).toHaveLength(DAYS);
    expect(folders[0]).toBe('date=2026-02-27');
    expect(folders.at(-1)).toBe(`date=${END}`);
    expect(summary.startDate).toBe('2026-02-27');
    expect(summary.files.map((f) => f.path)).toEqual([...folders.map((f) => `logs/${f}/part-0.parquet`), 'users.csv']);
    for (const f of summary.files) expect(f.bytes).toBe(fs.statSync(path.join(dir, f.path)).size);
    expect(summary.totalBytes).toBe(summary.files.reduce((n, f) => n + f.bytes, 0));
    const codecs = await engine.withSession((s) =>
      s.query<{ compression: string }>(`SELECT DISTINCT compression FROM parquet_metadata(${logs()})`));
    expect(codecs.map((c) => c.compression)).toEqual(['ZSTD']);
  });

  it('is byte-identical for the same seed, whatever the thread count, and differs for another seed', async () => {
    const single = await Engine.open({ threads: 1 });
    try {
      await generateChurn({ users: USERS, days: DAYS, seed: 7, out: path.join(root, 'b'), endDate: END, engine: single });
    } finally {
      single.close();
    }
    await generateChurn({ users: USERS, days: DAYS, seed: 8, out: path.join(root, 'c'), endDate: END });
    const a = fileHashes(dir);
    const b = fileHashes(path.join(root, 'b'));
    const c = fileHashes(path.join(root, 'c'));
    expect(a.size).toBe(DAYS + 1);
    expect([...b]).toEqual([...a]);
    expect([...c.keys()]).toEqual([...a.keys()]);
    for (const [file, hash] of a) expect(c.get(file), file).not.toBe(hash);
  });

  it('has exactly the promised log schema and value domains', async () => {
    const columns = await engine.withSession((s) => s.describe(`SELECT * FROM read_parquet(${logs()}, hive_partitioning = false)`));
    expect(columns).toEqual([
      { name: 'event_id', type: 'VARCHAR' },
      { name: 'user_id', type: 'BIGINT' },
      { name: 'event_ts', type: 'TIMESTAMP' },
      { name: 'event_type', type: 'VARCHAR' },
      { name: 'session_seconds', type: 'INTEGER' },
      { name: 'device', type: 'VARCHAR' },
    ]);
    const r = await one<Record<string, bigint | number | boolean>>(`
      SELECT count(*) AS n, count(DISTINCT event_id) AS ids, min(user_id) AS lo, max(user_id) AS hi,
             count(*) FILTER (WHERE event_type NOT IN ('login', 'action', 'session_end', 'purchase', 'support_ticket')) AS bad_type,
             count(*) FILTER (WHERE device NOT IN ('ios', 'android', 'web') OR device IS NULL) AS bad_device,
             count(*) FILTER (WHERE (event_type = 'session_end') <> (session_seconds IS NOT NULL)) AS bad_session,
             min(session_seconds) AS s_lo, max(session_seconds) AS s_hi,
             count(DISTINCT event_type) AS types, count(DISTINCT hour(event_ts)) AS hours
      FROM read_parquet(${logs()})`);
    expect(r['n']).toBe(BigInt(summary.totalEvents));
    expect(r['ids']).toBe(r['n']);
    expect(Number(r['lo'])).toBeGreaterThanOrEqual(1);
    expect(Number(r['hi'])).toBeLessThanOrEqual(USERS);
    expect(r['bad_type']).toBe(0n);
    expect(r['bad_device']).toBe(0n);
    expect(r['bad_session']).toBe(0n);
    expect(Number(r['s_lo'])).toBeGreaterThanOrEqual(30);
    expect(Number(r['s_hi'])).toBeLessThanOrEqual(3600);
    expect(r['types']).toBe(5n);
    expect(r['hours']).toBe(24n);
  });

  it('looks like a product: about a third of users active a day, 8 to 15 events per active user-day', async () => {
    const r = await one<{ active_share: number; per_active: number }>(`
      WITH ud AS (SELECT user_id, CAST(event_ts AS DATE) AS day, count(*) AS n FROM read_parquet(${logs()}) GROUP BY ALL)
      SELECT count(*) / (${USERS} * ${DAYS}) AS active_share, avg(n) AS per_active FROM ud`);
    expect(r.active_share).toBeGreaterThan(0.25);
    expect(r.active_share).toBeLessThan(0.45);
    expect(r.per_active).toBeGreaterThan(8);
    expect(r.per_active).toBeLessThan(15);
  });

  it('writes about 2% of events one folder late, never elsewhere, and counts them in the summary', async () => {
    const perFolder = await engine.withSession((s) =>
      s.query<{ folder: string; events: bigint; late: bigint; misplaced: bigint }>(`
        SELECT strftime(folder, '%Y-%m-%d') AS folder, count(*) AS events,
               count(*) FILTER (WHERE CAST(event_ts AS DATE) = folder - 1) AS late,
               count(*) FILTER (WHERE CAST(event_ts AS DATE) NOT IN (folder, folder - 1)) AS misplaced
        FROM (SELECT *, CAST(regexp_extract(filename, 'date=([0-9-]+)', 1) AS DATE) AS folder
              FROM read_parquet(${logs()}, filename = true))
        GROUP BY folder ORDER BY folder`));
    expect(perFolder.map((r) => ({ date: r.folder, events: Number(r.events), late: Number(r.late) }))).toEqual(
      summary.eventsPerDay,
    );
    expect(perFolder.every((r) => r.misplaced === 0n)).toBe(true);
    expect(perFolder[0]?.late).toBe(0n);
    const late = perFolder.reduce((n, r) => n + Number(r.late), 0);
    expect(late / summary.totalEvents).toBeGreaterThan(0.01);
    expect(late / summary.totalEvents).toBeLessThan(0.03);
  });

  it('writes users.csv with one row per user, duplicates, nulls and exactly the reported malformed lines', () => {
    const lines = fs.readFileSync(path.join(dir, 'users.csv'), 'utf8').split('\n');
    expect(lines[0]).toBe('user_id,signup_date,country,plan,email,phone');
    expect(lines.at(-1)).toBe('');
    const data = lines.slice(1, -1);
    expect(data).toHaveLength(summary.userRows);

    const isDate = (s: string): boolean => {
      const ms = Date.parse(`${s}T00:00:00Z`);
      return /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === s;
    };
    const malformed = data.filter((l) => {
      const f = l.split(',');
      return f.length !== 6 || !/^\d+$/.test(f[0] ?? '') || !isDate(f[1] ?? '');
    });
    expect(malformed).toHaveLength(summary.malformedLines);
    expect(summary.malformedLines).toBeGreaterThanOrEqual(3);
    expect(malformed.some((l) => l.split(',').length < 6)).toBe(true);
    expect(malformed.some((l) => l.split(',').length === 6 && !/^\d+$/.test(l.split(',')[0] ?? ''))).toBe(true);
    expect(malformed.some((l) => l.split(',').length === 6 && /^\d+$/.test(l.split(',')[0] ?? ''))).toBe(true);

    const good = data.filter((l) => !malformed.includes(l)).map((l) => l.split(','));
    const ids = new Set(good.map((f) => Number(f[0])));
    expect(ids.size).toBe(USERS);
    expect(Math.min(...ids)).toBe(1);
    expect(Math.max(...ids)).toBe(USERS);
    expect(good.length - ids.size).toBe(summary.duplicateRows);
    expect(summary.duplicateRows).toBeGreaterThan(0);
    expect(summary.duplicateRows / USERS).toBeLessThan(0.03);
    const exact = good.length - new Set(good.map((f) => f.join(','))).size;
    expect(exact).toBeGreaterThan(0);
    expect(exact).toBeLessThan(summary.duplicateRows);
    const nulls = good.filter((f) => f[2] === '' || f[3] === '').length;
    expect(nulls).toBeGreaterThan(0);
    expect(nulls / USERS).toBeLessThan(0.03);
    const firstDay = Date.parse(`${summary.startDate}T00:00:00Z`);
    expect(good.every((f) => Date.parse(`${f[1] ?? ''}T00:00:00Z`) < firstDay)).toBe(true);
    expect(new Set(good.map((f) => f[3]).filter((p) => p !== ''))).toEqual(new Set(['free', 'basic', 'pro']));
    // Personal data: one fake e-mail and phone number per user, the same in its duplicate rows.
    expect(good.every((f) => new RegExp(`^user${f[0] ?? ''}@(example\\.com|mail\\.example\\.org|corp\\.example\\.net)$`).test(f[4] ?? ''))).toBe(true);
    expect(good.every((f) => /^\+1 555 \d{7}$/.test(f[5] ?? ''))).toBe(true);
    const phones = new Map<string, Set<string>>();
    for (const f of good) phones.set(f[0] ?? '', new Set([...(phones.get(f[0] ?? '') ?? []), f[5] ?? '']));
    expect([...phones.values()].every((set) => set.size === 1)).toBe(true);
  });

  it('rejects options it cannot honour, saying which', async () => {
    const out = path.join(root, 'bad');
    await expect(generateChurn({ users: 0, days: 3, seed: 1, out })).rejects.toThrow(/users/);
    await expect(generateChurn({ users: 5, days: 3, seed: 1.5, out })).rejects.toThrow(/seed/);
    await expect(generateChurn({ users: 5, days: 3, seed: 1, out, endDate: '2026-02-30' })).rejects.toBeInstanceOf(SluiceError);
  });

  it('generates a small case quickly', async () => {
    const s = await generateChurn({ users: 200, days: 40, seed: 3, out: path.join(root, 'small'), engine });
    expect(s.eventsPerDay).toHaveLength(40);
    expect(s.endDate).toBe('2026-11-25');
    expect(s.elapsedMs).toBeLessThan(5_000);
  });
});
