// Sending OpenLineage events without ever holding up or failing a run: events are queued and posted in order in
// the background, each retried with backoff; when the endpoint stays down they go to an append-only outbox of
// JSON lines under the state directory, which the next sender posts first.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { backoffDelay, retryAfterMs } from '../backoff.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { ownerIsGone, PROCESS_OWNER } from '../store/owner.ts';
import type { LineageRunEvent } from './openlineage-event.ts';

/** Where a runtime hands its events: `emit` returns at once and never throws. */
export interface LineageSink {
  /** False when no endpoint is configured: callers skip building events. */
  readonly enabled: boolean;
  emit(event: LineageRunEvent): void;
  /** Wait, a bounded time, until every queued event is sent; what is left goes to the outbox. Never throws. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export const NO_LINEAGE: LineageSink = Object.freeze({
  enabled: false,
  emit: () => undefined,
  flush: () => Promise.resolve(),
  close: () => Promise.resolve(),
});

export interface OpenLineageClientOptions {
  /** `http://host:port` (events go to /api/v1/lineage, the OpenLineage HTTP transport's default) or a full endpoint URL. */
  readonly url: string;
  readonly apiKey?: string | undefined;
  /** The outbox folder, e.g. `<state>/openlineage-outbox`. */
  readonly outboxDir: string;
  readonly logger: Logger;
  /** Per request (default 2000 ms). */
  readonly timeoutMs?: number;
  /** Attempts per event before the endpoint counts as down (default 3). */
  readonly attempts?: number;
  readonly backoffMs?: number;
  /** How long `flush` waits before moving what is unsent to the outbox (default 3000 ms). */
  readonly flushMs?: number;
  /** After the endpoint was found down, events go straight to the outbox for this long (default 30 s). */
  readonly downForMs?: number;
  /** The outbox keeps the newest events within this size (default 64 MiB); older ones are dropped, with a warning. */
  readonly outboxMaxBytes?: number;
}

const OUTBOX_FILE = 'events.ndjson';
const CLAIMED = /^sending-(.+:\d+)-[0-9a-f]+\.ndjson$/;

/** The endpoint to post to: a bare `http://host:port` gets the standard path. */
export function lineageEndpoint(url: string): string {
  const parsed = new URL(url);
  if (parsed.pathname === '' || parsed.pathname === '/') parsed.pathname = '/api/v1/lineage';
  return parsed.toString();
}

/**
 * Credentials in the URL (`http://user:token@host/`) become a Basic authorization header: fetch refuses URLs with
 * credentials, and the URL is logged, so it must not carry them.
 */
function splitCredentials(url: string): { endpoint: string; basic: string | undefined } {
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '') return { endpoint: url, basic: undefined };
  const basic = Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64');
  parsed.username = '';
  parsed.password = '';
  return { endpoint: parsed.toString(), basic };
}

type SendResult = 'sent' | 'rejected' | 'down';

export class OpenLineageClient implements LineageSink {
  readonly enabled = true;
  readonly #endpoint: string;
  readonly #basic: string | undefined;
  readonly #options: OpenLineageClientOptions;
  readonly #log: Logger;
  /** Serialised events not yet sent, oldest first (the outbox's, once claimed, come first). */
  #queue: string[] = [];
  /** Outbox files this process claimed: removed once their events are sent or written back. */
  #claimed: string[] = [];
  #pump: Promise<void> | undefined;
  #downUntil = 0;
  /** The outbox is read (again) when sending starts, and after every time the endpoint was down. */
  #outboxDue = true;
  #abort = new AbortController();

  constructor(options: OpenLineageClientOptions) {
    const { endpoint, basic } = splitCredentials(lineageEndpoint(options.url));
    this.#endpoint = endpoint;
    this.#basic = basic;
    this.#options = options;
    this.#log = options.logger;
  }

  emit(event: LineageRunEvent): void {
    try {
      this.#queue.push(JSON.stringify(event));
      this.#start();
    } catch (error) {
      this.#log.warn({ err: errorMessage(error) }, 'OpenLineage event not queued');
    }
  }

  async flush(): Promise<void> {
    try {
      const deadline = Date.now() + (this.#options.flushMs ?? 3000);
      for (let pump = this.#pump; pump !== undefined; pump = this.#pump) {
        const left = deadline - Date.now();
        // Past the deadline, stop the request in flight: the pump then writes what is left to the outbox.
        if (left <= 0) this.#abort.abort();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([pump, new Promise((resolve) => { timer = setTimeout(resolve, Math.max(0, left)); })]);
        clearTimeout(timer);
      }
      // Left only while the endpoint is down (no sender runs): straight to the outbox.
      if (this.#queue.length > 0) await this.#spill();
    } catch (error) {
      this.#log.warn({ err: errorMessage(error) }, 'OpenLineage events could not be flushed');
    }
  }

  close(): Promise<void> {
    return this.flush();
  }

  #start(): void {
    if (this.#pump !== undefined || Date.now() < this.#downUntil) return;
    this.#pump = this.#run()
      .catch((error: unknown) => this.#log.warn({ err: errorMessage(error) }, 'OpenLineage sender stopped'))
      .finally(() => {
        this.#pump = undefined;
      });
  }

  async #run(): Promise<void> {
    if (this.#abort.signal.aborted) this.#abort = new AbortController();
    if (this.#outboxDue) {
      this.#outboxDue = false;
      const waiting = await this.#claimOutbox();
      if (waiting.length > 0) this.#log.info({ events: waiting.length }, 'sending OpenLineage events from the outbox first');
      this.#queue = [...waiting, ...this.#queue];
    }
    for (let next = this.#queue[0]; next !== undefined; next = this.#queue[0]) {
      const result = await this.#send(next);
      if (result === 'down') {
        this.#downUntil = Date.now() + (this.#options.downForMs ?? 30_000);
        this.#outboxDue = true;
        await this.#spill();
        return;
      }
      this.#queue.shift();
    }
    await this.#releaseClaims();
  }

  /** Post one event: retried on network errors, timeouts, 429 and 5xx; any other status is final. */
  async #send(body: string): Promise<SendResult> {
    const attempts = this.#options.attempts ?? 3;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#options.apiKey !== undefined) headers['authorization'] = `Bearer ${this.#options.apiKey}`;
    else if (this.#basic !== undefined) headers['authorization'] = `Basic ${this.#basic}`;
    let last = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.#abort.signal.aborted) return 'down';
      let wait: number | undefined;
      try {
        const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#options.timeoutMs ?? 2000)]);
        const response = await fetch(this.#endpoint, { method: 'POST', headers, body, signal });
        await response.body?.cancel();
        if (response.ok) return 'sent';
        last = `HTTP ${response.status}`;
        // 401/403: the token is missing or wrong; keep the events until it is fixed.
        if (response.status === 401 || response.status === 403) return this.#down(`${last}: the endpoint refused the token (settings.openlineage.apiKeyEnv)`);
        if (response.status !== 408 && response.status !== 429 && response.status < 500) {
          this.#log.warn({ url: this.#endpoint, status: response.status }, 'OpenLineage endpoint rejected an event; dropped (it would be rejected again)');
          return 'rejected';
        }
        wait = retryAfterMs(response.headers.get('retry-after'));
      } catch (error) {
        last = errorMessage(error);
      }
      if (attempt < attempts) await this.#sleep(Math.min(5000, Math.max(wait ?? 0, backoffDelay(this.#options.backoffMs ?? 200, 2000, attempt))));
    }
    return this.#down(last);
  }

  #down(reason: string): SendResult {
    this.#log.warn({ url: this.#endpoint, err: reason, outbox: this.#options.outboxDir }, 'OpenLineage endpoint unreachable: events kept in the outbox for the next run');
    return 'down';
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.#abort.signal;
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }

  /** Take the outbox (and files claimed by senders that died) by renaming, so two processes never send them both. */
  async #claimOutbox(): Promise<string[]> {
    const dir = this.#options.outboxDir;
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return [];
    }
    const take = names.filter((name) => name === OUTBOX_FILE || (CLAIMED.exec(name) !== null && ownerIsGone(CLAIMED.exec(name)?.[1]))).sort((a, b) => (a === OUTBOX_FILE ? 1 : b === OUTBOX_FILE ? -1 : a.localeCompare(b)));
    const lines: string[] = [];
    for (const name of take) {
      const claimed = path.join(dir, `sending-${PROCESS_OWNER}-${randomBytes(4).toString('hex')}.ndjson`);
      try {
        await fs.rename(path.join(dir, name), claimed);
      } catch {
        continue; // another sender took it first
      }
      this.#claimed.push(claimed);
      lines.push(...(await fs.readFile(claimed, 'utf8')).split('\n').filter((line) => line.trim() !== ''));
    }
    return lines;
  }

  async #releaseClaims(): Promise<void> {
    for (const file of this.#claimed.splice(0)) await fs.rm(file, { force: true });
  }

  /** Append the queue to the outbox (keeping its newest events within the size bound), then drop the claims. */
  async #spill(): Promise<void> {
    const lines = this.#queue.splice(0);
    const claims = this.#claimed.splice(0);
    if (lines.length > 0) {
      const dir = this.#options.outboxDir;
      await fs.mkdir(dir, { recursive: true });
      const file = path.join(dir, OUTBOX_FILE);
      await fs.appendFile(file, `${lines.join('\n')}\n`);
      await this.#bound(file);
    }
    for (const claim of claims) await fs.rm(claim, { force: true });
  }

  async #bound(file: string): Promise<void> {
    const max = this.#options.outboxMaxBytes ?? 64 * 1024 * 1024;
    if ((await fs.stat(file)).size <= max) return;
    const lines = (await fs.readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
    let size = 0;
    let keep = lines.length;
    while (keep > 0 && size + Buffer.byteLength(lines[keep - 1] ?? '') + 1 <= max) size += Buffer.byteLength(lines[--keep] ?? '') + 1;
    const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(temp, lines.slice(keep).map((line) => `${line}\n`).join(''));
    await fs.rename(temp, file);
    this.#log.warn({ dropped: keep, kept: lines.length - keep, maxBytes: max }, 'OpenLineage outbox full: dropped its oldest events');
  }
}
