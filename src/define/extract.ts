// Extract sources: tables pulled from outside (a PostgreSQL table or query, a paginated HTTP JSON API) into an
// asset, incrementally by a cursor column when one is given. Plain frozen data: no I/O, secrets stay in env vars.
import type { Asset, AssetSql, FreshnessPolicy, RetryPolicy } from './asset.ts';
import { DEFAULT_RETRY } from './asset.ts';
import type { ExpectationConfig, Suite } from './checks.ts';
import { parseDuration } from './duration.ts';

/** Re-read rows this far behind the high-water mark: a duration ('10m') for a time cursor, a number for a numeric one. */
export type Lookback = string | number;

/** The env var that holds a PostgreSQL source's URL when neither `url` nor `urlEnv` is given. */
export const DEFAULT_SOURCE_URL_ENV = 'SLUICE_SOURCE_URL';

export interface PostgresSource<N extends string = string> {
  readonly kind: 'extract-source';
  readonly type: 'postgres';
  readonly name: N;
  /** A literal URL; when absent the URL is read from the env var `urlEnv` at run time. */
  readonly url: string | undefined;
  readonly urlEnv: string;
  /** A table (`name` or `schema.name`), or a query whose result is read; exactly one. */
  readonly table: string | undefined;
  readonly query: string | undefined;
  /** The column whose values only grow as rows are inserted or updated (`updated_at`, `id`). */
  readonly cursor: string;
  readonly key: readonly string[];
  readonly lookback: Lookback | undefined;
  /** DuckDB types of the columns to keep; every column, with types mapped from PostgreSQL's, when absent. */
  readonly columns: Readonly<Record<string, string>> | undefined;
  /** Rows per keyset page. */
  readonly batchSize: number;
  readonly description: string | undefined;
}

export interface PostgresSourceOptions {
  readonly url?: string;
  readonly urlEnv?: string;
  readonly table?: string;
  readonly query?: string;
  readonly cursor: string;
  readonly key: string | readonly string[];
  readonly lookback?: Lookback;
  readonly columns?: Record<string, string>;
  readonly batchSize?: number;
  readonly description?: string;
}

export type HttpPagination =
  /** The body carries the next page's cursor at `next` (a dotted path); it is sent back as query parameter `param`. */
  | { readonly type: 'cursor'; readonly next: string; readonly param: string }
  /** `offsetParam` and `limitParam` query parameters; a page with fewer than `limit` records is the last. */
  | { readonly type: 'offset'; readonly limit: number; readonly offsetParam: string; readonly limitParam: string }
  /** Follow the `Link: <url>; rel="next"` response header until there is none. */
  | { readonly type: 'link' }
  | { readonly type: 'none' };

export type HttpPaginationOptions =
  | { readonly type: 'cursor'; readonly next: string; readonly param?: string }
  | { readonly type: 'offset'; readonly limit: number; readonly offsetParam?: string; readonly limitParam?: string }
  | { readonly type: 'link' }
  | { readonly type: 'none' };

export interface HttpAuth {
  readonly header: string;
  /** The env var holding the secret; it is read at run time, never stored in the definition. */
  readonly env: string;
  readonly prefix: string;
}

export interface HttpRetry {
  /** Attempts per request, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_HTTP_RETRY: HttpRetry = Object.freeze({ maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 30_000 });

export interface HttpSource<N extends string = string> {
  readonly kind: 'extract-source';
  readonly type: 'http';
  readonly name: N;
  readonly url: string;
  /** Dotted path of the records array in each page's body ('' for a body that is the array). */
  readonly records: string;
  readonly pagination: HttpPagination;
  readonly auth: HttpAuth | undefined;
  /** Requests per second at most, retries included; unlimited when absent. */
  readonly rateLimit: number | undefined;
  readonly retry: HttpRetry;
  readonly timeoutMs: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Record fields kept, with their DuckDB types. */
  readonly columns: Readonly<Record<string, string>>;
  /** With a cursor: incremental (high-water mark, upsert by key). Without: each run replaces the table. */
  readonly key: readonly string[];
  readonly cursor: string | undefined;
  /** Query parameter that tells the API the lower bound of the cursor (mark minus lookback), if it supports one. */
  readonly cursorParam: string | undefined;
  readonly lookback: Lookback | undefined;
  readonly description: string | undefined;
}

export interface HttpSourceOptions {
  readonly url: string;
  readonly records: string;
  readonly pagination?: HttpPaginationOptions;
  readonly auth?: { readonly header?: string; readonly env: string; readonly prefix?: string };
  readonly rateLimit?: number;
  readonly retry?: Partial<HttpRetry>;
  readonly timeoutMs?: number;
  readonly headers?: Record<string, string>;
  readonly columns: Record<string, string>;
  readonly key?: string | readonly string[];
  readonly cursor?: string;
  readonly cursorParam?: string;
  readonly lookback?: Lookback;
  readonly description?: string;
}

export type ExtractSource = PostgresSource | HttpSource;

/** What an extract asset pulls, and how rows are merged: by `key`, latest `cursor` wins. */
export interface ExtractSpec {
  readonly source: ExtractSource;
  readonly key: readonly string[];
  readonly cursor: string | undefined;
}

function keyList(key: string | readonly string[] | undefined): readonly string[] {
  return Object.freeze(key === undefined ? [] : typeof key === 'string' ? [key] : [...key]);
}

/** Declare a PostgreSQL table or query read incrementally by a cursor column. Options are validated at load. */
export function postgresSource<const N extends string>(name: N, options: PostgresSourceOptions): PostgresSource<N> {
  return Object.freeze({
    kind: 'extract-source',
    type: 'postgres',
    name,
    url: options.url,
    urlEnv: options.urlEnv ?? DEFAULT_SOURCE_URL_ENV,
    table: options.table,
    query: options.query,
    cursor: options.cursor,
    key: keyList(options.key),
    lookback: options.lookback,
    columns: options.columns === undefined ? undefined : Object.freeze({ ...options.columns }),
    batchSize: options.batchSize ?? 10_000,
    description: options.description,
  });
}

function pagination(options: HttpPaginationOptions | undefined): HttpPagination {
  if (options === undefined) return Object.freeze({ type: 'none' });
  switch (options.type) {
    case 'cursor': return Object.freeze({ type: 'cursor', next: options.next, param: options.param ?? 'cursor' });
    case 'offset': return Object.freeze({ type: 'offset', limit: options.limit, offsetParam: options.offsetParam ?? 'offset', limitParam: options.limitParam ?? 'limit' });
    default: return Object.freeze({ ...options });
  }
}

/** Declare a paginated HTTP JSON API. Options are validated at load. */
export function httpSource<const N extends string>(name: N, options: HttpSourceOptions): HttpSource<N> {
  return Object.freeze({
    kind: 'extract-source',
    type: 'http',
    name,
    url: options.url,
    records: options.records,
    pagination: pagination(options.pagination),
    auth: options.auth === undefined ? undefined : Object.freeze({ header: options.auth.header ?? 'Authorization', env: options.auth.env, prefix: options.auth.prefix ?? '' }),
    rateLimit: options.rateLimit,
    retry: Object.freeze({ ...DEFAULT_HTTP_RETRY, ...options.retry }),
    timeoutMs: options.timeoutMs ?? 30_000,
    headers: Object.freeze({ ...options.headers }),
    columns: Object.freeze({ ...options.columns }),
    key: keyList(options.key),
    cursor: options.cursor,
    cursorParam: options.cursorParam,
    lookback: options.lookback,
    description: options.description,
  });
}

export interface ExtractAssetOptions {
  readonly source: ExtractSource;
  /** Overrides the source's key. */
  readonly key?: string | readonly string[];
  readonly checks?: Suite | readonly ExpectationConfig[];
  readonly retry?: Partial<RetryPolicy>;
  readonly freshness?: { readonly maxLag: string };
  readonly description?: string;
  /** Column descriptions, shown by `sluice show`. */
  readonly columnDescriptions?: Record<string, string>;
}

/** An asset with an extract step: unpartitioned, depends on nothing, read downstream through `ref()` as usual. */
export interface ExtractAsset<N extends string = string> extends Asset<N> {
  readonly extract: ExtractSpec;
}

export function extractAsset<const N extends string>(name: N, options: ExtractAssetOptions): ExtractAsset<N> {
  const source = options.source;
  const key = options.key === undefined ? source.key : keyList(options.key);
  // The graph is inferred by calling `sql`: an extract step references nothing, and never runs this text.
  const sql: AssetSql = () => `SELECT * FROM (SELECT 1) WHERE false /* extracted from ${source.type} source ${source.name} */`;
  const freshness: FreshnessPolicy | undefined = options.freshness === undefined ? undefined
    : Object.freeze({ maxLag: options.freshness.maxLag, maxLagMs: parseDuration(options.freshness.maxLag, `asset "${name}" freshness.maxLag`) });
  const checks = options.checks === undefined ? [] : 'expectations' in options.checks ? options.checks.expectations : options.checks;
  return Object.freeze({
    kind: 'asset',
    name,
    sql,
    partitions: undefined,
    retry: Object.freeze({ ...DEFAULT_RETRY, ...options.retry }),
    description: options.description ?? source.description,
    columns: options.columnDescriptions === undefined ? undefined : Object.freeze({ ...options.columnDescriptions }),
    checks: Object.freeze([...checks]),
    freshness,
    extract: Object.freeze({ source, key, cursor: source.cursor }),
  });
}

/** The catalog cursor that holds an extract asset's high-water mark. */
export function extractCursorName(assetName: string): string {
  return `source:${assetName}`;
}
