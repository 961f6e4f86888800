// OpenLineage for stream jobs: each time a job partition runs is a run of job `stream.<job>` (STREAMING) that
// reads its event stream and writes its views to the online store; it ends COMPLETE when the job stops, FAIL on an error.
import { randomBytes } from 'node:crypto';
import { jobRunLineage } from '../batch/openlineage.ts';
import { RunLineageEmitter } from '../batch/run-lineage.ts';
import { onlineStoreDataset, type DatasetId } from '../connectors/openlineage-event.ts';
import type { EventStream } from '../define/stream.ts';
import { errorMessage } from '../errors.ts';
import type { Workspace } from '../workspace.ts';

export async function withStreamLineage<T>(ws: Workspace, stream: EventStream, views: readonly string[], run: { readonly job: string; readonly partition: string; readonly input: DatasetId }, body: () => Promise<T>): Promise<T> {
  const id = `stream:${run.job}:${run.partition}:${new Date().toISOString()}:${randomBytes(3).toString('hex')}`;
  const lineage = new RunLineageEmitter(ws, (scope) => jobRunLineage(scope, id, `stream.${run.job}`));
  lineage.runStart({ processing: 'STREAMING', jobType: 'STREAM', inputs: [run.input], outputs: views.map((view) => onlineStoreDataset(ws.settings.onlineUrl, view)) });
  try {
    const result = await body();
    lineage.runEnd('success', null);
    return result;
  } catch (error) {
    lineage.runEnd('failed', `stream "${stream.name}" job ${run.job} (${run.partition}): ${errorMessage(error)}`);
    throw error;
  } finally {
    await lineage.flush();
  }
}
