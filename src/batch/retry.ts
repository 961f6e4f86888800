// Retrying a step: exponential backoff with jitter, only for transient errors unless the asset says otherwise.
import { backoffDelay } from '../backoff.ts';
import type { RetryPolicy } from '../define/asset.ts';
import { isTransient } from '../errors.ts';

/** Delay before retry number `attempt` (1-based): backoff doubling per attempt, capped, with 50-100% jitter. */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  return backoffDelay(policy.backoffMs, policy.maxDelayMs, attempt, random);
}

export async function withRetry<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
  onRetry: (attempt: number, error: unknown, delayMs: number) => void = () => undefined,
): Promise<{ value: T; attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await fn(attempt), attempts: attempt };
    } catch (error) {
      const retryable = policy.retryAll || isTransient(error);
      if (!retryable || attempt > policy.retries) {
        throw Object.assign(error instanceof Error ? error : new Error(String(error)), { attempts: attempt });
      }
      const delay = retryDelay(policy, attempt);
      onRetry(attempt, error, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** What an attempt under a time limit gets: a signal aborted at the limit, and a gate to pass before committing. */
export interface AttemptLimit {
  readonly signal: AbortSignal;
  /** Throws once the limit has passed; after it returns, the limit no longer applies (the commit goes ahead). */
  readonly enterCommit: () => void;
}

/** How long a timed-out attempt may take to wind down (DuckDB stops at once; JS code cannot be stopped). */
const TIMEOUT_GRACE_MS = 5_000;

/**
 * Run one attempt with a time limit. At the limit the signal is aborted (the step interrupts its DuckDB
 * statement), the attempt can no longer commit, and the result is `timeoutError()` once the work has wound
 * down (at most a grace period later), so a retry never overlaps the timed-out attempt's cleanup.
 */
export function withTimeout<T>(limitMs: number | undefined, timeoutError: () => Error, fn: (limit: AttemptLimit) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let state: 'running' | 'committing' | 'timed-out' = 'running';
  const limit: AttemptLimit = {
    signal: controller.signal,
    enterCommit: () => {
      if (state === 'timed-out') throw timeoutError();
      state = 'committing';
    },
  };
  if (limitMs === undefined) return fn(limit);
  return new Promise<T>((resolve, reject) => {
    const work = Promise.resolve().then(() => fn(limit));
    const timer = setTimeout(() => {
      if (state !== 'running') return;
      state = 'timed-out';
      controller.abort();
      const fail = (): void => reject(timeoutError());
      const grace = setTimeout(fail, TIMEOUT_GRACE_MS);
      void work.catch(() => undefined).finally(() => { clearTimeout(grace); fail(); });
    }, limitMs);
    work.then((value) => {
      if (state === 'timed-out') return;
      clearTimeout(timer);
      resolve(value);
    }, (error: unknown) => {
      if (state === 'timed-out') return;
      clearTimeout(timer);
      reject(error instanceof Error ? error : new Error(String(error)));
    });
  });
}
