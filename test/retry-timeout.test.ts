// Retries and timeouts: backoff with jitter and a cap, only transient errors retried, an attempt past its limit
// stopped (its DuckDB statement interrupted) and never committed, with a TIMEOUT naming the asset and limit.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { asset, dailyPartitions, defineProject, fileSource, SluiceError } from '../src/index.ts';
import { retryDelay, withRetry, withTimeout } from '../src/batch/retry.ts';
import { runAssets, type RunEvent } from '../src/batch/runner.ts';
import { DEFAULT_RETRY } from '../src/define/asset.ts';
import type { Project } from '../src/define/project.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { expectSluiceError } from './helpers/errors.ts';
import { tempProjectEachTest } from './helpers/temp.ts';

let dir: string;
const open: Workspace[] = [];
tempProjectEachTest('sluice-retry-', { 'data/numbers.csv': 'n\n1\n2\n3\n' }, (d) => { dir = d; }, open);

const numbers = fileSource('numbers', { format: 'csv', path: 'data/numbers.csv', columns: { n: 'INTEGER' } });

async function workspace(project: Project): Promise<Workspace> {
  const ws = await openWorkspace(project, dir, { queueUrl: null });
  open.push(ws);
  return ws;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Block the event loop: JS work that no signal can interrupt. */
const blockFor = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };

describe('backoff', () => {
  it('doubles per attempt, is capped, and jitters between 50% and 100%', () => {
    const policy = { ...DEFAULT_RETRY, backoffMs: 100, maxDelayMs: 350 };
    expect([1, 2, 3, 4].map((a) => retryDelay(policy, a, () => 1))).toEqual([100, 200, 350, 350]);
    expect([1, 2, 3].map((a) => retryDelay(policy, a, () => 0))).toEqual([50, 100, 175]);
  });

  it('retries a deterministic transient failure, not a permanent one unless retryAll', async () => {
    const policy = { ...DEFAULT_RETRY, retries: 3, backoffMs: 1, maxDelayMs: 2 };
    let calls = 0;
    const flaky = await withRetry(policy, (attempt) => {
      calls++;
      return attempt < 3 ? Promise.reject(new SluiceError('TRANSIENT', `connection reset on attempt ${attempt}`)) : Promise.resolve('done');
    });
    expect(flaky).toEqual({ value: 'done', attempts: 3 });
    expect(calls).toBe(3);

    const permanent = withRetry(policy, () => Promise.reject(new SluiceError('ASSET_SQL', 'no such column')));
    expect(((await expectSluiceError(permanent, 'ASSET_SQL')) as SluiceError & { attempts: number }).attempts).toBe(1);
    const all = withRetry({ ...policy, retryAll: true }, () => Promise.reject(new SluiceError('ASSET_SQL', 'no such column')));
    expect(((await expectSluiceError(all, 'ASSET_SQL')) as SluiceError & { attempts: number }).attempts).toBe(4);
  });
});

describe('withTimeout', () => {
  const timeout = (): SluiceError => new SluiceError('TIMEOUT', 'too slow');

  it('refuses the commit of an attempt that outlived its limit, and reports TIMEOUT only once it has wound down', async () => {
    let committed = false;
    let wound = false;
    const started = Date.now();
    const attempt = withTimeout(50, timeout, async (limit) => {
      await sleep(150); // work that ignores the signal
      try {
        limit.enterCommit();
        committed = true;
      } finally {
        wound = true;
      }
    });
    await expectSluiceError(attempt, 'TIMEOUT');
    expect(committed).toBe(false);
    expect(wound).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('aborts the signal at the limit and lets a commit that started in time finish', async () => {
    const aborted = withTimeout(20, timeout, (limit) => new Promise((_, reject) => limit.signal.addEventListener('abort', () => reject(new Error('interrupted')))));
    await expectSluiceError(aborted, 'TIMEOUT');
    const committing = await withTimeout(30, timeout, async (limit) => {
      limit.enterCommit();
      await sleep(80);
      return 'committed';
    });
    expect(committing).toBe('committed');
  });
});

describe('step timeouts', () => {
  it('interrupts a long DuckDB statement, retries, and fails with TIMEOUT naming the asset, partition and limit', async () => {
    const days = dailyPartitions({ start: '2026-01-01' });
    // About 10^10 rows of hashing: minutes if not interrupted.
    const slow = asset('slow', {
      partitions: days,
      retry: { retries: 1, backoffMs: 10, timeoutMs: 400 },
      sql: ({ partitionDate }) => `SELECT ${partitionDate} AS date, sum(hash(a.range * b.range)) AS x FROM range(100000) a, range(100000) b`,
    });
    const ws = await workspace(defineProject({ name: 'p', assets: [slow] }));
    const events: RunEvent[] = [];
    const started = Date.now();
    const summary = await runAssets(ws, { partitions: ['2026-01-05'], onEvent: (e) => events.push(e) });
    const elapsed = Date.now() - started;
    expect(summary.status).toBe('failed');
    expect(summary.steps[0]).toMatchObject({ status: 'failed', attempts: 2 });
    expect(summary.steps[0]?.error).toBe('asset "slow" partition 2026-01-05: attempt 2 ran longer than its limit of 400 ms (retry.timeoutMs) and was stopped');
    expect(events.filter((e) => e.type === 'step-retry').map((e) => e.type === 'step-retry' && e.error)).toEqual([
      'asset "slow" partition 2026-01-05: attempt 1 ran longer than its limit of 400 ms (retry.timeoutMs) and was stopped',
    ]);
    // Two attempts of 400 ms plus the interrupts: the statement really stopped.
    expect(elapsed).toBeLessThan(5000);
    expect(await ws.tables.latest('slow')).toBeUndefined();
    expect(await ws.catalog.getLease('asset:slow/2026-01-05')).toBeUndefined();
  });

  it('never commits an attempt whose limit passed during work that cannot be interrupted', async () => {
    let calls = 0;
    const stuck = asset('stuck', {
      retry: { retries: 0, timeoutMs: 100 },
      sql: ({ ref }) => {
        calls++;
        if (calls > 1) blockFor(300); // the first call is the load-time probe
        return `SELECT n FROM ${ref(numbers)}`;
      },
    });
    const ws = await workspace(defineProject({ name: 'p', assets: [stuck] }));
    const summary = await runAssets(ws);
    expect(summary.steps[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(summary.steps[0]?.error).toContain('asset "stuck": attempt 1 ran longer than its limit of 100 ms');
    expect(await ws.tables.latest('stuck')).toBeUndefined();
    expect(fs.existsSync(path.join(ws.stateDir, 'tables', 'stuck'))).toBe(false);
  });
});
