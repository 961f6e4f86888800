// The version log is the truth; the catalog's record of versions can lag it (a process killed between
// publishing a version and recording it). Commands that read versions call this first: every kept version
// the catalog lacks, whose run is not still running, is recorded with its lineage, once. (Runs whose process
// died are marked abandoned when the workspace opens, so their versions are recorded here.)
import { SluiceError } from '../errors.ts';
import type { LineageEdge } from '../store/catalog/catalog.ts';
import { entryPathInState } from '../store/tables/table-log.ts';
import type { Workspace } from '../workspace.ts';

/** Record the versions of `assets` (every asset of the project when omitted) missing from the catalog; returns how many. */
export async function reconcileVersions(ws: Workspace, assets?: readonly string[]): Promise<number> {
  const names = assets ?? [...ws.project.datasets.values()].filter((d) => d.kind === 'asset').map((d) => d.name);
  let recorded = 0;
  for (const asset of names) {
    const kept = await ws.tables.versions(asset);
    if (kept.length === 0) continue;
    const known = new Set((await ws.catalog.listVersions(asset)).map((v) => v.version));
    const missing = kept.filter((v) => !known.has(v));
    for (const version of missing) {
      const entry = await ws.tables.log(asset).read(version);
      if (entry === undefined) continue;
      // A run still going records its own versions (a backfill's parallel runs commit while others start).
      if ((await ws.catalog.getRun(entry.runId))?.status === 'running') continue;
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
  }
  return recorded;
}
