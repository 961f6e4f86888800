// Runs whose process is gone are marked abandoned by the next workspace that opens the catalog: a dead owner
// on this host at once, one on another host after its heartbeat went stale; live owners are left alone.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RUN_STALE_MS } from '../src/batch/abandoned.ts';
import { asset } from '../src/define/asset.ts';
import { defineProject } from '../src/define/project.ts';
import { openCatalog } from '../src/store/catalog/open-catalog.ts';
import { openWorkspace } from '../src/workspace.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-abandoned-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('abandoned runs', () => {
  it('are marked failed with their unfinished steps, and their staging removed; live runs stay running', async () => {
    const stateDir = path.join(dir, '.sluice');
    const catalogUrl = `sqlite:${path.join(stateDir, 'catalog.db')}`;
    fs.mkdirSync(stateDir, { recursive: true });
    // A pid that existed and is gone: a child that has exited.
    const deadPid = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const host = os.hostname();
    const catalog = await openCatalog(catalogUrl);
    const now = Date.now();
    const runs = [
      { id: 'dead-local', owner: `${host}:${deadPid}` },
      { id: 'live-local', owner: `${host}:${process.ppid}` },
      { id: 'stale-remote', owner: 'other-host:42' },
      { id: 'fresh-remote', owner: 'other-host:43' },
    ];
    try {
      for (const run of runs) {
        await catalog.createRun({ id: run.id, project: 'p', startedAt: new Date(now - 10 * RUN_STALE_MS).toISOString(), args: {}, owner: run.owner });
        await catalog.createSteps([{ id: `${run.id}-0001`, runId: run.id, asset: 'a', partition: '', status: 'running' }]);
        fs.mkdirSync(path.join(stateDir, 'staging', run.id, 'a'), { recursive: true });
      }
      await catalog.heartbeatRun('stale-remote', now - 2 * RUN_STALE_MS);
      await catalog.heartbeatRun('fresh-remote', now);
    } finally {
      await catalog.close();
    }
    const ws = await openWorkspace(defineProject({ name: 'p', assets: [asset('a', { sql: 'SELECT 1 AS x' })] }), dir, { stateDir, catalogUrl });
    try {
      const status = Object.fromEntries(await Promise.all(runs.map(async (r) => [r.id, (await ws.catalog.getRun(r.id))?.status])));
      expect(status).toEqual({ 'dead-local': 'failed', 'live-local': 'running', 'stale-remote': 'failed', 'fresh-remote': 'running' });
      expect((await ws.catalog.getRun('dead-local'))?.error).toMatch(new RegExp(`^abandoned: its process ${host}:${deadPid} is gone .*sluice run --resume dead-local`));
      expect((await ws.catalog.getRun('stale-remote'))?.error).toMatch(/^abandoned: no heartbeat from other-host:42 since /);
      expect((await ws.catalog.listSteps('dead-local'))[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/^abandoned/) as unknown });
      expect((await ws.catalog.listSteps('live-local'))[0]?.status).toBe('running');
      expect(fs.readdirSync(path.join(stateDir, 'staging')).sort()).toEqual(['fresh-remote', 'live-local']);
    } finally {
      await ws.close();
    }
  });
});
