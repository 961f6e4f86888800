// Runs whose process is gone (killed, out of disk, lost its catalog) stay `running` in the catalog forever
// unless someone notices. Every workspace that opens the catalog does: a run whose owner was on this host
// and no longer exists, or whose heartbeat stopped more than a minute ago, is marked failed (abandoned),
// its unfinished steps too, and its staging files are removed.
import { ownerIsGone, PROCESS_OWNER } from '../store/owner.ts';
import type { Catalog } from '../store/catalog/catalog.ts';
import type { TableStore } from '../store/tables/table-store.ts';
import os from 'node:os';

/** How often a running run records that it is alive. */
export const RUN_HEARTBEAT_MS = 5_000;
/** A run on another host whose heartbeat is older than this is abandoned. */
export const RUN_STALE_MS = 60_000;

export interface AbandonedRun {
  readonly runId: string;
  readonly owner: string | null;
  readonly reason: string;
}

export async function sweepAbandonedRuns(env: { catalog: Catalog; tables: TableStore }, nowMs: number = Date.now()): Promise<AbandonedRun[]> {
  const abandoned: AbandonedRun[] = [];
  for (const run of await env.catalog.listRuns({ status: 'running' })) {
    if (run.owner === PROCESS_OWNER) continue;
    const local = run.owner !== null && run.owner.startsWith(`${os.hostname()}:`);
    const lastSign = run.heartbeatAtMs ?? Date.parse(run.startedAt);
    let reason: string | undefined;
    if (local && ownerIsGone(run.owner)) reason = `its process ${run.owner ?? ''} is gone`;
    else if (!local && nowMs - lastSign > RUN_STALE_MS) reason = `no heartbeat from ${run.owner ?? 'its process'} since ${new Date(lastSign).toISOString()}`;
    if (reason === undefined) continue;
    const message = `abandoned: ${reason} (killed, out of disk, or lost its catalog connection); rerun with sluice run --resume ${run.id}`;
    const endedAt = new Date(nowMs).toISOString();
    for (const step of await env.catalog.listSteps(run.id)) {
      if (step.status === 'pending' || step.status === 'running') await env.catalog.updateStep(step.id, { status: 'failed', endedAt, error: message });
    }
    await env.catalog.finishRun(run.id, 'failed', endedAt, message);
    await env.tables.cleanStaging(run.id);
    abandoned.push({ runId: run.id, owner: run.owner, reason });
  }
  return abandoned;
}
