// OpenLineage for training sets: each build is a run of job `training_set.<service>` that reads the tables of the
// service's views (at the versions it used) and the spine, and writes the training set file.
import { randomBytes } from 'node:crypto';
import { datasetId, jobRunLineage } from '../batch/openlineage.ts';
import { lineageScope, RunLineageEmitter } from '../batch/run-lineage.ts';
import { facets, localFileDataset, type LineageDataset } from '../connectors/openlineage-event.ts';
import type { FeatureService } from '../define/features.ts';
import { errorMessage } from '../errors.ts';
import type { Workspace } from '../workspace.ts';
import type { TrainingSet } from './historical.ts';

export async function withTrainingSetLineage(ws: Workspace, service: FeatureService, spine: string | { readonly sql: string }, body: () => Promise<TrainingSet>): Promise<TrainingSet> {
  const id = `training-set:${service.name}:${new Date().toISOString()}:${randomBytes(3).toString('hex')}`;
  const lineage = new RunLineageEmitter(ws, (scope) => jobRunLineage(scope, id, `training_set.${service.name}`));
  const scope = lineageScope(ws);
  const tables = [...new Set(service.views.map((v) => v.source))];
  const spineInput: LineageDataset[] = typeof spine === 'string' ? [localFileDataset(spine)] : [];
  lineage.runStart({ jobType: 'TRAINING_SET', inputs: [...tables.map((t) => datasetId(scope, t)), ...spineInput] });
  try {
    const result = await body();
    lineage.runEnd('success', null, () => ({
      inputs: [...tables.map((t) => ({ ...datasetId(scope, t), facets: { version: facets.version(String(result.versions[t] ?? '')) } })), ...spineInput],
      outputs: result.path === undefined ? [] : [{
        ...localFileDataset(result.path),
        facets: { schema: facets.schema(result.columns), ...(result.record === undefined ? {} : { version: facets.version(result.record.output.sha256) }) },
        ...(result.record === undefined ? {} : { outputFacets: { outputStatistics: facets.outputStatistics(result.rowCount, result.record.output.bytes, 1) } }),
      }],
    }));
    return result;
  } catch (error) {
    lineage.runEnd('failed', `training set of feature service "${service.name}": ${errorMessage(error)}`);
    throw error;
  } finally {
    await lineage.flush();
  }
}
