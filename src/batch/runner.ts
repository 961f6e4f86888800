// Running a plan: steps execute as soon as their upstream steps succeed, at most `concurrency` at once;
// a failure stops its downstream steps but not independent ones. Every step is recorded in the catalog.
// Attempts go to an executor (in process, or a queue of `sluice worker` processes); retries and records stay here.
import { randomBytes } from 'node:crypto';
import { recordAction } from '../access/audit.ts';
import { getAsset } from '../define/project.ts';
import { errorMessage } from '../errors.ts';
import type { CheckRecord, LineageEdge, NewStep, StepRecord, StepStatus } from '../store/catalog/catalog.ts';
import type { Workspace } from '../workspace.ts';
import { reconcileVersions } from './reconcile.ts';
import { RUN_HEARTBEAT_MS } from './abandoned.ts';
import { PROCESS_OWNER } from '../store/owner.ts';
import { plan, type PlannedStep } from './plan.ts';
import { withRetry } from './retry.ts';
import { upToDateSteps } from './up-to-date.ts';
import type { StepExecutor } from './executor.ts';
import { CheckFailedError, type StepOutcome } from './step.ts';
import { sendAlert, type AlertPayload } from '../connectors/alerts.ts';
import type { ExpectationResult } from '../quality/types.ts';
import { columnOf, describeFailure } from './checks.ts';
import type { ParentRef } from '../connectors/openlineage-event.ts';
import { checkPiiRules } from './pii-inventory.ts';
import { RunLineageEmitter } from './run-lineage.ts';

export interface RunRequest {
  /** Asset names; all when empty. */
  readonly assets?: readonly string[];
  readonly partitions?: readonly string[];
  /** Rebuild the selected assets' partitions even when unchanged. */
  readonly force?: boolean;
  /** Accept schema changes the assets' policies refuse, recorded as breaking (`--allow-schema-change`). */
  readonly allowSchemaChange?: boolean;
  readonly concurrency?: number;
  /** Record these in the catalog as the run's arguments. */
  readonly args?: Record<string, unknown>;
  /** The run's id, when the caller reserved one (a scheduler claims a run key for it first). */
  readonly runId?: string;
  readonly onEvent?: (event: RunEvent) => void;
  /** Where attempts run; the workspace's executor (in process, or the queue when SLUICE_QUEUE_URL is set) by default. */
  readonly executor?: StepExecutor;
  /** Steps (by key) that completed in the run being resumed: recorded as skipped, not executed again. */
  readonly reuse?: ReadonlyMap<string, StepRecord>;
  /** The run this one belongs to in OpenLineage events (a backfill). */
  readonly lineageParent?: ParentRef;
}

export type RunEvent =
  | { readonly type: 'run-start'; readonly runId: string; readonly steps: number }
  /** Steps found up to date before anything ran (each also gets its `step-end`, status skipped). */
  | { readonly type: 'up-to-date'; readonly keys: readonly string[] }
  | { readonly type: 'step-start'; readonly key: string; readonly asset: string; readonly partition: string }
  | { readonly type: 'step-retry'; readonly key: string; readonly attempt: number; readonly delayMs: number; readonly error: string }
  | { readonly type: 'step-end'; readonly key: string; readonly asset: string; readonly partition: string; readonly status: StepStatus; readonly rowsOut: number | null; readonly ms: number; readonly error: string | null }
  | { readonly type: 'run-end'; readonly runId: string; readonly status: 'success' | 'failed' };

export interface StepSummary {
  readonly id: string;
  readonly key: string;
  readonly asset: string;
  readonly partition: string;
  readonly status: StepStatus;
  readonly attempts: number;
  readonly ms: number;
  readonly outcome: StepOutcome | null;
  readonly error: string | null;
}

export interface RunSummary {
  readonly runId: string;
  readonly status: 'success' | 'failed';
  readonly steps: readonly StepSummary[];
  readonly ms: number;
}

/** The read edges of a step's outcome (what it read, at which versions), for the catalog's lineage. */
function readEdges(runId: string, stepId: string, outcome: StepOutcome): LineageEdge[] {
  return outcome.reads.map((r) => ({ runId, stepId, direction: 'read', dataset: r.dataset, kind: r.kind, version: r.version, partition: r.partitions.join(','), fingerprint: r.fingerprint }));
}

/** A committed version's column lineage; what the analysis could not resolve is logged (and recorded as such). */
async function recordColumnLineage(ws: Workspace, runId: string, asset: string, outcome: StepOutcome): Promise<void> {
  const lineage = outcome.columnLineage;
  if (lineage === undefined) return;
  for (const reason of lineage.unresolved) ws.logger.debug({ asset, version: outcome.version }, `column lineage: ${reason}`);
  await ws.catalog.recordColumnLineage(lineage.columns.map((c) => ({ asset, version: outcome.version, runId, column: c.column, inputs: c.inputs })));
}

export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export async function runAssets(ws: Workspace, request: RunRequest = {}): Promise<RunSummary> {
  const steps = plan(ws.project, { assets: request.assets ?? [], partitions: request.partitions ?? [] });
  await checkPiiRules(ws);
  await reconcileVersions(ws, [...new Set(steps.map((s) => s.asset))]);
  const runId = request.runId ?? newRunId();
  const started = Date.now();
  const args = request.args ?? { assets: request.assets ?? [], partitions: request.partitions ?? [], force: request.force ?? false };
  await ws.catalog.createRun({ id: runId, project: ws.project.name, startedAt: new Date(started).toISOString(), args, owner: PROCESS_OWNER });
  const lineage = RunLineageEmitter.forRun(ws, runId, args, request.partitions ?? [], request.lineageParent);
  lineage.runStart();
  const assets = [...new Set(steps.map((s) => s.asset))];
  await recordAction(ws.catalog, ws.settings.principal, 'run', assets.length === 1 ? `asset:${assets[0] ?? ''}` : `assets:${assets.length}`, { runId, assets, partitions: [...new Set(steps.map((s) => s.partition))].length, force: request.force ?? false }, started);
  // A heartbeat, so a run whose process dies is seen as abandoned by the next command (batch/abandoned.ts).
  const heartbeat = setInterval(() => {
    ws.catalog.heartbeatRun(runId, Date.now()).catch((error: unknown) => ws.logger.warn({ run: runId, err: errorMessage(error) }, 'run heartbeat failed'));
  }, RUN_HEARTBEAT_MS);
  heartbeat.unref();
  try {
    return await runPlanned(ws, request, steps, runId, started, lineage);
  } catch (error) {
    lineage.runEnd('failed', errorMessage(error));
    throw error;
  } finally {
    clearInterval(heartbeat);
    await lineage.flush();
  }
}

async function runPlanned(ws: Workspace, request: RunRequest, steps: ReturnType<typeof plan>, runId: string, started: number, lineage: RunLineageEmitter): Promise<RunSummary> {
  const emit = request.onEvent ?? (() => undefined);
  const stepIds = new Map(steps.map((s, i) => [s.key, `${runId}-${String(i + 1).padStart(4, '0')}`]));
  const results = new Map<string, StepSummary>();
  // Steps settled before anything runs: a resumed run's completed ones, then every step provably up to date. Each
  // is recorded with its outcome in the one insert that records the run's steps, its read lineage in one more.
  const settled = new Map<string, NewStep>();
  const skippedReads: LineageEdge[] = [];
  for (const step of steps) {
    const earlier = request.reuse?.get(step.key);
    if (earlier === undefined) continue;
    // Its committed output (or confirmed-unchanged one) is what downstream steps read: nothing to do again.
    settled.set(step.key, { id: stepIds.get(step.key) ?? '', runId, asset: step.asset, partition: step.partition, status: 'skipped', attempts: 0, rowsOut: earlier.rowsOut, version: earlier.version, error: null });
  }
  const upToDate = await upToDateSteps(ws, steps, { force: request.force ?? false, settled: new Set(settled.keys()) });
  for (const step of steps) {
    const outcome = upToDate.get(step.key);
    if (outcome === undefined) continue;
    const id = stepIds.get(step.key) ?? '';
    settled.set(step.key, { id, runId, asset: step.asset, partition: step.partition, status: 'skipped', attempts: 0, rowsOut: outcome.rowsOut, version: outcome.version, error: null });
    skippedReads.push(...readEdges(runId, id, outcome));
  }
  await ws.catalog.createSteps(steps.map((step) => settled.get(step.key) ?? { id: stepIds.get(step.key) ?? '', runId, asset: step.asset, partition: step.partition, status: 'pending' }));
  await ws.catalog.recordLineage(skippedReads);
  emit({ type: 'run-start', runId, steps: steps.length });
  if (upToDate.size > 0) emit({ type: 'up-to-date', keys: [...upToDate.keys()] });
  for (const step of steps) {
    const record = settled.get(step.key);
    if (record === undefined) continue;
    results.set(step.key, { id: record.id, key: step.key, asset: step.asset, partition: step.partition, status: 'skipped', attempts: 0, ms: 0, outcome: upToDate.get(step.key) ?? null, error: null });
    lineage.stepSettled({ stepId: record.id, asset: step.asset, partition: step.partition }, { status: 'skipped', outcome: upToDate.get(step.key) ?? null, checks: [], error: null });
    emit({ type: 'step-end', key: step.key, asset: step.asset, partition: step.partition, status: 'skipped', rowsOut: record.rowsOut ?? null, ms: 0, error: null });
  }

  const concurrency = Math.max(1, request.concurrency ?? ws.settings.concurrency);
  const executor = request.executor ?? ws.executor;

  const alerts: AlertPayload[] = [];
  const alertFor = (step: PlannedStep, severity: 'error' | 'warn', failures: readonly ExpectationResult[]): AlertPayload => ({
    event: 'check_failed', project: ws.project.name, runId, asset: step.asset, partition: step.partition, severity,
    failures: failures.map((f) => ({
      expectation: f.expectation_config.type,
      column: columnOf(f.expectation_config),
      unexpected_count: typeof f.result.unexpected_count === 'number' ? f.result.unexpected_count : null,
      observed_value: f.result.observed_value ?? null,
    })),
    message: failures.map(describeFailure).join('; '),
  });

  const runOne = async (step: PlannedStep): Promise<void> => {
    const id = stepIds.get(step.key) ?? '';
    const t0 = Date.now();
    const asset = getAsset(ws.project, step.asset);
    emit({ type: 'step-start', key: step.key, asset: step.asset, partition: step.partition });
    lineage.stepStart({ stepId: id, asset: step.asset, partition: step.partition });
    await ws.catalog.updateStep(id, { status: 'running', startedAt: new Date(t0).toISOString(), attempts: 1 });
    let summary: StepSummary;
    let checks: readonly CheckRecord[] = [];
    try {
      const { value, attempts } = await withRetry(asset.retry, async (attempt) => {
        if (attempt > 1) await ws.catalog.updateStep(id, { status: 'running', attempts: attempt });
        return executor.execute({ project: ws.project.name, runId, stepId: id, asset: step.asset, partition: step.partition, force: (request.force ?? false) && step.selected, allowSchemaChange: request.allowSchemaChange === true && step.selected, attempt });
      }, (attempt, error, delayMs) => {
        ws.logger.warn({ step: step.key, attempt, delayMs, err: errorMessage(error) }, 'transient failure, retrying');
        emit({ type: 'step-retry', key: step.key, attempt, delayMs, error: errorMessage(error) });
      });
      summary = { id, key: step.key, asset: step.asset, partition: step.partition, status: value.status, attempts, ms: Date.now() - t0, outcome: value, error: null };
      for (const warning of value.warnings ?? []) ws.logger.warn({ asset: step.asset, partition: step.partition, column: warning.column }, warning.message);
      await ws.catalog.updateStep(id, {
        status: value.status, attempts, endedAt: new Date().toISOString(), rowsIn: value.rowsIn, rowsOut: value.rowsOut,
        bytesWritten: value.bytesWritten, badRecords: value.badRecords, version: value.version, error: null,
      });
      const edges = readEdges(runId, id, value);
      if (value.committed !== null) {
        edges.push({ runId, stepId: id, direction: 'write', dataset: step.asset, kind: 'asset', version: value.version, partition: step.partition, fingerprint: value.fingerprint });
        const { changed, files: _files, schema: _schema, ...version } = value.committed;
        await ws.catalog.recordVersion({ asset: step.asset, version: value.version, runId, stepId: id, partitions: [...changed], ...version });
        await recordColumnLineage(ws, runId, step.asset, value);
      }
      await ws.catalog.recordLineage(edges);
      if (value.checks !== null) {
        checks = value.checks.records;
        await ws.catalog.recordChecks(value.checks.records);
        if (value.checks.warnings.length > 0 && ws.project.settings.alertOnWarn === true) alerts.push(alertFor(step, 'warn', value.checks.warnings));
      }
    } catch (error) {
      if (error instanceof CheckFailedError) {
        checks = error.checks.records;
        await ws.catalog.recordChecks(error.checks.records);
        alerts.push(alertFor(step, 'error', error.checks.blocking));
      }
      const attempts = typeof (error as { attempts?: unknown }).attempts === 'number' ? (error as { attempts: number }).attempts : 1;
      summary = { id, key: step.key, asset: step.asset, partition: step.partition, status: 'failed', attempts, ms: Date.now() - t0, outcome: null, error: errorMessage(error) };
      ws.logger.debug({ step: step.key, err: error }, 'step failed');
      await ws.catalog.updateStep(id, { status: 'failed', attempts, endedAt: new Date().toISOString(), error: errorMessage(error) });
    }
    results.set(step.key, summary);
    // The step's column lineage, as OpenLineage's: identity columns are DIRECT, anything computed INDIRECT; a
    // dependency on an input's rows (`*`, as count(*) has) names no field, so it is left out of the facet.
    const columnLineage = summary.outcome?.columnLineage?.columns.map((c) => ({
      output: c.column,
      inputs: c.inputs.filter((i) => i.column !== '*').map((i) => ({ dataset: i.dataset, column: i.column, transformation: i.kind === 'direct' ? 'DIRECT' as const : 'INDIRECT' as const })),
    })).filter((c) => c.inputs.length > 0);
    lineage.stepEnd({ stepId: id, asset: step.asset, partition: step.partition }, { status: summary.status, outcome: summary.outcome, checks, error: summary.error, ...(columnLineage === undefined ? {} : { columnLineage }) });
    emit({ type: 'step-end', key: step.key, asset: step.asset, partition: step.partition, status: summary.status, rowsOut: summary.outcome?.rowsOut ?? null, ms: summary.ms, error: summary.error });
  };

  // Dependency counting: each step waits for the number of its upstream steps not yet settled; a step that
  // ends releases its dependents (or, failed, marks them upstream_failed), so scheduling costs O(steps + edges).
  const dependents = new Map<string, PlannedStep[]>();
  const unmet = new Map<string, number>();
  const ready: PlannedStep[] = [];
  let unsorted = true;
  const pendingFailures: { step: PlannedStep; blocker: string }[] = [];
  const release = (key: string): void => {
    const status = results.get(key)?.status;
    const ok = status === 'success' || status === 'skipped';
    for (const dependent of dependents.get(key) ?? []) {
      if (!unmet.has(dependent.key)) continue;
      if (!ok) {
        unmet.delete(dependent.key);
        pendingFailures.push({ step: dependent, blocker: key });
        continue;
      }
      const left = (unmet.get(dependent.key) ?? 1) - 1;
      unmet.set(dependent.key, left);
      if (left === 0) {
        unmet.delete(dependent.key);
        ready.push(dependent);
        unsorted = true;
      }
    }
  };
  for (const step of steps) {
    if (results.has(step.key)) continue;
    unmet.set(step.key, step.after.length);
    for (const key of step.after) dependents.set(key, [...(dependents.get(key) ?? []), step]);
  }
  for (const step of steps) {
    if (results.has(step.key)) release(step.key);
    else if (step.after.length === 0) {
      unmet.delete(step.key);
      ready.push(step);
    }
  }
  const running = new Map<string, Promise<void>>();
  // Ready steps start in plan order (dependencies first, then asset order and partition).
  const order = new Map(steps.map((s, i) => [s.key, i]));
  while (ready.length > 0 || running.size > 0 || pendingFailures.length > 0) {
    while (pendingFailures.length > 0) {
      const { step, blocker } = pendingFailures.shift() as { step: PlannedStep; blocker: string };
      const id = stepIds.get(step.key) ?? '';
      const error = `not run: upstream step ${blocker} failed`;
      results.set(step.key, { id, key: step.key, asset: step.asset, partition: step.partition, status: 'upstream_failed', attempts: 0, ms: 0, outcome: null, error });
      await ws.catalog.updateStep(id, { status: 'upstream_failed', error });
      lineage.stepSettled({ stepId: id, asset: step.asset, partition: step.partition }, { status: 'upstream_failed', outcome: null, checks: [], error });
      emit({ type: 'step-end', key: step.key, asset: step.asset, partition: step.partition, status: 'upstream_failed', rowsOut: null, ms: 0, error });
      release(step.key);
    }
    if (unsorted) ready.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0));
    unsorted = false;
    while (ready.length > 0 && running.size < concurrency) {
      const step = ready.shift() as PlannedStep;
      running.set(step.key, runOne(step).finally(() => {
        running.delete(step.key);
        release(step.key);
      }));
    }
    if (running.size > 0) await Promise.race(running.values());
  }
  if (unmet.size > 0) throw new Error(`scheduler stalled with ${unmet.size} steps waiting`); // unreachable for an acyclic plan

  const ordered = steps.map((s) => results.get(s.key)).filter((s): s is StepSummary => s !== undefined);
  const status = ordered.every((s) => s.status === 'success' || s.status === 'skipped') ? 'success' : 'failed';
  const failed = ordered.filter((s) => s.status === 'failed');
  const runError = failed.length === 0 ? null : `${failed.length} step(s) failed: ${failed.map((s) => s.key).join(', ')}`;
  await ws.catalog.finishRun(runId, status, new Date().toISOString(), runError);
  lineage.runEnd(status, runError);
  await ws.tables.cleanStaging(runId);
  const webhooks = [...new Set([...ws.settings.alertWebhooks, ...(ws.project.settings.alertWebhooks ?? [])])];
  if (webhooks.length > 0) {
    if (status === 'failed') {
      alerts.push({
        event: 'run_failed', project: ws.project.name, runId, asset: null, partition: null, severity: 'error', failures: [],
        message: failed.map((s) => `${s.key}: ${s.error ?? ''}`).join('\n'),
      });
    }
    for (const alert of alerts) {
      for (const delivery of await sendAlert(webhooks, alert)) {
        if (!delivery.delivered) ws.logger.warn({ url: delivery.url, attempts: delivery.attempts, err: delivery.error }, 'alert not delivered');
      }
    }
  }
  emit({ type: 'run-end', runId, status });
  return { runId, status, steps: ordered, ms: Date.now() - started };
}
