// The churn pipeline's baseline in nodejs-polars: 30 daily aggregates from the late-arriving event logs, rolling
// user features for one day, joined with the deduplicated users.csv. It mirrors sluice's DuckDB SQL version
// definition for definition, so the two outputs can be compared row for row.
import fs from 'node:fs';
import path from 'node:path';
import pl from 'nodejs-polars';

export interface PolarsUserFeaturesOptions {
  /** A generated churn data directory: `logs/date=YYYY-MM-DD/part-0.parquet` and `users.csv`. */
  readonly dataDir: string;
  /** The feature date D, YYYY-MM-DD. */
  readonly date: string;
  readonly outFile: string;
}

const DAY_MS = 86_400_000;
const WINDOW_DAYS = 30;
const SHORT_DAYS = 7;
const USER_FIELDS = ['user_id', 'signup_date', 'country', 'plan'] as const;

export async function polarsUserFeatures(opts: PolarsUserFeaturesOptions): Promise<{ rows: number }> {
  const day = dayNumber(opts.date);
  const daily = dailyAggregates(opts.dataDir, day);
  const features = userFeatures(daily, day);
  const users = dedupedUsers(path.join(opts.dataDir, 'users.csv'));
  const out = await features
    .join(users, { on: 'user_id', how: 'left' })
    .select(
      pl.lit(day).cast(pl.Int32).cast(pl.Date).alias('date'),
      'user_id',
      'logins_7d',
      'logins_30d',
      'session_seconds_7d',
      'session_seconds_30d',
      'actions_7d',
      'actions_30d',
      'days_active_30d',
      'days_since_last_login',
      'signup_date',
      'country',
      'plan',
      pl.lit(day).sub(pl.col('signup_date').cast(pl.Int32)).cast(pl.Int64).alias('tenure_days'),
    )
    .sort('user_id')
    .collect();
  fs.mkdirSync(path.dirname(opts.outFile), { recursive: true });
  out.writeParquet(opts.outFile, { compression: 'zstd' });
  return { rows: out.height };
}

/**
 * One row per (user_id, day) for the 30 days ending on `day`: events whose own date is that day, read from its
 * folder and the next (late events land one folder later), each event counted once.
 */
function dailyAggregates(dataDir: string, day: number): pl.LazyDataFrame {
  const first = day - WINDOW_DAYS + 1;
  const files: string[] = [];
  for (let d = first; d <= day + 1; d++) {
    const file = path.join(dataDir, 'logs', `date=${dateString(d)}`, 'part-0.parquet');
    if (fs.existsSync(file)) files.push(file);
  }
  const empty = pl.DataFrame(
    { event_id: [], user_id: [], event_ts: [], event_type: [], session_seconds: [] },
    { schema: { event_id: pl.Utf8, user_id: pl.Int64, event_ts: pl.Datetime('us'), event_type: pl.Utf8, session_seconds: pl.Int32 } },
  ).lazy();
  const events = files.length === 0
    ? empty
    : pl.concat(files.map((f) => pl.scanParquet(f).select('event_id', 'user_id', 'event_ts', 'event_type', 'session_seconds')));
  const eventDay = pl.col('event_ts').cast(pl.Date).cast(pl.Int32);
  return events
    .withColumns(eventDay.alias('day'))
    .filter(pl.col('day').gtEq(first).and(pl.col('day').ltEq(day)))
    .unique({ subset: ['event_id'], keep: 'any' })
    .groupBy(['user_id', 'day'])
    .agg(
      pl.col('event_type').eq(pl.lit('login')).cast(pl.Int64).sum().alias('logins'),
      pl.when(pl.col('event_type').eq(pl.lit('session_end'))).then(pl.col('session_seconds').cast(pl.Int64))
        .otherwise(pl.lit(0)).fillNull(0).sum().cast(pl.Int64).alias('session_seconds'),
      pl.col('event_type').eq(pl.lit('action')).cast(pl.Int64).sum().alias('actions'),
      pl.len().cast(pl.Int64).alias('events'),
    );
}

/** Rolling 7- and 30-day sums, active days and days since the last login, per user active in the window. */
function userFeatures(daily: pl.LazyDataFrame, day: number): pl.LazyDataFrame {
  const inShort = pl.col('day').gtEq(day - SHORT_DAYS + 1);
  const shortSum = (c: string): pl.Expr => pl.when(inShort).then(pl.col(c)).otherwise(pl.lit(0)).sum().cast(pl.Int64);
  return daily
    .groupBy('user_id')
    .agg(
      shortSum('logins').alias('logins_7d'),
      pl.col('logins').sum().cast(pl.Int64).alias('logins_30d'),
      shortSum('session_seconds').alias('session_seconds_7d'),
      pl.col('session_seconds').sum().cast(pl.Int64).alias('session_seconds_30d'),
      shortSum('actions').alias('actions_7d'),
      pl.col('actions').sum().cast(pl.Int64).alias('actions_30d'),
      pl.col('events').gt(0).cast(pl.Int64).sum().alias('days_active_30d'),
      pl.when(pl.col('logins').gt(0)).then(pl.col('day')).otherwise(pl.lit(null)).max().alias('last_login_day'),
      pl.col('events').sum().alias('events_30d'),
    )
    .filter(pl.col('events_30d').gt(0))
    .withColumns(pl.lit(day).sub(pl.col('last_login_day')).cast(pl.Int64).alias('days_since_last_login'));
}

/**
 * users.csv read as raw lines (no delimiter, no quoting), because a CSV reader would pad or truncate ragged lines
 * and hide them. A line is kept when it has exactly four fields and its non-empty user_id and signup_date parse;
 * one row per user_id survives: fewest missing (country, plan), then latest signup_date, then country, then plan.
 */
function dedupedUsers(file: string): pl.LazyDataFrame {
  const raw = pl.readCSV(file, { sep: '\x1f', quoteChar: '', hasHeader: false, skipRows: 1, inferSchemaLength: 0 });
  const field = (i: number): pl.Expr => {
    const value = pl.col('fields').list.get(i);
    return pl.when(value.eq(pl.lit(''))).then(pl.lit(null)).otherwise(value).alias(USER_FIELDS[i] ?? `f${i}`);
  };
  const parsed = raw
    .lazy()
    .select(pl.col(raw.columns[0] ?? 'column_1').str.split(',').alias('fields'))
    .filter(pl.col('fields').list.lengths().eq(USER_FIELDS.length))
    .select(field(0), field(1), field(2), field(3))
    .withColumns(
      pl.col('user_id').cast(pl.Int64, false).alias('user_id_parsed'),
      pl.col('signup_date').str.strptime(pl.Date, '%Y-%m-%d').alias('signup_parsed'),
    )
    .filter(
      pl.col('user_id').isNull().or(pl.col('user_id_parsed').isNotNull())
        .and(pl.col('signup_date').isNull().or(pl.col('signup_parsed').isNotNull())),
    )
    .select(
      pl.col('user_id_parsed').alias('user_id'),
      pl.col('signup_parsed').alias('signup_date'),
      'country',
      'plan',
    );
  return parsed
    .withColumns(pl.col('country').isNull().cast(pl.Int32).add(pl.col('plan').isNull().cast(pl.Int32)).alias('null_fields'))
    .sort({
      by: ['null_fields', 'signup_date', 'country', 'plan'],
      descending: [false, true, false, false],
      nullsLast: true,
      maintainOrder: true,
    })
    .unique({ subset: ['user_id'], keep: 'first', maintainOrder: true })
    .drop('null_fields');
}

function dayNumber(date: string): number {
  return Math.floor(Date.parse(`${date}T00:00:00Z`) / DAY_MS);
}

function dateString(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}
