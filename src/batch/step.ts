// One step: one partition of one asset. Resolve its inputs, skip it when its fingerprint is unchanged,
// otherwise run its SQL in DuckDB, write sorted zstd Parquet to staging and commit a new table version.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Project } from '../define/project.ts';
import { getAsset } from '../define/project.ts';
import type { Engine } from '../engine/engine.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { quoteIdent, quoteLiteral } from '../sql/identifiers.ts';
import { canonicalType, widensTo } from '../sql/types.ts';
import type { Asset, ColumnContract } from '../define/asset.ts';
import { isStaticKey, joinKey, KEY_SEPARATOR, partitionColumns, partitionValues, type Partitions } from '../define/partitions.ts';
import type { ColumnInfo, Session } from '../engine/engine.ts';
import type { ColumnSchema, InputRef, Manifest } from '../store/tables/manifest.ts';
import type { Catalog } from '../store/catalog/catalog.ts';
import type { CommitResult, MultiCommitResult, TableStore } from '../store/tables/table-store.ts';
import { entryPathInState } from '../store/tables/table-log.ts';
import { createProtectedView, localSecretOf, protectionFingerprint } from './protect.ts';
import { checkPiiRules } from './pii-inventory.ts';
import { prepareInputs, renderSql, resolveInputs, stepFingerprint, type LatestVersion, type RenderedSql, type ResolvedInput } from './inputs.ts';
import { describeFailure, runChecks, stagedRelation, type CheckOutcome } from './checks.ts';
import { executeExtract, isExtractAsset } from './extract.ts';
import { chooseOutputTypes, needsRange, type TypeWarning } from './output-types.ts';
import { stepColumnLineage } from './column-lineage.ts';
import type { ColumnLineageResult } from '../sql/column-lineage.ts';

export interface StepEnv {
  readonly project: Project;
  readonly projectDir: string;
  readonly stateDir: string;
  readonly engine: Engine;
  readonly tables: TableStore;
  /** For check history (anomaly detection); checks without history work without it. */
  readonly catalog?: Catalog;
}

export interface StepOutcome {
  readonly status: 'success' | 'skipped';
  readonly version: number;
  readonly rowsIn: number;
  readonly rowsOut: number;
  readonly bytesWritten: number;
  readonly badRecords: number;
  readonly reads: readonly InputRef[];
  readonly fingerprint: string;
  readonly file: string | null;
  /** Checks run on the output before it was published; null when the asset has none (or was skipped). */
  readonly checks: CheckOutcome | null;
  /** What the step wrote differently from what its SQL returns, losing precision (see output-types.ts); logged by the runner. */
  readonly warnings?: readonly TypeWarning[];
  /** Which input columns each output column came from (absent when skipped or not analysed). */
  readonly columnLineage?: ColumnLineageResult;
  /** The version this step published (null when skipped): what the catalog records about it. */
  readonly committed: { readonly createdAt: string; readonly changed: readonly string[]; readonly rowCount: number; readonly bytes: number; readonly manifestPath: string; readonly files?: number; readonly schema?: readonly ColumnSchema[] } | null;
}

/** A failed `error` check: nothing was published. Carries the results so the runner can record them. */
export class CheckFailedError extends SluiceError {
  readonly checks: CheckOutcome;

  constructor(message: string, context: { asset: string; partition: string }, checks: CheckOutcome) {
    super('CHECK_FAILED', message, context);
    this.checks = checks;
  }
}

/** The run a step belongs to, and what the run allows. */
export interface StepRun {
  readonly runId: string;
  readonly stepId: string | null;
  /** Accept schema changes the asset's policy refuses (`sluice run --allow-schema-change`), recorded as breaking. */
  readonly allowSchemaChange?: boolean | undefined;
}

/** How the caller stops a step: `signal` interrupts its DuckDB statement; `beforeCommit` may refuse the commit. */
export interface StepControl {
  /** Aborted only while the step runs (the session is open until the step's promise settles). */
  readonly signal?: AbortSignal;
  /** Called right before the new version is committed; throwing stops the commit (a timeout, a lost lease). */
  readonly beforeCommit?: () => Promise<void>;
}

export async function executeStep(env: StepEnv, run: StepRun, assetName: string, partition: string, force: boolean, control: StepControl = {}): Promise<StepOutcome> {
  const runId = run.runId;
  const asset = getAsset(env.project, assetName);
  if (isExtractAsset(asset)) return executeExtract(env, run, asset, force, control);
  const partitionColumn = asset.partitions?.column ?? null;
  /** The columns the partition key gives (two for time x static): never stored in the files. */
  const keyColumns = new Set(asset.partitions === undefined ? [] : partitionColumns(asset.partitions).map((c) => c.name));
  return env.engine.withSession(async (session) => {
    control.signal?.addEventListener('abort', () => session.interrupt(), { once: true });
    const resolved = await resolveStep(session, env, asset, partition);
    const { inputs, fingerprint, reads, current, upToDate } = resolved;
    if (!force && upToDate !== undefined) return upToDate;

    const prepared = await prepareInputs(session, env, asset, partition, inputs);
    const where = `asset "${asset.name}"${partition === '' ? '' : ` partition ${partition}`}`;
    const sqlError = (error: unknown): SluiceError => error instanceof SluiceError ? error
      : new SluiceError('ASSET_SQL', `${where}: its SQL failed: ${errorMessage(error)}`, { asset: asset.name, partition }, { cause: error });
    let output;
    let unprotectedOutput: ColumnInfo[] = [];
    let rendered = resolved.rendered;
    try {
      output = await session.describe(`SELECT * FROM (${rendered.sql})`);
      unprotectedOutput = output;
      if (asset.protect !== undefined) {
        // The asset's own personal-data policies apply to its SQL's result, before anything is written.
        const unprotected = quoteIdent(`${RESERVED_PREFIX}_unprotected`);
        await session.run(`CREATE OR REPLACE TEMP VIEW ${unprotected} AS ${rendered.sql}`);
        await createProtectedView(session, env, `asset "${asset.name}"`, asset.protect, unprotected, output, `${RESERVED_PREFIX}_protected`);
        rendered = { ...rendered, sql: `SELECT * FROM ${quoteIdent(`${RESERVED_PREFIX}_protected`)}` };
        output = await session.describe(rendered.sql);
      }
    } catch (error) {
      throw sqlError(error);
    }
    // Lineage is of the asset's own SQL; columns its personal-data policies dropped are left out.
    const lineageOf = await stepColumnLineage(session, resolved.rendered.sql, rendered.references, unprotectedOutput.map((c) => c.name));
    const written = new Set(output.map((c) => c.name));
    const columnLineage = { ...lineageOf, columns: lineageOf.columns.filter((c) => written.has(c.column)) };
    if (asset.piiForbidden === true && env.catalog !== undefined) await checkPiiRules({ project: env.project, catalog: env.catalog, tables: env.tables }, { asset: asset.name, columns: columnLineage.columns });
    const contract = typeof asset.schema === 'object' ? asset.schema.columns : undefined;
    if (asset.partitionBy !== undefined) {
      const built = await buildDynamic(session, env, run, asset, asset.partitionBy, partition, { sql: rendered.sql, output, contract, current, fingerprint, reads, rowsIn: prepared.rowsIn, badRecords: prepared.badRecords }, control, sqlError);
      return { ...built, columnLineage };
    }
    if (contract !== undefined) checkContractColumns(asset.name, partition, keyColumns, output, contract);
    const staged = env.tables.stagingPath(runId, asset.name, partition);
    // The partition value lives in the folder name (Hive style), not in the file: the SQL may return that
    // column only as the partition's own date (checkPartitionColumn), and it is left out of the file.
    // ORDER BY ALL makes the file's bytes a function of its content, so an unchanged rerun hashes the same.
    const guard = checkPartitionColumn(asset.name, partition, asset.partitions, output);
    const columns = output.filter((c) => !keyColumns.has(c.name)).map((c) => {
      const declared = contract?.[c.name];
      return declared === undefined
        ? { name: c.name, type: c.type, select: quoteIdent(c.name) }
        : { name: c.name, type: canonicalType(declared.type), select: `CAST(${quoteIdent(c.name)} AS ${declared.type}) AS ${quoteIdent(c.name)}` };
    });
    // Types Parquet cannot hold (HUGEINT from sum() of integers) are cast to one that holds their values, chosen
    // from their range: then the output is computed once into a temp table, aggregated, and written from there.
    const ranged = needsRange(columns);
    const temp = quoteIdent(`${RESERVED_PREFIX}_output`);
    let rowsOut: number;
    let fileColumns;
    let warnings: readonly TypeWarning[] = [];
    try {
      let from = `(${rendered.sql}) ${guard}`;
      let selects = columns.map((c) => c.select);
      if (ranged) {
        await session.run(`CREATE OR REPLACE TEMP TABLE ${temp} AS SELECT ${selects.join(', ')} FROM ${from}`);
        from = temp;
        selects = columns.map((c) => quoteIdent(c.name));
      }
      const types = await chooseOutputTypes(session, from, columns, current?.schema, where);
      warnings = types.warnings;
      // Casts apply to the output's columns: over the SQL directly, its contract casts come first, in a subquery.
      const wrapped = !ranged && types.casts.size > 0;
      const source = wrapped ? `(SELECT ${selects.join(', ')} FROM ${from})` : from;
      const written = columns.map((c, i) => {
        const cast = types.casts.get(c.name);
        if (cast !== undefined) return `CAST(${quoteIdent(c.name)} AS ${cast}) AS ${quoteIdent(c.name)}`;
        return wrapped ? quoteIdent(c.name) : selects[i] ?? quoteIdent(c.name);
      });
      const copy = `COPY (SELECT ${written.join(', ')} FROM ${source} ORDER BY ALL) TO ${quoteLiteral(staged)} (FORMAT parquet, COMPRESSION zstd)`;
      const result = await session.query<{ Count: bigint }>(copy);
      rowsOut = Number(result[0]?.Count ?? 0n);
      fileColumns = await session.describe(`SELECT * FROM read_parquet(${quoteLiteral(staged)}, hive_partitioning = false)`);
      if (contract !== undefined) await checkContractNulls(session, asset.name, partition, staged, contract);
    } catch (error) {
      await fs.rm(staged, { force: true });
      const text = errorMessage(error);
      if (text.includes(PARTITION_GUARD)) {
        const clash = [...keyColumns].find((name) => output.some((c) => c.name === name)) ?? '';
        throw new SluiceError('COLUMN_CONFLICT', `${where}: its SQL returns a column "${clash}" whose values are not the partition's own value ${partition}, but "${clash}" is the partition column sluice adds (from the folder name) when the table is read, so the data's values would be lost. Rename the data's column (e.g. SELECT * EXCLUDE (${clash}), ${clash} AS event_${clash}), or name the partition column otherwise: dailyPartitions({ ..., column: 'day' })`, { asset: asset.name, partition, column: clash });
      }
      throw sqlError(error);
    } finally {
      if (ranged) await session.run(`DROP TABLE IF EXISTS ${temp}`);
    }
    const before = current?.partitions[partition];
    if (rowsOut === 0 && before !== undefined && before.rows > 0 && asset.allowEmpty !== true) {
      await fs.rm(staged, { force: true });
      throw new SluiceError('EMPTY_DATA', `${where}: its output has no rows, where version ${current?.version ?? 0} has ${before.rows}; nothing was published. Check its inputs, or set allowEmpty: true on the asset if an empty partition is right`, { asset: asset.name, partition });
    }
    const schema = [...fileColumns, ...(asset.partitions === undefined ? [] : partitionColumns(asset.partitions))];
    const checks = await runChecks(session, env, asset, partition, stagedRelation(staged, asset.partitions, partition), schema.map((c) => c.name), run, current);
    if (checks !== null && checks.blocking.length > 0) {
      await fs.rm(staged, { force: true });
      const quarantined = checks.quarantineFile === null ? '' : `; ${checks.quarantinedRows} failing row(s) in ${checks.quarantineFile}`;
      throw new CheckFailedError(
        `${where}: ${checks.blocking.length} error check(s) failed, nothing was published: ${checks.blocking.map(describeFailure).join('; ')}${quarantined}`,
        { asset: asset.name, partition },
        checks,
      );
    }
    try {
      await control.beforeCommit?.();
    } catch (error) {
      await fs.rm(staged, { force: true });
      throw error;
    }
    const committed = await env.tables.commit({
      asset: asset.name, partition, partitionColumn, stagedFile: staged, schema, rows: rowsOut, runId, fingerprint, inputs: reads,
      schemaPolicy: asset.schema === 'strict' ? 'strict' : 'evolve', allowSchemaChange: run.allowSchemaChange === true,
    });
    return { status: 'success', rowsIn: prepared.rowsIn, rowsOut, badRecords: prepared.badRecords, reads, fingerprint, checks, warnings, columnLineage, ...committedOutcome(asset.name, committed) };
  });
}

export interface ResolvedStep {
  readonly rendered: RenderedSql;
  readonly inputs: readonly ResolvedInput[];
  readonly fingerprint: string;
  readonly reads: readonly InputRef[];
  /** The asset's current version. */
  readonly current: Manifest | undefined;
  /** The skipped outcome, when the partition's current entry was built from exactly these inputs. */
  readonly upToDate: StepOutcome | undefined;
}

/**
 * What a step reads and its fingerprint, without running anything; `latest` gives tables' current versions (a
 * caller deciding many steps at once passes a cache, so each table's version is looked up once).
 */
export async function resolveStep(session: Session, env: StepEnv, asset: Asset, partition: string, latest: LatestVersion = (name) => env.tables.latest(name)): Promise<ResolvedStep> {
  const rendered = renderSql(env.project, asset, partition);
  const inputs = await resolveInputs(session, env, asset, partition, rendered.references, latest);
  const sources = inputs.flatMap((i) => { const d = env.project.datasets.get(i.ref.dataset); return d?.kind === 'source' ? [d] : []; });
  const fingerprint = stepFingerprint(rendered.sql, asset.partitions?.column ?? null, inputs, protectionFingerprint(env.project, env.projectDir, asset, sources, localSecretOf(env)));
  const reads = inputs.map((i) => i.ref);
  const current = await latest(asset.name);
  const built = current === undefined ? undefined : builtWith(asset, current, partition);
  const upToDate: StepOutcome | undefined = current !== undefined && built !== undefined && built.fingerprint === fingerprint
    ? { status: 'skipped', version: current.version, rowsIn: 0, rowsOut: built.rows, bytesWritten: 0, badRecords: 0, reads, fingerprint, file: null, checks: null, committed: null }
    : undefined;
  return { rendered, inputs, fingerprint, reads, current, upToDate };
}

/**
 * The fingerprint a step's partition was last built with, and its rows; undefined when it was not built. A dynamic
 * asset's one step built every key: they all carry its fingerprint, or it must run again.
 */
export function builtWith(asset: Asset, current: Manifest, partition: string): { fingerprint: string; rows: number } | undefined {
  if (asset.partitionBy === undefined) return current.partitions[partition];
  const scope = partition === '' ? '' : `${partition}${KEY_SEPARATOR}`;
  const entries = Object.values(current.partitions).filter((e) => e.key.startsWith(scope));
  const fingerprint = entries[0]?.fingerprint;
  if (fingerprint === undefined || entries.some((e) => e.fingerprint !== fingerprint)) return undefined;
  return { fingerprint, rows: entries.reduce((sum, e) => sum + e.rows, 0) };
}

/** What a step's outcome says about the version it committed (the catalog records it). */
export function committedOutcome(assetName: string, committed: CommitResult | MultiCommitResult): Pick<StepOutcome, 'version' | 'bytesWritten' | 'file' | 'committed'> {
  const files = 'files' in committed ? committed.files : [committed.file];
  return {
    version: committed.manifest.version,
    bytesWritten: files.reduce((sum, f) => sum + f.bytes, 0),
    file: files[0]?.path ?? null,
    committed: {
      createdAt: committed.manifest.createdAt,
      changed: committed.manifest.changed,
      rowCount: committed.manifest.rowCount,
      bytes: committed.manifest.bytes,
      manifestPath: entryPathInState(assetName, committed.manifest.version),
      // For OpenLineage's schema and statistics facets; not recorded in the catalog.
      files: files.length,
      schema: committed.manifest.schema,
    },
  };
}

/** Keys one dynamic step may write: beyond this the column is almost surely not a partition key. */
const MAX_DYNAMIC_KEYS = 10_000;
const INTEGER_KEY_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT']);

interface DynamicBuild {
  readonly sql: string;
  readonly output: readonly { name: string; type: string }[];
  readonly contract: Readonly<Record<string, ColumnContract>> | undefined;
  readonly current: Manifest | undefined;
  readonly fingerprint: string;
  readonly reads: readonly InputRef[];
  readonly rowsIn: number;
  readonly badRecords: number;
}

/**
 * A dynamic asset's step (`partitionBy: 'region'`): the output is computed once into a temp table, split by the
 * column's values (the keys found), checked as a whole, and published as one version that puts every key found
 * and removes the keys no longer in the output. Each key's file is sorted, so an unchanged key keeps its bytes.
 * With time partitions as well (time x dynamic), a step is one time key `D` and writes the keys `D|<value>`,
 * removing only the keys of its own time.
 */
async function buildDynamic(
  session: Session, env: StepEnv, run: StepRun, asset: Asset, column: string, partition: string, build: DynamicBuild, control: StepControl,
  sqlError: (error: unknown) => SluiceError,
): Promise<StepOutcome> {
  const where = `asset "${asset.name}"${partition === '' ? '' : ` partition ${partition}`}`;
  const time = asset.partitions;
  const timeColumns = time === undefined ? [] : partitionColumns(time);
  const found = build.output.find((c) => c.name === column);
  if (found === undefined) {
    throw new SluiceError('DEFINITION_INVALID', `${where}: partitionBy "${column}" is not a column of its SQL's output (${build.output.map((c) => c.name).join(', ')}); return it, or change partitionBy`, { asset: asset.name, column });
  }
  const keyType = canonicalType(found.type);
  if (keyType !== 'VARCHAR' && !INTEGER_KEY_TYPES.has(keyType)) {
    throw new SluiceError('DEFINITION_INVALID', `${where}: partitionBy column "${column}" is ${found.type}; a dynamic partition key must be text or an integer (it names a folder): cast it, e.g. CAST(${column} AS VARCHAR) AS ${column}`, { asset: asset.name, column });
  }
  const keyColumns = new Set([column, ...timeColumns.map((c) => c.name)]);
  if (build.contract !== undefined) checkContractColumns(asset.name, partition, keyColumns, build.output, build.contract);
  const guard = checkPartitionColumn(asset.name, partition, time, build.output);
  /** A table key: the value, or `<time>|<value>`. */
  const fullKey = (value: string): string => (time === undefined ? value : joinKey(partition, value));
  const scope = time === undefined ? '' : `${partition}${KEY_SEPARATOR}`;
  const temp = `__sluice_dynamic_${randomBytes(6).toString('hex')}`;
  const staged: { key: string; stagedFile: string; rows: number }[] = [];
  const cleanup = async (): Promise<void> => {
    for (const file of staged) await fs.rm(file.stagedFile, { force: true });
  };
  try {
    const columns = build.output.filter((c) => !keyColumns.has(c.name)).map((c) => {
      const declared = build.contract?.[c.name];
      return declared === undefined ? quoteIdent(c.name) : `CAST(${quoteIdent(c.name)} AS ${declared.type}) AS ${quoteIdent(c.name)}`;
    });
    try {
      await session.run(`CREATE TEMP TABLE ${quoteIdent(temp)} AS SELECT ${[...columns, quoteIdent(column)].join(', ')} FROM (${build.sql}) ${guard}`);
    } catch (error) {
      if (errorMessage(error).includes(PARTITION_GUARD)) {
        const clash = timeColumns.find((c) => build.output.some((o) => o.name === c.name))?.name ?? '';
        throw new SluiceError('COLUMN_CONFLICT', `${where}: its SQL returns a column "${clash}" whose values are not the partition's own value ${partition}, but "${clash}" is the partition column sluice adds; rename the data's column`, { asset: asset.name, partition, column: clash });
      }
      throw sqlError(error);
    }
    const keys = await session.query<{ key: string | null; n: bigint }>(`SELECT CAST(${quoteIdent(column)} AS VARCHAR) AS key, count(*) AS n FROM ${quoteIdent(temp)} GROUP BY ALL ORDER BY key NULLS FIRST`);
    const nulls = keys.find((k) => k.key === null);
    if (nulls !== undefined) {
      throw new SluiceError('SOURCE_SCHEMA', `${where}: ${nulls.n} row(s) have NULL in its partitionBy column "${column}", and every row needs a partition key; fill it (coalesce(${column}, 'unknown') AS ${column}) or filter those rows out`, { asset: asset.name, column });
    }
    const bad = keys.filter((k) => !isStaticKey(k.key as string));
    if (bad.length > 0) {
      throw new SluiceError('SOURCE_SCHEMA', `${where}: partitionBy column "${column}" has ${bad.length} value(s) that cannot be partition keys (${bad.slice(0, 5).map((k) => JSON.stringify(k.key)).join(', ')}${bad.length > 5 ? ', …' : ''}): a key names a folder, so it must be letters, digits, _, - and . (not starting with .), at most 128 characters; map them in the SQL, e.g. regexp_replace(${column}, '[^A-Za-z0-9_.-]', '_', 'g') AS ${column}`, { asset: asset.name, column });
    }
    if (keys.length > MAX_DYNAMIC_KEYS) {
      throw new SluiceError('SOURCE_SCHEMA', `${where}: partitionBy column "${column}" has ${keys.length} distinct values, more than ${MAX_DYNAMIC_KEYS}: a partition per value would make ${keys.length} folders; partition by a coarser column`, { asset: asset.name, column });
    }
    const rowsOut = keys.reduce((sum, k) => sum + Number(k.n), 0);
    const before = build.current === undefined ? 0 : Object.values(build.current.partitions).filter((e) => e.key.startsWith(scope)).reduce((sum, e) => sum + e.rows, 0);
    if (rowsOut === 0 && before > 0 && asset.allowEmpty !== true) {
      throw new SluiceError('EMPTY_DATA', `${where}: its output has no rows, where version ${build.current?.version ?? 0} has ${before}; nothing was published. Check its inputs, or set allowEmpty: true on the asset if an empty ${time === undefined ? 'table' : 'partition'} is right`, { asset: asset.name, partition });
    }
    // Types Parquet cannot hold (HUGEINT from sum()) are cast as a plain step casts them (output-types.ts).
    const dataColumns = (await session.describe(`SELECT * EXCLUDE (${quoteIdent(column)}) FROM ${quoteIdent(temp)}`)).map((c) => ({ name: c.name, type: c.type }));
    const types = await chooseOutputTypes(session, quoteIdent(temp), dataColumns, build.current?.schema, where);
    const written = dataColumns.map((c) => {
      const cast = types.casts.get(c.name);
      return cast === undefined ? quoteIdent(c.name) : `CAST(${quoteIdent(c.name)} AS ${cast}) AS ${quoteIdent(c.name)}`;
    }).join(', ');
    let fileColumns: { name: string; type: string }[] = [];
    for (const { key, n } of keys) {
      const stagedFile = env.tables.stagingPath(run.runId, asset.name, fullKey(key as string));
      staged.push({ key: fullKey(key as string), stagedFile, rows: Number(n) });
      await session.run(`COPY (SELECT ${written} FROM ${quoteIdent(temp)} WHERE CAST(${quoteIdent(column)} AS VARCHAR) = ${quoteLiteral(key as string)} ORDER BY ALL) TO ${quoteLiteral(stagedFile)} (FORMAT parquet, COMPRESSION zstd)`);
      if (fileColumns.length === 0) fileColumns = await session.describe(`SELECT * FROM read_parquet(${quoteLiteral(stagedFile)}, hive_partitioning = false)`);
    }
    if (fileColumns.length === 0) fileColumns = dataColumns.map((c) => ({ name: c.name, type: types.casts.get(c.name) ?? c.type }));
    const schema = [...fileColumns, ...timeColumns, { name: column, type: keyType }];
    const timeValues = time === undefined ? '' : partitionValues(time, partition).map((v) => `, ${v.literal} AS ${quoteIdent(v.name)}`).join('');
    const checks = await runChecks(session, env, asset, partition, `(SELECT *${timeValues} FROM ${quoteIdent(temp)})`, schema.map((c) => c.name), run, build.current);
    if (checks !== null && checks.blocking.length > 0) {
      const quarantined = checks.quarantineFile === null ? '' : `; ${checks.quarantinedRows} failing row(s) in ${checks.quarantineFile}`;
      throw new CheckFailedError(`${where}: ${checks.blocking.length} error check(s) failed, nothing was published: ${checks.blocking.map(describeFailure).join('; ')}${quarantined}`, { asset: asset.name, partition }, checks);
    }
    await control.beforeCommit?.();
    const committed = await env.tables.commitPartitions({
      asset: asset.name, partitionColumn: dynamicPartitionColumn(asset) ?? column, runId: run.runId, fingerprint: build.fingerprint, inputs: build.reads,
      partitions: staged.map((p) => ({ ...p, schema })), removeWithin: scope,
      schemaPolicy: asset.schema === 'strict' ? 'strict' : 'evolve', allowSchemaChange: run.allowSchemaChange === true,
    });
    staged.length = 0;
    return { status: 'success', rowsIn: build.rowsIn, rowsOut, badRecords: build.badRecords, reads: build.reads, fingerprint: build.fingerprint, checks, warnings: types.warnings, ...committedOutcome(asset.name, committed) };
  } finally {
    await cleanup();
    await session.run(`DROP TABLE IF EXISTS ${quoteIdent(temp)}`).catch(() => undefined);
  }
}

/** The table's partition column(s) of a dynamic asset: `region`, or `date/region` with time partitions. */
export function dynamicPartitionColumn(asset: Asset): string | undefined {
  if (asset.partitionBy === undefined) return undefined;
  return asset.partitions === undefined ? asset.partitionBy : `${asset.partitions.column}/${asset.partitionBy}`;
}

/** Text of the error a partition-column guard raises inside DuckDB; the step turns it into COLUMN_CONFLICT. */
const PARTITION_GUARD = 'sluice: partition column mismatch';
/** Columns sluice itself adds when it reads tables: a data column may not take these names. */
const RESERVED_PREFIX = '__sluice';

/**
 * A data column named like the partition column is allowed only when it holds the partition's own value (the
 * common `SELECT ${partitionDate} AS date, ...`, or `${partitionValue}`): any other type is refused here, other values by a guard
 * in the query. Returns the guard (a WHERE clause), or '' when the SQL does not return that column.
 */
function checkPartitionColumn(assetName: string, partition: string, partitions: Partitions | undefined, output: readonly { name: string; type: string }[]): string {
  const reserved = output.find((c) => c.name.startsWith(RESERVED_PREFIX));
  if (reserved !== undefined) {
    throw new SluiceError('COLUMN_CONFLICT', `asset "${assetName}": its SQL returns a column "${reserved.name}", but names starting with ${RESERVED_PREFIX} are sluice's own (added when tables are read); rename it`, { asset: assetName, partition, column: reserved.name });
  }
  if (partitions === undefined) return '';
  const values = new Map(partitionValues(partitions, partition).map((v) => [v.name, v.literal]));
  const guards: string[] = [];
  for (const column of partitionColumns(partitions)) {
    const clash = output.find((c) => c.name === column.name);
    if (clash === undefined) continue;
    if (canonicalType(clash.type) !== column.type) {
      throw new SluiceError(
        'COLUMN_CONFLICT',
        `asset "${assetName}" partition ${partition}: its SQL returns a column "${clash.name}" (${clash.type}), but "${clash.name}" is the partition column: sluice stores the partition key (a ${column.type}) under that name, so the data's column would be silently replaced. ` +
          `Rename the data's column (e.g. SELECT * EXCLUDE (${clash.name}), ${clash.name} AS event_${clash.name}), or name the partition column otherwise: dailyPartitions({ ..., column: 'day' })`,
        { asset: assetName, partition, column: clash.name },
      );
    }
    guards.push(`${quoteIdent(clash.name)} IS DISTINCT FROM ${values.get(column.name) ?? 'NULL'}`);
  }
  return guards.length === 0 ? '' : `WHERE CASE WHEN ${guards.join(' OR ')} THEN error(${quoteLiteral(PARTITION_GUARD)}) ELSE true END`;
}

/** The output's columns against the asset's declared contract: every difference at once. */
function checkContractColumns(assetName: string, partition: string, keyColumns: ReadonlySet<string>, output: readonly { name: string; type: string }[], contract: Readonly<Record<string, ColumnContract>>): void {
  const problems: string[] = [];
  const have = new Map(output.filter((c) => !keyColumns.has(c.name)).map((c) => [c.name, c.type]));
  for (const [name, column] of Object.entries(contract)) {
    const type = have.get(name);
    if (type === undefined) problems.push(`column "${name}" (${column.type}) is missing`);
    else if (!widensTo(type, column.type)) problems.push(`column "${name}" is ${type}, the contract says ${column.type}`);
  }
  for (const name of have.keys()) if (!Object.hasOwn(contract, name)) problems.push(`column "${name}" is not in the contract`);
  if (problems.length === 0) return;
  throw new SluiceError(
    'SCHEMA_CHANGE',
    `asset "${assetName}"${partition === '' ? '' : ` partition ${partition}`} breaks its schema contract, nothing was published: ${problems.join('; ')}. Fix the SQL, or change the asset's schema: { columns: ... }`,
    { asset: assetName, partition, problems },
  );
}

async function checkContractNulls(session: Session, assetName: string, partition: string, staged: string, contract: Readonly<Record<string, ColumnContract>>): Promise<void> {
  const required = Object.entries(contract).filter(([, c]) => !c.nullable).map(([name]) => name);
  if (required.length === 0) return;
  const counts = required.map((name, i) => `count(*) FILTER (WHERE ${quoteIdent(name)} IS NULL) AS n${i}`).join(', ');
  const [row] = await session.query<Record<string, bigint>>(`SELECT ${counts} FROM read_parquet(${quoteLiteral(staged)}, hive_partitioning = false)`);
  const problems = required.flatMap((name, i) => {
    const n = Number(row?.[`n${i}`] ?? 0n);
    return n === 0 ? [] : [`column "${name}" has ${n} NULL value(s) but is not nullable`];
  });
  if (problems.length === 0) return;
  throw new SluiceError('SCHEMA_CHANGE', `asset "${assetName}"${partition === '' ? '' : ` partition ${partition}`} breaks its schema contract, nothing was published: ${problems.join('; ')}`, { asset: assetName, partition, problems });
}
