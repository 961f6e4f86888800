// Webhook alerts against a real local HTTP server that fails on cue: retries on 5xx, 429 and timeouts, none on
// other 4xx, Retry-After honoured, the payload intact, and failures reported instead of thrown.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatAlertText, sendAlert, type AlertPayload } from '../src/connectors/alerts.ts';

interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  /** Never answer: the client must time out. */
  readonly hang?: boolean;
}

interface Received {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: unknown;
}

/** Answers each POST with the next scripted reply for its path, then 200 once the script runs out. */
class WebhookServer {
  readonly received: Received[] = [];
  readonly #script = new Map<string, Reply[]>();
  readonly #server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      this.received.push({ path, contentType: request.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const reply = this.#script.get(path)?.shift() ?? { status: 200 };
      if (reply.hang === true) return;
      response.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
      response.end(reply.status < 300 ? 'ok' : `status ${reply.status}`);
    });
  });

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}${path}`;
  }

  script(path: string, ...replies: Reply[]): void {
    this.#script.set(path, [...replies]);
  }

  count(path: string): number {
    return this.received.filter((r) => r.path === path).length;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.#server.close((error) => (error === undefined ? resolve() : reject(error))));
  }
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const payload: AlertPayload = {
  event: 'check_failed',
  project: 'shop',
  runId: 'run-2026-11-25-abc',
  asset: 'orders',
  partition: '2026-11-25',
  severity: 'error',
  failures: [
    { expectation: 'expect_column_values_to_not_be_null', column: 'customer_id', unexpected_count: 12, observed_value: null },
    { expectation: 'expect_column_mean_to_be_between', column: 'amount', unexpected_count: null, observed_value: 3.25 },
  ],
};

const fast = { backoffMs: 1, timeoutMs: 2000 };

let server: WebhookServer;
beforeEach(async () => {
  server = new WebhookServer();
  await server.listen();
});
afterEach(async () => {
  await server.close();
});

describe('sendAlert', () => {
  it('retries 500 and 429 (Retry-After: 0), then delivers the payload intact with a text line', async () => {
    server.script('/hook', { status: 500 }, { status: 429, headers: { 'retry-after': '0' } });
    const [delivery] = await sendAlert([server.url('/hook')], payload, { retries: 3, ...fast });

    expect(delivery).toEqual({ url: server.url('/hook'), delivered: true, attempts: 3, status: 200, error: null });
    expect(server.count('/hook')).toBe(3);
    const last = server.received.at(-1);
    expect(last?.contentType).toMatch(/^application\/json/);
    expect(last?.body).toEqual({ ...payload, text: expect.any(String) });
    // Every attempt sends the same body.
    expect(new Set(server.received.map((r) => JSON.stringify(r.body))).size).toBe(1);
    const text = (last?.body as { text: string }).text;
    for (const part of ['orders', 'expect_column_values_to_not_be_null', 'customer_id', '2026-11-25', 'run-2026-11-25-abc', 'shop']) {
      expect(text).toContain(part);
    }
  });

  it('does not retry a 400, and reports the status instead of throwing', async () => {
    server.script('/bad', { status: 400 });
    const [delivery] = await sendAlert([server.url('/bad')], payload, { retries: 5, ...fast });
    expect(delivery).toMatchObject({ delivered: false, attempts: 1, status: 400 });
    expect(delivery?.error).toContain('HTTP 400');
    expect(server.count('/bad')).toBe(1);
  });

  it('gives up after the configured retries on persistent 5xx', async () => {
    server.script('/down', { status: 503 }, { status: 502 }, { status: 500 }, { status: 500 });
    const [delivery] = await sendAlert([server.url('/down')], payload, { retries: 2, ...fast });
    expect(delivery).toMatchObject({ delivered: false, attempts: 3, status: 500 });
    expect(server.count('/down')).toBe(3);
  });

  it('waits as long as Retry-After asks', async () => {
    server.script('/slow-down', { status: 429, headers: { 'retry-after': '1' } });
    const started = performance.now();
    const [delivery] = await sendAlert([server.url('/slow-down')], payload, { retries: 1, backoffMs: 0, timeoutMs: 2000 });
    expect(delivery).toMatchObject({ delivered: true, attempts: 2 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('times out a server that never answers, and retries', async () => {
    server.script('/hang', { status: 200, hang: true });
    const [delivery] = await sendAlert([server.url('/hang')], payload, { retries: 1, backoffMs: 1, timeoutMs: 200 });
    expect(delivery).toMatchObject({ delivered: true, attempts: 2 });

    server.script('/hang-always', { status: 200, hang: true }, { status: 200, hang: true });
    const [failed] = await sendAlert([server.url('/hang-always')], payload, { retries: 1, backoffMs: 1, timeoutMs: 200 });
    expect(failed).toMatchObject({ delivered: false, attempts: 2, status: null });
    expect(failed?.error).toContain('timed out after 200 ms');
  });

  it('reports an unreachable or invalid URL without throwing, and still delivers to the others', async () => {
    const unreachable = `http://127.0.0.1:${await closedPort()}/hook`;
    const deliveries = await sendAlert([unreachable, 'not a url', 'ftp://example.invalid/x', server.url('/ok')], payload, { retries: 2, ...fast });
    expect(deliveries.map((d) => [d.url, d.delivered, d.attempts])).toEqual([
      [unreachable, false, 3],
      ['not a url', false, 0],
      ['ftp://example.invalid/x', false, 0],
      [server.url('/ok'), true, 1],
    ]);
    expect(deliveries[0]?.error).toMatch(/ECONNREFUSED/);
    expect(deliveries[1]?.error).toContain('not an http(s) URL');
  });

  it('sends BIGINT values from DuckDB as numbers and returns nothing for no URLs', async () => {
    const withBigint: AlertPayload = { ...payload, failures: [{ expectation: 'expect_table_row_count_to_be_between', column: null, unexpected_count: null, observed_value: 10n ** 20n }] };
    const [delivery] = await sendAlert([server.url('/big')], withBigint, fast);
    expect(delivery?.delivered).toBe(true);
    expect(server.received[0]?.body).toMatchObject({ failures: [{ observed_value: '100000000000000000000' }] });
    expect(await sendAlert([], payload)).toEqual([]);
  });
});

describe('formatAlertText', () => {
  it('says what failed, where and in which run, on one line', () => {
    expect(formatAlertText(payload)).toBe(
      '[sluice] ERROR 2 check(s) failed on shop/orders partition 2026-11-25 — ' +
        'expect_column_values_to_not_be_null(customer_id): 12 unexpected; expect_column_mean_to_be_between(amount): observed 3.25 — ' +
        'run run-2026-11-25-abc',
    );
  });

  it('describes run failures and freshness breaches, folding newlines and escaping what Slack would parse', () => {
    const run = formatAlertText({ event: 'run_failed', project: 'shop', runId: 'r1', asset: null, partition: null, severity: 'error', failures: [], message: 'step orders failed:\n  <!channel> & division by zero' });
    expect(run).toBe('[sluice] ERROR run failed: shop — step orders failed: &lt;!channel&gt; &amp; division by zero — run r1');
    const fresh = formatAlertText({ event: 'freshness_breach', project: 'shop', runId: 'r2', asset: 'events', partition: '', severity: 'warn', failures: [], message: 'newest row is 26 h old (limit 24 h)' });
    expect(fresh).toBe('[sluice] WARN freshness breach on shop/events — newest row is 26 h old (limit 24 h) — run r2');
  });

  it('names the first three failures and counts the rest', () => {
    const many = Array.from({ length: 5 }, (_, i) => ({ expectation: `expect_${i}`, column: null, unexpected_count: i, observed_value: null }));
    const text = formatAlertText({ ...payload, failures: many });
    expect(text).toContain('expect_2: 2 unexpected; +2 more');
    expect(text).not.toContain('expect_3');
  });
});
