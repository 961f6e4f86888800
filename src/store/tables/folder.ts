// The table folder outside readers see: `tables/<asset>/<column>=<key>/part-<sha256>.parquet` holding exactly
// the current version's files, as hard links to the immutable files under the version store (a copy where
// links are not possible). A partition is switched by first removing the files it no longer has, then
// linking the new ones, so a plain reader listing the folder mid-commit may miss that partition for a
// moment but never sees a row twice. The version log stays the way to read a version atomically.
import { copyFile, link, open, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError } from '../../errors.ts';
import { randomUUID } from 'node:crypto';
import { ensureDir, errnoCode, hivePath, listDir } from './table-log.ts';
import type { Manifest, PartitionEntry } from './manifest.ts';

const DATA_FILE = /^part-[0-9a-f]{64}\.parquet$/;

/** The folder of one partition: `<tableDir>/<column>=<key>`, or the table folder itself when unpartitioned. */
export function partitionFolder(tableDir: string, partitionColumn: string | null, key: string): string {
  return partitionColumn === null ? tableDir : join(tableDir, ...hivePath(partitionColumn, key).split('/'));
}

/** Make one partition's folder hold exactly the entry's files (none when the entry is undefined: removed). */
export async function syncPartitionFolder(tableDir: string, dataDir: string, partitionColumn: string | null, key: string, entry: PartitionEntry | undefined): Promise<void> {
  const folder = partitionFolder(tableDir, partitionColumn, key);
  const wanted = new Map((entry?.files ?? []).map((f) => [baseName(f.path), f.path]));
  const present = (await listDir(folder)).filter((name) => DATA_FILE.test(name));
  for (const name of present) {
    if (!wanted.has(name)) await rm(join(folder, name), { force: true });
  }
  if (wanted.size === 0) {
    if (partitionColumn === null) return;
    // The partition's folder, then (two dimensions) its parent when that is left empty.
    await rmdir(folder).catch(() => undefined);
    if (partitionColumn.includes('/')) await rmdir(dirname(folder)).catch(() => undefined);
    return;
  }
  await ensureDir(folder);
  const have = new Set(present);
  for (const [name, path] of wanted) {
    if (have.has(name)) continue;
    await linkOrCopy(join(dataDir, ...path.split('/')), join(folder, name));
  }
}

/**
 * Make the whole table folder match a version: every partition of it, and no folder of a partition it lacks.
 * Used after a crash between a commit and its folder switch, by vacuum, and when a table is migrated.
 */
export async function reconcileFolder(tableDir: string, dataDir: string, manifest: Manifest | undefined): Promise<void> {
  const column = manifest?.partitionColumn ?? null;
  const keys = new Set(Object.keys(manifest?.partitions ?? {}));
  if (column !== null) {
    for (const key of await folderKeys(tableDir, column.split('/'))) {
      if (!keys.has(key)) await syncPartitionFolder(tableDir, dataDir, column, key, undefined);
    }
  }
  if (manifest === undefined) return;
  for (const key of keys) await syncPartitionFolder(tableDir, dataDir, column, key, manifest.partitions[key]);
}

/** The partition keys of the `<column>=<value>` folders present (nested, one level per column; parts joined by |). */
async function folderKeys(dir: string, columns: readonly string[]): Promise<string[]> {
  const [column, ...rest] = columns;
  if (column === undefined) return [];
  const prefix = `${column}=`;
  const keys: string[] = [];
  for (const name of await listDir(dir)) {
    if (!name.startsWith(prefix)) continue;
    const value = name.slice(prefix.length);
    if (rest.length === 0) keys.push(value);
    else for (const inner of await folderKeys(join(dir, name), rest)) keys.push(`${value}|${inner}`);
  }
  return keys;
}

function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? path : path.slice(slash + 1);
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
    return;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'EEXIST') return;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw error;
  }
  // A filesystem without hard links: copy to a temp name, then rename, so the name appears whole.
  const temp = `${to}.${randomUUID()}.tmp`;
  await copyFile(from, temp);
  await rename(temp, to);
}

/** How long a lock whose holder is on another host may sit before it is taken as abandoned. */
const FOREIGN_LOCK_STALE_MS = 30_000;
const LOCK_POLL_MS = 5;

/**
 * Run `fn` holding the table folder's lock file (`<owner>` inside): folder switches of concurrent committers
 * never interleave. A lock whose holder died on this host is taken at once, one from another host after
 * 30 s. With `wait: false`, returns undefined at once when the lock is held.
 */
export async function withFolderLock<T>(lockFile: string, owner: string, isGone: (owner: string) => boolean, fn: () => Promise<T>, options: { wait: boolean; timeoutMs?: number }): Promise<T | undefined> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  await ensureDir(dirname(lockFile));
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx');
      try {
        await handle.writeFile(owner);
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
    }
    const holder = await readFile(lockFile, 'utf8').catch(() => '');
    const age = await stat(lockFile).then((s) => Date.now() - s.mtimeMs, () => 0);
    // An empty lock is one being written right now (or by a holder that died mid-write: then it ages out).
    const foreign = holder !== '' && !holder.startsWith(owner.slice(0, owner.lastIndexOf(':') + 1));
    if ((holder !== '' && isGone(holder)) || ((foreign || holder === '') && age > FOREIGN_LOCK_STALE_MS)) {
      await rm(lockFile, { force: true });
      continue;
    }
    if (!options.wait) return undefined;
    if (Date.now() > deadline) {
      throw new SluiceError('COMMIT_CONFLICT', `the table folder lock ${lockFile} is held by ${holder || 'another process'}; retry, or remove the file if no sluice process is running`, { file: lockFile }, { transient: true });
    }
    await sleep(LOCK_POLL_MS);
  }
  try {
    return await fn();
  } finally {
    await rm(lockFile, { force: true });
  }
}
