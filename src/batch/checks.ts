// Checks in the pipeline: an asset's suite runs on the staged output of each step, before anything is
// published. Results go to the catalog; rows failing a row-level expectation go to a quarantine table;
// a failed `error` check stops the commit (and so every downstream step).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Asset } from '../define/asset.ts';
import type { ExpectationConfig } from '../define/checks.ts';
import { partitionValues, previousKey, timeRange, type Partitions } from '../define/partitions.ts';
import type { Project } from '../define/project.ts';
import type { Session } from '../engine/engine.ts';
import { quoteIdent, quoteLiteral } from '../sql/identifiers.ts';
import type { Catalog, CheckRecord } from '../store/catalog/catalog.ts';
import type { Manifest } from '../store/tables/manifest.ts';
import type { TableStore } from '../store/tables/table-store.ts';
import type { ExpectationResult, QualityContext, ValidationResult } from '../quality/types.ts';
import { unexpectedRowPredicate } from '../quality/validate.ts';
import { isStatistical, metricKey } from '../quality/statistical.ts';
import { runSuite } from '../quality/run-suite.ts';
import { tableRelation } from '../store/tables/table-relation.ts';

export interface CheckOutcome {
  readonly validation: ValidationResult;
  readonly records: readonly CheckRecord[];
  /** Failed expectations of severity `error`: the step must not publish. */
  readonly blocking: readonly ExpectationResult[];
  readonly warnings: readonly ExpectationResult[];
  readonly quarantineFile: string | null;
  readonly quarantinedRows: number;
}

export function severityOf(config: ExpectationConfig): 'error' | 'warn' {
  return config.meta?.severity === 'warn' ? 'warn' : 'error';
}

export function columnOf(config: ExpectationConfig): string | null {
  const column = config.kwargs['column'];
  return typeof column === 'string' ? column : null;
}

/** The relation a staged step output is validated as: the file plus its partition column. */
export function stagedRelation(stagedFile: string, partitions: Partitions | undefined, partition: string): string {
  const extra = partitions === undefined ? '' : partitionValues(partitions, partition).map((v) => `, ${v.literal} AS ${quoteIdent(v.name)}`).join('');
  return `(SELECT *${extra} FROM read_parquet(${quoteLiteral(stagedFile)}, hive_partitioning = false))`;
}

/**
 * The context expectations may need: the previous partition (for a daily table) or the current version
 * (unpartitioned) as `previous`, other assets' latest versions by name, and the partition's end.
 */
export async function checkContext(project: Project, tables: TableStore, asset: Asset, partition: string, current: Manifest | undefined, catalog?: Catalog): Promise<QualityContext> {
  let previous: string | undefined;
  if (current !== undefined) {
    // Unpartitioned, or a dynamic asset's whole table (every key it wrote).
    if (partition === '') previous = `(${tableRelation(tables, current, Object.keys(current.partitions).sort())})`;
    else {
      // The previous partition of a time partitioning (none for static keys), when it was built.
      const before = asset.partitions === undefined ? undefined : previousKey(asset.partitions, partition);
      // A time x dynamic table: the previous time's keys, all of them.
      const keys = before === undefined ? [] : asset.partitionBy === undefined ? [before] : Object.keys(current.partitions).filter((key) => key.startsWith(`${before}|`)).sort();
      if (keys.length > 0 && keys.every((key) => current.partitions[key] !== undefined)) previous = `(${tableRelation(tables, current, keys)})`;
    }
  }
  const others = new Map<string, string>();
  const wanted = new Set(asset.checks.map((c) => c.kwargs['other_table']).filter((t): t is string => typeof t === 'string'));
  for (const name of wanted) {
    const dataset = project.datasets.get(name);
    if (dataset?.kind !== 'asset') continue;
    const manifest = name === asset.name ? current : await tables.latest(name);
    if (manifest !== undefined) others.set(name, `(${tableRelation(tables, manifest, Object.keys(manifest.partitions).sort())})`);
  }
  // Pinned reference versions for drift checks.
  const pinned = new Map<number, string>();
  for (const check of asset.checks) {
    const version = check.kwargs['reference'];
    if (typeof version !== 'number' || pinned.has(version)) continue;
    const manifest = await tables.read(asset.name, version);
    const keys = partition !== '' && manifest.partitions[partition] !== undefined ? [partition] : Object.keys(manifest.partitions).sort();
    pinned.set(version, `(${tableRelation(tables, manifest, keys)})`);
  }
  // Metric history for anomaly checks: the observed values of the same check in earlier runs, oldest first.
  const history = new Map<string, number[]>();
  if (catalog !== undefined && asset.checks.some((c) => c.type.endsWith('_to_not_be_anomalous'))) {
    const past = await catalog.listChecks({ target: asset.name, limit: 5000 });
    for (const record of [...past].reverse()) {
      const value = record.result['observed_value'];
      if (typeof value !== 'number' || !record.expectationType.endsWith('_to_not_be_anomalous')) continue;
      const key = metricKey(record.expectationType, record.column);
      history.set(key, [...(history.get(key) ?? []), value]);
    }
  }
  return {
    previous,
    pinned,
    history: (metric) => history.get(metric) ?? [],
    tables: others,
    now: new Date(),
    partitionEnd: partition === '' || asset.partitions === undefined ? undefined : (() => {
      const range = timeRange(asset.partitions, partition);
      return range === undefined ? undefined : new Date(range.end);
    })(),
  };
}

export async function runChecks(
  session: Session,
  env: { project: Project; tables: TableStore; stateDir: string; catalog?: Catalog },
  asset: Asset,
  partition: string,
  relation: string,
  columns: readonly string[],
  run: { runId: string; stepId: string | null },
  current: Manifest | undefined,
): Promise<CheckOutcome | null> {
  if (asset.checks.length === 0) return null;
  const context = await checkContext(env.project, env.tables, asset, partition, current, env.catalog);
  const validation = await runSuite(session, relation, { name: asset.name, expectations: asset.checks }, context, {}, columns);
  const records = toCheckRecords(validation.results, { ...run, target: asset.name, partition });
  const failed = validation.results.filter((r) => !r.success);
  const quarantine = await writeQuarantine(session, env.stateDir, asset.name, partition, run.runId, relation, columns, failed, context);
  return {
    validation,
    records,
    blocking: failed.filter((r) => severityOf(r.expectation_config) === 'error'),
    warnings: failed.filter((r) => severityOf(r.expectation_config) === 'warn'),
    quarantineFile: quarantine.file,
    quarantinedRows: quarantine.rows,
  };
}

/** Catalog records of a validation's results, for a pipeline step or a standalone validation. */
export function toCheckRecords(results: readonly ExpectationResult[], where: { runId: string; stepId: string | null; target: string; partition: string }): CheckRecord[] {
  const createdAt = new Date().toISOString();
  return results.map((r, index) => ({
    ...where,
    index,
    expectationType: r.expectation_config.type,
    column: columnOf(r.expectation_config),
    severity: severityOf(r.expectation_config),
    success: r.success,
    unexpectedCount: typeof r.result.unexpected_count === 'number' ? r.result.unexpected_count : null,
    unexpectedPercent: typeof r.result.unexpected_percent === 'number' ? r.result.unexpected_percent : null,
    kwargs: { ...r.expectation_config.kwargs },
    result: { ...r.result, ...(r.exception_info.raised_exception ? { exception_message: r.exception_info.exception_message } : {}) },
    createdAt,
  }));
}

/** Rows failing row-level expectations, each with the expectation it failed, as one Parquet file per step. */
async function writeQuarantine(
  session: Session,
  stateDir: string,
  asset: string,
  partition: string,
  runId: string,
  relation: string,
  columns: readonly string[],
  failed: readonly ExpectationResult[],
  context: QualityContext,
): Promise<{ file: string | null; rows: number }> {
  const selects: string[] = [];
  failed.forEach((r) => {
    if (r.exception_info.raised_exception) return;
    if (isStatistical(r.expectation_config.type)) return;
    const predicate = unexpectedRowPredicate(r.expectation_config, columns, { relation, context });
    if (predicate === null) return;
    const label = `${r.expectation_config.type}${columnOf(r.expectation_config) === null ? '' : `(${columnOf(r.expectation_config) ?? ''})`}`;
    selects.push(`SELECT *, ${quoteLiteral(label)} AS _failed_expectation, ${quoteLiteral(severityOf(r.expectation_config))} AS _severity FROM ${relation} WHERE ${predicate}`);
  });
  if (selects.length === 0) return { file: null, rows: 0 };
  const dir = path.join(stateDir, 'quarantine', asset, partition === '' ? '_' : partition);
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${runId}.parquet`);
  const temp = `${file}.tmp-${process.pid}`;
  const [count] = await session.query<{ Count: bigint }>(`COPY (${selects.join(' UNION ALL ')}) TO ${quoteLiteral(temp)} (FORMAT parquet, COMPRESSION zstd)`);
  await fs.rename(temp, file);
  return { file, rows: Number(count?.Count ?? 0n) };
}

/** One line per failed expectation, for error messages and alerts. */
export function describeFailure(r: ExpectationResult): string {
  const column = columnOf(r.expectation_config);
  const name = `${r.expectation_config.type}${column === null ? '' : `(${column})`}`;
  if (r.exception_info.raised_exception) return `${name}: ${r.exception_info.exception_message ?? 'could not be evaluated'}`;
  const unexpected = typeof r.result.unexpected_count === 'number'
    ? `${r.result.unexpected_count} unexpected${typeof r.result.unexpected_percent === 'number' ? ` (${r.result.unexpected_percent.toFixed(2)}%)` : ''}`
    : `observed ${JSON.stringify(r.result.observed_value)}`;
  const sample = Array.isArray(r.result.partial_unexpected_list) && r.result.partial_unexpected_list.length > 0
    ? `, e.g. ${JSON.stringify(r.result.partial_unexpected_list.slice(0, 3))}` : '';
  return `${name}: ${unexpected}${sample}`;
}
