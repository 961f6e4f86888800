// Retrying a step: exponential backoff with jitter, only for transient errors unless the asset says otherwise.
import type { RetryPolicy } from '../define/asset.ts';
import { isTransient } from '../errors.ts';

/** Delay before retry number `attempt` (1-based): backoff doubling per attempt, capped, with 50-100% jitter. */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.backoffMs * 2 ** (attempt - 1));
  return Math.round(base * (0.5 + random() * 0.5));
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
