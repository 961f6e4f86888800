// A table's version log, as Delta Lake keeps one: `log/<n>.json` holds what version n changed (partitions
// put, partitions removed, the schema after it), so a commit costs what it changed, not the table's size;
// `snapshots/<n>.json.gz` holds the whole partition map at version n, every SNAPSHOT_EVERY versions, so
// opening any version reads one snapshot and fewer than SNAPSHOT_EVERY entries. Entries are published by
// hard-linking a fully written temp file (link fails if the number is taken): complete or absent.
import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { SluiceError } from '../../errors.ts';
import type { ColumnSchema, PartitionEntry, SchemaChange } from './manifest.ts';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Versions between snapshots: bounds the entries read to open a version, at a snapshot's size each time. */
export const SNAPSHOT_EVERY = 200;
const DIGITS = 8;
const ENTRY_NAME = /^(\d+)\.json$/;
const SNAPSHOT_NAME = /^(\d+)\.json\.gz$/;
const TEMP_PREFIX = '.tmp-';

/** One version as the log records it. */
export interface LogEntry {
  readonly format: 2;
  readonly asset: string;
  readonly version: number;
  readonly parent: number | null;
  readonly createdAt: string;
  readonly runId: string;
  readonly partitionColumn: string | null;
  /** The table's schema after this version. */
  readonly schema: readonly ColumnSchema[];
  readonly schemaChanges: readonly SchemaChange[];
  /** Partitions this version wrote (replacing any entry of the same key). */
  readonly put: readonly PartitionEntry[];
  /** Partitions this version removed. */
  readonly remove: readonly string[];
  readonly rowCount: number;
  readonly bytes: number;
  readonly partitionCount: number;
}

interface SnapshotFile {
  readonly format: 2;
  readonly asset: string;
  readonly version: number;
  /** Distinct partition schemas, referenced by index: most partitions share one. */
  readonly schemas: readonly (readonly ColumnSchema[])[];
  readonly partitions: readonly (Omit<PartitionEntry, 'schema'> & { readonly schema: number })[];
}

export function versionFileName(version: number, suffix = '.json'): string {
  return `${String(version).padStart(DIGITS, '0')}${suffix}`;
}

export class TableLog {
  readonly asset: string;
  /** `<versions>/<asset>`: log/, snapshots/ and data/ live under it. */
  readonly root: string;

  constructor(root: string, asset: string) {
    this.root = root;
    this.asset = asset;
  }

  get logDir(): string {
    return join(this.root, 'log');
  }

  get snapshotDir(): string {
    return join(this.root, 'snapshots');
  }

  entryPath(version: number): string {
    return join(this.logDir, versionFileName(version));
  }

  snapshotPath(version: number): string {
    return join(this.snapshotDir, versionFileName(version, '.json.gz'));
  }

  /** Versions with a log entry, ascending. */
  async versions(): Promise<number[]> {
    return numbered(await listDir(this.logDir), ENTRY_NAME, '.json');
  }

  async snapshots(): Promise<number[]> {
    return numbered(await listDir(this.snapshotDir), SNAPSHOT_NAME, '.json.gz');
  }

  async has(version: number): Promise<boolean> {
    try {
      await stat(this.entryPath(version));
      return true;
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return false;
      throw error;
    }
  }

  async read(version: number): Promise<LogEntry | undefined> {
    const path = this.entryPath(version);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw error;
    }
    const entry = parse(text, path, this.asset, version) as LogEntry;
    if (entry.format !== 2 || !Array.isArray(entry.put) || !Array.isArray(entry.remove)) throw corrupt(path, this.asset, version, 'it is not a version entry of format 2');
    return entry;
  }

  /** Publish an entry under its version number; false when another committer took that number first. */
  async publish(entry: LogEntry): Promise<boolean> {
    await ensureDir(this.logDir);
    const temp = join(this.logDir, `${TEMP_PREFIX}${process.pid}-${randomUUID()}.json`);
    await writeDurably(temp, `${JSON.stringify(entry)}\n`);
    try {
      await link(temp, this.entryPath(entry.version));
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') return false;
      throw error;
    } finally {
      await rm(temp, { force: true });
    }
    await fsyncDir(this.logDir);
    return true;
  }

  async readSnapshot(version: number): Promise<Map<string, PartitionEntry>> {
    const path = this.snapshotPath(version);
    const text = (await gunzipAsync(await readFile(path))).toString('utf8');
    const snapshot = parse(text, path, this.asset, version) as SnapshotFile;
    if (snapshot.format !== 2 || !isList(snapshot.partitions)) throw corrupt(path, this.asset, version, 'it is not a snapshot of format 2');
    const entries: SnapshotFile['partitions'] = snapshot.partitions;
    const partitions = new Map<string, PartitionEntry>();
    for (const entry of entries) {
      const schema = snapshot.schemas[entry.schema];
      if (schema === undefined) throw corrupt(path, this.asset, version, `partition ${entry.key} names schema ${entry.schema}, which it lacks`);
      partitions.set(entry.key, { ...entry, schema });
    }
    return partitions;
  }

  /** Write (or rewrite, identically) the snapshot of a version; rename makes it appear whole. */
  async writeSnapshot(version: number, partitions: Iterable<PartitionEntry>): Promise<void> {
    const schemas: (readonly ColumnSchema[])[] = [];
    const index = new Map<string, number>();
    const entries: SnapshotFile['partitions'][number][] = [];
    for (const entry of partitions) {
      const signature = JSON.stringify(entry.schema);
      let id = index.get(signature);
      if (id === undefined) {
        id = schemas.length;
        schemas.push(entry.schema);
        index.set(signature, id);
      }
      entries.push({ ...entry, schema: id });
    }
    const snapshot: SnapshotFile = { format: 2, asset: this.asset, version, schemas, partitions: entries };
    await ensureDir(this.snapshotDir);
    const temp = join(this.snapshotDir, `${TEMP_PREFIX}${process.pid}-${randomUUID()}.json.gz`);
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(await gzipAsync(JSON.stringify(snapshot)));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.snapshotPath(version));
    await fsyncDir(this.snapshotDir);
  }

  async removeEntry(version: number): Promise<void> {
    await rm(this.entryPath(version), { force: true });
  }

  async removeSnapshot(version: number): Promise<void> {
    await rm(this.snapshotPath(version), { force: true });
  }
}

function isList(value: unknown): boolean {
  return Array.isArray(value);
}

function numbered(names: readonly string[], pattern: RegExp, suffix: string): number[] {
  const found: number[] = [];
  for (const name of names) {
    const digits = pattern.exec(name)?.[1];
    if (digits === undefined) continue;
    const version = Number(digits);
    if (version >= 1 && versionFileName(version, suffix) === name) found.push(version);
  }
  return found.sort((a, b) => a - b);
}

function parse(text: string, path: string, asset: string, version: number): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw corrupt(path, asset, version, 'it is not valid JSON', error);
  }
  if (typeof value !== 'object' || value === null) throw corrupt(path, asset, version, 'it is not an object');
  const fields = value as Record<string, unknown>;
  if (fields['asset'] !== asset || fields['version'] !== version) {
    throw corrupt(path, asset, version, `it names ${String(fields['asset'])} version ${String(fields['version'])}`);
  }
  return value;
}

export function corrupt(path: string, asset: string, version: number, why: string, cause?: unknown): SluiceError {
  return new SluiceError(
    'CATALOG',
    `${path} of table "${asset}" version ${version} is unreadable: ${why}. The version log is written only by sluice; restore the file from a backup`,
    { asset, version, file: path },
    cause === undefined ? {} : { cause },
  );
}

export function errnoCode(error: unknown): string | undefined {
  return error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
}

export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return [];
    throw error;
  }
}

/** Create the temp file exclusively, write it and fsync before it is linked anywhere a reader looks. */
export async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** mkdir -p, then fsync the parent of every folder it created so the new entries survive a power loss. */
export async function ensureDir(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  const parents: string[] = [];
  for (let current = dir; ; current = dirname(current)) {
    parents.push(dirname(current));
    if (current === first || dirname(current) === current) break;
  }
  for (const parent of parents) await fsyncDir(parent);
}

export async function fsyncDir(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS metadata is journaled anyway.
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Where a version's log entry lives, relative to the state directory (what the catalog records). */
export function entryPathInState(asset: string, version: number): string {
  return `versions/${asset}/log/${versionFileName(version)}`;
}
