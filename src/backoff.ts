// Waiting before a retry, shared by every layer that retries (steps, HTTP sources, alert webhooks): exponential
// backoff with jitter, and the delay a server asks for in Retry-After.

/** Delay before retry number `attempt` (1-based): `baseMs` doubling per attempt, capped at `maxMs`, with 50-100% jitter. */
export function backoffDelay(baseMs: number, maxMs: number, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(base * (0.5 + random() * 0.5));
}

/** Milliseconds a Retry-After header asks for (delta seconds or an HTTP date), or undefined. */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
