// Reading a paginated HTTP JSON API: pages by body cursor, offset/limit or Link header; a client-side rate limit;
// retries with exponential backoff and jitter on 429, 5xx and network errors, honouring Retry-After.
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, retryAfterMs } from '../backoff.ts';
import type { HttpSource } from '../define/extract.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import type { RecordSpool } from './record-spool.ts';

export interface HttpFetchRequest {
  readonly source: HttpSource;
  /** The auth header's secret (from the env var the definition names), if the source has auth. */
  readonly secret: string | undefined;
  /** Sent as `cursorParam` when the source has one: the lowest cursor this run needs. */
  readonly lowerBound: string | null;
  readonly spool: RecordSpool;
  /** For tests: the clock and the random source of the jitter. */
  readonly random?: () => number;
}

export interface HttpFetchResult {
  readonly rows: number;
  readonly pages: number;
  /** Requests sent, retries included. */
  readonly requests: number;
  readonly retries: number;
}

/** A URL for messages: the query string's values of credential-like parameters hidden. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    for (const name of [...parsed.searchParams.keys()]) {
      if (/token|key|secret|password|auth|signature/i.test(name)) parsed.searchParams.set(name, '***');
    }
    return parsed.toString();
  } catch {
    return url;
  }
}

/** Spaces request starts at least 1/rate seconds apart. */
class RateLimiter {
  readonly #intervalMs: number;
  #next = 0;

  constructor(perSecond: number | undefined) {
    this.#intervalMs = perSecond === undefined ? 0 : 1000 / perSecond;
  }

  async wait(): Promise<void> {
    if (this.#intervalMs === 0) return;
    const now = performance.now();
    const at = Math.max(now, this.#next);
    this.#next = at + this.#intervalMs;
    if (at > now) await sleep(Math.ceil(at - now));
  }
}

/** The value at a dotted path ('' is the value itself). */
export function atPath(value: unknown, path: string): unknown {
  if (path === '') return value;
  let current = value;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

interface Page {
  readonly body: unknown;
  readonly headers: Headers;
}

export async function fetchHttp(request: HttpFetchRequest): Promise<HttpFetchResult> {
  const { source } = request;
  const random = request.random ?? Math.random;
  const limiter = new RateLimiter(source.rateLimit);
  const headers: Record<string, string> = { accept: 'application/json', ...source.headers };
  if (source.auth !== undefined) {
    if (request.secret === undefined || request.secret === '') {
      throw new SluiceError('CONFIG_INVALID', `http source "${source.name}": environment variable ${source.auth.env} (its ${source.auth.header} header) is not set`, { source: source.name });
    }
    headers[source.auth.header] = `${source.auth.prefix}${request.secret}`;
  }
  let requests = 0;
  let retries = 0;

  const get = async (url: string, pageNumber: number): Promise<Page> => {
    const where = `http source "${source.name}": GET ${displayUrl(url)} (page ${pageNumber})`;
    let lastProblem = '';
    for (let attempt = 1; attempt <= source.retry.maxAttempts; attempt++) {
      await limiter.wait();
      requests += 1;
      let waitAtLeast = 0;
      try {
        const response = await fetch(url, { headers, signal: AbortSignal.timeout(source.timeoutMs) });
        if (response.ok) {
          try {
            return { body: await response.json(), headers: response.headers };
          } catch (error) {
            // A connection dropped mid-body looks like bad JSON: retry it like any network failure.
            lastProblem = `the body is not complete JSON (${errorMessage(error)})`;
          }
        } else {
          await response.body?.cancel().catch(() => undefined);
          if (response.status !== 429 && response.status < 500) {
            throw new SluiceError('SOURCE_READ', `${where} failed with ${response.status} ${response.statusText}${response.status === 401 || response.status === 403 ? `: check the credentials${source.auth === undefined ? ' (the source has no auth option)' : ` in ${source.auth.env}`}` : ''}`, { source: source.name, url: displayUrl(url), status: response.status });
          }
          lastProblem = `${response.status} ${response.statusText}`;
          waitAtLeast = retryAfterMs(response.headers.get('retry-after')) ?? 0;
        }
      } catch (error) {
        if (error instanceof SluiceError) throw error;
        const cause = (error as { cause?: unknown }).cause;
        lastProblem = `${errorMessage(error)}${cause === undefined ? '' : ` (${errorMessage(cause)})`}`;
      }
      if (attempt === source.retry.maxAttempts) break;
      retries += 1;
      await sleep(Math.max(waitAtLeast, backoffDelay(source.retry.baseDelayMs, source.retry.maxDelayMs, attempt, random)));
    }
    throw new SluiceError('SOURCE_READ', `${where} failed after ${source.retry.maxAttempts} attempt(s), last: ${lastProblem}`, { source: source.name, url: displayUrl(url) }, { transient: true });
  };

  const records = (page: Page, url: string, pageNumber: number): Record<string, unknown>[] => {
    const found = atPath(page.body, source.records);
    if (!Array.isArray(found)) {
      throw new SluiceError('SOURCE_READ', `http source "${source.name}": GET ${displayUrl(url)} (page ${pageNumber}): no records array at ${source.records === '' ? 'the top of the body' : `"${source.records}"`} (found ${found === undefined ? 'nothing' : typeof found}); set records to the path of the array`, { source: source.name, url: displayUrl(url) });
    }
    return found.map((record, i) => {
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        throw new SluiceError('BAD_RECORD', `http source "${source.name}": GET ${displayUrl(url)} (page ${pageNumber}) record ${i + 1} is not an object: ${JSON.stringify(record).slice(0, 100)}`, { source: source.name, row: i + 1 });
      }
      const object = record as Record<string, unknown>;
      return Object.fromEntries(Object.keys(source.columns).map((c) => [c, object[c] ?? null]));
    });
  };

  const first = new URL(source.url);
  if (source.cursorParam !== undefined && request.lowerBound !== null) first.searchParams.set(source.cursorParam, request.lowerBound);
  const pagination = source.pagination;
  if (pagination.type === 'offset') {
    first.searchParams.set(pagination.limitParam, String(pagination.limit));
    first.searchParams.set(pagination.offsetParam, '0');
  }
  const seen = new Set<string>();
  let url: string | null = first.toString();
  let pages = 0;
  let rows = 0;
  while (url !== null) {
    if (seen.has(url)) throw new SluiceError('SOURCE_READ', `http source "${source.name}": page ${pages + 1} would fetch ${displayUrl(url)} again; the API's pagination loops`, { source: source.name });
    seen.add(url);
    pages += 1;
    const page = await get(url, pages);
    const batch = records(page, url, pages);
    await request.spool.write(batch);
    rows += batch.length;
    url = nextUrl(page, url, batch.length);
  }
  return { rows, pages, requests, retries };

  function nextUrl(page: Page, current: string, count: number): string | null {
    switch (pagination.type) {
      case 'cursor': {
        const next = atPath(page.body, pagination.next);
        if (next === undefined || next === null || next === '' || count === 0) return null;
        if (typeof next !== 'string' && typeof next !== 'number') {
          throw new SluiceError('SOURCE_READ', `http source "${source.name}": GET ${displayUrl(current)}: the next cursor at "${pagination.next}" is ${JSON.stringify(next).slice(0, 100)}, not a string or number`, { source: source.name });
        }
        const u = new URL(current);
        u.searchParams.set(pagination.param, String(next));
        return u.toString();
      }
      case 'offset': {
        if (count < pagination.limit) return null;
        const u = new URL(current);
        u.searchParams.set(pagination.offsetParam, String(Number(u.searchParams.get(pagination.offsetParam) ?? '0') + count));
        return u.toString();
      }
      case 'link': {
        const next = linkNext(page.headers.get('link'));
        return next === null ? null : new URL(next, current).toString();
      }
      default:
        return null;
    }
  }
}

/** The `rel="next"` target of a Link header, if any. */
export function linkNext(header: string | null): string | null {
  if (header === null) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (match === null) continue;
    const rels = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(match[2] ?? '');
    if (rels !== null && (rels[1] ?? '').split(/\s+/).includes('next')) return match[1] ?? null;
  }
  return null;
}
