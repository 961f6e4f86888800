// Assets: named tables produced by SQL over sources and other assets. The SQL is a function of a context
// whose `ref` both names a dependency in the SQL and records it, so the graph is never declared twice.
import { SluiceError } from '../errors.ts';
import type { ExpectationConfig, Suite } from './checks.ts';
import { partitionLiteral, partitionValues, timeRange, timestampLiteral, type Partitions } from './partitions.ts';
import type { ExtractSpec } from './extract.ts';
import type { FileSource } from './source.ts';
import { parseDuration } from './duration.ts';
import { protectionsOf, type ColumnPiiOptions, type ColumnProtection } from './pii.ts';

export interface RetryPolicy {
  /** Attempts after the first one. */
  readonly retries: number;
  /** Delay before the first retry; doubles on each attempt. */
  readonly backoffMs: number;
  readonly maxDelayMs: number;
  /** Retry every error, not only transient ones (network, lock, timeout). */
  readonly retryAll: boolean;
  /** Fail an attempt that runs longer than this (a timeout is transient, so it is retried); none when absent. */
  readonly timeoutMs?: number | undefined;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ retries: 2, backoffMs: 500, maxDelayMs: 30_000, retryAll: false });

/** How stale an asset may get: its last successful build (committed or confirmed unchanged) at most `maxLag` ago. */
export interface FreshnessPolicy {
  /** A duration such as '26h'. */
  readonly maxLag: string;
  readonly maxLagMs: number;
}

/** One column of an asset's declared schema contract. */
export interface ColumnContract {
  /** A DuckDB type; the output's type must be it or fit it (INT fits BIGINT). */
  readonly type: string;
  /** Whether NULLs are allowed (default true). */
  readonly nullable: boolean;
}

/**
 * How an asset's table schema may change between commits: 'evolve' (default: added columns and widened
 * types are accepted and recorded, anything else refused), 'strict' (any change refused), or a contract
 * the output must keep (exactly these columns, types that fit, no NULL where not nullable).
 */
export type AssetSchema = 'evolve' | 'strict' | { readonly columns: Readonly<Record<string, ColumnContract>> };

export interface RefOptions {
  /** Also read this many partitions before the current one (a 30-day window is `lookback: 29`). */
  readonly lookback?: number;
  /** Also read this many partitions after the current one (e.g. events that arrive a day late). */
  readonly lookahead?: number;
}

/** Anything an asset can read: a source or another asset. */
export type Dataset = FileSource | Asset;

export interface SqlContext {
  /** A relation name for a dependency, restricted to the partition window when both sides are partitioned. */
  readonly ref: (dataset: Dataset | string, options?: RefOptions) => string;
  /** The partition key being built (`2026-11-25`, `2026-11-25T05`, `eu`), or null for an unpartitioned asset. */
  readonly partition: string | null;
  /** The partition's day as a SQL DATE literal, e.g. `DATE '2026-11-25'` (daily and hourly partitions). */
  readonly partitionDate: string;
  /** The partition column's value as a SQL literal: `DATE '2026-11-25'`, `TIMESTAMP '2026-11-25 05:00:00'`, `'eu'`. */
  readonly partitionValue: string;
  /** Each partition column's value as a SQL literal, by column name (for two-dimensional partitions). */
  readonly partitionValues: Readonly<Record<string, string>>;
  /** Start and end (exclusive) of a time partition as TIMESTAMP literals, for `WHERE ts >= start AND ts < end`. */
  readonly partitionStart: string;
  readonly partitionEnd: string;
}

/** The partition fields of a SqlContext for `key` of `asset` (getters that throw when they do not apply). */
export function partitionContext(asset: { readonly name: string; readonly partitions: Partitions | undefined }, key: string | null): Pick<SqlContext, 'partition' | 'partitionDate' | 'partitionValue' | 'partitionValues' | 'partitionStart' | 'partitionEnd'> {
  const partitioned = (what: string): { partitions: Partitions; key: string } => {
    if (key === null || asset.partitions === undefined) throw new SluiceError('DEFINITION_INVALID', `asset "${asset.name}" is not partitioned, so its SQL cannot use ${what}`, { asset: asset.name });
    return { partitions: asset.partitions, key };
  };
  const range = (what: string): { start: number; end: number } => {
    const { partitions, key: k } = partitioned(what);
    const found = timeRange(partitions, k);
    if (found === undefined) throw new SluiceError('DEFINITION_INVALID', `asset "${asset.name}" has static partitions, which have no time: its SQL cannot use ${what}`, { asset: asset.name });
    return found;
  };
  return {
    partition: key,
    get partitionDate() {
      return `DATE '${new Date(range('partitionDate').start).toISOString().slice(0, 10)}'`;
    },
    get partitionValue() {
      const { partitions, key: k } = partitioned('partitionValue');
      if (partitions.kind === 'multi') throw new SluiceError('DEFINITION_INVALID', `asset "${asset.name}" has two partition columns (${partitions.column}): use partitionValues.${partitions.static.column} or partitionValues.${partitions.time.column}`, { asset: asset.name });
      return partitionLiteral(partitions, k);
    },
    get partitionValues() {
      const { partitions, key: k } = partitioned('partitionValues');
      return Object.fromEntries(partitionValues(partitions, k).map((v) => [v.name, v.literal]));
    },
    get partitionStart() {
      return timestampLiteral(range('partitionStart').start);
    },
    get partitionEnd() {
      return timestampLiteral(range('partitionEnd').end);
    },
  };
}

export type AssetSql = (ctx: SqlContext) => string;

export interface Asset<N extends string = string> {
  readonly kind: 'asset';
  readonly name: N;
  readonly sql: AssetSql;
  readonly partitions: Partitions | undefined;
  readonly retry: RetryPolicy;
  readonly description: string | undefined;
  /** Column descriptions, shown by `sluice show`. */
  readonly columns: Readonly<Record<string, string>> | undefined;
  /**
   * Data-quality checks run on each built partition before it is published: a failing `error` check
   * publishes nothing; a failing `warn` check is recorded and the run goes on.
   */
  readonly checks: readonly ExpectationConfig[];
  /** The freshness SLA: shown by `sluice status`, exported as a metric, alerted on and sensed when breached. */
  readonly freshness: FreshnessPolicy | undefined;
  /** Set by `extractAsset`: the step pulls rows from a PostgreSQL or HTTP source instead of running `sql`. */
  readonly extract?: ExtractSpec | undefined;
  /** Schema evolution policy or contract (default 'evolve'). */
  readonly schema?: AssetSchema | undefined;
  /** Publish a partition with no rows where the previous version had some (default: refused). */
  readonly allowEmpty?: boolean | undefined;
  /**
   * Dynamic partitions: the table is split by this output column, one partition per value found in the data
   * (keys discovered by each run; keys no longer in the output are removed). One step builds every key.
   */
  readonly partitionBy?: string | undefined;
  /** Personal data in the output: each column's class and the policy applied to it before it is written. */
  readonly protect?: Readonly<Record<string, ColumnProtection>> | undefined;
  /** `pii: 'forbidden'`: loading the project fails if unprotected personal data can reach this asset. */
  readonly piiForbidden?: boolean | undefined;
}

export interface AssetOptions {
  readonly sql: AssetSql | string;
  readonly partitions?: Partitions;
  readonly retry?: Partial<RetryPolicy>;
  readonly description?: string;
  readonly columns?: Record<string, string>;
  readonly checks?: Suite | readonly ExpectationConfig[];
  /** The freshness SLA, e.g. `{ maxLag: '26h' }` for a daily asset. */
  readonly freshness?: { readonly maxLag: string };
  /** 'evolve' (default), 'strict', or a column contract: `{ columns: { id: 'BIGINT', note: { type: 'VARCHAR', nullable: true } } }`. */
  readonly schema?: 'evolve' | 'strict' | { readonly columns: Readonly<Record<string, string | { readonly type: string; readonly nullable?: boolean }>> };
  /** Publish a partition with no rows where the previous version had some (default false: refused). */
  readonly allowEmpty?: boolean;
  /** Dynamic partitions: one partition per value of this output column (`partitionBy: 'region'`), found in the data by each run. */
  readonly partitionBy?: string;
  /**
   * Personal data: `{ email: { pii: 'email', policy: 'hash' } }` classifies output columns and protects them
   * before anything is written; `'forbidden'` refuses (at load) any unprotected personal data reaching this asset.
   */
  readonly pii?: 'forbidden' | Readonly<Record<string, ColumnPiiOptions>>;
}

const TEMPLATE = /\{\{\s*(?:ref\(\s*(['"])([^'"]+)\1\s*(?:,\s*lookback\s*=\s*(\d+))?\s*(?:,\s*lookahead\s*=\s*(\d+))?\s*\)|(partition_date|partition_value|partition_start|partition_end))\s*\}\}/g;
const TEMPLATE_FIELDS = { partition_date: 'partitionDate', partition_value: 'partitionValue', partition_start: 'partitionStart', partition_end: 'partitionEnd' } as const;

/**
 * SQL given as a plain string may use `{{ ref('name') }}`, `{{ ref('name', lookback=29) }}` and
 * `{{ partition_date }}` (also `partition_value`, `partition_start`, `partition_end`), for projects whose SQL lives in files rather than TypeScript.
 */
export function templateSql(text: string): AssetSql {
  return (ctx) => text.replace(TEMPLATE, (_match, _quote, refName: string | undefined, lookback: string | undefined, lookahead: string | undefined, field: keyof typeof TEMPLATE_FIELDS | undefined) => {
    if (refName === undefined) return ctx[TEMPLATE_FIELDS[field ?? 'partition_date']];
    return ctx.ref(refName, {
      ...(lookback === undefined ? {} : { lookback: Number(lookback) }),
      ...(lookahead === undefined ? {} : { lookahead: Number(lookahead) }),
    });
  });
}

export function asset<const N extends string>(name: N, options: AssetOptions): Asset<N> {
  const sql = options.sql;
  return Object.freeze({
    kind: 'asset',
    name,
    sql: typeof sql === 'string' ? templateSql(sql) : sql,
    partitions: options.partitions,
    retry: Object.freeze({ ...DEFAULT_RETRY, ...options.retry }),
    description: options.description,
    columns: options.columns === undefined ? undefined : Object.freeze({ ...options.columns }),
    checks: Object.freeze([...(options.checks === undefined ? [] : 'expectations' in options.checks ? options.checks.expectations : options.checks)]),
    freshness: options.freshness === undefined ? undefined : Object.freeze({ maxLag: options.freshness.maxLag, maxLagMs: parseDuration(options.freshness.maxLag, `asset "${name}" freshness.maxLag`) }),
    ...(options.schema === undefined ? {} : { schema: schemaOf(options.schema) }),
    ...(options.allowEmpty === undefined ? {} : { allowEmpty: options.allowEmpty }),
    ...(options.partitionBy === undefined ? {} : { partitionBy: checkPartitionBy(name, options) }),
    ...(options.pii === 'forbidden' ? { piiForbidden: true } : options.pii === undefined ? {} : { protect: protectionsOf(options.pii, `asset "${name}"`) }),
  });
}

const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkPartitionBy(name: string, options: AssetOptions): string {
  const column = options.partitionBy as string;
  if (!COLUMN_NAME.test(column)) {
    throw new SluiceError('DEFINITION_INVALID', `asset "${name}": partitionBy ${JSON.stringify(column)} must be a column name (letters, digits, _; not starting with a digit)`, { asset: name, column });
  }
  const partitions = options.partitions;
  if (partitions !== undefined && partitions.kind !== 'daily' && partitions.kind !== 'hourly') {
    throw new SluiceError('DEFINITION_INVALID', `asset "${name}" has ${partitions.kind} partitions and partitionBy: dynamic keys combine with daily or hourly partitions only (time x dynamic); drop one of them`, { asset: name, column });
  }
  if (partitions !== undefined && partitions.column === column) {
    throw new SluiceError('DEFINITION_INVALID', `asset "${name}": partitionBy "${column}" is also its time partition column; name one of them otherwise`, { asset: name, column });
  }
  return column;
}

function schemaOf(schema: NonNullable<AssetOptions['schema']>): AssetSchema {
  if (typeof schema === 'string') return schema;
  const columns: Record<string, ColumnContract> = {};
  for (const [name, column] of Object.entries(schema.columns ?? {})) {
    columns[name] = Object.freeze(typeof column === 'string' ? { type: column, nullable: true } : { type: column.type, nullable: column.nullable ?? true });
  }
  return Object.freeze({ columns: Object.freeze(columns) });
}
