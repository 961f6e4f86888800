// A step worker: takes step jobs from the project's queue and runs each attempt in this process (its own DuckDB,
// the shared catalog and state directory), holding the partition's lease, and returns the outcome.
import { hostname } from 'node:os';
import { Worker, type Job } from 'bullmq';
import { runStepAttempt } from '../batch/executor.ts';
import { SluiceError, errorMessage } from '../errors.ts';
import type { Workspace } from '../workspace.ts';
import { LOCK_DURATION_MS, MAX_STALLED_COUNT, STALLED_INTERVAL_MS, queueLocation, serializeError, type JobResult, type StepJob } from './queue.ts';

export interface StepWorkerOptions {
  /** Jobs run at once in this process. */
  readonly concurrency: number;
}

export interface StepWorker {
  readonly id: string;
  readonly queue: string;
  /** Stop taking jobs and wait for the running ones; with `force`, leave them to be taken over by another worker. */
  close(force?: boolean): Promise<void>;
}

export async function startStepWorker(ws: Workspace, options: StepWorkerOptions): Promise<StepWorker> {
  if (ws.settings.queueUrl === undefined) {
    throw new SluiceError('CONFIG_INVALID', 'sluice worker needs the step queue: set SLUICE_QUEUE_URL=redis://host:port (the same for `sluice run` and every worker)');
  }
  const location = queueLocation(ws.settings.queueUrl, ws.project.name);
  const id = `${hostname()}:${process.pid}`;
  const run = async (job: Job<StepJob, JobResult>, token?: string): Promise<JobResult> => {
    const task = job.data;
    const log = ws.logger.child({ job: job.id, step: task.stepId, asset: task.asset, partition: task.partition, attempt: task.attempt });
    if (task.project !== ws.project.name) {
      return { ok: false, error: serializeError(new SluiceError('CONFIG_INVALID', `worker ${id} loaded project "${ws.project.name}" but got a step of project "${task.project}"`)) };
    }
    log.info('step started');
    // A worker that stalled (its event loop blocked past the lock) may find its job handed to another worker;
    // holding the lock right before the commit fences it off, so only the current holder commits.
    const holdsJob = async (): Promise<void> => {
      if (token !== undefined && (await job.extendLock(token, LOCK_DURATION_MS)) !== 1) {
        throw new SluiceError('TRANSIENT', `worker ${id} lost the job of ${task.asset}${task.partition === '' ? '' : ` partition ${task.partition}`} (stalled past its ${LOCK_DURATION_MS} ms lock); another worker runs it, so this attempt does not commit`, { asset: task.asset, partition: task.partition });
      }
    };
    try {
      const outcome = await runStepAttempt(ws, task, { beforeCommit: holdsJob });
      log.info({ status: outcome.status, version: outcome.version }, 'step finished');
      return { ok: true, outcome };
    } catch (error) {
      log.warn({ err: errorMessage(error) }, 'step failed');
      return { ok: false, error: serializeError(error) };
    }
  };
  const worker = new Worker<StepJob, JobResult>(location.name, run, {
    connection: { url: location.url, maxRetriesPerRequest: null },
    prefix: location.prefix,
    concurrency: options.concurrency,
    lockDuration: LOCK_DURATION_MS,
    stalledInterval: STALLED_INTERVAL_MS,
    maxStalledCount: MAX_STALLED_COUNT,
  });
  worker.on('error', (error) => ws.logger.warn({ err: errorMessage(error) }, 'step queue connection error'));
  await worker.waitUntilReady();
  return { id, queue: location.display, close: (force = false) => worker.close(force) };
}
