// The data-quality report: gathers, per asset of the project, its latest version, its check results over time
// from the catalog and column profiles of the latest version, then renders one self-contained HTML file.
import fs from 'node:fs/promises';
import path from 'node:path';
import { relationFor } from '../batch/inspect.ts';
import { getAsset } from '../define/project.ts';
import { errorMessage } from '../errors.ts';
import type { Manifest } from '../store/tables/manifest.ts';
import type { Workspace } from '../workspace.ts';
import { profileRelation } from './profile.ts';
import { renderReport } from './report-html.ts';
import { summariseChecks, type AssetReport, type LatestVersion, type ReportInput } from './report-model.ts';

export { renderReport } from './report-html.ts';
export type { AssetReport, AssetStatus, CheckRunSummary, FailedCheck, LatestVersion, ReportInput } from './report-model.ts';

export interface ReportOptions {
  /** Only these assets (default: every asset of the project, dependencies first). */
  readonly assets?: readonly string[] | undefined;
  /** Histogram bins per numeric column (default 20). */
  readonly bins?: number | undefined;
  /** Most recent runs shown per asset (default 30). */
  readonly maxRuns?: number | undefined;
  /** Check results read per asset, newest first (default 10,000): bounds the report's work on a long history. */
  readonly checkLimit?: number | undefined;
  /** The report's timestamp (default now). */
  readonly now?: Date | undefined;
}

const DEFAULT_MAX_RUNS = 30;
const DEFAULT_CHECK_LIMIT = 10_000;

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
  const limit = options.checkLimit ?? DEFAULT_CHECK_LIMIT;
  let records = await ws.catalog.listChecks({ target: name, limit });
  // At the limit, the oldest run read may be cut short: leave it out rather than show partial counts.
  const oldest = records.length >= limit ? records.at(-1)?.runId : undefined;
  if (oldest !== undefined && records.some((r) => r.runId !== oldest)) records = records.filter((r) => r.runId !== oldest);
  const { runs, failures, status } = summariseChecks(records, options.maxRuns ?? DEFAULT_MAX_RUNS);
  const manifest = await ws.tables.latest(name);
  let profiles: AssetReport['profiles'] = null;
  let profileError: string | null = null;
  if (manifest !== undefined) {
    // One unreadable table (say, a file removed by hand) should not cost the report of every other asset.
    try {
      const relation = `(${relationFor(ws, manifest)})`;
      profiles = await ws.engine.withSession((session) => profileRelation(session, relation, { bins: options.bins }));
    } catch (error) {
      profileError = errorMessage(error);
    }
  }
  return { name, description, status, latest: manifest === undefined ? null : latestVersion(manifest), runs, failures, profiles, profileError };
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
