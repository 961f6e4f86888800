// OpenLineage events of runs and steps, built from what the runner already knows (the plan, a step's outcome,
// its check results): pure functions, so what a run emits can be tested without sending anything.
import type { Project } from '../define/project.ts';
import { getAsset } from '../define/project.ts';
import { timeRange } from '../define/partitions.ts';
import { readNamedEnv } from '../config.ts';
import { facets, fileDataset, httpDataset, lineageRunId, postgresDataset, runEvent, tableDataset, type Assertion, type DatasetId, type EventType, type Facet, type InputField, type JobId, type LineageDataset, type LineageRunEvent, type ParentRef } from '../connectors/openlineage-event.ts';
import type { CheckRecord, StepStatus } from '../store/catalog/catalog.ts';
import type { InputRef } from '../store/tables/manifest.ts';
import { renderSql } from './inputs.ts';
import type { StepOutcome } from './step.ts';

/** Where a project's events point: its job namespace, and the folders its datasets are named from. */
export interface LineageScope {
  readonly project: Project;
  readonly namespace: string;
  readonly stateDir: string;
  readonly projectDir: string;
}

/** A run as its events name it: the OpenLineage run id, its job, the parent (a backfill) and the partition's time. */
export interface RunLineage {
  readonly runId: string;
  readonly job: JobId;
  readonly parent: ParentRef | undefined;
  readonly nominal: { readonly start: number; readonly end: number } | undefined;
}

/**
 * Column-level lineage of one output column: the columns (of sluice datasets, by name) it was computed from.
 * The column-lineage analysis passes these to `stepEndEvent`; nothing is emitted without them.
 */
export interface ColumnLineage {
  readonly output: string;
  readonly inputs: readonly { readonly dataset: string; readonly column: string; readonly transformation?: 'DIRECT' | 'INDIRECT' }[];
}

export interface StepLineage {
  readonly stepId: string;
  readonly asset: string;
  readonly partition: string;
}

export interface StepResult {
  readonly status: StepStatus;
  readonly outcome: StepOutcome | null;
  /** The step's check results, also when a failing `error` check stopped it. */
  readonly checks: readonly CheckRecord[];
  readonly error: string | null;
  readonly columnLineage?: readonly ColumnLineage[] | undefined;
}

/** The run of `runAssets`: job `job.<name>` when it runs a named job (scheduler, backfill), else `run`. */
export function runLineage(scope: LineageScope, runId: string, args: Readonly<Record<string, unknown>>, partitions: readonly string[], parent: ParentRef | undefined): RunLineage {
  const job = typeof args['job'] === 'string' ? `job.${args['job']}` : 'run';
  // One time partition (a scheduled or backfilled day): that partition is the run's nominal time.
  const [only] = partitions;
  const timed = partitions.length === 1 && only !== undefined
    ? [...scope.project.datasets.values()].flatMap((d) => (d.kind === 'asset' && d.partitions !== undefined ? [d.partitions] : [])).map((p) => safeRange(p, only)).find((r) => r !== undefined)
    : undefined;
  return { runId: lineageRunId(runId), job: { namespace: scope.namespace, name: job }, parent, nominal: timed };
}

function safeRange(partitions: Parameters<typeof timeRange>[0], key: string): { start: number; end: number } | undefined {
  try {
    return timeRange(partitions, key);
  } catch {
    return undefined; // a key of another kind of partitioning
  }
}

/** A run that is not one of `runAssets` (a backfill): its job name and sluice id, the time it covers. */
export function jobRunLineage(scope: LineageScope, id: string, job: string, nominal?: { readonly start: number; readonly end: number }): RunLineage {
  return { runId: lineageRunId(id), job: { namespace: scope.namespace, name: job }, parent: undefined, nominal };
}

/** A run as the parent of the runs it starts. */
export function asParent(run: RunLineage): ParentRef {
  return { runId: run.runId, job: run.job, root: run.parent?.root ?? (run.parent === undefined ? undefined : { runId: run.parent.runId, job: run.parent.job }) };
}

const runFacetsOf = (parent: ParentRef | undefined, nominal: RunLineage['nominal']): Record<string, Facet> => ({
  ...(parent === undefined ? {} : { parent: facets.parent(parent) }),
  ...(nominal === undefined ? {} : { nominalTime: facets.nominalTime(nominal.start, nominal.end) }),
});

/** What a run event of a job (not a step) carries besides its run: its kind, and the datasets it read and wrote. */
export interface JobRunDetails {
  readonly processing?: 'BATCH' | 'STREAMING';
  /** The job's kind for the jobType facet: JOB (a run of assets), BACKFILL, STREAM, TRAINING_SET. */
  readonly jobType?: string;
  readonly inputs?: readonly LineageDataset[];
  readonly outputs?: readonly LineageDataset[];
}

export function runStartEvent(run: RunLineage, details: JobRunDetails = {}): LineageRunEvent {
  return jobRunEvent(run, 'START', null, details);
}

export function runEndEvent(run: RunLineage, status: 'success' | 'failed', error: string | null, details: JobRunDetails = {}): LineageRunEvent {
  return jobRunEvent(run, status === 'success' ? 'COMPLETE' : 'FAIL', error, details);
}

function jobRunEvent(run: RunLineage, eventType: EventType, error: string | null, details: JobRunDetails): LineageRunEvent {
  const runFacets = { ...runFacetsOf(run.parent, run.nominal), ...(error === null ? {} : { errorMessage: facets.errorMessage(error) }) };
  const jobFacets = { jobType: facets.jobType(details.processing ?? 'BATCH', details.jobType ?? 'JOB') };
  return runEvent({ eventType, runId: run.runId, job: run.job, runFacets, jobFacets, inputs: details.inputs ?? [], outputs: details.outputs ?? [] });
}

function stepRun(run: RunLineage, step: StepLineage, scope: LineageScope): { runId: string; job: JobId; runFacets: Record<string, Facet>; jobFacets: Record<string, Facet> } {
  const asset = getAsset(scope.project, step.asset);
  const range = step.partition === '' || asset.partitions === undefined ? undefined : safeRange(asset.partitions, step.partition);
  const parent = asParent(run);
  let sql: string | undefined;
  if (asset.extract === undefined) {
    try {
      sql = renderSql(scope.project, asset, step.partition).sql;
    } catch {
      sql = undefined; // the step's own error says why the SQL does not render
    }
  }
  return {
    runId: lineageRunId(step.stepId),
    job: { namespace: scope.namespace, name: `asset.${step.asset}` },
    runFacets: runFacetsOf(parent, range),
    jobFacets: { jobType: facets.jobType('BATCH', 'ASSET'), ...(sql === undefined ? {} : { sql: facets.sql(sql) }) },
  };
}

/** A sluice dataset (a source, an asset's table, an extract asset's PostgreSQL or HTTP source) by its OpenLineage name. */
export function datasetId(scope: LineageScope, name: string, consumer?: string): DatasetId {
  const dataset = scope.project.datasets.get(name);
  if (dataset?.kind === 'source') return fileDataset(scope.projectDir, dataset.path);
  if (dataset?.kind === 'asset') return tableDataset(scope.stateDir, name);
  const extract = consumer === undefined ? undefined : getAsset(scope.project, consumer).extract?.source;
  if (extract?.name === name) {
    return extract.type === 'http' ? httpDataset(extract.url) : postgresDataset(extract.url ?? readNamedEnv(extract.urlEnv), { table: extract.table, source: name });
  }
  return tableDataset(scope.stateDir, name);
}

/** What a step reads before it has run: its references, or an extract asset's source. */
function plannedInputs(scope: LineageScope, asset: string): DatasetId[] {
  const extract = getAsset(scope.project, asset).extract?.source;
  if (extract !== undefined) return [datasetId(scope, extract.name, asset)];
  return (scope.project.dependencies.get(asset) ?? []).map((d) => datasetId(scope, d.dataset, asset));
}

function readInput(scope: LineageScope, asset: string, read: InputRef): LineageDataset {
  // A table input's version is the one read; a source's is its fingerprint (its files' names, sizes and times).
  return { ...datasetId(scope, read.dataset, asset), facets: { version: facets.version(read.version === null ? read.fingerprint : String(read.version)) } };
}

function assertionOf(record: CheckRecord): Assertion {
  const observed = record.result['observed_value'];
  const actual = observed !== undefined && observed !== null ? observed : record.unexpectedCount;
  return {
    assertion: record.expectationType,
    success: record.success,
    severity: record.severity,
    ...(record.column === null ? {} : { column: record.column }),
    ...(actual === null ? {} : { actual: typeof actual === 'string' ? actual : JSON.stringify(actual) }),
    params: record.kwargs,
  };
}

function columnLineageFacet(scope: LineageScope, asset: string, lineage: readonly ColumnLineage[]): Facet {
  const fields: Record<string, InputField[]> = {};
  for (const column of lineage) {
    fields[column.output] = column.inputs.map((input) => ({
      ...datasetId(scope, input.dataset, asset), field: input.column,
      ...(input.transformation === undefined ? {} : { transformations: [{ type: input.transformation }] }),
    }));
  }
  return facets.columnLineage(fields);
}

export function stepStartEvent(scope: LineageScope, run: RunLineage, step: StepLineage): LineageRunEvent {
  return runEvent({ eventType: 'START', ...stepRun(run, step, scope), inputs: plannedInputs(scope, step.asset), outputs: [tableDataset(scope.stateDir, step.asset)] });
}

const EVENT_TYPES: Readonly<Record<StepStatus, EventType>> = { success: 'COMPLETE', skipped: 'COMPLETE', failed: 'FAIL', upstream_failed: 'ABORT', pending: 'ABORT', running: 'ABORT' };

/** COMPLETE (built or up to date), FAIL (with the error), ABORT (not run: an upstream step failed). */
export function stepEndEvent(scope: LineageScope, run: RunLineage, step: StepLineage, result: StepResult): LineageRunEvent {
  const base = stepRun(run, step, scope);
  const outcome = result.outcome;
  const committed = outcome?.committed ?? null;
  const datasetFacets: Record<string, Facet> = {
    ...(outcome === null ? {} : { version: facets.version(String(outcome.version)) }),
    ...(committed?.schema === undefined ? {} : { schema: facets.schema(committed.schema) }),
    ...(result.checks.length === 0 ? {} : { dataQualityAssertions: facets.dataQualityAssertions(result.checks.map(assertionOf)) }),
    ...(result.columnLineage === undefined || result.columnLineage.length === 0 ? {} : { columnLineage: columnLineageFacet(scope, step.asset, result.columnLineage) }),
  };
  const output: LineageDataset = {
    ...tableDataset(scope.stateDir, step.asset),
    ...(Object.keys(datasetFacets).length === 0 ? {} : { facets: datasetFacets }),
    ...(committed === null || outcome === null ? {} : { outputFacets: { outputStatistics: facets.outputStatistics(outcome.rowsOut, outcome.bytesWritten, committed.files) } }),
  };
  return runEvent({
    ...base,
    eventType: EVENT_TYPES[result.status],
    runFacets: { ...base.runFacets, ...(result.error === null ? {} : { errorMessage: facets.errorMessage(result.error) }) },
    inputs: outcome === null ? plannedInputs(scope, step.asset) : outcome.reads.map((read) => readInput(scope, step.asset, read)),
    outputs: [output],
  });
}
