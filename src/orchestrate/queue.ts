// The step queue's shape, shared by the coordinator (executor.ts) and `sluice worker` (worker.ts): the Redis
// connection and key prefix from SLUICE_QUEUE_URL, the queue's name per project, the job data and its result.
import type { StepTask } from '../batch/executor.ts';
import { CheckFailedError, type StepOutcome } from '../batch/step.ts';
import type { CheckOutcome } from '../batch/checks.ts';
import { SluiceError, errorMessage, isTransient, redactUrl, type ErrorCode, type ErrorContext } from '../errors.ts';

/**
 * Lock and stall tuning. A worker renews its job's lock every lockDuration / 2; a killed worker's lock lapses
 * after lockDuration and the next stall check (every stalledInterval, on any worker) hands the job to another
 * worker, so a kill -9 costs at most about lockDuration + stalledInterval. A job that stalls more than
 * maxStalledCount times fails; the coordinator then retries the step like any transient failure.
 */
export const LOCK_DURATION_MS = 6_000;
export const STALLED_INTERVAL_MS = 2_000;
export const MAX_STALLED_COUNT = 2;

export interface QueueLocation {
  /** The Redis URL without `?prefix=`, for BullMQ's connection. */
  readonly url: string;
  /** BullMQ's key prefix: `?prefix=` from the URL, `sluice` by default. */
  readonly prefix: string;
  readonly name: string;
  /** For messages: the URL without its password. */
  readonly display: string;
}

export function queueLocation(url: string, project: string): QueueLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SluiceError('CONFIG_INVALID', `SLUICE_QUEUE_URL ${redactUrl(url)} is not a URL; use redis://host:port (optionally /db and ?prefix=name)`);
  }
  const prefix = parsed.searchParams.get('prefix') ?? 'sluice';
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) {
    throw new SluiceError('CONFIG_INVALID', `SLUICE_QUEUE_URL ${redactUrl(url)}: prefix "${prefix}" must be letters, digits, '.', '_' or '-'`);
  }
  parsed.searchParams.delete('prefix');
  const name = `sluice-${project}-steps`;
  return { url: parsed.toString(), prefix, name, display: `${redactUrl(parsed.toString())} queue ${prefix}:${name}` };
}

/** What a worker returns for a job: the step's outcome, or its error with what the coordinator needs to retry it. */
export type JobResult =
  | { readonly ok: true; readonly outcome: StepOutcome }
  | { readonly ok: false; readonly error: SerializedError };

export interface SerializedError {
  readonly message: string;
  readonly code: ErrorCode | null;
  readonly transient: boolean;
  readonly context: ErrorContext;
  /** A failed `error` check's results, recorded by the coordinator. */
  readonly checks: CheckOutcome | null;
}

export type StepJob = StepTask;

export function serializeError(error: unknown): SerializedError {
  return {
    message: errorMessage(error),
    code: error instanceof SluiceError ? error.code : null,
    transient: isTransient(error),
    context: error instanceof SluiceError ? error.context : {},
    checks: error instanceof CheckFailedError ? error.checks : null,
  };
}

export function deserializeError(error: SerializedError): SluiceError {
  if (error.checks !== null) {
    return new CheckFailedError(error.message, { asset: String(error.context.asset ?? ''), partition: String(error.context.partition ?? '') }, error.checks);
  }
  return new SluiceError(error.code ?? 'STEP_FAILED', error.message, error.context, { transient: error.transient });
}
