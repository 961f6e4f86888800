// Tables written by sluice before the version log (format 1: a full manifest per version in
// `tables/<asset>/_versions/`, every version's files in the Hive folders) are converted once, in place: each
// manifest becomes a log entry of what it changed, its files are linked into the version store, and the
// Hive folders keep only the current version's files. A lock file keeps two processes from converting at once.
import { link, open, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError } from '../../errors.ts';
import { reconcileFolder } from './folder.ts';
import type { Manifest, PartitionEntry, VersionHeader } from './manifest.ts';
import { ensureDir, errnoCode, exists, listDir, type LogEntry } from './table-log.ts';
import type { TableStore } from './table-store.ts';

const LEGACY_DIR = '_versions';
const LEGACY_NAME = /^(\d+)\.json$/;
const LOCK_WAIT_MS = 120_000;

/** A format-1 manifest: the version header of today (without schema changes) and every partition in full. */
type LegacyManifest = Omit<VersionHeader, 'format' | 'schemaChanges'> & {
  readonly format: 1;
  readonly partitions: Readonly<Record<string, Omit<PartitionEntry, 'schema'>>>;
};

export async function migrateLegacyTable(store: TableStore, asset: string): Promise<void> {
  const legacyDir = join(store.tableDir(asset), LEGACY_DIR);
  if (!(await exists(legacyDir))) return;
  const log = store.log(asset);
  await ensureDir(log.root);
  const lock = join(log.root, '.migrating');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await (await open(lock, 'wx')).close();
      break;
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
      if (!(await exists(legacyDir))) return;
      if (Date.now() > deadline) {
        throw new SluiceError('CATALOG', `table "${asset}" is being converted to the version log by another process (lock ${lock}); if none is running, remove the lock and retry`, { asset, file: lock });
      }
      await sleep(200);
    }
  }
  try {
    if (!(await exists(legacyDir))) return;
    const names = (await listDir(legacyDir)).filter((n) => LEGACY_NAME.test(n)).sort();
    const done = new Set(await log.versions());
    let previous: LegacyManifest | undefined;
    for (const name of names) {
      const manifest = JSON.parse(await readFile(join(legacyDir, name), 'utf8')) as LegacyManifest;
      if (manifest.format !== 1 || manifest.asset !== asset) continue;
      const before = previous?.partitions ?? {};
      const put = Object.values(manifest.partitions)
        .filter((entry) => JSON.stringify(before[entry.key]) !== JSON.stringify(entry))
        .map((entry) => ({ ...entry, schema: manifest.schema }));
      const remove = Object.keys(before).filter((key) => !Object.hasOwn(manifest.partitions, key));
      for (const entry of put) {
        for (const file of entry.files) {
          const target = join(store.dataDir(asset), ...file.path.split('/'));
          if (await exists(target)) continue;
          const source = join(store.tableDir(asset), ...file.path.split('/'));
          if (!(await exists(source))) continue;
          await ensureDir(dirname(target));
          await link(source, target).catch((error: unknown) => {
            if (errnoCode(error) !== 'EEXIST') throw error;
          });
        }
      }
      if (!done.has(manifest.version)) {
        const entry: LogEntry = {
          format: 2, asset, version: manifest.version, parent: manifest.parent, createdAt: manifest.createdAt, runId: manifest.runId,
          partitionColumn: manifest.partitionColumn, schema: manifest.schema, schemaChanges: [], put, remove,
          rowCount: manifest.rowCount, bytes: manifest.bytes, partitionCount: Object.keys(manifest.partitions).length,
        };
        await log.publish(entry);
      }
      previous = manifest;
    }
    if (previous !== undefined) {
      await log.writeSnapshot(previous.version, previous.partitionColumn, Object.values(previous.partitions).map((entry) => ({ ...entry, schema: previous?.schema ?? [] })));
      await reconcileFolder(store.tableDir(asset), store.dataDir(asset), previous as unknown as Manifest);
    }
    await rm(legacyDir, { recursive: true, force: true });
  } finally {
    await rm(lock, { force: true });
  }
}
