// The state of a project's assets, from the catalog: latest version, freshness against the asset's SLA, and the
// latest check results. What `sluice status` prints, what the metrics export, and what freshness alerts watch.
import { reconcileVersions } from '../batch/reconcile.ts';
import { inPartitions } from '../define/partitions.ts';
import type { Workspace } from '../workspace.ts';

export type FreshnessState = 'fresh' | 'stale' | 'never-built' | 'no-sla';

export interface AssetStatus {
  readonly asset: string;
  readonly partitioned: boolean;
  readonly version: number | null;
  readonly updatedAt: string | null;
  readonly rows: number | null;
  /** Milliseconds since the latest version; null when never built. */
  readonly lagMs: number | null;
  readonly maxLagMs: number | null;
  readonly freshness: FreshnessState;
  /** The latest checks of the asset (the expectations of its most recent validated step). */
  readonly checks: { readonly passed: number; readonly failed: number; readonly failing: readonly string[]; readonly at: string | null };
  /** Partitions the table still holds outside the asset's declared range (remove them with `sluice delete`). */
  readonly outOfRange: readonly string[];
}

export async function assetStatuses(ws: Workspace, nowMs: number = Date.now()): Promise<AssetStatus[]> {
  await reconcileVersions(ws);
  const statuses: AssetStatus[] = [];
  for (const name of ws.project.order) {
    const dataset = ws.project.datasets.get(name);
    if (dataset === undefined || dataset.kind !== 'asset') continue;
    const latest = (await ws.catalog.listVersions(name, { limit: 1 }))[0];
    const lagMs = latest === undefined ? null : Math.max(0, nowMs - Date.parse(latest.createdAt));
    const maxLagMs = dataset.freshness?.maxLagMs ?? null;
    const freshness: FreshnessState = maxLagMs === null ? 'no-sla' : lagMs === null ? 'never-built' : lagMs > maxLagMs ? 'stale' : 'fresh';
    const range = dataset.partitions;
    const table = range === undefined ? undefined : await ws.tables.latest(name);
    const outOfRange = range === undefined || table === undefined ? [] : Object.keys(table.partitions).filter((key) => !inPartitions(range, key));
    statuses.push({
      asset: name, partitioned: dataset.partitions !== undefined, version: latest?.version ?? null, updatedAt: latest?.createdAt ?? null,
      rows: latest?.rowCount ?? null, lagMs, maxLagMs, freshness, checks: await latestChecks(ws, name, dataset.checks.length), outOfRange,
    });
  }
  return statuses;
}

async function latestChecks(ws: Workspace, asset: string, suiteSize: number): Promise<AssetStatus['checks']> {
  if (suiteSize === 0) return { passed: 0, failed: 0, failing: [], at: null };
  // Newest first; the most recent validation of the asset is the run and step of the first record.
  const recent = await ws.catalog.listChecks({ target: asset, limit: Math.max(suiteSize * 4, 50) });
  const first = recent[0];
  if (first === undefined) return { passed: 0, failed: 0, failing: [], at: null };
  const last = recent.filter((c) => c.runId === first.runId && c.stepId === first.stepId);
  const failing = last.filter((c) => !c.success);
  return {
    passed: last.length - failing.length, failed: failing.length, at: first.createdAt,
    failing: failing.map((c) => `${c.expectationType}${c.column === null ? '' : `(${c.column})`}${c.severity === 'warn' ? ' [warn]' : ''}`),
  };
}
