// An extract step: read the high-water mark, fetch rows past it (minus the lookback) from PostgreSQL or an HTTP
// API into a spool, cast and upsert them into the asset's current version in DuckDB, check, commit, and only then
// advance the mark. A crash between the commit and the mark re-fetches rows the upsert already holds: harmless.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Asset } from '../define/asset.ts';
import { extractCursorName, type ExtractSource, type ExtractSpec } from '../define/extract.ts';
import { parseDuration } from '../define/duration.ts';
import type { Session } from '../engine/engine.ts';
import { readNamedEnv } from '../config.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { fetchHttp } from '../connectors/http-source.ts';
import { fetchPostgres } from '../connectors/postgres-source.ts';
import { RecordSpool } from '../connectors/record-spool.ts';
import {
  createRawTableSql, differenceCountSql, firstBadValueSql, loadRawSql, lowerBoundSql, mergeSql, typedTableSql, type ExtractColumn,
} from '../sql/extract-sql.ts';
import { quoteIdent, quoteLiteral } from '../sql/identifiers.ts';
import type { Catalog } from '../store/catalog/catalog.ts';
import type { InputRef, Manifest } from '../store/tables/manifest.ts';
import { describeFailure, runChecks, stagedRelation } from './checks.ts';
import { tableRelation } from '../store/tables/table-relation.ts';
import { CheckFailedError, committedOutcome, type StepEnv, type StepOutcome } from './step.ts';

const RAW = '__extract_raw';
const FETCHED = '__extract_fetched';

/** How the caller stops a step (the runner's timeouts and leases); the same shape as the SQL step's. */
export interface ExtractControl {
  readonly signal?: AbortSignal;
  readonly beforeCommit?: () => Promise<void>;
}

function lookbackOf(source: ExtractSource): { ms: number } | { amount: number } | undefined {
  const lookback = source.lookback;
  if (lookback === undefined) return undefined;
  return typeof lookback === 'string' ? { ms: parseDuration(lookback, `source "${source.name}" lookback`) } : { amount: lookback };
}

/** What the fingerprint covers: the definition (no secrets: URLs are named, not resolved) and the marks. */
function fingerprintOf(spec: ExtractSpec, markBefore: string | null, markAfter: string | null, rows: number): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(['sluice-extract-v1', { ...spec.source, url: spec.source.url === undefined ? null : 'literal' }, spec.key, markBefore, markAfter, rows]));
  return hash.digest('hex');
}

async function fetchInto(spec: ExtractSpec, spool: RecordSpool, mark: string | null, lowerBound: () => Promise<string | null>): Promise<{ rows: number; columns: readonly ExtractColumn[] }> {
  const source = spec.source;
  if (source.type === 'postgres') {
    const url = source.url ?? readNamedEnv(source.urlEnv);
    if (url === undefined) {
      throw new SluiceError('CONFIG_INVALID', `postgres source "${source.name}": environment variable ${source.urlEnv} is not set; set it to a postgres:// URL or give the source a url`, { source: source.name });
    }
    const result = await fetchPostgres({ source, url, key: spec.key, mark, spool });
    return { rows: result.rows, columns: result.columns };
  }
  const secret = source.auth === undefined ? undefined : readNamedEnv(source.auth.env);
  const result = await fetchHttp({ source, secret, lowerBound: source.cursorParam === undefined ? null : await lowerBound(), spool });
  return { rows: result.rows, columns: Object.entries(source.columns).map(([name, type]) => ({ name, type })) };
}

async function scalar(session: Session, sql: string): Promise<string | null> {
  const [row] = await session.query<{ v: string | null }>(sql);
  return row?.v ?? null;
}

/** Advance the mark to `value` unless it is already at or past it (compare-and-set, so a racing run cannot move it back). */
async function advanceMark(session: Session, catalog: Catalog, name: string, value: string, cursorType: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const stored = await catalog.getCursor(name);
    if (stored !== undefined) {
      const ahead = await scalar(session, `SELECT (CAST(${quoteLiteral(stored.value)} AS ${cursorType}) >= CAST(${quoteLiteral(value)} AS ${cursorType}))::VARCHAR AS v`);
      if (ahead === 'true') return;
    }
    if (await catalog.setCursor(name, value, { expected: stored?.value ?? null })) return;
  }
  throw new SluiceError('COMMIT_CONFLICT', `cursor ${name}: could not advance the mark to ${value}: other runs keep moving it`, { cursor: name }, { transient: true });
}

export async function executeExtract(
  env: StepEnv,
  run: { runId: string; stepId: string | null },
  asset: Asset & { readonly extract: ExtractSpec },
  force: boolean,
  control: ExtractControl = {},
): Promise<StepOutcome> {
  const spec = asset.extract;
  const source = spec.source;
  const catalog = env.catalog;
  if (catalog === undefined) throw new SluiceError('CATALOG', `asset "${asset.name}": an extract step keeps its high-water mark in the catalog; open a workspace with one`, { asset: asset.name });
  const cursorName = extractCursorName(asset.name);
  const incremental = spec.cursor !== undefined;
  // `force` re-reads everything (the rows are still upserted), e.g. after the source was restored.
  const stored = incremental ? await catalog.getCursor(cursorName) : undefined;
  const mark = force ? null : stored?.value ?? null;
  const where = `asset "${asset.name}" (${source.type} source "${source.name}")`;

  return env.engine.withSession(async (session) => {
    const interrupt = (): void => { (session as Session & { interrupt?: () => void }).interrupt?.(); };
    control.signal?.addEventListener('abort', interrupt, { once: true });
    const staged = env.tables.stagingPath(run.runId, asset.name, '');
    const spool = new RecordSpool(`${staged}.ndjson`);
    try {
      const current = await env.tables.latest(asset.name);
      const declaredCursorType = incremental ? (source.columns?.[spec.cursor ?? ''] ?? null) : null;
      let fetched: { rows: number; columns: readonly ExtractColumn[] };
      try {
        fetched = await fetchInto(spec, spool, mark, async () => declaredCursorType === null ? mark
          : scalar(session, `SELECT ${isTime(declaredCursorType) ? `strftime(${lowerBoundSql(mark, declaredCursorType, lookbackOf(source))}, '%Y-%m-%dT%H:%M:%S.%gZ')` : `(${lowerBoundSql(mark, declaredCursorType, lookbackOf(source))})::VARCHAR`} AS v`));
      } finally {
        await spool.close();
      }
      const columns = fetched.columns;
      await session.run(createRawTableSql(RAW, columns));
      if (fetched.rows > 0) await session.run(loadRawSql(RAW, spool.file, columns));
      const [bad] = await session.query<{ row: bigint; column_name: string; column_type: string; value: string }>(firstBadValueSql(RAW, columns));
      if (bad !== undefined) {
        throw new SluiceError('BAD_RECORD', `${where}: fetched row ${bad.row}, column "${bad.column_name}": ${JSON.stringify(bad.value.slice(0, 100))} is not a ${bad.column_type}; fix the source or declare the column's type in columns`, { asset: asset.name, source: source.name, row: Number(bad.row), column: bad.column_name });
      }
      await session.run(typedTableSql(FETCHED, RAW, columns));
      const cursorType = incremental ? (columns.find((c) => c.name === spec.cursor)?.type ?? 'VARCHAR') : null;
      if (source.type === 'http' && cursorType !== null && mark !== null) {
        // The API may ignore or lack a lower-bound parameter: keep only rows past the mark minus the lookback.
        await session.run(`DELETE FROM ${quoteIdent(FETCHED)} WHERE NOT (${quoteIdent(spec.cursor ?? '')} > ${lowerBoundSql(mark, cursorType, lookbackOf(source))})`);
      }
      const [kept] = await session.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${quoteIdent(FETCHED)}`);
      const rowsKept = Number(kept?.n ?? 0n);
      const newMark = cursorType === null ? null
        : await scalar(session, `SELECT greatest(${lowerBoundSql(mark, cursorType, undefined)}, (SELECT max(${quoteIdent(spec.cursor ?? '')}) FROM ${quoteIdent(FETCHED)}))::VARCHAR AS v`);
      const fingerprint = fingerprintOf(spec, mark, newMark, fetched.rows);
      const reads: InputRef[] = [{ dataset: source.name, kind: 'source', version: null, partitions: [], fingerprint }];
      const skipped = (): StepOutcome => ({
        status: 'skipped', version: current?.version ?? 0, rowsIn: fetched.rows, rowsOut: current?.partitions['']?.rows ?? 0, bytesWritten: 0, badRecords: 0,
        reads, fingerprint, file: null, checks: null, committed: null,
      });
      if (incremental && rowsKept === 0 && current !== undefined) return skipped();

      const currentRelation = current === undefined || !incremental && spec.key.length === 0 ? null : tableRelation(env.tables, current, ['']);
      const merged = mergeSql(incremental ? currentRelation : null, FETCHED, spec.key, spec.cursor);
      let rowsOut: number;
      try {
        const [copied] = await session.query<{ Count: bigint }>(`COPY (SELECT * FROM (${merged}) ORDER BY ALL) TO ${quoteLiteral(staged)} (FORMAT parquet, COMPRESSION zstd)`);
        rowsOut = Number(copied?.Count ?? 0n);
      } catch (error) {
        throw new SluiceError('ASSET_SQL', `${where}: merging the fetched rows into the table failed: ${errorMessage(error)}`, { asset: asset.name, source: source.name }, { cause: error });
      }
      const stagedRows = `SELECT * FROM read_parquet(${quoteLiteral(staged)}, hive_partitioning = false)`;
      const schema = await session.describe(stagedRows);
      if (current !== undefined && await unchanged(session, env.tables, current, stagedRows, schema)) {
        // Everything fetched is already in the table (a lookback re-read, or a rerun after a crash before the
        // mark moved): no new version, but the mark may catch up.
        if (newMark !== null && cursorType !== null) await advanceMark(session, catalog, cursorName, newMark, cursorType);
        return skipped();
      }
      const checks = await runChecks(session, env, asset, '', stagedRelation(staged, undefined, ''), schema.map((c) => c.name), run, current);
      if (checks !== null && checks.blocking.length > 0) {
        const quarantined = checks.quarantineFile === null ? '' : `; ${checks.quarantinedRows} failing row(s) in ${checks.quarantineFile}`;
        throw new CheckFailedError(`${where}: ${checks.blocking.length} error check(s) failed, nothing was published and the high-water mark stays: ${checks.blocking.map(describeFailure).join('; ')}${quarantined}`, { asset: asset.name, partition: '' }, checks);
      }
      await control.beforeCommit?.();
      const committed = await env.tables.commit({
        asset: asset.name, partition: '', partitionColumn: null, stagedFile: staged, schema, rows: rowsOut, runId: run.runId, fingerprint, inputs: reads,
      });
      if (newMark !== null && cursorType !== null) await advanceMark(session, catalog, cursorName, newMark, cursorType);
      return { status: 'success', rowsIn: fetched.rows, rowsOut, badRecords: 0, reads, fingerprint, checks, ...committedOutcome(asset.name, committed) };
    } finally {
      control.signal?.removeEventListener('abort', interrupt);
      await fs.rm(spool.file, { force: true });
      await fs.rm(staged, { force: true });
      await session.run(`DROP TABLE IF EXISTS ${quoteIdent(RAW)}; DROP TABLE IF EXISTS ${quoteIdent(FETCHED)}`).catch(() => undefined);
    }
  });
}

function isTime(duckType: string): boolean {
  return /^(TIMESTAMP|DATE)/i.test(duckType);
}

/** Whether the staged table holds exactly the current version's rows (same columns and types, same multiset). */
async function unchanged(session: Session, tables: StepEnv['tables'], current: Manifest, staged: string, schema: readonly { name: string; type: string }[]): Promise<boolean> {
  const same = current.schema.length === schema.length && current.schema.every((c, i) => c.name === schema[i]?.name && c.type === schema[i]?.type);
  if (!same) return false;
  const [row] = await session.query<{ n: bigint }>(differenceCountSql(tableRelation(tables, current, ['']), staged));
  return Number(row?.n ?? 1n) === 0;
}

export function isExtractAsset(asset: Asset): asset is Asset & { readonly extract: ExtractSpec } {
  return asset.extract !== undefined;
}

