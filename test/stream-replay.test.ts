// One definition for stream and batch: replay a transaction log through the stream job (stopping midway and
// resuming from the checkpoint, as after a restart) and the online values equal the batch computation of the
// same windowed view as of each card's last event: skew 0, measured by measureSkew. Rejected events go to
// the dead-letter store with their reasons.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAssets } from '../src/batch/runner.ts';
import { transactions } from '../src/generate/transactions.ts';
import { measureSkew } from '../src/features/skew.ts';
import { openOnlineStore } from '../src/store/online/open-online-store.ts';
import type { OnlineStore } from '../src/store/online/online-store.ts';
import { getEventStream, runStreamLines } from '../src/stream/run.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { openCatalog } from '../src/store/catalog/open-catalog.ts';
import { fraudProject, writeFraudConfig } from './helpers/fraud-project.ts';
import { makeTempDir, repoRoot, runCli } from './helpers/temp.ts';

const project = fraudProject();

describe('stream and batch agree', () => {
  let dir: string;
  let cleanup: () => void;
  let ws: Workspace;
  let store: OnlineStore;
  let lines: string[];

  beforeAll(async () => {
    ({ dir, cleanup } = makeTempDir('sluice-stream-'));
    lines = [];
    for (const event of transactions({ cards: 150, seed: 5, startMs: Date.UTC(2026, 10, 1), rate: 4 })) {
      lines.push(JSON.stringify(event));
      if (lines.length === 20_000) break;
    }
    // A malformed line and a very late event: both must end up in the dead-letter store, not in the features.
    lines.splice(500, 0, '{"txn_id":"bad","card_id":"not a number","ts":"2026-11-01T00:00:00Z"}');
    lines.push(JSON.stringify({ txn_id: 'late-1', card_id: 3, merchant_id: 'm1', amount: 5, ts: '2026-11-01T00:00:00.000Z' }));
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'data', 'txns.ndjson'), `${lines.join('\n')}\n`);
    ws = await openWorkspace(project, dir);
    store = await openOnlineStore(`sqlite:${path.join(dir, '.sluice', 'online.db')}`);
  });
  afterAll(async () => {
    await store.close();
    await ws.close();
    cleanup();
  });

  async function* iterate(from: readonly string[]): AsyncGenerator<string> {
    for (const line of from) yield await Promise.resolve(line);
  }

  it('replays the log (with a restart midway) to the same values the batch path computes', async () => {
    // The batch side, minus the late event, which the stream rightly refuses: build it from the on-time lines.
    const stream = getEventStream(ws, 'transactions');
    const first = await runStreamLines(ws, store, stream, iterate(lines), { limit: 8000, flushEvents: 700 });
    expect(first).toMatchObject({ resumedFrom: 0, position: 8000 });
    const second = await runStreamLines(ws, store, stream, iterate(lines), { flushEvents: 700 });
    expect(second.resumedFrom).toBe(8000);
    expect(second.position).toBe(lines.length);
    const counts = { applied: first.counts.applied + second.counts.applied, duplicate: first.counts.duplicate + second.counts.duplicate, invalid: first.counts.invalid + second.counts.invalid, late: first.counts.late + second.counts.late };
    const unique = new Set(lines.slice(0, -1).map((l) => (JSON.parse(l) as { txn_id: string }).txn_id));
    unique.delete('bad');
    expect(counts).toEqual({ applied: unique.size, duplicate: lines.length - 2 - unique.size, invalid: 1, late: 1 });

    const dead = fs.readFileSync(path.join(dir, '.sluice', 'dead-letter', 'transactions', 'transactions-all.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { status: string; reason: string; sequence: number });
    expect(dead.find((d) => d.status === 'invalid')).toMatchObject({ sequence: 501, reason: 'field "card_id": expected int, got the string "not a number"' });
    expect(dead.find((d) => d.status === 'late')?.reason).toMatch(/^late event: event time 2026-11-01T00:00:00.000Z is more than 10000 ms behind the watermark/);

    // Batch: the same log without the late event, through the asset and the same view definition.
    fs.writeFileSync(path.join(dir, 'data', 'txns.ndjson'), `${lines.slice(0, -1).join('\n')}\n`);
    expect((await runAssets(ws)).status).toBe('success');
    const skew = await measureSkew(ws, store, { service: 'fraud', sample: 1000 });
    const cards = new Set(lines.slice(0, -1).flatMap((l) => { const e = JSON.parse(l) as { txn_id: string; card_id: unknown }; return e.txn_id === 'bad' ? [] : [e.card_id]; }));
    expect(skew.views[0]?.sampled).toBe(cards.size);
    for (const feature of skew.features) {
      expect({ feature: feature.feature, mismatches: feature.mismatches, missing: feature.missing, extra: feature.extra }).toEqual({ feature: feature.feature, mismatches: 0, missing: 0, extra: 0 });
    }
    expect(skew.passed).toBe(true);
  });

  it('runs from the CLI over a file, and resumes from its checkpoint', async () => {
    writeFraudConfig(dir);
    const env = { SLUICE_ONLINE_URL: `sqlite:${path.join(dir, 'cli-online.db')}` };
    const file = path.join(dir, 'data', 'txns.ndjson');
    const part = await runCli(['stream', 'transactions', '--input', file, '--job', 'cli', '--limit', '5000', '-p', dir], { env });
    expect(part.code, part.stderr).toBe(0);
    expect(part.stdout).toMatch(/^stream transactions: events 1\.\.5000: \d+ applied/);
    const rest = await runCli(['stream', 'transactions', '--input', file, '--job', 'cli', '--json', '-p', dir], { env });
    expect(rest.code, rest.stderr).toBe(0);
    expect(JSON.parse(rest.stdout)).toMatchObject({ resumedFrom: 5000, position: lines.length - 1 });
    const skew = await runCli(['features', 'skew', '--service', 'fraud', '-p', dir], { env });
    expect(skew.code, skew.stdout).toBe(0);
  });
  it('survives kill -9 of the stream worker mid-replay: the restart resumes from the checkpoint, nothing lost or doubled', async () => {
    const env = { ...process.env, SLUICE_ONLINE_URL: `sqlite:${path.join(dir, 'k9-online.db')}`, SLUICE_LOG_LEVEL: 'error' };
    const file = path.join(dir, 'data', 'txns.ndjson');
    const onTime = fs.readFileSync(file, 'utf8').trim().split('\n');
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin/sluice.mjs'), 'stream', 'transactions', '--input', '-', '--job', 'k9', '--flush-events', '200', '--checkpoint-ms', '20', '-p', dir], { env, stdio: ['pipe', 'ignore', 'pipe'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    // Writes still buffered when the worker dies fail with EPIPE: expected, the restart reads the file instead.
    child.stdin.on('error', () => undefined);
    const catalog = await openCatalog(`sqlite:${path.join(dir, '.sluice', 'catalog.db')}`);
    let checkpointed = 0;
    try {
      // Feed events slowly (at most 60% of them, so the kill always lands before the end), and once a few
      // checkpoints are in, kill the worker without warning. A slow start (a loaded machine) only waits longer.
      const feedLimit = Math.floor(onTime.length * 0.6);
      const deadline = Date.now() + 60_000;
      for (let start = 0; checkpointed < 3000 && Date.now() < deadline; start += 250) {
        if (start < feedLimit) child.stdin.write(`${onTime.slice(start, start + 250).join('\n')}\n`);
        await sleep(40);
        checkpointed = (await catalog.loadCheckpoint('k9', 'all'))?.sequence ?? 0;
      }
      expect(checkpointed).toBeGreaterThanOrEqual(3000);
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      const atKill = (await catalog.loadCheckpoint('k9', 'all'))?.sequence ?? 0;
      expect(atKill).toBeLessThan(onTime.length);
      const restart = await runCli(['stream', 'transactions', '--input', file, '--job', 'k9', '--json', '-p', dir], { env });
      expect(restart.code, restart.stderr).toBe(0);
      expect(JSON.parse(restart.stdout)).toMatchObject({ resumedFrom: atKill, position: onTime.length });
    } finally {
      child.kill('SIGKILL');
      await catalog.close();
    }
    const skew = await runCli(['features', 'skew', '--service', 'fraud', '--json', '-p', dir], { env });
    expect(skew.code, skew.stdout).toBe(0);
    const report = JSON.parse(skew.stdout) as { features: { mismatches: number; missing: number; extra: number; compared: number }[] };
    expect(report.features.every((f) => f.compared > 100 && f.mismatches === 0 && f.missing === 0 && f.extra === 0)).toBe(true);
  });
});
