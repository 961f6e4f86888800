// Deterministic synthetic data for the churn example: daily event logs as Parquet partitions and a messy users.csv.
// Every row is drawn in DuckDB SQL from hashes of (seed, stream, key), never random(), so the same seed gives
// byte-identical files whatever the thread count.
import fs from 'node:fs';
import path from 'node:path';
import { Engine } from '../engine/engine.ts';
import type { Session } from '../engine/engine.ts';
import { SluiceError } from '../errors.ts';
import { quoteLiteral } from '../sql/identifiers.ts';

export interface GenerateChurnOptions {
  readonly users: number;
  readonly days: number;
  readonly seed: number;
  /** Directory to write into; the generator owns and replaces `logs/` and `users.csv` inside it. */
  readonly out: string;
  /** Last log day, YYYY-MM-DD. Default '2026-11-25'. */
  readonly endDate?: string | undefined;
  /** Engine to run on; a private one is opened (and closed) when absent. */
  readonly engine?: Engine | undefined;
}

export interface GeneratedFile {
  /** Path relative to `out`, with forward slashes. */
  readonly path: string;
  readonly bytes: number;
}

export interface DayCount {
  /** The log folder's date. */
  readonly date: string;
  /** Events written into the folder, late ones included. */
  readonly events: number;
  /** Events in the folder whose event_ts falls on the previous day. */
  readonly late: number;
}

export interface GenerateSummary {
  readonly out: string;
  readonly seed: number;
  readonly users: number;
  readonly startDate: string;
  readonly endDate: string;
  readonly files: readonly GeneratedFile[];
  readonly eventsPerDay: readonly DayCount[];
  readonly totalEvents: number;
  /** Data lines in users.csv (header excluded), duplicates and malformed lines included. */
  readonly userRows: number;
  readonly duplicateRows: number;
  readonly malformedLines: number;
  readonly totalBytes: number;
  readonly elapsedMs: number;
}

export const DEFAULT_END_DATE = '2026-11-25';

/** Share of a day's events that arrive a day late, landing in the next day's folder. */
const LATE_SHARE = 0.02;
/** Event numbers pack (day, user, session * SLOTS + slot) into one integer; 3 sessions * 21 slots fit in 64. */
const SLOTS = 21;
const DAY_MS = 86_400_000;
/** User-days generated per statement: one statement for small runs, bounded memory for large ones. */
const USER_DAYS_PER_CHUNK = 1_000_000;

export async function generateChurn(opts: GenerateChurnOptions): Promise<GenerateSummary> {
  const started = performance.now();
  const endDate = opts.endDate ?? DEFAULT_END_DATE;
  validate(opts, endDate);
  const endDay = dayNumber(endDate);
  const startDay = endDay - opts.days + 1;

  fs.mkdirSync(opts.out, { recursive: true });
  fs.rmSync(path.join(opts.out, 'logs'), { recursive: true, force: true });
  fs.rmSync(path.join(opts.out, 'users.csv'), { force: true });

  const engine = opts.engine ?? (await Engine.open({}));
  try {
    const result = await engine.withSession(async (s) => {
      // Ordered COPY output is only guaranteed with this on; it is instance-wide, so a caller's value is restored.
      const [setting] = await s.query<{ on: boolean }>("SELECT current_setting('preserve_insertion_order') AS on");
      await s.run('SET preserve_insertion_order = true');
      try {
        await defineDraws(s, opts.seed);
        await createUsers(s, opts.users, startDay, opts.days);
        const eventsPerDay = await writeLogs(s, opts, startDay);
        const csv = await writeUsersCsv(s, opts.out, opts.users);
        await s.run('DROP TABLE gen_users');
        return { eventsPerDay, csv };
      } finally {
        await s.run(`SET preserve_insertion_order = ${setting?.on === false ? 'false' : 'true'}`);
      }
    });
    const files = listFiles(opts.out, startDay, opts.days);
    return {
      out: opts.out,
      seed: opts.seed,
      users: opts.users,
      startDate: dateString(startDay),
      endDate,
      files,
      eventsPerDay: result.eventsPerDay,
      totalEvents: result.eventsPerDay.reduce((sum, d) => sum + d.events, 0),
      userRows: result.csv.rows,
      duplicateRows: result.csv.duplicates,
      malformedLines: result.csv.malformed,
      totalBytes: files.reduce((sum, f) => sum + f.bytes, 0),
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    if (opts.engine === undefined) engine.close();
  }
}

function validate(opts: GenerateChurnOptions, endDate: string): void {
  const bad = (field: string, rule: string, value: unknown): SluiceError =>
    new SluiceError('CONFIG_INVALID', `generateChurn: ${field} ${JSON.stringify(value)} is invalid: ${rule}`, { field });
  if (!Number.isSafeInteger(opts.users) || opts.users < 1) throw bad('users', 'use a positive integer', opts.users);
  if (!Number.isSafeInteger(opts.days) || opts.days < 1) throw bad('days', 'use a positive integer', opts.days);
  if (!Number.isSafeInteger(opts.seed)) throw bad('seed', 'use an integer', opts.seed);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(endDate) || Number.isNaN(dayNumber(endDate)) || dateString(dayNumber(endDate)) !== endDate) {
    throw bad('endDate', 'use a real calendar date written YYYY-MM-DD', endDate);
  }
}

/** Days since 1970-01-01 (UTC) of a YYYY-MM-DD date. */
export function dayNumber(date: string): number {
  return Math.floor(Date.parse(`${date}T00:00:00Z`) / DAY_MS);
}

function dateString(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/**
 * `rnd(stream, a, b)` is a uniform draw in [0, 1) fixed by (seed, stream, a, b). DuckDB combines the hashes of
 * several arguments with a final XOR, which would make two streams differ by a constant per key; hashing the
 * combined hash again mixes every bit.
 */
export async function defineDraws(s: Session, seed: number): Promise<void> {
  await s.run(`
    CREATE OR REPLACE TEMP MACRO rnd(stream, a, b) AS
      (hash(hash(${seed}::BIGINT, stream::BIGINT, a::BIGINT, b::BIGINT)) >> 11)::DOUBLE / 9007199254740992.0`);
}

/**
 * One row per user with the latent traits that drive the logs: plan, home country and device, signup date before
 * the first log day, daily activity probability (by plan, spread per user) and, for about 20%, a churn day
 * (index into the window) from which the user is gone.
 */
export async function createUsers(s: Session, users: number, startDay: number, days: number): Promise<void> {
  await s.run(`
    CREATE OR REPLACE TEMP TABLE gen_users AS
    WITH draws AS (
      SELECT range + 1 AS user_id,
             rnd(1, range + 1, 0) AS u_plan, rnd(2, range + 1, 0) AS u_country, rnd(3, range + 1, 0) AS u_device,
             rnd(4, range + 1, 0) AS u_signup, rnd(5, range + 1, 0) AS u_churn, rnd(6, range + 1, 0) AS u_churn_day,
             rnd(7, range + 1, 0) AS u_level
      FROM range(${users})
    ), traits AS (
      SELECT user_id, u_level, u_churn, u_churn_day, u_signup,
             CASE WHEN u_plan < 0.60 THEN 'free' WHEN u_plan < 0.88 THEN 'basic' ELSE 'pro' END AS plan,
             CASE WHEN u_country < 0.30 THEN 'US' WHEN u_country < 0.44 THEN 'GB' WHEN u_country < 0.56 THEN 'DE'
                  WHEN u_country < 0.66 THEN 'IN' WHEN u_country < 0.75 THEN 'FR' WHEN u_country < 0.84 THEN 'BR'
                  WHEN u_country < 0.92 THEN 'JP' ELSE 'CA' END AS country,
             CASE WHEN u_device < 0.40 THEN 'ios' WHEN u_device < 0.75 THEN 'android' ELSE 'web' END AS device
      FROM draws
    )
    SELECT user_id, plan, country, device,
           -- up to three years before the window, most signups recent
           (DATE '1970-01-01' + (${startDay} - 1 - floor(u_signup * u_signup * 1095))::INTEGER) AS signup_date,
           CASE WHEN u_churn < 0.20 THEN floor(u_churn_day * ${days})::INTEGER END AS churn_day,
           (CASE plan WHEN 'free' THEN 0.28 WHEN 'basic' THEN 0.48 ELSE 0.62 END) * (0.4 + 1.2 * u_level) AS p_active,
           CASE plan WHEN 'free' THEN 2 ELSE 3 END AS max_sessions,
           CASE plan WHEN 'free' THEN 7 WHEN 'basic' THEN 9 ELSE 11 END AS max_actions,
           CASE plan WHEN 'free' THEN 0.01 WHEN 'basic' THEN 0.04 ELSE 0.08 END AS p_purchase
    FROM traits`);
}

/**
 * The events of log days [d0, d1) (indexes into the window), each with its event number and the index of the
 * folder it lands in. An active user-day has 1..3 sessions spread over the day; each session is a login, 0..N
 * actions, a session_end carrying its length, and sometimes a purchase or a support ticket. Activity halves in
 * the week before a user churns and dips at weekends.
 */
function eventsSql(users: number, startDay: number, days: number, d0: number, d1: number): string {
  return `
    WITH user_days AS (
      SELECT user_id, device, max_sessions, max_actions, p_purchase, p_active, churn_day, di,
             ${startDay} + di AS day
      FROM gen_users CROSS JOIN (SELECT range::INTEGER AS di FROM range(${d0}, ${d1}))
      WHERE churn_day IS NULL OR di < churn_day
    ), active AS (
      SELECT user_id, device, max_actions, p_purchase, di, day,
             1 + floor(rnd(11, user_id, di) * max_sessions)::INTEGER AS n_sessions
      FROM user_days
      WHERE rnd(10, user_id, di) < least(0.95, p_active
              * (CASE WHEN isodow(DATE '1970-01-01' + day) >= 6 THEN 0.85 ELSE 1.0 END)
              * (CASE WHEN churn_day - di <= 7 THEN 0.5 ELSE 1.0 END))
    ), sessions AS (
      SELECT active.*, i AS sess FROM active JOIN gen_slots ON n = n_sessions
    ), shaped AS (
      SELECT *, di * 4 + sess AS skey,
             30 + floor(3570 * pow(rnd(12, user_id, di * 4 + sess), 3))::INTEGER AS len_s,
             floor(rnd(13, user_id, di * 4 + sess) * (max_actions + 1))::INTEGER AS n_actions,
             86400 // n_sessions AS segment
      FROM sessions
    ), timed AS (
      SELECT *,
             (day::BIGINT * 86400 + sess * segment + floor(rnd(14, user_id, skey) * (segment - len_s - 1)))::BIGINT
               * 1000 + floor(rnd(15, user_id, skey) * 1000)::BIGINT AS start_ms,
             CASE WHEN rnd(16, user_id, skey) < 0.85 THEN device
                  ELSE ['ios', 'android', 'web'][1 + floor(rnd(17, user_id, skey) * 3)::INTEGER] END AS session_device,
             rnd(18, user_id, skey) < p_purchase AS has_purchase,
             rnd(19, user_id, skey) < 0.015 AS has_ticket
      FROM shaped
    ), slots AS (
      SELECT timed.*, i AS slot FROM timed JOIN gen_slots ON n = n_actions + 4
    ), events AS (
      SELECT (di::BIGINT * ${users} + user_id - 1) * 64 + sess * ${SLOTS} + slot AS num,
             user_id, session_device AS device, start_ms, len_s, di,
             CASE WHEN slot = 0 THEN 'login' WHEN slot <= n_actions THEN 'action'
                  WHEN slot = n_actions + 1 THEN 'session_end' WHEN slot = n_actions + 2 THEN 'purchase'
                  ELSE 'support_ticket' END AS event_type
      FROM slots
      WHERE slot <= n_actions + 1 OR (slot = n_actions + 2 AND has_purchase) OR (slot = n_actions + 3 AND has_ticket)
    )
    SELECT num, user_id,
           make_timestamp(1000 * CASE event_type
             WHEN 'login' THEN start_ms
             WHEN 'session_end' THEN start_ms + 1000 * len_s
             ELSE start_ms + floor(rnd(20, user_id, num) * 1000 * len_s)::BIGINT END) AS event_ts,
           event_type,
           CASE WHEN event_type = 'session_end' THEN len_s END::INTEGER AS session_seconds,
           device,
           -- the last day's late events have no later folder to land in
           di + CASE WHEN di < ${days - 1} AND rnd(21, user_id, num) < ${LATE_SHARE} THEN 1 ELSE 0 END AS folder
    FROM events`;
}

/**
 * A few days at a time (about USER_DAYS_PER_CHUNK user-days, so memory stays bounded and small runs take one
 * statement): folder D holds day D's punctual events plus day D-1's late ones; the late events of a chunk's last
 * day wait in a small carry table for the next chunk.
 */
async function writeLogs(s: Session, opts: GenerateChurnOptions, startDay: number): Promise<DayCount[]> {
  const counts: DayCount[] = [];
  // Expanding a row into n rows by an equi-join on this small table is much faster than unnest(range(n)).
  await s.run(`CREATE OR REPLACE TEMP TABLE gen_slots AS
    SELECT n::INTEGER AS n, unnest(range(n))::INTEGER AS i FROM range(1, ${SLOTS + 1}) t(n)`);
  const chunkDays = Math.max(1, Math.floor(USER_DAYS_PER_CHUNK / opts.users));
  await s.run(`CREATE OR REPLACE TEMP TABLE gen_carry AS
    SELECT * FROM (${eventsSql(opts.users, startDay, opts.days, 0, 0)}) LIMIT 0`);
  for (let d0 = 0; d0 < opts.days; d0 += chunkDays) {
    const d1 = Math.min(opts.days, d0 + chunkDays);
    await s.run(`CREATE OR REPLACE TEMP TABLE gen_chunk AS
      SELECT * FROM (${eventsSql(opts.users, startDay, opts.days, d0, d1)})
      UNION ALL SELECT * FROM gen_carry`);
    const perFolder = await s.query<{ folder: number; events: bigint; late: bigint }>(`
      SELECT folder, count(*) AS events, count(*) FILTER (WHERE event_ts < DATE '1970-01-01' + ${startDay} + folder) AS late
      FROM gen_chunk WHERE folder < ${d1} GROUP BY folder`);
    for (let di = d0; di < d1; di++) {
      const date = dateString(startDay + di);
      const dir = path.join(opts.out, 'logs', `date=${date}`);
      fs.mkdirSync(dir, { recursive: true });
      await s.run(`
        COPY (
          SELECT 'e' || num AS event_id, user_id, event_ts, event_type, session_seconds, device
          FROM gen_chunk WHERE folder = ${di}
          ORDER BY event_ts, num
        ) TO ${quoteLiteral(path.join(dir, 'part-0.parquet'))} (FORMAT parquet, COMPRESSION zstd)`);
      const found = perFolder.find((r) => r.folder === di);
      counts.push({ date, events: Number(found?.events ?? 0n), late: Number(found?.late ?? 0n) });
    }
    await s.run(`CREATE OR REPLACE TEMP TABLE gen_carry AS SELECT * FROM gen_chunk WHERE folder = ${d1}`);
  }
  await s.run('DROP TABLE gen_chunk; DROP TABLE gen_carry; DROP TABLE gen_slots');
  return counts;
}

interface CsvCounts {
  readonly rows: number;
  readonly duplicates: number;
  readonly malformed: number;
}

/**
 * users.csv as a CRM export would give it: one row per user (about 0.5% missing country or plan), about 1%
 * repeated (half exact copies, half copies missing country or plan) right after the original, and a few
 * malformed lines spliced in at fixed positions: too few fields, a non-numeric user_id, an impossible date, too
 * many fields.
 */
// Personal data for the governance example: an e-mail address and a phone number per user (deterministic, fake:
// example.* domains and 555 numbers), the same in a user's duplicate rows.
const EMAIL_SQL = "'user' || user_id || '@' || (['example.com', 'mail.example.org', 'corp.example.net'])[1 + floor(rnd(32, user_id, 0) * 3)::INTEGER]";
const PHONE_SQL = "'+1 555 ' || lpad(CAST(floor(rnd(33, user_id, 0) * 10000000)::BIGINT AS VARCHAR), 7, '0')";

async function writeUsersCsv(s: Session, out: string, users: number): Promise<CsvCounts> {
  const file = path.join(out, 'users.csv');
  await s.run(`
    COPY (
      WITH base AS (
        SELECT user_id, signup_date, rnd(30, user_id, 0) AS u_null, rnd(31, user_id, 0) AS u_dup,
               CASE WHEN rnd(30, user_id, 0) < 0.0025 THEN NULL ELSE country END AS country,
               CASE WHEN rnd(30, user_id, 0) >= 0.0025 AND rnd(30, user_id, 0) < 0.005 THEN NULL ELSE plan END AS plan,
               ${EMAIL_SQL} AS email, ${PHONE_SQL} AS phone
        FROM gen_users
      ), rows AS (
        SELECT user_id, signup_date, country, plan, email, phone, 0 AS copy FROM base
        UNION ALL
        SELECT user_id, signup_date,
               CASE WHEN u_dup < 0.003 THEN NULL ELSE country END,
               CASE WHEN u_dup >= 0.003 AND u_dup < 0.005 THEN NULL ELSE plan END,
               email, phone,
               1 AS copy
        FROM base WHERE u_dup < 0.01
      )
      SELECT user_id, signup_date, country, plan, email, phone FROM rows ORDER BY user_id, copy
    ) TO ${quoteLiteral(file)} (FORMAT csv, HEADER)`);
  const [dup] = await s.query<{ n: bigint }>('SELECT count(*) AS n FROM gen_users WHERE rnd(31, user_id, 0) < 0.01');
  const duplicates = Number(dup?.n ?? 0n);

  const malformed = Math.max(3, Math.floor(users / 2000));
  const picked = await s.query<{ k: bigint; user_id: bigint; signup_date: string; country: string; plan: string; email: string; phone: string }>(`
    SELECT range AS k, user_id, strftime(signup_date, '%Y-%m-%d') AS signup_date, country, plan, ${EMAIL_SQL} AS email, ${PHONE_SQL} AS phone
    FROM range(${malformed})
    JOIN gen_users ON user_id = 1 + floor(rnd(40, range, 0) * ${users})::BIGINT
    ORDER BY k`);
  const bad = picked.map((p) => malformedLine(Number(p.k), String(p.user_id), p.signup_date, `${p.country},${p.plan},${p.email},${p.phone}`));

  const lines = fs.readFileSync(file, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const dataRows = lines.length - 1;
  // Insert from the back so earlier positions stay valid; positions are evenly spread over the data lines.
  for (let k = bad.length - 1; k >= 0; k--) {
    lines.splice(1 + Math.floor(((k + 1) * dataRows) / (bad.length + 1)), 0, bad[k] ?? '');
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return { rows: dataRows + bad.length, duplicates, malformed: bad.length };
}

/** The k-th malformed line, cycling through the kinds a hand-edited export tends to have. */
/** A broken users.csv line: too few fields, a bad user id, a bad date, or one field too many. `rest` is country..phone. */
function malformedLine(k: number, userId: string, signup: string, rest: string): string {
  const variant = Math.floor(k / 4) % 3;
  const country = rest.split(',')[0] ?? '';
  switch (k % 4) {
    case 0:
      return `${userId},${signup},${country}`;
    case 1:
      return `${['abc', `user_${userId}`, `${userId}x`][variant] ?? 'abc'},${signup},${rest}`;
    case 2:
      return `${userId},${['2026-13-45', '2025-02-30', 'yesterday'][variant] ?? '2026-13-45'},${rest}`;
    default:
      return `${userId},${signup},${rest},${country}`;
  }
}

function listFiles(out: string, startDay: number, days: number): GeneratedFile[] {
  const rel = [...Array.from({ length: days }, (_, i) => `logs/date=${dateString(startDay + i)}/part-0.parquet`), 'users.csv'];
  return rel.map((p) => ({ path: p, bytes: fs.statSync(path.join(out, p)).size }));
}
