// Every partition of an asset with its state, for the UI's grid: built, stale (blocked, an older version served),
// failed (blocked, nothing served), missing (due, never built), checks failing (a failed warn check). From the
// same catalog reads as status.ts; and the job that a backfill of a selected range runs.
import { dueKeys, isTimePartitions } from '../define/partitions.ts';
import { getAsset } from '../define/project.ts';
import { SluiceError } from '../errors.ts';
import type { Workspace } from '../workspace.ts';

export type PartitionState = 'built' | 'stale' | 'failed' | 'missing' | 'checks-failing';

export interface PartitionCell {
  readonly key: string;
  readonly state: PartitionState;
  readonly rows: number | null;
  /** The failing checks of the partition's latest build, when it has any. */
  readonly failing: readonly string[];
}

export interface PartitionGrid {
  readonly asset: string;
  readonly kind: 'daily' | 'hourly' | 'static' | 'multi';
  /** Newest first for time partitions, in key order for static keys; at most `limit` from `offset`. */
  readonly cells: readonly PartitionCell[];
  readonly total: number;
  readonly counts: Readonly<Record<PartitionState, number>>;
  /** Jobs whose runs build this asset: a backfill of a range runs the first. */
  readonly jobs: readonly string[];
}

/** Groups whose keys we list in full: a grid needs every failing key, not a sample. */
const ALL_KEYS = 1_000_000;

export async function partitionGrid(ws: Workspace, assetName: string, options: { offset?: number; limit?: number; nowMs?: number } = {}): Promise<PartitionGrid> {
  const asset = getAsset(ws.project, assetName);
  const range = asset.partitions;
  if (range === undefined) {
    throw new SluiceError('CONFIG_INVALID', `asset "${assetName}" is not partitioned, so it has no partition grid; its status is on the graph page`, { asset: assetName });
  }
  const nowMs = options.nowMs ?? Date.now();
  const [outcome] = await ws.catalog.partitionOutcomes([assetName], { sampleKeys: ALL_KEYS });
  const manifest = await ws.tables.latest(assetName);
  const held = manifest?.partitions ?? {};
  const blocked = new Set(outcome?.blockedKeys ?? []);
  const failing = new Map<string, string[]>();
  for (const group of outcome?.failingChecks ?? []) {
    const label = `${group.expectationType}${group.column === null ? '' : `(${group.column})`}${group.severity === 'warn' ? ' [warn]' : ''}`;
    for (const key of group.keys) failing.set(key, [...(failing.get(key) ?? []), label]);
  }
  const keys = new Set([...dueKeys(range, nowMs), ...Object.keys(held), ...blocked]);
  const sorted = [...keys].sort();
  if (isTimePartitions(range) || range.kind === 'multi') sorted.reverse();
  const counts: Record<PartitionState, number> = { built: 0, stale: 0, failed: 0, missing: 0, 'checks-failing': 0 };
  const cells = sorted.map((key): PartitionCell => {
    const entry = held[key];
    const state: PartitionState = blocked.has(key) ? (entry === undefined ? 'failed' : 'stale') : entry === undefined ? 'missing' : failing.has(key) ? 'checks-failing' : 'built';
    counts[state]++;
    return { key, state, rows: entry?.rows ?? null, failing: failing.get(key) ?? [] };
  });
  const offset = options.offset ?? 0;
  return {
    asset: assetName, kind: range.kind, cells: cells.slice(offset, offset + (options.limit ?? 1_000)), total: cells.length, counts,
    jobs: jobsBuilding(ws, assetName),
  };
}

/** Jobs whose runs build the asset: it is selected, or upstream of what they select (as plan.ts widens a run). */
export function jobsBuilding(ws: Workspace, assetName: string): string[] {
  const { project } = ws;
  const builds = (roots: readonly string[]): boolean => {
    const seen = new Set<string>();
    const stack = [...roots];
    while (stack.length > 0) {
      const name = stack.pop() as string;
      if (name === assetName) return true;
      if (seen.has(name)) continue;
      seen.add(name);
      for (const dep of project.dependencies.get(name) ?? []) stack.push(dep.dataset);
    }
    return false;
  };
  return [...project.jobs.values()].filter((job) => builds(job.assets)).map((job) => job.name);
}
