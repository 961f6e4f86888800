// The data-quality report: gathers, per asset of the project, its latest version, its check history in a range
// (aggregated in the catalog: every result counts, per run and per backfill) and column profiles of the latest
// version, then renders one self-contained HTML file.
import fs from 'node:fs/promises';
import path from 'node:path';
import { tableRelation } from '../store/tables/table-relation.ts';
import { getAsset } from '../define/project.ts';
import { errorMessage } from '../errors.ts';
import type { Manifest } from '../store/tables/manifest.ts';
import type { Workspace } from '../workspace.ts';
import { profileRelation } from './profile.ts';
import { renderReport } from './report-html.ts';
import { summariseHistory, type AssetReport, type LatestVersion, type ReportInput } from './report-model.ts';

export { renderReport } from './report-html.ts';
export type { AssetReport, AssetStatus, CheckHistorySummary, CheckRunSummary, FailedCheck, LatestVersion, ReportInput } from './report-model.ts';

export interface ReportOptions {
  /** Only these assets (default: every asset of the project, dependencies first). */
  readonly assets?: readonly string[] | undefined;
  /** Histogram bins per numeric column (default 20). */
  readonly bins?: number | undefined;
  /** Only check results recorded at or after this instant (default: the whole history). */
  readonly since?: Date | undefined;
  /** Most recent runs listed per asset, a backfill's runs counting as one (default 30); totals count every run. */
  readonly maxRuns?: number | undefined;
  /** Failed checks of the latest run (or backfill) listed per asset (default 100); the page gives the total. */
  readonly maxFailures?: number | undefined;
  /** The report's timestamp (default now). */
  readonly now?: Date | undefined;
}

export const DEFAULT_MAX_RUNS = 30;
export const DEFAULT_MAX_FAILURES = 100;

export async function buildReport(ws: Workspace, options: ReportOptions = {}): Promise<ReportInput> {
  // getAsset rejects an unknown name with a suggestion.
  const names = options.assets?.map((name) => getAsset(ws.project, name).name) ?? ws.project.order.filter((name) => ws.project.datasets.get(name)?.kind === 'asset');
  const assets: AssetReport[] = [];
  for (const name of names) assets.push(await assetReport(ws, name, options));
  return { project: ws.project.name, generatedAt: (options.now ?? new Date()).toISOString(), assets };
}

/** Build and render the report, write it atomically, and return its path. */
export async function writeReport(ws: Workspace, options: ReportOptions & { out?: string | undefined } = {}): Promise<string> {
  const now = options.now ?? new Date();
  const input = await buildReport(ws, { ...options, now });
  const file = options.out === undefined ? defaultReportPath(ws.stateDir, now) : path.resolve(options.out);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.tmp-${process.pid}`;
  try {
    await fs.writeFile(temp, renderReport(input), 'utf8');
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  return file;
}

/** `<state dir>/reports/report-<UTC timestamp>.html`, with the timestamp's colons and dot made file-safe. */
export function defaultReportPath(stateDir: string, now: Date): string {
  return path.join(stateDir, 'reports', `report-${now.toISOString().replace(/[:.]/g, '-')}.html`);
}

async function assetReport(ws: Workspace, name: string, options: ReportOptions): Promise<AssetReport> {
  const dataset = ws.project.datasets.get(name);
  const description = dataset?.kind === 'asset' ? dataset.description ?? null : null;
  const since = options.since?.toISOString() ?? null;
  const runLimit = options.maxRuns ?? DEFAULT_MAX_RUNS;
  const failureLimit = options.maxFailures ?? DEFAULT_MAX_FAILURES;
  const checks = await ws.catalog.checkHistory({ target: name, since: since ?? undefined, entries: runLimit, failures: failureLimit });
  const { runs, failures, status, history } = summariseHistory(checks, { since, runLimit, failureLimit });
  const manifest = await ws.tables.latest(name);
  let profiles: AssetReport['profiles'] = null;
  let profileError: string | null = null;
  if (manifest !== undefined) {
    // One unreadable table (say, a file removed by hand) should not cost the report of every other asset.
    try {
      const relation = `(${tableRelation(ws.tables, manifest, Object.keys(manifest.partitions).sort())})`;
      profiles = await ws.engine.withSession((session) => profileRelation(session, relation, { bins: options.bins }));
    } catch (error) {
      profileError = errorMessage(error);
    }
  }
  return { name, description, status, latest: manifest === undefined ? null : latestVersion(manifest), runs, failures, history, profiles, profileError };
}

function latestVersion(manifest: Manifest): LatestVersion {
  const keys = Object.keys(manifest.partitions).sort();
  const partitioned = manifest.partitionColumn !== null;
  return {
    version: manifest.version,
    createdAt: manifest.createdAt,
    runId: manifest.runId,
    rowCount: manifest.rowCount,
    bytes: manifest.bytes,
    partitionColumn: manifest.partitionColumn,
    partitions: keys.length,
    firstPartition: partitioned ? keys[0] ?? null : null,
    lastPartition: partitioned ? keys.at(-1) ?? null : null,
  };
}
