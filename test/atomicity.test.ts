// Crash safety: `sluice run` killed with SIGKILL at random moments never leaves a partial file or manifest
// where readers look, the previous version stays readable, and a rerun converges to a clean run's bytes.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateChurn } from '../src/generate/churn.ts';
import { duck, makeTempDir, repoRoot, runCli } from './helpers/temp.ts';

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Every reader-visible invariant of the table store; returns the number of manifests checked. */
async function checkTables(stateDir: string): Promise<number> {
  const tablesDir = path.join(stateDir, 'tables');
  if (!fs.existsSync(tablesDir)) return 0;
  let manifests = 0;
  for (const asset of fs.readdirSync(tablesDir)) {
    const tableDir = path.join(tablesDir, asset);
    const versionsDir = path.join(tableDir, '_versions');
    if (!fs.existsSync(versionsDir)) continue;
    const names = fs.readdirSync(versionsDir);
    for (const name of names) expect(name).toMatch(/^(\d{8}\.json|\.tmp-.*)$/);
    const versions = names.filter((n) => /^\d{8}\.json$/.test(n)).sort();
    versions.forEach((name, i) => expect(name).toBe(`${String(i + 1).padStart(8, '0')}.json`));
    for (const name of versions) {
      const manifest = JSON.parse(fs.readFileSync(path.join(versionsDir, name), 'utf8')) as { partitions: Record<string, { rows: number; files: { path: string; sha256: string; bytes: number }[] }> };
      manifests++;
      for (const entry of Object.values(manifest.partitions)) {
        for (const file of entry.files) {
          const full = path.join(tableDir, file.path);
          expect(fs.statSync(full).size).toBe(file.bytes);
          expect(sha256(full)).toBe(file.sha256);
        }
      }
    }
    // Data files are content-addressed: a file under its final name is always complete.
    const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === '_versions' ? [] : walk(path.join(d, e.name))) : [path.join(d, e.name)]));
    for (const file of walk(tableDir)) {
      const match = /^part-([0-9a-f]{64})\.parquet$/.exec(path.basename(file));
      expect(match, `unexpected file ${file}`).not.toBeNull();
      expect(sha256(file)).toBe(match?.[1]);
    }
    // The latest version reads back with the row counts it records.
    const latest = JSON.parse(fs.readFileSync(path.join(versionsDir, versions.at(-1) ?? ''), 'utf8')) as { rowCount: number; partitions: Record<string, { files: { path: string }[] }> };
    const files = Object.values(latest.partitions).flatMap((p) => p.files.map((f) => `'${path.join(tableDir, f.path)}'`));
    const [count] = await duck<{ n: bigint }>(`SELECT count(*) AS n FROM read_parquet([${files.join(', ')}])`);
    expect(Number(count?.n)).toBe(latest.rowCount);
  }
  return manifests;
}

function latestFeatureHashes(stateDir: string): Record<string, string[]> {
  const dir = path.join(stateDir, 'tables', 'user_features', '_versions');
  const last = fs.readdirSync(dir).filter((f) => /^\d{8}\.json$/.test(f)).sort().at(-1) ?? '';
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, last), 'utf8')) as { partitions: Record<string, { files: { sha256: string }[] }> };
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
    expect(await checkTables(path.join(dir, '.sluice'))).toBeGreaterThan(0);

    const clean = await runCli(['run', '--from', '2026-11-20', '--to', '2026-11-25', '-p', dir], { env: { SLUICE_HOME: path.join(dir, 'clean-state') } });
    expect(clean.code, clean.stderr).toBe(0);
    expect(latestFeatureHashes(path.join(dir, '.sluice'))).toEqual(latestFeatureHashes(path.join(dir, 'clean-state')));
  });
});
