// Crash safety: `sluice run` killed with SIGKILL at random moments never leaves a partial file or manifest
// where readers look, the previous version stays readable, and a rerun converges to a clean run's bytes.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateChurn } from '../src/generate/churn.ts';
import { duck, makeTempDir, repoRoot, runCli } from './helpers/temp.ts';
import { latestManifest, openTables } from './helpers/tables.ts';
import type { Manifest } from '../src/store/tables/manifest.ts';

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Every reader-visible invariant of the table store; returns the number of versions checked. */
async function checkTables(stateDir: string): Promise<number> {
  const tables = openTables(stateDir);
  let checked = 0;
  for (const asset of await tables.assets()) {
    const names = fs.readdirSync(tables.log(asset).logDir);
    for (const name of names) expect(name).toMatch(/^(\d{8}\.json|\.tmp-.*)$/);
    const versions = await tables.versions(asset);
    expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
    for (const version of versions) {
      const manifest = await tables.read(asset, version);
      checked++;
      for (const entry of Object.values(manifest.partitions)) {
        for (const file of entry.files) {
          const full = path.join(tables.dataDir(asset), file.path);
          expect(fs.statSync(full).size).toBe(file.bytes);
          expect(sha256(full)).toBe(file.sha256);
        }
      }
    }
    // Data files are content-addressed: a file under its final name is always complete, in the version store
    // and in the Hive folder outside readers read.
    const walk = (d: string): string[] => (fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)])) : []);
    for (const file of [...walk(tables.dataDir(asset)), ...walk(tables.tableDir(asset))]) {
      const match = /^part-([0-9a-f]{64})\.parquet$/.exec(path.basename(file));
      expect(match, `unexpected file ${file}`).not.toBeNull();
      expect(sha256(file)).toBe(match?.[1]);
    }
    // The latest version reads back with the row counts it records.
    const latest = await tables.latest(asset);
    const files = tables.files(latest as Manifest).map((f) => `'${f}'`);
    const [count] = await duck<{ n: bigint }>(`SELECT count(*) AS n FROM read_parquet([${files.join(', ')}])`);
    expect(Number(count?.n)).toBe(latest?.rowCount);
  }
  return checked;
}

/** After a command opened every table, the Hive folders hold exactly the latest versions (a plain reader agrees). */
async function checkFolders(stateDir: string): Promise<void> {
  const tables = openTables(stateDir);
  for (const asset of await tables.assets()) {
    const latest = await tables.latest(asset);
    const [plain] = await duck<{ n: bigint }>(`SELECT count(*) AS n FROM read_parquet('${tables.tableDir(asset)}/**/*.parquet', hive_partitioning = true)`);
    expect(Number(plain?.n), asset).toBe(latest?.rowCount);
  }
}

async function latestFeatureHashes(stateDir: string): Promise<Record<string, string[]>> {
  const manifest = await latestManifest(stateDir, 'user_features');
  return Object.fromEntries(Object.entries(manifest.partitions).map(([k, v]) => [k, v.files.map((f) => f.sha256)]));
}

describe('atomic commits under SIGKILL', () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(async () => {
    ({ dir, cleanup } = makeTempDir('sluice-kill-'));
    await generateChurn({ users: 8_000, days: 36, seed: 7, out: path.join(dir, 'data'), endDate: '2026-11-25' });
    fs.copyFileSync(path.join(repoRoot, 'examples/churn/sluice.config.ts'), path.join(dir, 'sluice.config.ts'));
  });
  afterAll(() => cleanup());

  it('keeps every visible version whole through repeated kills, then converges to a clean run', async () => {
    // Every asset is selected and forced, so each attempt rewrites files and commits versions.
    const args = [path.join(repoRoot, 'bin/sluice.mjs'), 'run', '--from', '2026-11-20', '--to', '2026-11-25', '--force', '-p', dir];
    // One uninterrupted run gives the duration; kills then land at fixed fractions of it, spread over
    // startup, planning, writing and committing, whatever the speed of the machine.
    const first = await runCli(args.slice(1));
    expect(first.code, first.stderr).toBe(0);
    // The cold run also built the upstream window; time a warm forced run, which is what gets killed.
    const t0 = Date.now();
    const warm = await runCli(args.slice(1));
    expect(warm.code, warm.stderr).toBe(0);
    const full = Date.now() - t0;
    const delays = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95].map((f) => Math.round(full * f));
    let killedMidRun = 0;
    for (const delay of delays) {
      const child = spawn(process.execPath, args, { stdio: 'ignore', env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' } });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const timer = setTimeout(() => child.kill('SIGKILL'), delay);
      const code = await exited;
      clearTimeout(timer);
      if (code === null) killedMidRun++;
      await checkTables(path.join(dir, '.sluice'));
    }
    expect(killedMidRun).toBeGreaterThanOrEqual(3);

    const finish = await runCli(['run', '--from', '2026-11-20', '--to', '2026-11-25', '-p', dir]);
    expect(finish.code, finish.stderr).toBe(0);
    // The killed runs are not left `running`: the next command marked them abandoned and removed their staging.
    const runs = JSON.parse((await runCli(['runs', '--json', '-p', dir])).stdout) as { id: string; status: string; error: string | null }[];
    expect(runs.filter((r) => r.status === 'running')).toEqual([]);
    // (A kill during start-up, before the run was recorded, leaves no run at all.)
    const failed = runs.filter((r) => r.status !== 'success');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const run of failed) expect(run.error).toMatch(/^abandoned: its process \S+:\d+ is gone/);
    expect(fs.readdirSync(path.join(dir, '.sluice', 'staging'))).toEqual([]);
    expect(await checkTables(path.join(dir, '.sluice'))).toBeGreaterThan(0);
    await checkFolders(path.join(dir, '.sluice'));

    const clean = await runCli(['run', '--from', '2026-11-20', '--to', '2026-11-25', '-p', dir], { env: { SLUICE_HOME: path.join(dir, 'clean-state') } });
    expect(clean.code, clean.stderr).toBe(0);
    expect(await latestFeatureHashes(path.join(dir, '.sluice'))).toEqual(await latestFeatureHashes(path.join(dir, 'clean-state')));
  });
});
