// Where a step's attempt runs: the executor seam between the runner (which plans, retries and records) and
// the work. In process (here) or as a job on a queue that `sluice worker` processes run (orchestrate/).
import { getAsset } from '../define/project.ts';
import { SluiceError } from '../errors.ts';
import type { Catalog } from '../store/catalog/catalog.ts';
import { withPartitionLease } from './lease.ts';
import { withTimeout } from './retry.ts';
import { entryPathInState } from '../store/tables/table-log.ts';
import { executeStep, type StepEnv, type StepOutcome } from './step.ts';

/** One attempt of one step: plain data, so it can travel as a queue job. */
export interface StepTask {
  readonly project: string;
  readonly runId: string;
  readonly stepId: string;
  readonly asset: string;
  readonly partition: string;
  readonly force: boolean;
  /** Accept schema changes the asset's policy refuses (recorded as breaking). */
  readonly allowSchemaChange?: boolean | undefined;
  /** 1-based. */
  readonly attempt: number;
}

export interface StepExecutor {
  readonly kind: 'in-process' | 'queue';
  /** Run one attempt; resolves with its outcome or rejects with the step's error (retries are the runner's). */
  execute(task: StepTask): Promise<StepOutcome>;
  close(): Promise<void>;
}

export type AttemptEnv = StepEnv & { readonly catalog: Catalog };

/**
 * One attempt, wherever it runs: hold the partition's lease, apply the asset's timeout, and refuse the commit
 * if the lease was lost, the time is up, or the caller's own check fails (a queue worker's job lock).
 */
export async function runStepAttempt(env: AttemptEnv, task: StepTask, options: { readonly beforeCommit?: () => Promise<void> } = {}): Promise<StepOutcome> {
  const { timeoutMs } = getAsset(env.project, task.asset).retry;
  const where = `asset "${task.asset}"${task.partition === '' ? '' : ` partition ${task.partition}`}`;
  const timedOut = (): SluiceError => new SluiceError('TIMEOUT', `${where}: attempt ${task.attempt} ran longer than its limit of ${timeoutMs ?? 0} ms (retry.timeoutMs) and was stopped`, {
    asset: task.asset, partition: task.partition, timeoutMs,
  });
  return withPartitionLease(env.catalog, task, task.stepId, async (checkLease) =>
    (await committedInThisRun(env, task)) ?? withTimeout(timeoutMs, timedOut, (limit) =>
      executeStep(env, { runId: task.runId, stepId: task.stepId, allowSchemaChange: task.allowSchemaChange }, task.asset, task.partition, task.force, {
        signal: limit.signal,
        beforeCommit: async () => {
          await checkLease();
          await options.beforeCommit?.();
          limit.enterCommit();
        },
      })));
}

/**
 * Within one run only this step writes its partition, so a partition whose current entry this run committed was
 * committed by an earlier attempt of this step that never reported back (a worker killed after its commit, a result
 * lost on the way). Report that commit (with or without --force), so a re-delivered step does not commit again.
 */
async function committedInThisRun(env: AttemptEnv, task: StepTask): Promise<StepOutcome | undefined> {
  const latest = await env.tables.latest(task.asset);
  const entry = latest?.partitions[task.partition];
  if (latest === undefined || entry === undefined || entry.runId !== task.runId) return undefined;
  for (let version = latest.version; version >= 1; version--) {
    const manifest = version === latest.version ? latest : await env.tables.summary(task.asset, version);
    if (manifest === undefined) break;
    if (manifest.runId !== task.runId || !manifest.changed.includes(task.partition)) continue;
    return {
      status: 'success', version, rowsIn: 0, rowsOut: entry.rows, bytesWritten: entry.bytes, badRecords: 0, reads: entry.inputs,
      fingerprint: entry.fingerprint, file: null, checks: null,
      committed: { createdAt: manifest.createdAt, changed: manifest.changed, rowCount: manifest.rowCount, bytes: manifest.bytes, manifestPath: entryPathInState(task.asset, version) },
    };
  }
  return undefined;
}

export function inProcessExecutor(env: AttemptEnv): StepExecutor {
  return {
    kind: 'in-process',
    execute: (task) => runStepAttempt(env, task),
    close: () => Promise.resolve(),
  };
}
