// End to end on the real services: JetStream publish -> `sluice stream --nats` (child) -> online store (Redis)
// -> `sluice serve` (child). Latency is publish until the API shows the event's card with an event time at
// least the event's; the bare JetStream publish -> consume latency is the floor, measured in the same run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { deleteStream, ensureStream, JetStreamSource, openJetStream, type JetStreamHandle } from '../src/connectors/nats.ts';
import { transactions } from '../src/generate/transactions.ts';
import { writeFraudConfig } from '../test/helpers/fraud-project.ts';
import { quantile, writeResult } from './harness.ts';

const NATS_URL = 'nats://127.0.0.1:4222';
const REDIS = 'redis://127.0.0.1:6379';
const root = path.resolve(import.meta.dirname, '..');
const run = `sluice_bench_${randomBytes(4).toString('hex')}`;
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const encoder = new TextEncoder();

interface Latency {
  readonly rate: number;
  readonly seconds: number;
  readonly sent: number;
  readonly received: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function summarise(rate: number, seconds: number, sent: number, samples: number[]): Latency {
  const sorted = samples.sort((a, b) => a - b);
  const round = (v: number): number => Math.round(v * 100) / 100;
  return { rate, seconds, sent, received: samples.length, p50: round(quantile(sorted, 0.5)), p99: round(quantile(sorted, 0.99)), max: round(sorted.at(-1) ?? Number.NaN) };
}

/** Call `emit(n)` every ~2 ms with the events due so far at `rate`/s, for `seconds`; returns how many were sent. */
async function paced(rate: number, seconds: number, emit: (n: number) => void): Promise<number> {
  const start = performance.now();
  let sent = 0;
  for (;;) {
    const elapsed = (performance.now() - start) / 1000;
    if (elapsed >= seconds) break;
    const due = Math.floor(rate * elapsed) - sent;
    if (due > 0) {
      emit(due);
      sent += due;
    }
    await sleep(2);
  }
  return sent;
}

/**
 * Bare JetStream: the publisher stamps its send time, the consumer (JetStreamSource) measures on receipt.
 * Publishers here use core NATS publish on the stream's subject (JetStream stores it; no per-message PubAck
 * round trip): awaiting 20k PubAcks a second from one Node process timed out on this machine.
 */
async function bare(handle: JetStreamHandle, rate: number, seconds: number): Promise<Latency> {
  const stream = `${run}_bare_${rate}`;
  await ensureStream(handle, { stream, subjects: [`${stream}.x`] });
  const source = await JetStreamSource.open(handle, { stream, durable: 'bench' });
  const samples: number[] = [];
  const consume = (async () => {
    for await (const batch of source.batches({ maxMessages: 1000, expiresMs: 1000 })) {
      const at = now();
      for (const m of batch.messages) samples.push(at - (JSON.parse(new TextDecoder().decode(m.data)) as { t: number }).t);
      await batch.ack();
    }
  })();
  const sent = await paced(rate, seconds, (n) => {
    for (let i = 0; i < n; i++) handle.connection.publish(`${stream}.x`, encoder.encode(JSON.stringify({ t: now() })));
  });
  await handle.connection.flush();
  const deadline = performance.now() + 10_000;
  while (samples.length < sent && performance.now() < deadline) await sleep(50);
  await source.stop();
  await consume;
  await deleteStream(handle, stream);
  return summarise(rate, seconds, sent, samples);
}

function spawnCli(args: string[], env: Record<string, string>, nodeArgs: string[] = []): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, path.join(root, 'bin', 'sluice.mjs'), ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

interface E2EResult extends Latency {
  /** Consumer backlog (messages not yet delivered) at the start and end of the measured interval. */
  readonly pendingStart: number;
  readonly pendingEnd: number;
}

class EndToEnd {
  private readonly events: Iterator<{ txn_id: string; card_id: number; merchant_id: string; amount: number }>;
  private probeCard = 10_000_000;
  private seq = 0;

  constructor(
    private readonly handle: JetStreamHandle,
    private readonly subject: string,
    private readonly stream: string,
    private readonly serverUrl: string,
  ) {
    this.events = transactions({ cards: 100_000, seed: 7, startMs: Date.now(), rate: 5000, duplicateShare: 0, delayedShare: 0 });
  }

  async pending(): Promise<number> {
    return (await this.backlog()).pending;
  }

  /** Not yet delivered, and delivered but not yet acked (not yet covered by a checkpoint). */
  async backlog(): Promise<{ pending: number; ackPending: number }> {
    try {
      const info = await this.handle.jsm.consumers.info(this.stream, 'transactions-all');
      return { pending: info.num_pending, ackPending: info.num_ack_pending };
    } catch {
      return { pending: Number.NaN, ackPending: Number.NaN };
    }
  }

  /** Publish at `rate` for `seconds`; every `probeEvery`-th event is a probe on its own card, polled on the API. */
  async measure(rate: number, seconds: number, probeEvery: number): Promise<E2EResult> {
    const probes = new Map<number, { sentAt: number; tsMs: number }>();
    const samples: number[] = [];
    let probesSent = 0;
    let publishing = true;
    const poller = (async () => {
      while (publishing || probes.size > 0) {
        if (probes.size === 0) {
          await sleep(1);
          continue;
        }
        const cards = [...probes.keys()].slice(0, 1000);
        const response = await fetch(`${this.serverUrl}/v1/features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ service: 'fraud', entities: cards.map((card_id) => ({ card_id })) }) });
        const at = now();
        const body = (await response.json()) as { results: { features: Record<string, { eventTimestamp: string | null }> }[] };
        body.results.forEach((result, i) => {
          const card = cards[i] as number;
          const probe = probes.get(card);
          const ts = result.features['txn_count_1h']?.eventTimestamp;
          if (probe !== undefined && ts !== null && ts !== undefined && Date.parse(ts) >= probe.tsMs) {
            samples.push(at - probe.sentAt);
            probes.delete(card);
          }
        });
        // A probe not seen within 30 s of publishing counts as not received (the backlog outgrew the run).
        if (!publishing && now() - (probes.values().next().value?.sentAt ?? now()) > 30_000) break;
      }
    })();
    const pendingStart = await this.pending();
    await paced(rate, seconds, (n) => {
      for (let i = 0; i < n; i++) {
        const event = this.events.next().value as { txn_id: string; card_id: number; merchant_id: string; amount: number };
        this.seq += 1;
        const sentAt = now();
        const tsMs = Math.floor(sentAt);
        const probe = this.seq % probeEvery === 0;
        const card = probe ? (this.probeCard += 1) : event.card_id;
        const record = { ...event, txn_id: `${event.txn_id}-${this.seq}`, card_id: card, ts: new Date(tsMs).toISOString() };
        if (probe) {
          probes.set(card, { sentAt, tsMs });
          probesSent += 1;
        }
        this.handle.connection.publish(this.subject, encoder.encode(JSON.stringify(record)));
      }
    });
    const pendingEnd = await this.pending();
    await this.handle.connection.flush();
    publishing = false;
    await poller;
    return { ...summarise(rate, seconds, probesSent, samples), pendingStart, pendingEnd };
  }

  /**
   * Wait until the consumer has no backlog and the worker's checkpoints have caught up (nothing unacked), so
   * that a step starts from a quiet worker; false when it has not after `timeoutMs`.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const { pending, ackPending } = await this.backlog();
      if (pending === 0 && ackPending === 0) break;
      if (performance.now() > deadline) return false;
      await sleep(200);
    }
    return true;
  }
}

async function main(): Promise<void> {
  const load = (): number[] => os.loadavg().map((v) => Math.round(v * 100) / 100);
  const loadBefore = load();
  const handle = await openJetStream(NATS_URL);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-e2e-'));
  // The stream tests' fraud project, on this run's JetStream stream and subject.
  writeFraudConfig(dir, { jetStream: run, subject: `${run}.txns` });
  const prefix = `${run}:`;
  const env = { SLUICE_ONLINE_URL: `${REDIS}?prefix=${prefix}`, SLUICE_NATS_URL: NATS_URL, SLUICE_LOG_LEVEL: 'warn' };
  const children: ChildProcess[] = [];
  const result: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadBefore };
  try {
    console.log(`load average ${loadBefore.join(' ')}`);
    const baseline: Latency[] = [];
    for (const rate of [5000, 20_000]) {
      baseline.push(await bare(handle, rate, 10));
      console.log('bare', baseline.at(-1));
    }
    result['bare'] = baseline;

    await ensureStream(handle, { stream: run, subjects: [`${run}.txns`, `${run}.txns.>`] });
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const server = spawnCli(['serve', '--port', String(port), '-p', dir], env);
    children.push(server);
    await new Promise<void>((resolve, reject) => {
      server.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('listening on')) resolve();
      });
      server.once('exit', (code) => reject(new Error(`sluice serve exited with ${code}`)));
    });
    const flushEvents = process.argv.includes('--flush-events') ? process.argv[process.argv.indexOf('--flush-events') + 1] ?? '1000' : '1000';
    // `--profile-worker <dir>`: a V8 CPU profile of the stream worker, written there when it exits.
    const profileDir = process.argv.includes('--profile-worker') ? process.argv[process.argv.indexOf('--profile-worker') + 1] : undefined;
    const worker = spawnCli(['stream', 'transactions', '--nats', '--flush-events', flushEvents, '-p', dir], env, profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', path.resolve(profileDir)]);
    children.push(worker);
    worker.stdout?.resume();
    const e2e = new EndToEnd(handle, `${run}.txns`, run, `http://127.0.0.1:${port}`);
    // Warm up: the worker's consumer exists and the server has read once.
    await e2e.measure(200, 2, 20);
    // Step the rate up until the backlog grows over a step (or does not drain afterwards).
    const steps: E2EResult[] = [];
    for (const rate of [500, 1000, 2000, 3000, 5000, 10_000, 20_000]) {
      const step = await e2e.measure(rate, 5, Math.max(1, Math.round(rate / 100)));
      steps.push(step);
      console.log('step', step);
      if (step.pendingEnd > Math.max(step.pendingStart, rate * 0.2) || !(await e2e.drain(20_000))) break;
    }
    result['steps'] = steps;
    const sustained = steps.filter((s) => s.pendingEnd <= Math.max(s.pendingStart, s.rate * 0.2)).map((s) => s.rate);
    result['maxSustainedRate'] = sustained.length === 0 ? null : Math.max(...sustained);
    // The goal's rates, 10 s each, sampling 1 event in 50; the backlog is not drained after the last.
    const latency: E2EResult[] = [];
    for (const rate of [5000, 20_000]) {
      await e2e.drain(60_000);
      latency.push(await e2e.measure(rate, 10, 50));
      console.log('e2e', latency.at(-1));
    }
    result['e2e'] = latency;
    result['loadAfter'] = load();
    result['flushEvents'] = Number(flushEvents);
  } finally {
    for (const child of children.reverse()) await stopChild(child);
    await deleteStream(handle, run).catch(() => false);
    await handle.close();
    const redis = new Redis(REDIS);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
  writeResult('stream-e2e', result);
  const rows = [
    ...(result['bare'] as Latency[]).map((r) => ['bare JetStream', r]),
    ...(result['steps'] as E2EResult[]).map((r) => ['step (publish -> API)', r]),
    ...(result['e2e'] as E2EResult[]).map((r) => ['publish -> API', r]),
  ] as [string, Latency & Partial<E2EResult>][];
  console.log(`\nload average before ${loadBefore.join(' ')}, after ${(result['loadAfter'] as number[]).join(' ')}`);
  console.log('| what | rate/s | samples | p50 ms | p99 ms | max ms | backlog start -> end |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [what, r] of rows) console.log(`| ${what} | ${r.rate} | ${r.received}/${r.sent} | ${r.p50} | ${r.p99} | ${r.max} | ${r.pendingStart ?? ''} -> ${r.pendingEnd ?? ''} |`);
  console.log(`highest rate without a growing backlog: ${String(result['maxSustainedRate'])}/s`);
}

await main();
