// Operations on an asset's table outside a build: delete partitions (a new version without them, recorded as
// a run), vacuum old versions, and the schema history (`sluice delete`, `sluice vacuum`, `sluice schema`).
import { recordAction } from '../access/audit.ts';
import { getAsset } from '../define/project.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import type { ColumnSchema, SchemaChange } from '../store/tables/manifest.ts';
import { entryPathInState } from '../store/tables/table-log.ts';
import { diffSchema } from '../store/tables/schema-evolution.ts';
import { vacuumTable, type VacuumOptions, type VacuumReport } from '../store/tables/vacuum.ts';
import type { Workspace } from '../workspace.ts';
import { newRunId } from './runner.ts';

export interface DeleteResult {
  readonly asset: string;
  readonly runId: string;
  readonly version: number;
  readonly deleted: readonly string[];
  readonly partitions: number;
  readonly rowCount: number;
}

/** Publish a version of `asset` without `partitions`, recorded in the catalog as a run of its own. */
export async function deletePartitions(ws: Workspace, asset: string, partitions: readonly string[]): Promise<DeleteResult> {
  getAsset(ws.project, asset);
  if (partitions.length === 0) throw new SluiceError('INVALID_PARTITION', `sluice delete ${asset}: name the partitions to delete (--partition P, or --from D1 --to D2)`, { asset });
  const runId = newRunId();
  const started = new Date().toISOString();
  await ws.catalog.createRun({ id: runId, project: ws.project.name, startedAt: started, args: { command: 'delete', asset, partitions: [...partitions] } });
  await recordAction(ws.catalog, ws.settings.principal, 'delete', `asset:${asset}`, { runId, partitions: [...partitions] });
  try {
    const manifest = await ws.tables.deletePartitions(asset, partitions, runId);
    await ws.catalog.recordVersion({
      asset, version: manifest.version, runId, stepId: null, createdAt: manifest.createdAt, partitions: manifest.changed,
      rowCount: manifest.rowCount, bytes: manifest.bytes, manifestPath: entryPathInState(asset, manifest.version),
    });
    await ws.catalog.finishRun(runId, 'success', new Date().toISOString(), null);
    return { asset, runId, version: manifest.version, deleted: manifest.removed, partitions: Object.keys(manifest.partitions).length, rowCount: manifest.rowCount };
  } catch (error) {
    await ws.catalog.finishRun(runId, 'failed', new Date().toISOString(), errorMessage(error));
    throw error;
  }
}

/** Versions pinned by training sets, per asset, with the training sets that pin them: what vacuum must keep. */
export async function pinnedVersions(ws: Workspace): Promise<Map<string, Map<number, string[]>>> {
  const pins = new Map<string, Map<number, string[]>>();
  for (const record of await ws.catalog.listTrainingSets({ pinned: true })) {
    for (const [asset, version] of Object.entries(record.versions)) {
      const byVersion = pins.get(asset) ?? new Map<number, string[]>();
      byVersion.set(version, [...(byVersion.get(version) ?? []), record.id]);
      pins.set(asset, byVersion);
    }
  }
  return pins;
}

/**
 * Vacuum the given assets' tables (every table when none is named). Versions a pinned training set read are
 * kept; `unpin` first releases those training sets (their versions may then go).
 */
export async function vacuum(ws: Workspace, assets: readonly string[], options: VacuumOptions & { readonly unpin?: readonly string[] }): Promise<VacuumReport[]> {
  for (const asset of assets) getAsset(ws.project, asset);
  if (options.dryRun !== true) for (const id of options.unpin ?? []) await ws.catalog.setTrainingSetPinned(id, false);
  const unpinned = new Set(options.dryRun === true ? options.unpin ?? [] : []);
  const pins = await pinnedVersions(ws);
  const names = assets.length > 0 ? assets : await ws.tables.assets();
  const reports: VacuumReport[] = [];
  for (const asset of names) {
    const pinned = [...(pins.get(asset) ?? new Map<number, string[]>())].filter(([, ids]) => ids.some((id) => !unpinned.has(id))).map(([version]) => version);
    reports.push(await vacuumTable(ws.tables, asset, { ...options, pinned: [...(options.pinned ?? []), ...pinned] }));
  }
  if (options.dryRun !== true) {
    await recordAction(ws.catalog, ws.settings.principal, 'vacuum', assets.length === 1 ? `asset:${assets[0] ?? ''}` : 'tables', { assets: names, unpinned: options.unpin ?? [] });
  }
  return reports;
}

export interface SchemaVersion {
  readonly version: number;
  readonly createdAt: string;
  readonly runId: string;
  readonly schema: readonly ColumnSchema[];
  readonly changes: readonly SchemaChange[];
}

/** The versions at which the table's schema changed (the first version included), oldest first. */
export async function schemaHistory(ws: Workspace, asset: string): Promise<SchemaVersion[]> {
  getAsset(ws.project, asset);
  const history = await ws.tables.history(asset);
  if (history.length === 0) throw new SluiceError('VERSION_NOT_FOUND', `asset "${asset}" has no version yet: run \`sluice run ${asset}\``, { asset });
  return history
    .filter((h, i) => i === 0 || h.schemaChanges.length > 0)
    .map((h) => ({ version: h.version, createdAt: h.createdAt, runId: h.runId, schema: h.schema, changes: h.schemaChanges }));
}

/** How the table schema differs between two versions (by column name). */
export async function schemaDiff(ws: Workspace, asset: string, from: number, to: number): Promise<readonly SchemaChange[]> {
  getAsset(ws.project, asset);
  const [a, b] = await Promise.all([ws.tables.summary(asset, from), ws.tables.summary(asset, to)]);
  if (a === undefined || b === undefined) {
    const missing = a === undefined ? from : to;
    throw new SluiceError('VERSION_NOT_FOUND', `table "${asset}" has no version ${missing} (see sluice versions ${asset})`, { asset, version: missing });
  }
  return diffSchema(a.schema, b.schema).changes;
}
