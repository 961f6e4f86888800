// The churn pipeline: daily activity logs -> per-user daily aggregates -> 7- and 30-day rolling features
// joined with deduplicated user metadata -> `user_features`, one partition per day.
// Each feature's exact definition is in this folder's README.
import { asset, dailyPartitions, defineProject, entity, expect, extractAsset, featureService, featureView, fileSource, job, onDemandFeature, postgresSource } from 'sluice';

const days = dailyPartitions({ start: '2026-09-01' });

const logs = fileSource('logs', {
  format: 'parquet',
  path: 'data/logs/date={date}/*.parquet',
  partitions: days,
  columns: { event_id: 'VARCHAR', user_id: 'BIGINT', event_ts: 'TIMESTAMP', event_type: 'VARCHAR', session_seconds: 'INTEGER' },
  description: 'App events, one folder per arrival day; about 2% arrive a day late.',
});

const users = fileSource('users', {
  format: 'csv',
  path: 'data/users.csv',
  // Personal data, protected as it is read: e-mails hashed with the project's secret (SLUICE_PII_KEY, or on
  // embedded defaults one generated into .sluice/pii.key), phones masked to their last 4 digits, countries kept
  // (classified, so `sluice pii` shows where they go). Older exports without the two columns still read.
  columns: {
    user_id: 'BIGINT', signup_date: 'DATE', country: { type: 'VARCHAR', pii: 'address' }, plan: 'VARCHAR',
    email: { type: 'VARCHAR', optional: true, pii: 'email', policy: 'hash' },
    phone: { type: 'VARCHAR', optional: true, pii: 'phone', policy: 'mask' },
  },
  badRecords: 'dead-letter',
  description: 'User metadata export: has duplicates, nulls and malformed lines.',
});

// User metadata comes from users.csv, or, when CHURN_USERS_PG_URL is set, from a PostgreSQL table read
// incrementally: each run fetches the rows whose updated_at passed the last run's mark (minus 10 minutes for rows
// committed late) and upserts them by user_id. `sluice generate churn --postgres-url URL` loads that table.
const usersFromPostgres = process.env['CHURN_USERS_PG_URL'] !== undefined;

const usersLatest = extractAsset('users_latest', {
  source: postgresSource('users_pg', {
    urlEnv: 'CHURN_USERS_PG_URL',
    table: process.env['CHURN_USERS_PG_TABLE'] ?? 'users',
    cursor: 'updated_at',
    key: 'user_id',
    lookback: '10m',
    columns: { user_id: 'BIGINT', signup_date: 'DATE', country: 'VARCHAR', plan: 'VARCHAR', updated_at: 'TIMESTAMPTZ' },
  }),
  description: 'User metadata from PostgreSQL: the latest row per user_id',
  checks: [expect.columnValuesToBeUnique('user_id')],
});

const usersClean = usersFromPostgres
  ? asset('users_clean', {
    description: 'One row per user, from the PostgreSQL users table',
    sql: ({ ref }) => `SELECT user_id, signup_date, country, plan FROM ${ref(usersLatest)} WHERE user_id IS NOT NULL`,
  })
  : asset('users_clean', {
    description: 'One row per user: the most complete, most recent record',
    sql: ({ ref }) => `
      SELECT user_id, signup_date, country, plan, email, phone
      FROM ${ref(users)}
      WHERE user_id IS NOT NULL
      QUALIFY row_number() OVER (
        PARTITION BY user_id
        ORDER BY (country IS NULL)::INT + (plan IS NULL)::INT, signup_date DESC NULLS LAST, country NULLS LAST, plan NULLS LAST
      ) = 1`,
  });

// Late events land in the next day's folder, so day D reads folders D and D+1 and keeps events of day D.
const activityDaily = asset('user_activity_daily', {
  partitions: days,
  description: 'Per user and day (by event time): logins, session seconds, actions, events; events deduplicated by event_id',
  sql: ({ ref, partitionDate }) => `
    WITH events AS (
      SELECT *
      FROM ${ref(logs, { lookahead: 1 })}
      WHERE CAST(event_ts AS DATE) = ${partitionDate}
      -- a redelivered event counts once: keep its earliest copy (a total order, so reruns agree)
      QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY event_ts, user_id, event_type, session_seconds) = 1
    )
    SELECT
      user_id,
      count(*) FILTER (WHERE event_type = 'login') AS logins,
      coalesce(sum(session_seconds) FILTER (WHERE event_type = 'session_end'), 0)::BIGINT AS session_seconds,
      count(*) FILTER (WHERE event_type = 'action') AS actions,
      count(*) AS events,
      max(event_ts) AS last_event_at
    FROM events
    GROUP BY user_id`,
  checks: [
    expect.columnValuesToNotBeNull('user_id'),
    expect.compoundColumnsToBeUnique(['user_id', 'date']),
    expect.columnValuesToBeBetween('logins', { minValue: 0 }),
    expect.columnValuesToBeBetween('actions', { minValue: 0 }),
    // A user's finished sessions cannot add up to more than a day.
    expect.columnValuesToBeBetween('session_seconds', { minValue: 0, maxValue: 86_400 }),
    // Freshness: the day's newest event is within 6 hours of the day's end (a partial export warns).
    expect.columnMaxToBeWithinDurationOfNow('last_event_at', { maxAge: '6h', relativeTo: 'partition_end', severity: 'warn' }),
    expect.tableRowCountToNotBeAnomalous({ k: 4, severity: 'warn' }),
  ],
});

const userFeatures = asset('user_features', {
  partitions: days,
  // A day's partition is built shortly after the day ends: older than 26 hours means a daily run was missed.
  freshness: { maxLag: '26h' },
  description: 'Churn features per user active in the 30 days ending on the partition date (inclusive)',
  columns: {
    logins_7d: 'logins in the 7 days ending on date',
    logins_30d: 'logins in the 30 days ending on date',
    session_seconds_7d: 'seconds of finished sessions, 7 days',
    session_seconds_30d: 'seconds of finished sessions, 30 days',
    actions_7d: 'action events, 7 days',
    actions_30d: 'action events, 30 days',
    days_active_30d: 'days with at least one event, of the 30',
    days_since_last_login: 'date minus the last day with a login in the window; null if none',
    tenure_days: 'date minus signup_date',
    feature_time: 'when the row is final: the end of the partition date (its features use events through that day)',
  },
  sql: ({ ref, partitionDate: d }) => `
    WITH rolling AS (
      SELECT
        user_id,
        coalesce(sum(logins) FILTER (WHERE date >= ${d} - 6), 0)::BIGINT AS logins_7d,
        sum(logins)::BIGINT AS logins_30d,
        coalesce(sum(session_seconds) FILTER (WHERE date >= ${d} - 6), 0)::BIGINT AS session_seconds_7d,
        sum(session_seconds)::BIGINT AS session_seconds_30d,
        coalesce(sum(actions) FILTER (WHERE date >= ${d} - 6), 0)::BIGINT AS actions_7d,
        sum(actions)::BIGINT AS actions_30d,
        count(DISTINCT date) FILTER (WHERE events > 0) AS days_active_30d,
        ${d} - max(date) FILTER (WHERE logins > 0) AS days_since_last_login
      FROM ${ref(activityDaily, { lookback: 29 })}
      GROUP BY user_id
      HAVING sum(events) > 0
    )
    SELECT r.*, u.signup_date, u.country, u.plan, ${d} - u.signup_date AS tenure_days,
      CAST(${d} + 1 AS TIMESTAMP) AS feature_time
    FROM rolling r LEFT JOIN ${ref(usersClean)} u USING (user_id)`,
  checks: [
    expect.tableSchemaToMatch({
      columns: {
        user_id: 'BIGINT', logins_7d: 'BIGINT', logins_30d: 'BIGINT', session_seconds_7d: 'BIGINT', session_seconds_30d: 'BIGINT',
        actions_7d: 'BIGINT', actions_30d: 'BIGINT', days_active_30d: 'BIGINT', days_since_last_login: 'BIGINT',
        signup_date: 'DATE', country: 'VARCHAR', plan: 'VARCHAR', tenure_days: 'BIGINT', feature_time: 'TIMESTAMP', date: 'DATE',
      },
    }),
    expect.columnValuesToNotBeNull('user_id'),
    expect.columnValuesToNotBeNull('date'),
    expect.compoundColumnsToBeUnique(['user_id', 'date']),
    expect.columnValuesToBeBetween('logins_30d', { minValue: 0 }),
    expect.columnValuesToBeBetween('session_seconds_30d', { minValue: 0, maxValue: 30 * 86_400 }),
    expect.columnValuesToBeBetween('days_active_30d', { minValue: 1, maxValue: 30 }),
    expect.columnValuesToBeBetween('days_since_last_login', { minValue: 0, maxValue: 29 }),
    expect.rowConditionToHold({ condition: 'logins_7d <= logins_30d AND actions_7d <= actions_30d AND session_seconds_7d <= session_seconds_30d' }),
    expect.columnValuesToBeInSet('plan', { valueSet: ['free', 'basic', 'pro'], mostly: 0.99, severity: 'warn' }),
    // Day over day: the active-user count moves by at most 20%.
    expect.tableRowCountToBeWithinPercentOfPrevious({ percent: 20 }),
    // Drift of logins_7d against the previous day's distribution.
    expect.columnDriftPsiToBeLessThan('logins_7d', { threshold: 0.2, severity: 'warn' }),
  ],
});

// The feature store: what the churn model consumes, for training (point in time) and serving (online).
const user = entity('user', { keys: { user_id: 'int' }, description: 'an app user' });

// A day's row is valid from the end of that day (feature_time) until two days later: a lookup never sees a
// day's features before the day is over, and a user without a row in two days gets nulls, not old values.
const userProfile = featureView('user_profile', {
  entity: user,
  source: userFeatures,
  timestamp: 'feature_time',
  ttl: '2d',
  features: ['logins_7d', 'logins_30d', 'session_seconds_7d', 'actions_7d', 'days_active_30d', 'days_since_last_login', 'tenure_days', 'plan', 'country'],
});

// Windowed aggregations over the per-day activity rows, as of each row's last event.
const recentActivity = featureView('recent_activity', {
  entity: user,
  source: activityDaily,
  timestamp: 'last_event_at',
  ttl: '7d',
  aggregations: {
    active_days_14d: { function: 'count', window: '14d' },
    actions_avg_14d: { function: 'avg', column: 'actions', window: '14d' },
    logins_max_14d: { function: 'max', column: 'logins', window: '14d' },
  },
});

// Request data meets stored features: the same function runs in training sets and in serving.
const engagement = onDemandFeature('engagement', {
  inputs: [userProfile],
  request: { plan_price: 'float' },
  outputs: { logins_7d_share: 'float', price_per_active_day: 'float' },
  fn: (row) => {
    const logins7 = row['logins_7d'] as number | null;
    const logins30 = row['logins_30d'] as number | null;
    const active = row['days_active_30d'] as number | null;
    const price = row['plan_price'] as number | null;
    return {
      logins_7d_share: logins7 === null || logins30 === null || logins30 === 0 ? null : logins7 / logins30,
      price_per_active_day: price === null || active === null || active === 0 ? null : price / active,
    };
  },
});

const churnModel = featureService('churn_model_v1', {
  description: 'features of the churn model, version 1',
  features: [userProfile, recentActivity, engagement],
});

// Orchestration: every day at 02:00 UTC, build the day that just ended (and what it needs); ticks missed while no
// scheduler ran are caught up, at most 7 of them. `sluice backfill churn_daily --from D1 --to D2` builds a range.
const churnDaily = job('churn_daily', {
  assets: [userFeatures],
  schedule: { cron: '0 2 * * *', timezone: 'UTC', catchUp: { all: 7 }, partition: 'previous' },
  description: 'the daily churn features',
});

export default defineProject({
  name: 'churn',
  sources: usersFromPostgres ? [logs] : [logs, users],
  assets: [usersClean, activityDaily, userFeatures],
  featureServices: [churnModel],
  jobs: [churnDaily],
});
