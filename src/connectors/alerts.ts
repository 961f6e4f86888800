// Webhook alerts for failed checks, failed runs and freshness breaches: a Slack-compatible `text` line plus the
// structured fields, POSTed as JSON with retries. Delivery never throws, so an alert cannot fail a run.
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, retryAfterMs } from '../backoff.ts';
import { errorMessage } from '../errors.ts';

export type AlertEvent = 'check_failed' | 'run_failed' | 'freshness_breach';

export interface AlertFailure {
  readonly expectation: string;
  readonly column: string | null;
  readonly unexpected_count: number | null;
  readonly observed_value: unknown;
}

export interface AlertPayload {
  readonly event: AlertEvent;
  readonly project: string;
  readonly runId: string;
  /** The asset concerned; null for a run that failed as a whole. */
  readonly asset: string | null;
  /** Partition key; null or '' when the asset is unpartitioned or the alert is not about one partition. */
  readonly partition: string | null;
  readonly severity: 'error' | 'warn';
  readonly failures: readonly AlertFailure[];
  /** Free text: a run's error, or what a freshness breach measured. */
  readonly message?: string | undefined;
}

export interface AlertOptions {
  /** Retries after the first attempt (default 3). */
  readonly retries?: number | undefined;
  /** First retry delay; doubles with each retry, with jitter (default 500 ms). */
  readonly backoffMs?: number | undefined;
  /** Per attempt, including reading the response (default 10 s). */
  readonly timeoutMs?: number | undefined;
}

export interface AlertDelivery {
  readonly url: string;
  readonly delivered: boolean;
  readonly attempts: number;
  /** HTTP status of the last response, if any arrived. */
  readonly status: number | null;
  readonly error: string | null;
}

const DEFAULT_RETRIES = 3;
const DEFAULT_BACKOFF_MS = 500;
const DEFAULT_TIMEOUT_MS = 10_000;
/** A Retry-After longer than this is cut short: an alert must not hold a run for minutes. */
const MAX_RETRY_AFTER_MS = 30_000;
/** Failures named in the text line; the structured field carries all of them. */
const TEXT_FAILURES = 3;
const TEXT_VALUE_CHARS = 80;
const TEXT_MAX_CHARS = 3000;

/** POST the alert to every URL at once; resolves with one delivery status per URL, in order. Never rejects. */
export async function sendAlert(urls: readonly string[], payload: AlertPayload, options: AlertOptions = {}): Promise<AlertDelivery[]> {
  let body: string;
  try {
    body = JSON.stringify({ text: formatAlertText(payload), ...payload }, jsonSafe);
  } catch (error) {
    return urls.map((url) => ({ url, delivered: false, attempts: 0, status: null, error: `could not serialise the alert: ${errorMessage(error)}` }));
  }
  const settings = {
    retries: Math.max(0, Math.floor(options.retries ?? DEFAULT_RETRIES)),
    backoffMs: Math.max(0, options.backoffMs ?? DEFAULT_BACKOFF_MS),
    timeoutMs: Math.max(1, options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
  };
  return Promise.all(urls.map((url) => deliver(url, body, settings)));
}

interface Attempt {
  readonly outcome: 'delivered' | 'retry' | 'give-up';
  readonly status: number | null;
  readonly error: string | null;
  /** Server-requested delay (Retry-After), if any. */
  readonly retryAfterMs: number | null;
}

async function deliver(url: string, body: string, settings: { retries: number; backoffMs: number; timeoutMs: number }): Promise<AlertDelivery> {
  if (!isHttpUrl(url)) return { url, delivered: false, attempts: 0, status: null, error: 'not an http(s) URL' };
  let last: Attempt = { outcome: 'give-up', status: null, error: null, retryAfterMs: null };
  for (let attempt = 1; ; attempt++) {
    last = await post(url, body, settings.timeoutMs);
    if (last.outcome === 'delivered') return { url, delivered: true, attempts: attempt, status: last.status, error: null };
    if (last.outcome === 'give-up' || attempt > settings.retries) {
      return { url, delivered: false, attempts: attempt, status: last.status, error: last.error };
    }
    await sleep(last.retryAfterMs ?? backoffDelay(settings.backoffMs, Number.POSITIVE_INFINITY, attempt));
  }
}

async function post(url: string, body: string, timeoutMs: number): Promise<Attempt> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body,
      signal: controller.signal,
    });
    // Read the body to the end (inside the timeout) so the connection is released, and keep its start for the error.
    const text = await response.text();
    if (response.ok) return { outcome: 'delivered', status: response.status, error: null, retryAfterMs: null };
    const error = `HTTP ${response.status}${text.trim() === '' ? '' : `: ${oneLine(text).slice(0, 200)}`}`;
    const retryable = response.status === 429 || response.status >= 500;
    return {
      outcome: retryable ? 'retry' : 'give-up',
      status: response.status,
      error,
      retryAfterMs: retryable ? cappedRetryAfter(response.headers.get('retry-after')) : null,
    };
  } catch (error) {
    const message = controller.signal.aborted ? `timed out after ${timeoutMs} ms` : fetchErrorMessage(error);
    return { outcome: 'retry', status: null, error: message, retryAfterMs: null };
  } finally {
    clearTimeout(timer);
  }
}

/** Retry-After (delta seconds or an HTTP date), cut short at MAX_RETRY_AFTER_MS. */
function cappedRetryAfter(header: string | null): number | null {
  const ms = retryAfterMs(header);
  return ms === undefined ? null : Math.min(ms, MAX_RETRY_AFTER_MS);
}

/** undici reports "fetch failed" and puts the reason (ECONNREFUSED, ENOTFOUND, ...) in `cause`. */
function fetchErrorMessage(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause === undefined ? errorMessage(error) : `${errorMessage(error)}: ${errorMessage(cause)}`;
}

function isHttpUrl(url: string): boolean {
  try {
    const protocol = new URL(url).protocol;
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * One line for humans (Slack's `text`): what failed, where (project, asset, partition), which expectations, and the
 * run. `&`, `<` and `>` are escaped as Slack requires, so data values cannot form links or mentions.
 */
export function formatAlertText(payload: AlertPayload): string {
  const where = [
    payload.asset === null ? payload.project : `${payload.project}/${payload.asset}`,
    payload.partition === null || payload.partition === '' ? null : `partition ${payload.partition}`,
  ].filter((part): part is string => part !== null).join(' ');
  const failures = payload.failures.slice(0, TEXT_FAILURES).map(describeFailure);
  if (payload.failures.length > TEXT_FAILURES) failures.push(`+${payload.failures.length - TEXT_FAILURES} more`);
  const head = {
    check_failed: `${payload.failures.length} check(s) failed on ${where}`,
    run_failed: `run failed: ${where}`,
    freshness_breach: `freshness breach on ${where}`,
  }[payload.event];
  const parts = [
    `[sluice] ${payload.severity.toUpperCase()} ${head}`,
    failures.length === 0 ? null : failures.join('; '),
    payload.message === undefined || payload.message === '' ? null : payload.message,
    `run ${payload.runId}`,
  ].filter((part): part is string => part !== null);
  return escapeSlack(oneLine(parts.join(' — '))).slice(0, TEXT_MAX_CHARS);
}

function describeFailure(failure: AlertFailure): string {
  const details: string[] = [];
  if (failure.unexpected_count !== null) details.push(`${failure.unexpected_count} unexpected`);
  if (failure.observed_value !== null && failure.observed_value !== undefined) details.push(`observed ${compact(failure.observed_value)}`);
  const name = failure.column === null ? failure.expectation : `${failure.expectation}(${failure.column})`;
  return details.length === 0 ? name : `${name}: ${details.join(', ')}`;
}

function compact(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value, jsonSafe) ?? String(value);
  return text.length > TEXT_VALUE_CHARS ? `${text.slice(0, TEXT_VALUE_CHARS - 1)}…` : text;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** BIGINT values from DuckDB: numbers when exact, decimal strings otherwise. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value !== 'bigint') return value;
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}
