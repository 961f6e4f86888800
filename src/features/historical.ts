// Point-in-time-correct training sets: a spine of (entity keys, event time, labels...) joined to every feature
// view of a service as of each row's time, plus the service's on-demand features computed row by row.
//
// Semantics:
// - The spine's columns are kept unchanged and come first, then the service's features in service order.
//   Exactly one output row per spine row, in spine order.
// - For each view, a spine row takes the view row (one per entity and event time, see viewRowsSql) of its
//   entity with the greatest event time <= the spine time: a row at exactly the spine time counts (as in
//   Feast), a later one never does. When that row's age (spine time - event time) exceeds the view's TTL, all
//   of the view's features are NULL; an age exactly equal to the TTL is still valid. No such row: NULL. Views
//   without a TTL never expire. Windowed views give the aggregates as of the entity's latest event at or
//   before the spine time, with the same TTL rule.
// - The spine's time column may be TIMESTAMP, TIMESTAMPTZ, DATE or ISO text; times are compared in UTC. Key
//   columns of another type than the view's are cast to it (integer <-> text); a key that cannot be the
//   entity's matches nothing.
// - On-demand features run their `fn` once per output row, after the join, with the request fields (spine
//   columns of the same names, cast to the declared types) and the features of their input views, as plain
//   JS values (toPlainValue). Their outputs become typed columns: int BIGINT, float DOUBLE, string VARCHAR,
//   bool BOOLEAN.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FeatureService, FeatureView, OnDemandFeature, ValueType } from '../define/features.ts';
import { getFeatureService } from '../define/project.ts';
import type { AppendValue, ColumnInfo, Engine, Row, Session } from '../engine/engine.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { quoteIdent, quoteLiteral } from '../sql/identifiers.ts';
import { asofJoinSql, PIT_ROW, PIT_TS, rowNumberJoinSql, type PitSelect, type PitViewSql } from '../sql/pit-sql.ts';
import type { Workspace } from '../workspace.ts';
import { checkViewColumns, openViewSource } from './view-source.ts';
import type { TrainingSetRecord } from '../store/catalog/catalog.ts';
import { withTrainingSetLineage } from './training-set-lineage.ts';
import { checkRebuildable, currentSluiceVersion, definitionsHash, fileDigest, getTrainingSet, newTrainingSetId, spineDigest } from './training-sets.ts';

export const DEFAULT_TIMESTAMP_COLUMN = 'event_timestamp';

export interface TrainingSet {
  readonly rowCount: number;
  /** Output columns: the spine's, then the features. */
  readonly columns: readonly ColumnInfo[];
  /** The Parquet file written, when `out` was given. */
  readonly path?: string;
  /** The rows (BIGINT as bigint, TIMESTAMP as Date), when `out` was not given. */
  readonly rows?: readonly Row[];
  /** The table version of each asset read. */
  readonly versions: Readonly<Record<string, number>>;
  /** The catalog's record of it, when `out` was given. */
  readonly record?: TrainingSetRecord;
}

export interface HistoricalFeaturesOptions {
  /** A .parquet, .csv or .json(l) file (relative to the working directory), or a relation (a full SELECT). */
  readonly spine: string | { readonly sql: string };
  readonly service: string | FeatureService;
  /** The spine's event-time column (default `event_timestamp`). */
  readonly timestampColumn?: string | undefined;
  /** Write the training set here as Parquet (zstd) instead of returning its rows; it is then recorded in the catalog. */
  readonly out?: string | undefined;
  /** Read these table versions (by asset) instead of the latest. */
  readonly asOfVersions?: Readonly<Record<string, number>> | undefined;
  /** Rebuild this recorded training set: its versions, checked against its definitions and spine. */
  readonly pin?: string | undefined;
  /** Recorded with the training set, e.g. { model: 'churn-v3', run: 'mlflow:abc123' }. */
  readonly tags?: Readonly<Record<string, string>> | undefined;
}

/** The training set of a feature service for a spine, from each view's latest asset version. */
export async function getHistoricalFeatures(ws: Workspace, options: HistoricalFeaturesOptions): Promise<TrainingSet> {
  const service = typeof options.service === 'string' ? getFeatureService(ws.project, options.service) : options.service;
  if (!ws.openLineage.enabled) return buildTrainingSet(ws, service, options);
  return withTrainingSetLineage(ws, service, options.spine, () => buildTrainingSet(ws, service, options));
}

async function buildTrainingSet(ws: Workspace, service: FeatureService, options: HistoricalFeaturesOptions): Promise<TrainingSet> {
  const pinned = options.pin === undefined ? undefined : await getTrainingSet(ws, options.pin);
  if (pinned !== undefined) {
    if (pinned.service !== service.name) throw new SluiceError('CONFIG_INVALID', `training set ${pinned.id} was built from feature service "${pinned.service}", not "${service.name}"`, { id: pinned.id });
    checkRebuildable(pinned, service, options.spine);
  }
  const asOf = { ...(pinned?.versions ?? {}), ...(options.asOfVersions ?? {}) };
  for (const asset of Object.keys(asOf)) {
    if (!service.views.some((v) => v.source === asset)) throw new SluiceError('CONFIG_INVALID', `--as-of-version ${asset}: no view of feature service "${service.name}" reads asset "${asset}"; its views read ${[...new Set(service.views.map((v) => v.source))].join(', ')}`, { asset });
  }
  const spine = spineRelation(options.spine);
  const timestampColumn = options.timestampColumn ?? pinned?.spine.timestampColumn ?? DEFAULT_TIMESTAMP_COLUMN;
  const versions: Record<string, number> = {};
  const result = await ws.engine.withSession(async (session): Promise<Omit<TrainingSet, 'versions'>> => {
    const views: SourcedView[] = [];
    for (const view of service.views) {
      const source = await openViewSource(ws, session, view, asOf[view.source]);
      versions[view.source] = source.version;
      views.push({ view, relation: source.relation, columns: source.columns });
    }
    const viewIndex = (view: FeatureView): number => service.views.indexOf(view);
    const outputNames = service.features.map((f) => f.name);
    const base = { spine, timestampColumn, views, outputNames, method: 'asof' as const };
    if (service.onDemand.length === 0) {
      const select = service.features.flatMap((f): PitSelect[] => (f.kind === 'view' ? [{ view: viewIndex(f.view), feature: f.name, as: f.name }] : []));
      const prepared = await prepareJoin(session, { ...base, select, keepRowId: false });
      try {
        return await writeOrQuery(session, prepared.sql, options.out);
      } finally {
        await prepared.release();
      }
    }
    // Every fetched feature (the service's and those on-demand functions read), under internal names.
    const select = service.views.flatMap((view, i) => (service.fetched.get(view.name) ?? []).map((feature) => ({ view: i, feature, as: fetchedName(i, feature) })));
    const prepared = await prepareJoin(session, { ...base, select, keepRowId: true });
    let onDemandTable: string | undefined;
    try {
      checkRequestFields(service, prepared.spineColumns);
      await session.run(`CREATE OR REPLACE TEMP TABLE ${JOINED_TABLE} AS ${prepared.sql}`);
      onDemandTable = await computeOnDemand(ws.engine, session, service, viewIndex);
      const columns = [
        ...prepared.spineColumns.map((c) => `j.${quoteIdent(c.name)}`),
        ...service.features.map((f) => (f.kind === 'view'
          ? `j.${quoteIdent(fetchedName(viewIndex(f.view), f.name))} AS ${quoteIdent(f.name)}`
          : `o.${quoteIdent(f.name)}`)),
      ];
      const sql = `SELECT ${columns.join(', ')} FROM ${JOINED_TABLE} j LEFT JOIN ${quoteIdent(onDemandTable)} o ON o.${PIT_ROW} = j.${PIT_ROW} ORDER BY j.${PIT_ROW}`;
      return await writeOrQuery(session, sql, options.out);
    } finally {
      await session.run(`DROP TABLE IF EXISTS ${JOINED_TABLE}`);
      if (onDemandTable !== undefined) await session.run(`DROP TABLE IF EXISTS ${quoteIdent(onDemandTable)}`);
      await prepared.release();
    }
  });
  if (result.path === undefined) return { ...result, versions };
  const output = fileDigest(result.path);
  const record: TrainingSetRecord = {
    id: newTrainingSetId(), project: ws.project.name, service: service.name, definitionsHash: definitionsHash(service),
    spine: { ...spineDigest(options.spine), rows: result.rowCount, timestampColumn },
    versions, sluiceVersion: currentSluiceVersion(), output: { path: result.path, ...output, rows: result.rowCount },
    tags: { ...(pinned === undefined ? {} : { ...pinned.tags, rebuilt_from: pinned.id }), ...(options.tags ?? {}) },
    createdAt: new Date().toISOString(), pinned: true,
  };
  await ws.catalog.recordTrainingSet(record);
  return { ...result, versions, record };
}

// --- the lower level: a session, a spine relation and view sources ------------------------------------------

export interface PointInTimeView {
  readonly view: FeatureView;
  /** A SELECT over the view's source (the columns the view reads). */
  readonly sourceRelation: string;
  /** Features to return, in order (default: all of the view's). */
  readonly features?: readonly string[];
}

export interface PointInTimeRequest {
  /** A relation (a full SELECT) whose rows are the spine, in order. */
  readonly spine: string;
  readonly timestampColumn?: string | undefined;
  readonly views: readonly PointInTimeView[];
  /** `asof` (default) or `row_number`, the Feast-style baseline (same result; for benchmarks and tests). */
  readonly method?: 'asof' | 'row_number';
}

export interface PreparedPointInTime {
  /** The training set's SELECT: the spine's columns, then the views' features, in spine order. */
  readonly sql: string;
  readonly spineColumns: readonly ColumnInfo[];
  /** Drops the spine table the SQL reads; the SQL is invalid afterwards. */
  release(): Promise<void>;
}

/** Load the spine into the session (a temp table) and return the training set's SQL over it. */
export async function preparePointInTime(session: Session, request: PointInTimeRequest): Promise<PreparedPointInTime> {
  const views: SourcedView[] = [];
  const select: PitSelect[] = [];
  const outputNames: string[] = [];
  for (const [i, input] of request.views.entries()) {
    const columns = await session.describe(input.sourceRelation);
    checkViewColumns(input.view, input.view.source, columns);
    views.push({ view: input.view, relation: input.sourceRelation, columns });
    for (const feature of input.features ?? input.view.features) {
      if (!input.view.features.includes(feature)) {
        throw new SluiceError('FEATURE_NOT_FOUND', `feature view "${input.view.name}" has no feature "${feature}"; it has ${input.view.features.join(', ')}`, { view: input.view.name });
      }
      if (outputNames.includes(feature)) {
        throw new SluiceError('FEATURE_REQUEST', `two views give a feature named "${feature}" (one is "${input.view.name}"); fetch it from one of them`, { view: input.view.name });
      }
      outputNames.push(feature);
      select.push({ view: i, feature, as: feature });
    }
  }
  return prepareJoin(session, {
    spine: request.spine,
    timestampColumn: request.timestampColumn ?? DEFAULT_TIMESTAMP_COLUMN,
    views,
    select,
    outputNames,
    method: request.method ?? 'asof',
    keepRowId: false,
  });
}

/** The training set for a spine relation and view sources: written to `out` (Parquet, zstd) or returned. */
export async function runPointInTime(session: Session, request: PointInTimeRequest & { readonly out?: string | undefined }): Promise<Omit<TrainingSet, 'versions'>> {
  const prepared = await preparePointInTime(session, request);
  try {
    return await writeOrQuery(session, prepared.sql, request.out);
  } finally {
    await prepared.release();
  }
}

/**
 * A DuckDB value as on-demand functions receive it, offline and online alike: integers as numbers when they
 * are exact in a double (larger ones stay bigint), everything else unchanged (numbers, strings, booleans, null).
 */
export function toPlainValue(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  return value ?? null;
}

// --- internals ---------------------------------------------------------------------------------------------

const SPINE_TABLE = '__pit_spine';
const JOINED_TABLE = '__pit_joined';
const RESERVED_PREFIX = '__pit';
const INTEGER_TYPES = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;
const TIME_TYPES = /^(DATE|TIMESTAMP|TIMESTAMP WITH TIME ZONE|TIMESTAMP_S|TIMESTAMP_MS|TIMESTAMP_NS)$/;
const SQL_TYPES: Readonly<Record<ValueType, string>> = { int: 'BIGINT', float: 'DOUBLE', string: 'VARCHAR', bool: 'BOOLEAN' };

interface SourcedView {
  readonly view: FeatureView;
  readonly relation: string;
  readonly columns: readonly ColumnInfo[];
}

interface JoinRequest {
  readonly spine: string;
  readonly timestampColumn: string;
  readonly views: readonly SourcedView[];
  readonly select: readonly PitSelect[];
  /** Names the features will have in the output (a spine column may not take one). */
  readonly outputNames: readonly string[];
  readonly method: 'asof' | 'row_number';
  readonly keepRowId: boolean;
}

function fetchedName(view: number, feature: string): string {
  return `${RESERVED_PREFIX}_f${view}_${feature}`;
}

function requestName(field: string): string {
  return `${RESERVED_PREFIX}_r_${field}`;
}

function spineRelation(spine: HistoricalFeaturesOptions['spine']): string {
  if (typeof spine !== 'string') return spine.sql;
  const file = path.resolve(spine);
  const isGlob = /[*?[]/.test(spine);
  if (!isGlob && !fs.existsSync(file)) throw new SluiceError('SOURCE_NOT_FOUND', `spine file ${file} does not exist`, { file });
  const lower = file.toLowerCase();
  if (lower.endsWith('.parquet')) return `SELECT * FROM read_parquet(${quoteLiteral(file)})`;
  if (lower.endsWith('.csv')) return `SELECT * FROM read_csv(${quoteLiteral(file)}, header = true)`;
  if (/\.(json|jsonl|ndjson)$/.test(lower)) return `SELECT * FROM read_json(${quoteLiteral(file)})`;
  throw new SluiceError('FEATURE_REQUEST', `spine file ${file}: give a .parquet, .csv or .json file, or a relation ({ sql })`, { file });
}

function listColumns(columns: readonly ColumnInfo[]): string {
  return columns.map((c) => c.name).join(', ');
}

/** The first non-null value of a spine column that does not cast to `type`, if any. */
async function firstUncastable(session: Session, column: string, type: string): Promise<unknown> {
  const ref = quoteIdent(column);
  const [row] = await session.query<{ bad: unknown }>(`SELECT any_value(${ref}) AS bad FROM ${SPINE_TABLE} WHERE ${ref} IS NOT NULL AND TRY_CAST(${ref} AS ${type}) IS NULL`);
  return row?.bad ?? null;
}

async function prepareJoin(session: Session, request: JoinRequest): Promise<PreparedPointInTime & { spineColumns: readonly ColumnInfo[] }> {
  try {
    await session.run(`CREATE OR REPLACE TEMP TABLE ${SPINE_TABLE} AS SELECT * FROM (${request.spine})`);
  } catch (error) {
    throw new SluiceError('FEATURE_REQUEST', `the spine could not be read: ${errorMessage(error)}`, {}, { cause: error });
  }
  const release = async (): Promise<void> => session.run(`DROP TABLE IF EXISTS ${SPINE_TABLE}`);
  try {
    const spineColumns = await session.describe(`SELECT * FROM ${SPINE_TABLE}`);
    const spine = await spineSql(session, spineColumns, request);
    const [range] = await session.query<{ lo: bigint | null; hi: bigint | null }>(`SELECT epoch_us(min(${PIT_TS})) AS lo, epoch_us(max(${PIT_TS})) AS hi FROM (${spine})`);
    const views: PitViewSql[] = [];
    for (const { view, relation, columns } of request.views) {
      // Rows after the last spine time can never match, nor rows older than the first spine time minus the
      // TTL (they would be expired for every spine row): reading only the rest gives the same result.
      const toMicros = range?.hi == null ? undefined : Number(range.hi);
      const fromMicros = range?.lo == null || view.ttlMs === undefined ? undefined : Number(range.lo) - view.ttlMs * 1000;
      views.push({ view, source: relation, range: { fromMicros, toMicros }, keyCasts: await keyCasts(session, view, columns, spineColumns) });
    }
    const join = { spine: { relation: spine, columns: spineColumns.map((c) => c.name) }, views, select: request.select, keepRowId: request.keepRowId };
    return { sql: request.method === 'asof' ? asofJoinSql(join) : rowNumberJoinSql(join), spineColumns, release };
  } catch (error) {
    await release();
    throw error;
  }
}

/** Check the spine's column names and time column; the spine relation with its row number and UTC time. */
async function spineSql(session: Session, spineColumns: readonly ColumnInfo[], request: JoinRequest): Promise<string> {
  for (const column of spineColumns) {
    // The row number is the spine table's rowid, which a column of that name would hide.
    if (column.name.startsWith(RESERVED_PREFIX) || column.name.toLowerCase() === 'rowid') {
      throw new SluiceError('FEATURE_REQUEST', `spine column "${column.name}": names starting with ${RESERVED_PREFIX} and "rowid" are reserved; rename it`, { column: column.name });
    }
    if (request.outputNames.includes(column.name)) {
      throw new SluiceError('FEATURE_REQUEST', `spine column "${column.name}" has the name of a feature the training set adds; rename or drop it`, { column: column.name });
    }
  }
  const ts = request.timestampColumn;
  const type = spineColumns.find((c) => c.name === ts)?.type;
  if (type === undefined) {
    throw new SluiceError('FEATURE_REQUEST', `the spine has no timestamp column "${ts}"; its columns are ${listColumns(spineColumns)} (name the column with timestampColumn)`, { column: ts });
  }
  if (!TIME_TYPES.test(type) && type !== 'VARCHAR') {
    throw new SluiceError('FEATURE_REQUEST', `spine timestamp column "${ts}" is ${type}; it must be a TIMESTAMP, DATE or ISO timestamp text`, { column: ts });
  }
  if (type === 'VARCHAR') {
    const bad = await firstUncastable(session, ts, 'TIMESTAMPTZ');
    if (bad !== null) throw new SluiceError('FEATURE_REQUEST', `spine timestamp column "${ts}" holds ${JSON.stringify(bad)}, which is not a timestamp`, { column: ts });
  }
  // Text goes through TIMESTAMPTZ so that an explicit offset is honoured; the session zone is UTC.
  const time = type === 'VARCHAR' ? `CAST(CAST(${quoteIdent(ts)} AS TIMESTAMPTZ) AS TIMESTAMP)` : `CAST(${quoteIdent(ts)} AS TIMESTAMP)`;
  return `SELECT rowid AS ${PIT_ROW}, *, ${time} AS ${PIT_TS} FROM ${SPINE_TABLE}`;
}

/** Per key column whose spine type differs from the source's, the source's type (see PitViewSql.keyCasts). */
async function keyCasts(session: Session, view: FeatureView, sourceColumns: readonly ColumnInfo[], spineColumns: readonly ColumnInfo[]): Promise<Record<string, string>> {
  const casts: Record<string, string> = {};
  for (const key of view.entity.keys) {
    const spineType = spineColumns.find((c) => c.name === key.name)?.type;
    if (spineType === undefined) {
      throw new SluiceError('FEATURE_REQUEST', `the spine has no column "${key.name}", a key of entity "${view.entity.name}" (feature view "${view.name}"); its columns are ${listColumns(spineColumns)}`, { column: key.name, view: view.name });
    }
    const viewType = sourceColumns.find((c) => c.name === key.name)?.type as string;
    if (spineType === viewType) continue;
    if (!INTEGER_TYPES.test(spineType) && spineType !== 'VARCHAR') {
      throw new SluiceError('FEATURE_REQUEST', `spine column "${key.name}" is ${spineType}; entity "${view.entity.name}" keys it by ${key.type === 'int' ? 'integers' : 'strings'}`, { column: key.name, view: view.name });
    }
    if (key.type === 'int' && spineType === 'VARCHAR') {
      const bad = await firstUncastable(session, key.name, viewType);
      if (bad !== null) throw new SluiceError('FEATURE_REQUEST', `spine column "${key.name}" holds ${JSON.stringify(bad)}, which is not an integer key of entity "${view.entity.name}"`, { column: key.name, view: view.name });
    }
    casts[key.name] = viewType;
  }
  return casts;
}

async function writeOrQuery(session: Session, sql: string, out: string | undefined): Promise<Omit<TrainingSet, 'versions'>> {
  const columns = await session.describe(sql);
  if (out === undefined) {
    const rows = await session.query(sql);
    return { rowCount: rows.length, columns, rows };
  }
  const file = path.resolve(out);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const [result] = await session.query<{ Count: bigint }>(`COPY (${sql}) TO ${quoteLiteral(file)} (FORMAT parquet, COMPRESSION zstd)`);
  return { rowCount: Number(result?.Count ?? 0n), columns, path: file };
}

function checkRequestFields(service: FeatureService, spineColumns: readonly ColumnInfo[]): void {
  for (const onDemand of service.onDemand) {
    for (const field of Object.keys(onDemand.request)) {
      if (!spineColumns.some((c) => c.name === field)) {
        throw new SluiceError('FEATURE_REQUEST', `on-demand feature "${onDemand.name}" reads request field "${field}", which is not a spine column; the spine's columns are ${listColumns(spineColumns)}`, { column: field });
      }
    }
  }
}

/**
 * Run each on-demand function over the joined rows, streamed from `session`, and append the outputs to a new
 * table through a second session (a stream must not be interrupted by other statements on its connection).
 * The table is a regular one, visible to both sessions, under a unique name; the caller drops it.
 */
async function computeOnDemand(engine: Engine, session: Session, service: FeatureService, viewIndex: (view: FeatureView) => number): Promise<string> {
  const table = `${RESERVED_PREFIX}_od_${randomBytes(8).toString('hex')}`;
  const plans = service.onDemand.map((onDemand) => ({
    onDemand,
    // [name the function sees, column of the streamed rows]
    inputs: [
      ...Object.keys(onDemand.request).map((field) => [field, requestName(field)] as const),
      ...onDemand.inputs.flatMap((view) => view.features.map((feature) => [feature, fetchedName(viewIndex(view), feature)] as const)),
    ],
    outputs: Object.entries(onDemand.outputs),
  }));
  const outputColumns = plans.flatMap((p) => p.outputs.map(([name, type]) => `${quoteIdent(name)} ${SQL_TYPES[type]}`));
  const requestColumns = Object.entries(service.request).map(([field, type]) => `CAST(${quoteIdent(field)} AS ${SQL_TYPES[type]}) AS ${quoteIdent(requestName(field))}`);
  const featureColumns = [...new Set(service.onDemand.flatMap((o) => o.inputs.flatMap((view) => view.features.map((f) => quoteIdent(fetchedName(viewIndex(view), f))))))];
  const sql = `SELECT ${[PIT_ROW, ...requestColumns, ...featureColumns].join(', ')} FROM ${JOINED_TABLE}`;
  const writer = await engine.session();
  try {
    await writer.run(`CREATE TABLE ${quoteIdent(table)} (${PIT_ROW} BIGINT, ${outputColumns.join(', ')})`);
    for await (const chunk of session.stream(sql)) {
      const rows = chunk.map((row) => {
        const rowId = row[PIT_ROW] as bigint;
        const values: AppendValue[] = [rowId];
        for (const plan of plans) {
          const input: Record<string, unknown> = {};
          for (const [name, column] of plan.inputs) input[name] = toPlainValue(row[column]);
          const output = callOnDemand(plan.onDemand, Object.freeze(input), rowId);
          for (const [name, type] of plan.outputs) values.push(appendValue(plan.onDemand, name, type, output[name], rowId));
        }
        return values;
      });
      await writer.appendRows(table, rows);
    }
  } catch (error) {
    await writer.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
    throw error;
  } finally {
    writer.close();
  }
  return table;
}

function callOnDemand(onDemand: OnDemandFeature, input: Readonly<Record<string, unknown>>, row: bigint): Readonly<Record<string, unknown>> {
  let output: unknown;
  try {
    output = onDemand.fn(input);
  } catch (error) {
    throw new SluiceError('FEATURE_REQUEST', `on-demand feature "${onDemand.name}" failed on spine row ${row + 1n}: ${errorMessage(error)}`, { feature: onDemand.name, row: Number(row) + 1 }, { cause: error });
  }
  if (typeof output !== 'object' || output === null) {
    throw new SluiceError('FEATURE_REQUEST', `on-demand feature "${onDemand.name}" returned ${output === null ? 'null' : typeof output} on spine row ${row + 1n}; its fn must return an object with the outputs ${Object.keys(onDemand.outputs).join(', ')}`, { feature: onDemand.name, row: Number(row) + 1 });
  }
  return output as Readonly<Record<string, unknown>>;
}

/** An output value checked against its declared type, as the appender takes it. */
function appendValue(onDemand: OnDemandFeature, name: string, type: ValueType, value: unknown, row: bigint): AppendValue {
  if (value === null || value === undefined) return null;
  if (type === 'int') {
    if (typeof value === 'bigint') return value;
    if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  } else if (type === 'float') {
    if (typeof value === 'number') return value;
    if (typeof value === 'bigint') return Number(value);
  } else if (type === 'string') {
    if (typeof value === 'string') return value;
  } else if (typeof value === 'boolean') {
    return value;
  }
  const shown = typeof value === 'bigint' ? `${value}n` : JSON.stringify(value) ?? typeof value;
  throw new SluiceError('FEATURE_REQUEST', `on-demand feature "${onDemand.name}": output "${name}" is declared ${type}, but fn returned ${shown} (${typeof value}) on spine row ${row + 1n}`, { feature: onDemand.name, row: Number(row) + 1, column: name });
}
