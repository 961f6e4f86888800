// Leases on asset partitions: two runs of one partition never build it at once (the second waits with
// LEASE_HELD and retries), a held lease names its holder, and a crashed holder's stale lease is taken over.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asset, dailyPartitions, defineProject } from '../src/index.ts';
import { ownerIsDead } from '../src/batch/lease.ts';
import { runAssets, type RunEvent } from '../src/batch/runner.ts';
import type { Project } from '../src/define/project.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { makeTempDir } from './helpers/temp.ts';

let dir: string;
let cleanup: () => void;
const open: Workspace[] = [];

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('sluice-lease-'));
});
afterEach(async () => {
  for (const ws of open.splice(0)) await ws.close();
  cleanup();
});

async function workspace(project: Project): Promise<Workspace> {
  const ws = await openWorkspace(project, dir, { queueUrl: null });
  open.push(ws);
  return ws;
}

const days = dailyPartitions({ start: '2026-01-01' });
const day = '2026-01-03';

describe('partition leases', () => {
  it('lets two concurrent runs of one partition build it one after the other, never at once', async () => {
    const builds: number[] = [];
    const heavy = asset('heavy', {
      partitions: days,
      sql: ({ partitionDate }) => {
        builds.push(Date.now()); // called once per build, after the lease is taken
        return `SELECT ${partitionDate} AS date, sum(hash(range)) AS x FROM range(20000000)`;
      },
    });
    const project = defineProject({ name: 'p', assets: [heavy] });
    builds.length = 0; // the load-time probe
    // Two workspaces over one state directory and catalog, as two processes would be.
    const [a, b] = [await workspace(project), await workspace(project)];
    const events: RunEvent[] = [];
    const [first, second] = await Promise.all([
      runAssets(a, { partitions: [day], force: true, onEvent: (e) => events.push(e) }),
      runAssets(b, { partitions: [day], force: true, onEvent: (e) => events.push(e) }),
    ]);
    expect([first.status, second.status]).toEqual(['success', 'success']);
    // The second waited for the lease (released early, so well within its term), not with a retry.
    expect(events.filter((e) => e.type === 'step-retry')).toEqual([]);
    // Each build (from taking the lease to its commit) ends before the other begins.
    const manifests = await Promise.all([1, 2].map((v) => a.tables.read('heavy', v)));
    const commits = manifests.map((m) => Date.parse(m.createdAt));
    expect(builds).toHaveLength(2);
    expect(builds[0]).toBeLessThanOrEqual(commits[0] ?? 0);
    expect(commits[0]).toBeLessThanOrEqual(builds[1] ?? 0);
    expect(builds[1]).toBeLessThanOrEqual(commits[1] ?? 0);
    expect(manifests.map((m) => m.runId).sort()).toEqual([first.runId, second.runId].sort());
    expect(await a.catalog.getLease(`asset:heavy/${day}`)).toBeUndefined();
  });

  it('fails with LEASE_HELD naming the holder while another run keeps holding the partition', async () => {
    const quick = asset('quick', { partitions: days, retry: { retries: 2, backoffMs: 10 }, sql: ({ partitionDate }) => `SELECT ${partitionDate} AS date, 1 AS x` });
    const ws = await workspace(defineProject({ name: 'p', assets: [quick] }));
    // A live holder: a short lease, renewed. Each attempt waits out its term and finds it renewed.
    const hold = (): Promise<boolean> => ws.catalog.acquireLease(`asset:quick/${day}`, 'other-run-0001', 400);
    expect(await hold()).toBe(true);
    const renewal = setInterval(() => void hold(), 100);
    const started = Date.now();
    const summary = await runAssets(ws, { partitions: [day] }).finally(() => clearInterval(renewal));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1200); // three attempts, each waiting a term
    expect(summary.steps[0]).toMatchObject({ status: 'failed', attempts: 3 });
    expect(summary.steps[0]?.error).toMatch(new RegExp(`^asset "quick" partition ${day} is being written by step other-run-0001 \\(lease asset:quick/${day} until `));
    expect(await ws.tables.latest('quick')).toBeUndefined();
    expect((await ws.catalog.getLease(`asset:quick/${day}`))?.holder).toBe('other-run-0001');
  });

  it("takes over a crashed holder's stale lease", async () => {
    const quick = asset('quick', { partitions: days, retry: { retries: 0 }, sql: ({ partitionDate }) => `SELECT ${partitionDate} AS date, 1 AS x` });
    const ws = await workspace(defineProject({ name: 'p', assets: [quick] }));
    expect(await ws.catalog.acquireLease(`asset:quick/${day}`, 'crashed-run-0001', 50)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const summary = await runAssets(ws, { partitions: [day] });
    expect(summary.steps[0]).toMatchObject({ status: 'success', attempts: 1 });
    expect((await ws.tables.latest('quick'))?.partitions[day]?.runId).toBe(summary.runId);
    expect(await ws.catalog.getLease(`asset:quick/${day}`)).toBeUndefined();
    expect(fs.existsSync(path.join(ws.stateDir, 'versions', 'quick', 'log'))).toBe(true);
  });

  it('takes a lease at once from a holder process that died on this host, but waits for a live one', async () => {
    const quick = asset('quick', { partitions: days, retry: { retries: 0 }, sql: ({ partitionDate }) => `SELECT ${partitionDate} AS date, 1 AS x` });
    const ws = await workspace(defineProject({ name: 'p', assets: [quick] }));
    // A process that exited: its pid no longer exists.
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']);
    const deadOwner = `${os.hostname()}:${dead.pid ?? 0}`;
    expect(ownerIsDead({ resource: 'r', holder: 'h', acquiredAt: '', expiresAtMs: 0, owner: deadOwner })).toBe(true);
    expect(ownerIsDead({ resource: 'r', holder: 'h', acquiredAt: '', expiresAtMs: 0, owner: `${os.hostname()}:${process.pid}` })).toBe(false);
    expect(ownerIsDead({ resource: 'r', holder: 'h', acquiredAt: '', expiresAtMs: 0, owner: `another-host:${dead.pid ?? 0}` })).toBe(false);
    expect(await ws.catalog.acquireLease(`asset:quick/${day}`, 'killed-run-0001', 60_000, { owner: deadOwner })).toBe(true);
    const started = Date.now();
    const summary = await runAssets(ws, { partitions: [day] });
    expect(summary.steps[0]).toMatchObject({ status: 'success', attempts: 1 });
    expect(Date.now() - started).toBeLessThan(5000); // not the 60 s term
    // Only the named dead owner is taken over: a live owner's lease is not.
    expect(await ws.catalog.acquireLease('asset:quick/other', 'live-run', 60_000, { owner: `${os.hostname()}:${process.pid}` })).toBe(true);
    expect(await ws.catalog.acquireLease('asset:quick/other', 'me', 60_000, { owner: 'x:1', takeOverFrom: deadOwner })).toBe(false);
    expect((await ws.catalog.getLease('asset:quick/other'))?.holder).toBe('live-run');
  });
});
