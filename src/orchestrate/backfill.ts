// Backfills: one run of a job per partition in a date range, at most K at once, recorded in the catalog so that
// invoking the same backfill again continues where it stopped (partitions that succeeded are not run again).
import { recordAction } from '../access/audit.ts';
import { runAssets, type RunSummary } from '../batch/runner.ts';
import { plan } from '../batch/plan.ts';
import { reconcileVersions } from '../batch/reconcile.ts';
import { upToDateSteps } from '../batch/up-to-date.ts';
import type { Job } from '../define/job.ts';
import { describePartitions, inPartitions, keysBetween, timeRange, type Partitions } from '../define/partitions.ts';
import { getAsset, getJob } from '../define/project.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import type { BackfillPartitionRecord } from '../store/catalog/catalog.ts';
import type { Workspace } from '../workspace.ts';
import { asParent, jobRunLineage } from '../batch/openlineage.ts';
import { RunLineageEmitter } from '../batch/run-lineage.ts';

export interface BackfillOptions {
  readonly job: string;
  readonly from: string;
  readonly to: string;
  /** Partition runs at once (default 2). */
  readonly maxParallel?: number;
  /** Plan only: which partitions would run, and their steps; nothing is written. */
  readonly dryRun?: boolean;
  /** Rebuild partitions even when their inputs are unchanged (passed to each run). */
  readonly force?: boolean;
  /** Accept schema changes the assets' policies refuse, recorded as breaking. */
  readonly allowSchemaChange?: boolean;
  /** Also rerun partitions that already succeeded in this backfill. */
  readonly rerunSucceeded?: boolean;
  readonly onProgress?: (progress: BackfillProgress) => void;
}

export interface BackfillProgress {
  readonly backfillId: string;
  readonly total: number;
  /** Partitions that succeeded, including in earlier invocations. */
  readonly succeeded: number;
  readonly failed: number;
  readonly running: readonly string[];
  /** Partitions finished by this invocation (for the rate). */
  readonly doneNow: number;
  readonly remaining: number;
  readonly elapsedMs: number;
  /** Estimated time left from this invocation's pace; null until a partition finished. */
  readonly etaMs: number | null;
  /** The partition that just finished, if this report is for one. */
  readonly finished: { readonly partition: string; readonly status: 'success' | 'failed'; readonly runId: string; readonly ms: number; readonly error: string | null } | null;
}

export interface BackfillPartitionResult {
  readonly partition: string;
  /** `up-to-date`: every step of the partition was found unchanged before the backfill started, so no run was made. */
  readonly status: 'success' | 'failed' | 'done-before' | 'planned' | 'up-to-date';
  readonly runId: string | null;
  readonly ms: number;
  /** Steps planned for the partition, and of them: built, skipped (unchanged) and failed (or not run because an upstream step failed). */
  readonly steps: number;
  readonly built: number;
  readonly skipped: number;
  readonly failed: number;
  readonly error: string | null;
}

export interface BackfillSummary {
  readonly backfillId: string;
  readonly job: string;
  readonly from: string;
  readonly to: string;
  readonly dryRun: boolean;
  readonly partitions: readonly BackfillPartitionResult[];
  /** Partitions of the range outside every asset's partition range, left out. */
  readonly outOfRange: readonly string[];
  readonly status: 'success' | 'failed';
  readonly ms: number;
}

/** A backfill is named by its job and range, so the same command continues it. */
export function backfillId(job: string, from: string, to: string): string {
  return `${job}:${from}:${to}`;
}

/** The partitions of a range that at least one of the job's assets has; the rest are reported, not run. */
export function jobPartitions(ws: Workspace, job: Job, from: string, to: string): { partitions: string[]; outOfRange: string[] } {
  const assets = job.assets.map((name) => getAsset(ws.project, name));
  const definitions = assets.map((a) => a.partitions).filter((p) => p !== undefined);
  if (definitions.length === 0) {
    throw new SluiceError('INVALID_PARTITION', `job "${job.name}" builds unpartitioned assets (${job.assets.join(', ')}); a backfill needs partitioned assets: use \`sluice run\``, { job: job.name });
  }
  const partitions: string[] = [];
  const outOfRange: string[] = [];
  // A job's partitioned assets share one kind of partitions (checked when the project loads).
  for (const key of keysBetween(definitions[0] as Partitions, from, to)) (definitions.some((d) => inPartitions(d, key)) ? partitions : outOfRange).push(key);
  if (partitions.length === 0) {
    const ranges = [...new Set(definitions.map(describePartitions))].join('; ');
    throw new SluiceError('INVALID_PARTITION', `job "${job.name}" has no partition between ${from} and ${to}: its assets' partitions are ${ranges}`, { job: job.name });
  }
  return { partitions, outOfRange };
}

/**
 * The partitions (of `partitions`) whose every planned step is up to date now, with their step counts: planned and
 * decided once for the whole range (batch/up-to-date.ts), not run by run.
 */
async function upToDatePartitions(ws: Workspace, job: Job, partitions: readonly string[], force: boolean): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  if (force || partitions.length === 0) return result;
  const whole = plan(ws.project, { assets: job.assets, partitions });
  await reconcileVersions(ws, [...new Set(whole.map((s) => s.asset))]);
  const upToDate = await upToDateSteps(ws, whole, { force: false, settled: new Set() });
  for (const partition of partitions) {
    const steps = plan(ws.project, { assets: job.assets, partitions: [partition] });
    if (steps.every((s) => upToDate.has(s.key))) result.set(partition, steps.length);
  }
  return result;
}

export async function backfill(ws: Workspace, options: BackfillOptions): Promise<BackfillSummary> {
  const started = Date.now();
  const job = getJob(ws.project, options.job);
  const { partitions, outOfRange } = jobPartitions(ws, job, options.from, options.to);
  const id = backfillId(job.name, options.from, options.to);
  const maxParallel = Math.max(1, options.maxParallel ?? 2);

  if (options.dryRun === true) {
    const known = new Map((await ws.catalog.listBackfillPartitions(id)).map((p) => [p.partition, p]));
    const pending = partitions.filter((partition) => known.get(partition)?.status !== 'success' || options.rerunSucceeded === true);
    const current = await upToDatePartitions(ws, job, pending, options.force === true);
    const results = partitions.map((partition): BackfillPartitionResult => {
      const before = known.get(partition);
      const done = before?.status === 'success' && options.rerunSucceeded !== true;
      const steps = plan(ws.project, { assets: job.assets, partitions: [partition] }).length;
      const status = done ? 'done-before' : current.has(partition) ? 'up-to-date' : 'planned';
      return { partition, status, runId: before?.runId ?? null, ms: 0, steps, built: 0, skipped: status === 'up-to-date' ? steps : 0, failed: 0, error: null };
    });
    return { backfillId: id, job: job.name, from: options.from, to: options.to, dryRun: true, partitions: results, outOfRange, status: 'success', ms: Date.now() - started };
  }

  await ws.catalog.openBackfill({ id, job: job.name, from: options.from, to: options.to }, partitions);
  // In OpenLineage, each invocation is a run of job `backfill.<job>`, the parent of its partition runs.
  const lineage = new RunLineageEmitter(ws, (scope) => jobRunLineage(scope, `backfill:${id}:${new Date(started).toISOString()}`, `backfill.${job.name}`, rangeOf(ws, job, partitions)));
  lineage.runStart({ jobType: 'BACKFILL' });
  const lineageParent = lineage.run === undefined ? {} : { lineageParent: asParent(lineage.run) };
  await recordAction(ws.catalog, ws.settings.principal, 'backfill', `job:${job.name}`, { backfillId: id, from: options.from, to: options.to, partitions: partitions.length, force: options.force === true });
  const records = new Map((await ws.catalog.listBackfillPartitions(id)).map((p) => [p.partition, p]));
  const results = new Map<string, BackfillPartitionResult>();
  const pending: string[] = [];
  for (const partition of partitions) {
    const record = records.get(partition) as BackfillPartitionRecord;
    if (record.status === 'success' && options.rerunSucceeded !== true) {
      results.set(partition, { partition, status: 'done-before', runId: record.runId, ms: 0, steps: 0, built: 0, skipped: 0, failed: 0, error: null });
    } else pending.push(partition);
  }
  // Partitions whose every step is unchanged need no run: decided for the whole range at once, recorded as succeeded.
  const current = await upToDatePartitions(ws, job, pending, options.force === true);
  const todo: string[] = [];
  for (const partition of pending) {
    const steps = current.get(partition);
    if (steps === undefined) {
      todo.push(partition);
      continue;
    }
    await ws.catalog.updateBackfillPartition(id, partition, { status: 'success', runId: null, error: null });
    results.set(partition, { partition, status: 'up-to-date', runId: null, ms: 0, steps, built: 0, skipped: steps, failed: 0, error: null });
  }

  const running = new Set<string>();
  let doneNow = 0;
  let failed = 0;
  const report = (finished: BackfillProgress['finished']): void => {
    const elapsedMs = Date.now() - started;
    const remaining = todo.length - doneNow;
    options.onProgress?.({
      backfillId: id, total: partitions.length, succeeded: [...results.values()].filter((r) => r.status === 'success' || r.status === 'done-before' || r.status === 'up-to-date').length,
      failed, running: [...running], doneNow, remaining, elapsedMs,
      etaMs: doneNow === 0 ? null : Math.round((elapsedMs / doneNow) * remaining),
      finished,
    });
  };

  const runPartition = async (partition: string): Promise<void> => {
    const t0 = Date.now();
    running.add(partition);
    const attempts = (records.get(partition)?.attempts ?? 0) + 1;
    await ws.catalog.updateBackfillPartition(id, partition, { status: 'running', attempts, error: null });
    report(null);
    let summary: RunSummary | undefined;
    let error: string | null = null;
    try {
      summary = await runAssets(ws, {
        assets: job.assets, partitions: [partition], force: options.force ?? false, allowSchemaChange: options.allowSchemaChange ?? false,
        args: { command: 'backfill', job: job.name, backfill: id, partition, force: options.force ?? false },
        ...lineageParent,
      });
      if (summary.status !== 'success') {
        error = summary.steps.filter((s) => s.status === 'failed').map((s) => `${s.key}: ${s.error ?? ''}`).join('; ') || 'a step failed';
      }
    } catch (cause) {
      error = errorMessage(cause);
    }
    const status = error === null ? 'success' : 'failed';
    const runId = summary?.runId ?? null;
    await ws.catalog.updateBackfillPartition(id, partition, { status, runId, error });
    running.delete(partition);
    doneNow++;
    if (status === 'failed') failed++;
    const ms = Date.now() - t0;
    const stepsOf = summary?.steps ?? [];
    const count = (statuses: readonly string[]): number => stepsOf.filter((step) => statuses.includes(step.status)).length;
    results.set(partition, { partition, status, runId, ms, steps: stepsOf.length, built: count(['success']), skipped: count(['skipped']), failed: count(['failed', 'upstream_failed']), error });
    report({ partition, status, runId: runId ?? '', ms, error });
  };

  report(null);
  const queue = [...todo];
  const workers = Array.from({ length: Math.min(maxParallel, queue.length) }, async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) await runPartition(next);
  });
  try {
    await Promise.all(workers);
  } catch (error) {
    lineage.runEnd('failed', errorMessage(error));
    await lineage.flush();
    throw error;
  }

  const ordered = partitions.map((p) => results.get(p) as BackfillPartitionResult);
  const status = ordered.every((r) => r.status === 'success' || r.status === 'done-before' || r.status === 'up-to-date') ? 'success' : 'failed';
  const failures = ordered.filter((r) => r.status === 'failed');
  lineage.runEnd(status, failures.length === 0 ? null : `${failures.length} partition(s) failed: ${failures.map((r) => r.partition).join(', ')}`);
  await lineage.flush();
  return { backfillId: id, job: job.name, from: options.from, to: options.to, dryRun: false, partitions: ordered, outOfRange, status, ms: Date.now() - started };
}

/** The time a backfill covers: from its first partition's start to its last one's end (none for static keys). */
function rangeOf(ws: Workspace, job: Job, partitions: readonly string[]): { start: number; end: number } | undefined {
  const definition = job.assets.map((name) => getAsset(ws.project, name).partitions).find((p) => p !== undefined);
  const first = definition === undefined || partitions[0] === undefined ? undefined : timeRange(definition, partitions[0]);
  const last = definition === undefined || partitions.at(-1) === undefined ? undefined : timeRange(definition, partitions.at(-1) as string);
  return first === undefined || last === undefined ? undefined : { start: first.start, end: last.end };
}
