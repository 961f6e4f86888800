// The version log is the truth; the catalog's record of versions can lag it (a process killed between
// publishing a version and recording it). Commands that read versions call this first: every kept version
// the catalog lacks, whose run is not still running, is recorded with its lineage, once. (Runs whose process
// died are marked abandoned when the workspace opens, so their versions are recorded here.)
import { SluiceError } from '../errors.ts';
import type { LineageEdge } from '../store/catalog/catalog.ts';
import { entryPathInState } from '../store/tables/table-log.ts';
import type { Workspace } from '../workspace.ts';

/**
 * Per workspace and asset: every kept version up to this one is known to be in the catalog, so the next call
 * looks only at the versions after it (a backfill reconciles before each of its runs: its cost must not grow
 * with the table's history).
 */
const reconciledUpTo = new WeakMap<Workspace, Map<string, number>>();

/** Record the versions of `assets` (every asset of the project when omitted) missing from the catalog; returns how many. */
export async function reconcileVersions(ws: Workspace, assets?: readonly string[]): Promise<number> {
  const names = assets ?? [...ws.project.datasets.values()].filter((d) => d.kind === 'asset').map((d) => d.name);
  let memo = reconciledUpTo.get(ws);
  if (memo === undefined) {
    memo = new Map();
    reconciledUpTo.set(ws, memo);
  }
  let recorded = 0;
  // The latest versions of every table at once (file-system round trips overlap); the rare work after is in turn.
  const latestOf = await Promise.all(names.map(async (asset) => (await ws.tables.latest(asset))?.version ?? 0));
  for (const [i, asset] of names.entries()) {
    const after = memo.get(asset) ?? 0;
    const latest = latestOf[i] ?? 0;
    if (latest <= after) continue;
    const kept = (await ws.tables.versions(asset)).filter((v) => v > after);
    const known = new Set((await ws.catalog.listVersions(asset, { after })).map((v) => v.version));
    const missing = kept.filter((v) => !known.has(v));
    // Versions up to the first one left missing (its run still going) need no second look.
    let settledUpTo = latest;
    for (const version of missing) {
      const entry = await ws.tables.log(asset).read(version);
      if (entry === undefined) continue;
      // A run still going records its own versions (a backfill's parallel runs commit while others start).
      if ((await ws.catalog.getRun(entry.runId))?.status === 'running') {
        settledUpTo = Math.min(settledUpTo, version - 1);
        continue;
      }
      const steps = await ws.catalog.listSteps(entry.runId).catch((error: unknown) => {
        if (error instanceof SluiceError) return [];
        throw error;
      });
      const changed = [...entry.put.map((p) => p.key), ...entry.remove];
      await ws.catalog.recordVersion({
        asset, version, runId: entry.runId, stepId: steps.find((s) => s.asset === asset && changed.includes(s.partition))?.id ?? null,
        createdAt: entry.createdAt, partitions: changed, rowCount: entry.rowCount, bytes: entry.bytes, manifestPath: entryPathInState(asset, version),
      });
      const edges: LineageEdge[] = entry.put.flatMap((put) => {
        const stepId = steps.find((s) => s.asset === asset && s.partition === put.key)?.id ?? `${entry.runId}:${asset}:${put.key}`;
        return [
          ...put.inputs.map((input): LineageEdge => ({ runId: entry.runId, stepId, direction: 'read', dataset: input.dataset, kind: input.kind, version: input.version, partition: input.partitions.join(','), fingerprint: input.fingerprint })),
          { runId: entry.runId, stepId, direction: 'write', dataset: asset, kind: 'asset', version, partition: put.key, fingerprint: put.fingerprint },
        ];
      });
      await ws.catalog.recordLineage(edges);
      ws.logger.warn({ asset, version, run: entry.runId }, 'recorded a table version the catalog lacked (its run stopped between publishing and recording it)');
      recorded++;
    }
    memo.set(asset, Math.max(after, settledUpTo));
  }
  return recorded;
}
