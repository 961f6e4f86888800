// One measured mode of the batch benchmark, run in its own process so its peak RSS is its own:
//   sluice  runAssets in process (the code path `sluice run` calls), fresh state directory, checks removed
//   sluice-checks  the same with the example's data-quality suite
//   duckdb  the same SQL statements, rendered from the same definitions, run directly in one DuckDB connection
//   polars  the same transform written with nodejs-polars
// Prints one JSON line: { mode, ms, maxRssMb, outFile }.
import fs from 'node:fs';
import path from 'node:path';
import { renderSql } from '../src/batch/inputs.ts';
import { runAssets } from '../src/batch/runner.ts';
import { addDays } from '../src/define/partitions.ts';
import { getAsset, type Project } from '../src/define/project.ts';
import { Engine } from '../src/engine/engine.ts';
import { quoteIdent, quoteList, quoteLiteral } from '../src/sql/identifiers.ts';
import { loadProject } from '../src/load-project.ts';
import { openWorkspace } from '../src/workspace.ts';

const [mode, projectDir, date, outDir] = process.argv.slice(2) as [string, string, string, string];

/** The same project with every asset's checks removed: the transform alone, as the DuckDB baseline runs it. */
function withoutChecks(project: Project): Project {
  // Assets are looked up by name when they run, so swapping the definitions in the map is enough.
  const datasets = new Map([...project.datasets].map(([name, d]) => [name, d.kind === 'asset' ? Object.freeze({ ...d, checks: [] }) : d]));
  return Object.freeze({ ...project, datasets });
}

async function sluice(checks: boolean): Promise<string> {
  const loaded = await loadProject(projectDir);
  const project = checks ? loaded.project : withoutChecks(loaded.project);
  const ws = await openWorkspace(project, projectDir, { stateDir: path.join(outDir, 'state') });
  try {
    const summary = await runAssets(ws, { assets: ['user_features'], partitions: [date] });
    if (summary.status !== 'success') throw new Error(`run failed: ${JSON.stringify(summary.steps.filter((s) => s.error !== null))}`);
    const manifest = await ws.tables.latest('user_features');
    if (manifest === undefined) throw new Error('no user_features version');
    return ws.tables.files(manifest, [date])[0] ?? '';
  } finally {
    await ws.close();
  }
}

/** The same SQL sluice runs, with its inputs as plain views over the files: no checks, versions or catalog. */
async function duckdb(): Promise<string> {
  const { project } = await loadProject(projectDir);
  const engine = await Engine.open();
  const data = path.join(projectDir, 'data');
  const logsFor = (days: string[]): string[] => days.map((d) => path.join(data, 'logs', `date=${d}`, 'part-0.parquet')).filter((f) => fs.existsSync(f));
  try {
    return await engine.withSession(async (s) => {
      await s.run(`CREATE TEMP VIEW users AS SELECT * FROM read_csv(${quoteLiteral(path.join(data, 'users.csv'))}, header = true, columns = {'user_id': 'BIGINT', 'signup_date': 'DATE', 'country': 'VARCHAR', 'plan': 'VARCHAR'}, ignore_errors = true)`);
      await s.run(`CREATE TEMP TABLE users_clean AS ${renderSql(project, getAsset(project, 'users_clean'), '').sql}`);
      const activity = getAsset(project, 'user_activity_daily');
      const dailyFiles: string[] = [];
      for (let i = 29; i >= 0; i--) {
        const day = addDays(date, -i);
        const logs = logsFor([day, addDays(day, 1)]);
        await s.run(`CREATE OR REPLACE TEMP VIEW logs__0_1 AS SELECT event_id, user_id, event_ts, event_type, session_seconds FROM read_parquet(${quoteList(logs)})`);
        const file = path.join(outDir, `daily-${day}.parquet`);
        await s.run(`COPY (${renderSql(project, activity, day).sql}) TO ${quoteLiteral(file)} (FORMAT parquet, COMPRESSION zstd)`);
        dailyFiles.push(`SELECT *, DATE ${quoteLiteral(day)} AS date FROM read_parquet(${quoteLiteral(file)})`);
      }
      await s.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent('user_activity_daily__29_0')} AS ${dailyFiles.join(' UNION ALL ')}`);
      const out = path.join(outDir, 'user_features.parquet');
      await s.run(`COPY (${renderSql(project, getAsset(project, 'user_features'), date).sql}) TO ${quoteLiteral(out)} (FORMAT parquet, COMPRESSION zstd)`);
      return out;
    });
  } finally {
    engine.close();
  }
}

async function polars(): Promise<string> {
  // Imported here so the other modes never load the polars native addon.
  const { polarsUserFeatures } = await import('./polars-churn.ts');
  const out = path.join(outDir, 'user_features.parquet');
  await polarsUserFeatures({ dataDir: path.join(projectDir, 'data'), date, outFile: out });
  return out;
}

fs.mkdirSync(outDir, { recursive: true });
const t0 = performance.now();
const outFile = mode === 'sluice' ? await sluice(false) : mode === 'sluice-checks' ? await sluice(true) : mode === 'duckdb' ? await duckdb() : await polars();
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ mode, ms, maxRssMb: process.resourceUsage().maxRSS / 1024, outFile })}\n`);
