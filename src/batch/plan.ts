// Planning a run: the selected assets and partitions, widened to the upstream steps they need (windows
// included), as a graph of (asset, partition) steps. Pure: no I/O.
import type { Asset } from '../define/asset.ts';
import { describePartitions, keyFormat, previousKey, requestedKeys, upstreamKeys } from '../define/partitions.ts';
import type { Project } from '../define/project.ts';
import { getAsset } from '../define/project.ts';
import { SluiceError } from '../errors.ts';

export interface PlannedStep {
  /** `<asset>` or `<asset>@<partition>`. */
  readonly key: string;
  readonly asset: string;
  /** Partition key, or '' when the asset is unpartitioned. */
  readonly partition: string;
  /** Keys of the steps that must succeed first. */
  readonly after: readonly string[];
  /** Selected explicitly (so `force` applies), rather than pulled in as an upstream step. */
  readonly selected: boolean;
}

export interface PlanRequest {
  /** Asset names; all assets when empty. */
  readonly assets: readonly string[];
  /** Partition keys for partitioned assets. */
  readonly partitions: readonly string[];
  /** Only the selected assets: do not add upstream steps (their latest versions are read as they are). */
  readonly only?: boolean;
}

function comparesWithPrevious(asset: Asset): boolean {
  return asset.checks.some((c) => c.type === 'expect_table_row_count_to_be_within_percent_of_previous'
    || (c.type.startsWith('expect_column_drift_') && (c.kwargs['reference'] ?? 'previous') === 'previous'));
}

export function stepKey(asset: string, partition: string): string {
  return partition === '' ? asset : `${asset}@${partition}`;
}

export function plan(project: Project, request: PlanRequest): PlannedStep[] {
  const selectedAssets = request.assets.length > 0 ? request.assets.map((name) => getAsset(project, name)) : project.order.map((name) => getAsset(project, name));
  const steps = new Map<string, { asset: string; partition: string; after: Set<string>; selected: boolean }>();
  const selectedNames = new Set(selectedAssets.map((a) => a.name));

  const partitionsFor = (asset: Asset): string[] => {
    if (asset.partitions === undefined) return [''];
    if (request.partitions.length === 0) {
      throw new SluiceError('INVALID_PARTITION', `asset "${asset.name}" is partitioned (${describePartitions(asset.partitions)}): pass --partition ${asset.partitions.kind === 'static' ? 'KEY' : keyFormat(asset.partitions)}, or --from K1 --to K2`, { asset: asset.name });
    }
    const definition = asset.partitions;
    const keys = requestedKeys(definition, request.partitions);
    if (keys.length === 0) {
      throw new SluiceError('INVALID_PARTITION', `asset "${asset.name}" has no partition among ${request.partitions[0]}..${request.partitions.at(-1)}: its partitions are ${describePartitions(definition)} (${keyFormat(definition)})`, { asset: asset.name });
    }
    return keys;
  };

  const visit = (asset: Asset, partition: string, selected: boolean): string => {
    const key = stepKey(asset.name, partition);
    const existing = steps.get(key);
    if (existing !== undefined) {
      existing.selected ||= selected;
      return key;
    }
    const node = { asset: asset.name, partition, after: new Set<string>(), selected };
    steps.set(key, node);
    for (const ref of project.dependencies.get(asset.name) ?? []) {
      const dep = project.datasets.get(ref.dataset);
      if (dep === undefined || dep.kind !== 'asset') continue;
      if (request.only === true && !selectedNames.has(dep.name)) continue;
      if (dep.partitions === undefined) {
        node.after.add(visit(dep, '', false));
        continue;
      }
      // A partitioned upstream read by an unpartitioned asset (or one partitioned another way, time against
      // static): its existing partitions are read as they are.
      if (partition === '' || asset.partitions === undefined) continue;
      const keys = upstreamKeys(asset.partitions, partition, dep.partitions, ref.lookback, ref.lookahead);
      if (keys === 'all') continue;
      for (const upstreamKey of keys) node.after.add(visit(dep, upstreamKey, false));
    }
    return key;
  };

  for (const asset of selectedAssets) {
    for (const partition of partitionsFor(asset)) visit(asset, partition, true);
  }
  // Checks that compare a partition with the previous one (row count change, drift) need it committed first.
  for (const node of steps.values()) {
    const nodeAsset = getAsset(project, node.asset);
    if (node.partition === '' || nodeAsset.partitions === undefined || !comparesWithPrevious(nodeAsset)) continue;
    const before = previousKey(nodeAsset.partitions, node.partition);
    const previous = before === undefined ? undefined : stepKey(node.asset, before);
    if (previous !== undefined && steps.has(previous)) node.after.add(previous);
  }
  // Order: dependencies first, then by asset order and partition for stable output.
  const rank = new Map(project.order.map((name, i) => [name, i]));
  return [...steps.entries()]
    .map(([key, node]) => ({ key, asset: node.asset, partition: node.partition, after: [...node.after].sort(), selected: node.selected }))
    .sort((a, b) => (rank.get(a.asset) ?? 0) - (rank.get(b.asset) ?? 0) || a.partition.localeCompare(b.partition));
}
