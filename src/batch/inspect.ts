// Reading tables back: a version's schema, row count, files and a preview (time travel by version number).
import type { Session } from '../engine/engine.ts';
import { SluiceError } from '../errors.ts';
import type { CheckRecord } from '../store/catalog/catalog.ts';
import type { Manifest } from '../store/tables/manifest.ts';
import type { Workspace } from '../workspace.ts';
import { getAsset } from '../define/project.ts';
import { tableRelation } from '../store/tables/table-relation.ts';
import { reconcileVersions } from './reconcile.ts';
import { pinnedVersions } from './table-admin.ts';

export interface TableView {
  readonly asset: string;
  readonly version: number;
  readonly latestVersion: number;
  readonly createdAt: string;
  readonly runId: string;
  readonly partitionColumn: string | null;
  readonly partitions: number;
  readonly partition: string | null;
  readonly rowCount: number;
  readonly bytes: number;
  readonly schema: readonly { name: string; type: string; description: string | null }[];
  readonly files: readonly string[];
  readonly preview: readonly Record<string, unknown>[];
  /** Check results recorded by the run that wrote this version (for the partition shown, if one). */
  readonly checks: readonly CheckRecord[];
}

export async function manifestFor(ws: Workspace, asset: string, version?: number): Promise<{ manifest: Manifest; latest: number }> {
  getAsset(ws.project, asset);
  await reconcileVersions(ws, [asset]);
  const latest = await ws.tables.latest(asset);
  if (latest === undefined) {
    throw new SluiceError('VERSION_NOT_FOUND', `asset "${asset}" has no version yet: run \`sluice run ${asset}\``, { asset });
  }
  const manifest = version === undefined ? latest : await ws.tables.read(asset, version);
  return { manifest, latest: latest.version };
}

/** A SQL relation over a table version, optionally one partition. */
export function relationFor(ws: Workspace, manifest: Manifest, partition?: string): string {
  const keys = partition === undefined ? Object.keys(manifest.partitions).sort() : [partition];
  return tableRelation(ws.tables, manifest, keys);
}

export async function showTable(ws: Workspace, asset: string, options: { version?: number; partition?: string; limit?: number } = {}): Promise<TableView> {
  const { manifest, latest } = await manifestFor(ws, asset, options.version);
  const partition = options.partition;
  if (partition !== undefined) {
    if (manifest.partitions[partition] === undefined) {
      const keys = Object.keys(manifest.partitions).sort();
      throw new SluiceError('INVALID_PARTITION', `asset "${asset}" version ${manifest.version} has no partition ${partition}; it has ${keys.length} (${keys[0] ?? ''}..${keys.at(-1) ?? ''})`, { asset, partition });
    }
  }
  const relation = relationFor(ws, manifest, partition);
  const limit = options.limit ?? 10;
  const preview = await ws.engine.withSession(async (session: Session) => session.queryJson(`SELECT * FROM (${relation}) LIMIT ${Math.max(0, Math.floor(limit))}`));
  const descriptions = getAsset(ws.project, asset).columns ?? {};
  const rowCount = partition === undefined ? manifest.rowCount : manifest.partitions[partition]?.rows ?? 0;
  const checks = (await ws.catalog.listChecks({ runId: manifest.runId, target: asset }))
    .filter((c) => partition === undefined || c.partition === partition)
    .sort((a, b) => a.partition.localeCompare(b.partition) || a.index - b.index);
  return {
    asset,
    version: manifest.version,
    latestVersion: latest,
    createdAt: manifest.createdAt,
    runId: manifest.runId,
    partitionColumn: manifest.partitionColumn,
    partitions: Object.keys(manifest.partitions).length,
    partition: partition ?? null,
    rowCount,
    bytes: manifest.bytes,
    schema: manifest.schema.map((c) => ({ ...c, description: descriptions[c.name] ?? null })),
    files: ws.tables.files(manifest, partition === undefined ? undefined : [partition]),
    preview,
    checks,
  };
}

export interface VersionSummary {
  readonly version: number;
  readonly createdAt: string;
  readonly runId: string;
  readonly changed: readonly string[];
  readonly partitions: number;
  readonly rowCount: number;
  readonly bytes: number;
  /** The pinned training sets that read this version (vacuum keeps it while there are any). */
  readonly pinnedBy: readonly string[];
}

export async function listVersions(ws: Workspace, asset: string): Promise<VersionSummary[]> {
  getAsset(ws.project, asset);
  const history = await ws.tables.history(asset);
  const pins = (await pinnedVersions(ws)).get(asset);
  return history.reverse().map((m) => ({ version: m.version, createdAt: m.createdAt, runId: m.runId, changed: m.changed, partitions: m.partitionCount, rowCount: m.rowCount, bytes: m.bytes, pinnedBy: pins?.get(m.version) ?? [] }));
}

/** Run a query over a table version (rows as JSON-safe values). */
export async function queryTable(ws: Workspace, asset: string, sqlOver: (relation: string) => string, options: { version?: number; partition?: string } = {}): Promise<Record<string, unknown>[]> {
  const { manifest } = await manifestFor(ws, asset, options.version);
  const relation = relationFor(ws, manifest, options.partition);
  return ws.engine.withSession((session) => session.queryJson(sqlOver(`(${relation})`)));
}
