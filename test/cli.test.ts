// The CLI as a user meets it: init scaffolds a project that runs, errors print without stack traces,
// and memory stays bounded by spilling when an input does not fit the configured DuckDB memory limit.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, repoRoot, runCli, writeParquet } from './helpers/temp.ts';
import { spawn, spawnSync } from 'node:child_process';

describe('sluice CLI', () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(() => ({ dir, cleanup } = makeTempDir('sluice-cli-')));
  afterAll(() => cleanup());

  it('init scaffolds a project that runs, shows and lists versions', async () => {
    const project = path.join(dir, 'proj');
    const init = await runCli(['init', project]);
    expect(init.code, init.stderr).toBe(0);
    expect(fs.existsSync(path.join(project, 'sluice.config.ts'))).toBe(true);
    const again = await runCli(['init', project]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists; init does not overwrite/);

    const run = await runCli(['run', '--json', '-p', project]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { status: string; steps: { asset: string; outcome: { rowsOut: number; badRecords: number } }[] };
    expect(summary.status).toBe('success');
    expect(summary.steps.find((s) => s.asset === 'customer_totals')?.outcome).toMatchObject({ rowsOut: 3, badRecords: 1 });
    const show = JSON.parse((await runCli(['show', 'top_customers', '--json', '-p', project])).stdout) as { rowCount: number; schema: { name: string }[] };
    expect(show.rowCount).toBe(3);
    expect(show.schema.map((c) => c.name)).toEqual(['customer_id', 'orders', 'revenue', 'last_order_at']);
  });

  it("init writes a tsconfig under which the config's `import ... from 'sluice'` type-checks, so editors see its types", async () => {
    const project = path.join(dir, 'typed');
    expect((await runCli(['init', project])).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8'))).toMatchObject({ private: true, type: 'module' });
    // A typo the types catch: only possible when 'sluice' resolved to its declarations.
    const config = path.join(project, 'sluice.config.ts');
    fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replace("format: 'csv'", "format: 'xlsx'"));
    const tsc = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', project], { encoding: 'utf8' });
    expect(tsc.status).toBe(2);
    expect(tsc.stdout).toContain('sluice.config.ts');
    expect(tsc.stdout).toMatch(/'"xlsx"' is not assignable to type 'FileFormat'/);
    expect(tsc.stdout).not.toMatch(/Cannot find module 'sluice'/);
  });

  it('reports user errors in one line with a code, and stack traces only with --debug', async () => {
    const project = path.join(dir, 'proj');
    const missing = await runCli(['show', 'top_customer', '-p', project]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('error [ASSET_NOT_FOUND]: no asset named "top_customer" in project "my_project" (did you mean "top_customers"?); assets: customer_totals, top_customers');
    const debug = await runCli(['show', 'top_customer', '--debug', '-p', project]);
    expect(debug.stderr).toMatch(/at getAsset/);
    const noProject = await runCli(['runs', '-p', path.join(dir, 'nowhere')]);
    expect(noProject.stderr).toMatch(/no sluice.config.ts in .*nowhere: run `sluice init`/);
    const badRange = await runCli(['run', '--from', '2026-11-05', '--to', '2026-11-01', '-p', project]);
    expect(badRange.stderr).toMatch(/--to 2026-11-01 is before --from 2026-11-05/);
  });

  it('keeps memory bounded: memory_limit applies, and an aggregation larger than it spills and succeeds', async () => {
    const project = path.join(dir, 'spill');
    fs.mkdirSync(project);
    // 3M groups of a padded string aggregate: several times the 150MB limit. A hash aggregate spills;
    // string_agg cannot, so the second asset proves the limit is really in force.
    fs.writeFileSync(path.join(project, 'sluice.config.ts'), `import { asset, defineProject } from 'sluice';
const big = asset('big', { sql: \`SELECT i % 3000000 AS k, count(*) AS n, sum(i) AS s, min(i::VARCHAR || 'padding-padding') AS first_i FROM range(6000000) t(i) GROUP BY k\` });
const total = asset('total', { sql: ({ ref }) => \`SELECT count(*) AS groups, sum(n) AS rows FROM \${ref(big)}\` });
const unspillable = asset('unspillable', { sql: \`SELECT i % 3000000 AS k, string_agg(i::VARCHAR, ',') AS all_i FROM range(6000000) t(i) GROUP BY k\` });
export default defineProject({ name: 'spill', assets: [big, total, unspillable], settings: { memoryLimit: '150MB', threads: 1 } });
`);
    const run = await runCli(['run', '--json', '--concurrency', '1', '-p', project], { env: { SLUICE_TEMP_DIR: path.join(project, 'spill-tmp') } });
    const summary = JSON.parse(run.stdout) as { steps: { asset: string; status: string; error: string | null }[] };
    const status = Object.fromEntries(summary.steps.map((s) => [s.asset, s.status]));
    expect(status).toEqual({ big: 'success', total: 'success', unspillable: 'failed' });
    expect(summary.steps.find((s) => s.asset === 'unspillable')?.error).toMatch(/asset "unspillable": its SQL failed: Out of Memory Error.*143.0 MiB used/s);
    const total = JSON.parse((await runCli(['show', 'total', '--json', '-p', project])).stdout) as { preview: { groups: string; rows: string }[] };
    expect([Number(total.preview[0]?.groups), Number(total.preview[0]?.rows)]).toEqual([3_000_000, 6_000_000]);
    expect(fs.existsSync(path.join(project, 'spill-tmp'))).toBe(true);
  });
});

describe('sluice output into a pipe the reader closes', () => {
  it('exits 0 without an EPIPE error, as `sluice ... | head -1` expects', async () => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin/sluice.mjs'), 'generate', 'transactions', '--rate', '1000', '--cards', '10', '--count', '200000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
    // Read one chunk, then close our end of the pipe, as `head -1` does.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(stderr).not.toMatch(/EPIPE/);
    expect(code).toBe(0);
  });
});

describe('sluice inspect', () => {
  it('describes a glob of files: columns, types, rows, nulls, a sample and the columns block for a source', async () => {
    const { dir, cleanup } = makeTempDir('sluice-inspect-');
    try {
      fs.mkdirSync(path.join(dir, 'logs'));
      await writeParquet(path.join(dir, 'logs', 'a.parquet'), `SELECT range::BIGINT AS user_id, CASE WHEN range = 1 THEN NULL ELSE 'login' END AS "event type" FROM range(3)`);
      await writeParquet(path.join(dir, 'logs', 'b.parquet'), `SELECT 7::BIGINT AS user_id, 'logout' AS "event type"`);
      const result = await runCli(['inspect', path.join(dir, 'logs', '*.parquet'), '--json', '--sample', '2']);
      expect(result.code, result.stderr).toBe(0);
      const inspection = JSON.parse(result.stdout) as { format: string; files: number; rows: number; columns: { name: string; type: string; nulls: number }[]; sample: unknown[]; columnsBlock: string };
      expect(inspection).toMatchObject({ format: 'parquet', files: 2, rows: 4 });
      expect(inspection.columns).toEqual([{ name: 'user_id', type: 'BIGINT', nulls: 0 }, { name: 'event type', type: 'VARCHAR', nulls: 1 }]);
      expect(inspection.sample).toHaveLength(2);
      expect(inspection.columnsBlock).toBe("columns: {\n  user_id: 'BIGINT',\n  'event type': 'VARCHAR',\n},");
      const bad = await runCli(['inspect', path.join(dir, 'notes.txt')]);
      expect(bad.stderr).toMatch(/cannot tell the format of .*notes\.txt: name a \.parquet, \.csv, \.ndjson/);
    } finally {
      cleanup();
    }
  });
});
