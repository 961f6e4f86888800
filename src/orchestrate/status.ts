// The state of a project's assets, from the catalog: latest version, freshness against the asset's SLA, and the
// latest outcome of every partition (blocked by which checks, failing warnings, stale, missing). What `sluice
// status` prints, what the metrics export, and what freshness alerts watch.
import { reconcileVersions } from '../batch/reconcile.ts';
import { dueKeys, inPartitions } from '../define/partitions.ts';
import type { CheckGroup } from '../store/catalog/catalog.ts';
import type { Workspace } from '../workspace.ts';

/** Partition keys listed per group; the count says how many there are in all. */
export const STATUS_SAMPLE_KEYS = 5;

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
  /** The check results of every partition's latest build, added up; `failing` labels each failing check once. */
  readonly checks: { readonly passed: number; readonly failed: number; readonly failing: readonly string[]; readonly at: string | null };
  readonly partitions: PartitionSummary;
  /** Partitions the table still holds outside the asset's declared range (remove them with `sluice delete`). */
  readonly outOfRange: readonly string[];
}

/** Some partitions: how many, and the first few keys (at most STATUS_SAMPLE_KEYS). */
export interface KeySample {
  readonly count: number;
  readonly keys: readonly string[];
}

/**
 * The latest outcome of every partition: its newest build attempt (skipped steps change nothing). Unpartitioned
 * assets have one partition, key ''.
 */
export interface PartitionSummary {
  /** Partitions with a build attempt. */
  readonly attempted: number;
  /** Partitions whose latest build published nothing: by failed `error` checks (grouped by check), or by another error. */
  readonly blocked: KeySample & { readonly byCheck: readonly CheckGroup[]; readonly byError: (KeySample & { readonly error: string }) | null };
  /** Failing `warn` checks of the latest builds, grouped by check (`count`: partitions with any; published unless blocked). */
  readonly warnings: { readonly count: number; readonly byCheck: readonly CheckGroup[] };
  /** Blocked partitions the table still holds from an earlier build: readers see that older version. */
  readonly stale: KeySample;
  /** Partitions due by now (time partitions whose window has ended, every static key) that the table lacks. */
  readonly missing: KeySample;
}

export async function assetStatuses(ws: Workspace, nowMs: number = Date.now()): Promise<AssetStatus[]> {
  await reconcileVersions(ws);
  const names = ws.project.order.filter((name) => ws.project.datasets.get(name)?.kind === 'asset');
  // Every asset's latest version and table at once: one after the other, a thousand assets wait on a thousand
  // file-system round trips in turn.
  const [outcomes, versions, tables] = await Promise.all([
    ws.catalog.partitionOutcomes(names, { sampleKeys: STATUS_SAMPLE_KEYS }),
    Promise.all(names.map(async (name) => (await ws.catalog.listVersions(name, { limit: 1 }))[0])),
    Promise.all(names.map((name) => (ws.project.datasets.get(name)?.kind === 'asset' && (ws.project.datasets.get(name) as { partitions?: unknown }).partitions !== undefined ? ws.tables.latest(name) : Promise.resolve(undefined)))),
  ]);
  const statuses: AssetStatus[] = [];
  for (const [i, name] of names.entries()) {
    const dataset = ws.project.datasets.get(name);
    const outcome = outcomes[i];
    if (dataset === undefined || dataset.kind !== 'asset' || outcome === undefined) continue;
    const latest = versions[i];
    const lagMs = latest === undefined ? null : Math.max(0, nowMs - Date.parse(latest.createdAt));
    const maxLagMs = dataset.freshness?.maxLagMs ?? null;
    const freshness: FreshnessState = maxLagMs === null ? 'no-sla' : lagMs === null ? 'never-built' : lagMs > maxLagMs ? 'stale' : 'fresh';
    const range = dataset.partitions;
    const table = range === undefined ? undefined : tables[i];
    const held = new Set(table === undefined ? [] : Object.keys(table.partitions));
    const outOfRange = range === undefined ? [] : [...held].filter((key) => !inPartitions(range, key));
    const blocked = outcome.blockedKeys;
    const failing = outcome.failingChecks;
    const partitions: PartitionSummary = {
      attempted: outcome.attempted,
      blocked: {
        ...sample(blocked), byCheck: failing.filter((g) => g.severity === 'error'),
        byError: outcome.otherFailures === null ? null : { count: outcome.otherFailures.partitions, keys: outcome.otherFailures.keys, error: outcome.otherFailures.firstError },
      },
      warnings: { count: outcome.warned, byCheck: failing.filter((g) => g.severity === 'warn') },
      stale: sample(range === undefined ? (latest === undefined ? [] : blocked) : blocked.filter((key) => held.has(key))),
      missing: sample(range === undefined ? [] : dueKeys(range, nowMs).filter((key) => !held.has(key))),
    };
    const checks = {
      passed: outcome.checks.passed, failed: outcome.checks.failed, at: outcome.checks.lastAt,
      failing: failing.map((g) => `${checkLabel(g)}${g.severity === 'warn' ? ' [warn]' : ''}`),
    };
    statuses.push({
      asset: name, partitioned: dataset.partitions !== undefined, version: latest?.version ?? null, updatedAt: latest?.createdAt ?? null,
      rows: latest?.rowCount ?? null, lagMs, maxLagMs, freshness, checks, partitions, outOfRange,
    });
  }
  return statuses;
}

/** `expect_column_values_to_not_be_null(customer_id)`. */
export function checkLabel(group: Pick<CheckGroup, 'expectationType' | 'column'>): string {
  return `${group.expectationType}${group.column === null ? '' : `(${group.column})`}`;
}

function sample(keys: readonly string[]): KeySample {
  return { count: keys.length, keys: keys.slice(0, STATUS_SAMPLE_KEYS) };
}
