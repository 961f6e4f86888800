// Retention: remove the versions a table no longer needs and the files only they referenced. The current
// version, the last N, those superseded less than `olderThan` ago, pinned ones, and anything younger than
// the grace period (a reader may still be opening it) are kept. The log is compacted, not lost, for kept
// versions: each run of consecutive kept versions starts at a snapshot, so each stays readable.
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SluiceError } from '../../errors.ts';
import type { TableStore } from './table-store.ts';

export interface VacuumOptions {
  /** Keep the last N versions (the current one included). */
  readonly keepVersions?: number | undefined;
  /** Keep versions superseded less than this long ago (default 7 days when keepVersions is not given). */
  readonly olderThanMs?: number | undefined;
  /** Never remove a version superseded, or a file written, less than this long ago (default 1 hour). */
  readonly graceMs?: number | undefined;
  /** Versions referenced elsewhere (training sets): always kept. */
  readonly pinned?: readonly number[] | undefined;
  readonly dryRun?: boolean | undefined;
  /** The time vacuum measures ages from (default now). */
  readonly now?: number | undefined;
}

export interface VacuumReport {
  readonly asset: string;
  readonly kept: readonly number[];
  readonly removed: readonly number[];
  /** Data files removed (or that would be, with dryRun), relative to the table's data folder. */
  readonly files: readonly string[];
  readonly bytes: number;
  readonly dryRun: boolean;
}

export const DEFAULT_RETENTION_MS = 7 * 86_400_000;
export const DEFAULT_GRACE_MS = 3_600_000;

export async function vacuumTable(tables: TableStore, asset: string, options: VacuumOptions = {}): Promise<VacuumReport> {
  if (options.keepVersions !== undefined && (!Number.isInteger(options.keepVersions) || options.keepVersions < 1)) {
    throw new SluiceError('CONFIG_INVALID', `--keep-versions must be a whole number of at least 1 (the current version is always kept), got ${options.keepVersions}`);
  }
  const now = options.now ?? Date.now();
  const grace = options.graceMs ?? DEFAULT_GRACE_MS;
  const olderThan = options.olderThanMs ?? (options.keepVersions === undefined ? DEFAULT_RETENTION_MS : undefined);
  const pinned = new Set(options.pinned ?? []);
  const log = tables.log(asset);
  const history = await tables.history(asset);
  const versions = history.map((h) => h.version);
  const kept: number[] = [];
  const removed: number[] = [];
  history.forEach((summary, i) => {
    const next = history[i + 1];
    const supersededAgo = next === undefined ? 0 : now - Date.parse(next.createdAt);
    const keep = next === undefined
      || (options.keepVersions !== undefined && i >= history.length - options.keepVersions)
      || (olderThan !== undefined && supersededAgo < olderThan)
      || supersededAgo < grace
      || pinned.has(summary.version);
    (keep ? kept : removed).push(summary.version);
  });

  // Runs of consecutive kept versions: each needs a snapshot at its start once the versions before it go.
  const runs: [number, number][] = [];
  for (const version of kept) {
    const last = runs.at(-1);
    if (last !== undefined && versions.indexOf(version) === versions.indexOf(last[1]) + 1) last[1] = version;
    else runs.push([version, version]);
  }
  // Every file a kept version references: the run's first state, plus what each later entry put.
  const referenced = new Set<string>();
  for (const [first, last] of runs) {
    const manifest = await tables.read(asset, first);
    for (const entry of Object.values(manifest.partitions)) for (const file of entry.files) referenced.add(file.path);
    for (let version = first + 1; version <= last; version++) {
      const entry = await log.read(version);
      for (const put of entry?.put ?? []) for (const file of put.files) referenced.add(file.path);
    }
  }
  const dataDir = tables.dataDir(asset);
  const files: string[] = [];
  let bytes = 0;
  for (const relative of await listFiles(dataDir)) {
    if (referenced.has(relative)) continue;
    const info = await stat(join(dataDir, ...relative.split('/')));
    // A file younger than the grace period may belong to a commit that has not published its entry yet.
    if (now - info.mtimeMs < grace) continue;
    files.push(relative);
    bytes += info.size;
  }
  const report: VacuumReport = { asset, kept, removed, files, bytes, dryRun: options.dryRun === true };
  if (options.dryRun === true || (removed.length === 0 && files.length === 0)) return report;

  const snapshots = new Set(await log.snapshots());
  for (const [first] of runs) {
    if (snapshots.has(first)) continue;
    const manifest = await tables.read(asset, first);
    await log.writeSnapshot(first, manifest.partitionColumn, Object.values(manifest.partitions));
  }
  const keptSet = new Set(kept);
  for (const version of removed) await log.removeEntry(version);
  for (const version of snapshots) if (!keptSet.has(version)) await log.removeSnapshot(version);
  for (const relative of files) await rm(join(dataDir, ...relative.split('/')), { force: true });
  await removeEmptyFolders(dataDir);
  tables.forget(asset);
  await tables.syncFolder(asset);
  return report;
}

/** Files under a folder, as `/`-separated paths relative to it. */
async function listFiles(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const files: string[] = [];
  for (const entry of entries) {
    const path = entry.split(/[\\/]/).join('/');
    if (/(^|\/)part-[0-9a-f]{64}\.parquet$/.test(path)) files.push(path);
  }
  return files.sort();
}

async function removeEmptyFolders(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if ((await stat(path)).isDirectory()) await rmdir(path).catch(() => undefined);
  }
}
