// The queue executor: each step attempt becomes a BullMQ job on the project's step queue; a `sluice worker`
// runs it and returns its outcome, and the coordinator (the runner) records it. Retries stay the runner's:
// one job per attempt, so a retry is a new job and the catalog counts attempts the same way in process.
import { Queue, QueueEvents } from 'bullmq';
import type { StepExecutor, StepTask } from '../batch/executor.ts';
import type { StepOutcome } from '../batch/step.ts';
import { SluiceError, errorMessage } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { deserializeError, queueLocation, type JobResult, type StepJob } from './queue.ts';

/** How long to wait for Redis before `sluice run` gives up with a message, instead of hanging. */
const CONNECT_TIMEOUT_MS = 10_000;
/** A job nobody has taken for this long means no worker is running: say so once. */
const NO_WORKER_WARNING_MS = 30_000;

export interface QueueExecutorOptions {
  readonly project: string;
  readonly url: string;
  readonly logger: Logger;
}

export async function openQueueExecutor(options: QueueExecutorOptions): Promise<StepExecutor> {
  const location = queueLocation(options.url, options.project);
  const connection = { url: location.url, maxRetriesPerRequest: null };
  const queue = new Queue<StepJob, JobResult>(location.name, { connection, prefix: location.prefix });
  const events = new QueueEvents(location.name, { connection, prefix: location.prefix });
  const close = async (): Promise<void> => {
    await Promise.allSettled([events.close(), queue.close()]);
  };
  // Errors surface through the calls below; without a listener an 'error' event would crash the process.
  queue.on('error', (error) => options.logger.debug({ err: errorMessage(error) }, 'step queue connection error'));
  events.on('error', (error) => options.logger.debug({ err: errorMessage(error) }, 'step queue events connection error'));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all([queue.waitUntilReady(), events.waitUntilReady()]),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SluiceError('CONFIG_INVALID', `cannot reach the step queue at ${location.display} within ${CONNECT_TIMEOUT_MS / 1000} s; check SLUICE_QUEUE_URL and that Redis is running`, { url: location.display })), CONNECT_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    await close();
    throw error;
  } finally {
    clearTimeout(timer);
  }

  const execute = async (task: StepTask): Promise<StepOutcome> => {
    const where = `asset "${task.asset}"${task.partition === '' ? '' : ` partition ${task.partition}`}`;
    // One job id per attempt: adding the same attempt twice is a no-op in BullMQ.
    const job = await queue.add('step', task, { jobId: `${task.stepId}.${task.attempt}`, attempts: 1, removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } });
    const warn = setTimeout(() => {
      void job.getState().then((state) => {
        if (state === 'waiting') options.logger.warn({ step: task.stepId, queue: location.display }, `no worker has taken ${where} for ${NO_WORKER_WARNING_MS / 1000} s: start one with \`sluice worker\` (same project, SLUICE_QUEUE_URL and SLUICE_CATALOG_URL)`);
      }, () => undefined);
    }, NO_WORKER_WARNING_MS);
    let result: JobResult;
    try {
      result = await job.waitUntilFinished(events);
    } catch (error) {
      // The job itself failed: a worker crashed on it more than the stall limit allows, or Redis went away.
      throw new SluiceError('TRANSIENT', `${where}: its job ${job.id ?? ''} on ${location.display} failed: ${errorMessage(error)}`, { asset: task.asset, partition: task.partition }, { cause: error });
    } finally {
      clearTimeout(warn);
    }
    if (result.ok) return result.outcome;
    throw deserializeError(result.error);
  };
  return { kind: 'queue', execute, close };
}
