// The stream job on the real NATS JetStream and Redis: events published by key partition, two workers (one per
// partition) consuming at once, the online values equal to the batch computation (skew 0), workers restarted
// (or killed) resuming from their checkpoints without losing or doubling events, and HTTP ingest.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStream } from '../src/index.ts';
import { runAssets } from '../src/batch/runner.ts';
import { testNatsUrl, testRedisUrl } from '../src/config.ts';
import { deleteStream, openJetStream, type JetStreamHandle } from '../src/connectors/nats.ts';
import { measureSkew } from '../src/features/skew.ts';
import { transactions } from '../src/generate/transactions.ts';
import { openOnlineStore } from '../src/store/online/open-online-store.ts';
import type { OnlineStore } from '../src/store/online/online-store.ts';
import { publishToStream } from '../src/stream/publish.ts';
import { runStreamJetStream } from '../src/stream/run-jetstream.ts';
import { buildServer } from '../src/server/server.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { openCatalog } from '../src/store/catalog/open-catalog.ts';
import { fraudProject, writeFraudConfig } from './helpers/fraud-project.ts';
import { startPrivateNats } from './helpers/nats-server.ts';
import { makeTempDir, repoRoot, runCli } from './helpers/temp.ts';

const run = `sluice_test_${randomBytes(4).toString('hex')}`;
const project = fraudProject({ jetStream: run, subject: `${run}.txns`, partitions: 2 });
const txnStream = project.eventStreams.get('transactions') as EventStream;

describe('stream job on NATS JetStream', () => {
  let dir: string;
  let cleanup: () => void;
  let ws: Workspace;
  let store: OnlineStore;
  let handle: JetStreamHandle;
  const lines: string[] = [];

  beforeAll(async () => {
    ({ dir, cleanup } = makeTempDir('sluice-stream-nats-'));
    for (const event of transactions({ cards: 120, seed: 9, startMs: Date.UTC(2026, 10, 2), rate: 3 })) {
      lines.push(JSON.stringify(event));
      if (lines.length === 12_000) break;
    }
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'data', 'txns.ndjson'), `${lines.join('\n')}\n`);
    ws = await openWorkspace(project, dir);
    // The online store is the real Redis here (the embedded SQLite store is covered by stream-replay.test.ts).
    store = await openOnlineStore(`${testRedisUrl()}?prefix=${encodeURIComponent(`${run}:`)}`);
    handle = await openJetStream(testNatsUrl());
  });
  afterAll(async () => {
    await deleteStream(handle, run).catch(() => false);
    await handle.close();
    await store.dropView('card_activity');
    await store.close();
    await ws.close();
    cleanup();
  });

  it('two workers, one per key partition, give the batch values; a restarted worker resumes', async () => {
    // The first half, consumed by both workers at once.
    expect(await publishToStream(handle, txnStream, lines.slice(0, 6000))).toBe(6000);
    const worker = (index: number) => runStreamJetStream(ws, store, txnStream, handle, { partition: { index, count: 2 }, flushEvents: 500, idleStopMs: 1500 });
    const [w0, w1] = await Promise.all([worker(0), worker(1)]);
    expect(w0.counts.applied).toBeGreaterThan(1000);
    expect(w1.counts.applied).toBeGreaterThan(1000);
    const firstHalf = w0.counts.applied + w0.counts.duplicate + w1.counts.applied + w1.counts.duplicate;

    // The rest, then the workers again: each resumes from its checkpoint on its durable consumer.
    await publishToStream(handle, txnStream, lines.slice(6000));
    const [r0, r1] = await Promise.all([worker(0), worker(1)]);
    expect(r0.resumedFrom).toBe(w0.position);
    expect(r1.resumedFrom).toBe(w1.position);
    const unique = new Set(lines.map((l) => (JSON.parse(l) as { txn_id: string }).txn_id)).size;
    // JetStream's own duplicate window drops redeliveries by Nats-Msg-Id; what reaches the workers is applied once.
    expect(firstHalf + r0.counts.applied + r1.counts.applied + r0.counts.duplicate + r1.counts.duplicate).toBeLessThanOrEqual(lines.length);
    expect(w0.counts.applied + w1.counts.applied + r0.counts.applied + r1.counts.applied).toBe(unique);

    expect((await runAssets(ws)).status).toBe('success');
    const skew = await measureSkew(ws, store, { service: 'fraud', sample: 1000 });
    expect(skew.views[0]?.sampled).toBe(new Set(lines.map((l) => (JSON.parse(l) as { card_id: number }).card_id)).size);
    for (const f of skew.features) expect([f.feature, f.mismatches, f.missing, f.extra]).toEqual([f.feature, 0, 0, 0]);
  });
  it('runs from the CLI: sluice publish, then sluice stream --nats until idle', async () => {
    const cliRun = `${run}_cli`;
    const cliDir = path.join(dir, 'cli');
    fs.mkdirSync(path.join(cliDir, 'data'), { recursive: true });
    writeFraudConfig(cliDir, { jetStream: cliRun, subject: `${cliRun}.txns` });
    fs.writeFileSync(path.join(cliDir, 'data', 'txns.ndjson'), `${lines.slice(0, 3000).join('\n')}\n`);
    try {
      const published = await runCli(['publish', 'transactions', '--input', path.join(cliDir, 'data', 'txns.ndjson'), '-p', cliDir]);
      expect(published.code, published.stderr).toBe(0);
      expect(published.stdout).toMatch(/^published 3,000 event\(s\) to .*_cli\.txns at nats:\/\/127\.0\.0\.1:4222/);
      const streamed = await runCli(['stream', 'transactions', '--nats', '--idle-stop', '1500', '--json', '-p', cliDir]);
      expect(streamed.code, streamed.stderr).toBe(0);
      const unique = new Set(lines.slice(0, 3000).map((l) => (JSON.parse(l) as { txn_id: string }).txn_id)).size;
      expect((JSON.parse(streamed.stdout) as { counts: { applied: number } }).counts.applied).toBe(unique);
      expect((await runCli(['run', '-p', cliDir])).code).toBe(0);
      const skew = await runCli(['features', 'skew', '--service', 'fraud', '-p', cliDir]);
      expect(skew.code, skew.stdout + skew.stderr).toBe(0);
    } finally {
      await deleteStream(handle, cliRun).catch(() => false);
    }
  });
  it('ingests events over HTTP (POST /v1/events/<stream>) into the stream, checked against its schema', async () => {
    const app = buildServer({ project, store, apiKeys: 'ingest-key=transactions,reader=fraud', ingest: (stream, events) => publishToStream(handle, stream, events), processMetrics: false });
    try {
      const post = (body: unknown, key = 'ingest-key', stream = 'transactions') => app.inject({ method: 'POST', url: `/v1/events/${stream}`, headers: { 'x-api-key': key }, payload: body as Record<string, unknown> });
      const now = Date.now();
      const events = [0, 1, 2].map((i) => ({ txn_id: `http-${now}-${i}`, card_id: 5000 + i, merchant_id: 'm1', amount: 10 + i, ts: new Date(now).toISOString() }));
      const accepted = await post(events);
      expect(accepted.statusCode, accepted.body).toBe(202);
      expect(accepted.json()).toEqual({ stream: 'transactions', accepted: 3 });
      const bad = await post([events[0], { ...events[1], card_id: 'x' }]);
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ error: 'EVENT_INVALID', rejected: [{ index: 1, field: 'card_id', reason: 'field "card_id": expected int, got the string "x"' }] });
      expect((await post(events[0], 'reader')).statusCode).toBe(403);
      expect((await post(events[0], 'nope')).statusCode).toBe(401);
      expect((await post(events[0], 'ingest-key', 'transactionz')).json()).toMatchObject({ error: 'NOT_FOUND', message: expect.stringMatching(/no event stream "transactionz".*streams: transactions/) });
      // The stream job picks them up; the served features show the three new cards.
      await Promise.all([0, 1].map((index) => runStreamJetStream(ws, store, txnStream, handle, { partition: { index, count: 2 }, idleStopMs: 1500 })));
      const lookup = await app.inject({ method: 'POST', url: '/v1/features', headers: { 'x-api-key': 'reader' }, payload: { service: 'fraud', entities: events.map((e) => ({ card_id: e.card_id })) } });
      const results = lookup.json<{ results: { features: Record<string, { value: unknown; status: string }> }[] }>().results;
      expect(results.map((r) => [r.features['txn_count_1h']?.status, r.features['txn_amount_sum_1h']?.value])).toEqual([['present', 10], ['present', 11], ['present', 12]]);
    } finally {
      await app.close();
    }
  });
  it('survives kill -9 of a NATS stream worker: the restart resumes from its checkpoint, nothing lost or doubled', async () => {
    const k9 = `${run}_k9`;
    const k9Dir = path.join(dir, 'k9');
    fs.mkdirSync(path.join(k9Dir, 'data'), { recursive: true });
    writeFraudConfig(k9Dir, { jetStream: k9, subject: `${k9}.txns` });
    fs.writeFileSync(path.join(k9Dir, 'data', 'txns.ndjson'), `${lines.join('\n')}\n`);
    const env = { ...process.env, SLUICE_LOG_LEVEL: 'error' };
    try {
      expect((await runCli(['publish', 'transactions', '--input', path.join(k9Dir, 'data', 'txns.ndjson'), '-p', k9Dir])).code).toBe(0);
      const child = spawn(process.execPath, [path.join(repoRoot, 'bin/sluice.mjs'), 'stream', 'transactions', '--nats', '--flush-events', '100', '--checkpoint-ms', '20', '-p', k9Dir], { env, stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      const catalog = await openCatalog(`sqlite:${path.join(k9Dir, '.sluice', 'catalog.db')}`);
      let checkpointed = 0;
      try {
        for (let i = 0; i < 600 && checkpointed < 2000; i++) {
          await sleep(25);
          checkpointed = (await catalog.loadCheckpoint('transactions', 'all'))?.sequence ?? 0;
        }
      } finally {
        child.kill('SIGKILL');
        await catalog.close();
      }
      expect(await exited).toBe('SIGKILL');
      expect(checkpointed).toBeGreaterThanOrEqual(2000);
      const restart = await runCli(['stream', 'transactions', '--nats', '--idle-stop', '1500', '--json', '-p', k9Dir], { env });
      expect(restart.code, restart.stderr).toBe(0);
      const summary = JSON.parse(restart.stdout) as { resumedFrom: number; position: number };
      expect(summary.resumedFrom).toBeGreaterThanOrEqual(checkpointed);
      expect((await runCli(['run', '-p', k9Dir])).code).toBe(0);
      const skew = await runCli(['features', 'skew', '--service', 'fraud', '--json', '-p', k9Dir]);
      const report = JSON.parse(skew.stdout) as { features: { feature: string; mismatches: number; missing: number; extra: number }[] };
      for (const f of report.features) expect([f.feature, f.mismatches, f.missing, f.extra]).toEqual([f.feature, 0, 0, 0]);
    } finally {
      await deleteStream(handle, k9).catch(() => false);
    }
  });

  it('rides out a NATS restart during a replay: the worker reconnects, resumes from its position and never exits', async () => {
    const rs = `${run}_restart`;
    const rsDir = path.join(dir, 'restart');
    fs.mkdirSync(path.join(rsDir, 'data'), { recursive: true });
    writeFraudConfig(rsDir, { jetStream: rs, subject: `${rs}.txns` });
    // Long enough a replay that the broker dies in its middle.
    const many: string[] = [];
    for (const event of transactions({ cards: 300, seed: 11, startMs: Date.UTC(2026, 10, 2), rate: 20 })) {
      many.push(JSON.stringify(event));
      if (many.length === 40_000) break;
    }
    const unique = new Set(many.map((l) => (JSON.parse(l) as { txn_id: string }).txn_id)).size;
    fs.writeFileSync(path.join(rsDir, 'data', 'txns.ndjson'), `${many.join('\n')}\n`);
    const broker = await startPrivateNats(path.join(rsDir, 'nats'));
    const env = { ...process.env, SLUICE_NATS_URL: broker.url, SLUICE_LOG_LEVEL: 'info', SLUICE_LOG_FORMAT: 'json' };
    try {
      expect((await runCli(['publish', 'transactions', '--input', path.join(rsDir, 'data', 'txns.ndjson'), '-p', rsDir], { env })).code).toBe(0);
      const child = spawn(process.execPath, [path.join(repoRoot, 'bin/sluice.mjs'), 'stream', 'transactions', '--nats', '--flush-events', '100', '--checkpoint-ms', '20', '--idle-stop', '4000', '--json', '-p', rsDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const catalog = await openCatalog(`sqlite:${path.join(rsDir, '.sluice', 'catalog.db')}`);
      let checkpointed = 0;
      try {
        for (let i = 0; i < 600 && checkpointed < 2000; i++) {
          await sleep(25);
          checkpointed = (await catalog.loadCheckpoint('transactions', 'all'))?.sequence ?? 0;
        }
        expect(checkpointed).toBeGreaterThanOrEqual(2000);
        expect(checkpointed).toBeLessThan(unique / 2);
        // The broker dies mid-replay and comes back on the same port and store two seconds later.
        await broker.kill('SIGKILL');
        await sleep(2000);
        expect(child.exitCode, stderr).toBeNull();
        await broker.start();
      } finally {
        await catalog.close();
      }
      const code = await exited;
      expect(code, stderr).toBe(0);
      // The outage is said as it happens; if the consumer was lost with it, so is its re-creation.
      expect(stderr).toMatch(/lost the connection to NATS at nats:\/\/127\.0\.0\.1:\d+; reconnecting/);
      expect(stderr).toMatch(/reconnected to NATS at/);
      if (/NATS consumer '.*' lost/.test(stderr)) expect(stderr).toMatch(/resumed consuming 'transactions-all' after event \d+/);
      expect(stderr).not.toMatch(/skipped deliveries/);
      const summary = JSON.parse(stdout) as { position: number };
      expect(summary.position).toBe(unique);
      expect((await runCli(['run', '-p', rsDir])).code).toBe(0);
      const skew = await runCli(['features', 'skew', '--service', 'fraud', '--json', '-p', rsDir]);
      const report = JSON.parse(skew.stdout) as { features: { feature: string; mismatches: number; missing: number; extra: number }[] };
      for (const f of report.features) expect([f.feature, f.mismatches, f.missing, f.extra]).toEqual([f.feature, 0, 0, 0]);
    } finally {
      await broker.kill();
    }
  }, 60_000);
});
