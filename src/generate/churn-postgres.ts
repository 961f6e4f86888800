// The churn users as a PostgreSQL table with an `updated_at` column, for the incremental PostgreSQL source: the
// same users (drawn in DuckDB from the seed) as users.csv, and batches of updates for later runs to pick up.
import pg from 'pg';
import { Engine } from '../engine/engine.ts';
import { errorMessage, redactUrl, SluiceError } from '../errors.ts';
import { createUsers, dayNumber, defineDraws, DEFAULT_END_DATE } from './churn.ts';

export interface LoadUsersOptions {
  readonly users: number;
  readonly seed: number;
  /** The log window the users are drawn for (signup dates fall before it); as in generateChurn. */
  readonly days?: number | undefined;
  readonly endDate?: string | undefined;
  readonly engine?: Engine | undefined;
}

export interface LoadUsersSummary {
  readonly table: string;
  readonly rows: number;
  /** The greatest updated_at loaded (ISO). */
  readonly maxUpdatedAt: string;
}

export interface UserUpdates {
  /** Existing users whose plan changes (chosen by the seed). */
  readonly updates: number;
  /** New users added after the current greatest user_id. */
  readonly inserts?: number | undefined;
  readonly seed: number;
  /** The updated_at of the changed rows (each one microsecond apart); now by default. */
  readonly at?: Date | undefined;
}

export interface UserUpdatesSummary {
  readonly updated: number;
  readonly inserted: number;
  readonly updatedAt: string;
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
const BATCH = 5000;

function qualified(table: string): string {
  if (!TABLE_NAME.test(table)) {
    throw new SluiceError('CONFIG_INVALID', `PostgreSQL table ${JSON.stringify(table)} is invalid: use a name such as users or crm.users`);
  }
  return table.split('.').map((part) => `"${part}"`).join('.');
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    throw new SluiceError('CONFIG_INVALID', `cannot connect to PostgreSQL at ${redactUrl(url)}: ${errorMessage(error)}`, {}, { cause: error });
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * (Re)create `table` with one row per churn user: user_id (primary key), signup_date, country, plan, device and
 * updated_at (a time on the signup day). The same seed gives the same rows.
 */
export async function loadUsersToPostgres(url: string, table: string, options: LoadUsersOptions): Promise<LoadUsersSummary> {
  const target = qualified(table);
  if (!Number.isSafeInteger(options.users) || options.users < 1) throw new SluiceError('CONFIG_INVALID', `loadUsersToPostgres: users ${options.users} is invalid: use a positive integer`);
  const days = options.days ?? 35;
  const startDay = dayNumber(options.endDate ?? DEFAULT_END_DATE) - days + 1;
  const engine = options.engine ?? (await Engine.open({}));
  try {
    return await engine.withSession((s) => withClient(url, async (client) => {
      await defineDraws(s, options.seed);
      await createUsers(s, options.users, startDay, days);
      await client.query('BEGIN');
      await client.query(`DROP TABLE IF EXISTS ${target}`);
      await client.query(`CREATE TABLE ${target} (user_id BIGINT PRIMARY KEY, signup_date DATE NOT NULL, country TEXT, plan TEXT NOT NULL, device TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL)`);
      let rows = 0;
      // DuckDB draws the rows; the loop only moves them, a batch per INSERT of parallel arrays.
      for await (const chunk of s.stream(`
        SELECT user_id::VARCHAR AS user_id, signup_date::VARCHAR AS signup_date, country, plan, device,
               strftime(signup_date + to_seconds(floor(rnd(50, user_id, 0) * 86400)::BIGINT), '%Y-%m-%dT%H:%M:%SZ') AS updated_at
        FROM gen_users ORDER BY user_id`)) {
        for (let i = 0; i < chunk.length; i += BATCH) {
          const part = chunk.slice(i, i + BATCH);
          const column = (name: string): unknown[] => part.map((r) => r[name]);
          await client.query(
            `INSERT INTO ${target} SELECT * FROM unnest($1::bigint[], $2::date[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])`,
            [column('user_id'), column('signup_date'), column('country'), column('plan'), column('device'), column('updated_at')],
          );
          rows += part.length;
        }
      }
      await client.query('COMMIT');
      await s.run('DROP TABLE gen_users');
      const [max] = (await client.query<{ max: string }>(`SELECT to_char(max(updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS max FROM ${target}`)).rows;
      return { table, rows, maxUpdatedAt: max?.max ?? '' };
    }));
  } finally {
    if (options.engine === undefined) engine.close();
  }
}

/**
 * A batch of changes for an incremental run to pick up: `updates` users (chosen by the seed) move to the next
 * plan (free -> basic -> pro -> free) and `inserts` new users sign up, all with updated_at = `at`.
 */
export async function applyUserUpdates(url: string, table: string, options: UserUpdates): Promise<UserUpdatesSummary> {
  const target = qualified(table);
  const at = (options.at ?? new Date()).toISOString();
  return withClient(url, async (client) => {
    await client.query('BEGIN');
    const updated = await client.query(`
      UPDATE ${target} AS u SET plan = CASE u.plan WHEN 'free' THEN 'basic' WHEN 'basic' THEN 'pro' ELSE 'free' END,
             updated_at = $1::timestamptz + pick.n * INTERVAL '1 microsecond'
      FROM (SELECT user_id, row_number() OVER (ORDER BY md5(user_id::text || ':' || $2::text)) AS n FROM ${target}) AS pick
      WHERE pick.user_id = u.user_id AND pick.n <= $3`, [at, options.seed, options.updates]);
    const inserted = await client.query(`
      INSERT INTO ${target}
      SELECT m.top + i, ($1::timestamptz)::date, (ARRAY['US','GB','DE','IN','FR','BR','JP','CA'])[1 + (m.top + i) % 8], 'free',
             (ARRAY['ios','android','web'])[1 + (m.top + i) % 3], $1::timestamptz + ($3::int + i) * INTERVAL '1 microsecond'
      FROM (SELECT coalesce(max(user_id), 0) AS top FROM ${target}) AS m, generate_series(1, $2::int) AS i`, [at, options.inserts ?? 0, options.updates]);
    await client.query('COMMIT');
    return { updated: updated.rowCount ?? 0, inserted: inserted.rowCount ?? 0, updatedAt: at };
  });
}
