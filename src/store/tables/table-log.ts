// A table's version log, as Delta Lake keeps one: `log/<n>.json` holds what version n changed (partitions
// put, partitions removed, the schema after it), so a commit costs what it changed, not the table's size;
// `snapshots/<n>.json.br` holds the whole partition map at version n, every SNAPSHOT_EVERY versions, so
// opening any version reads one snapshot and fewer than SNAPSHOT_EVERY entries. Entries are published by
// hard-linking a fully written temp file (link fails if the number is taken): complete or absent.
import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, brotliDecompress, constants as zlibConstants } from 'node:zlib';
import { SluiceError } from '../../errors.ts';
import type { ColumnSchema, InputRef, PartitionEntry, VersionHeader } from './manifest.ts';

const brotliCompressAsync = promisify(brotliCompress);
const brotliDecompressAsync = promisify(brotliDecompress);
/** Large chunks: the default 16 KiB makes a snapshot thousands of thread-pool round trips. */
const BROTLI_CHUNK = 1 << 22;

/** Versions between snapshots: bounds the entries read to open a version, at a snapshot's size each time. */
export const SNAPSHOT_EVERY = 200;
const DIGITS = 8;
const ENTRY_NAME = /^(\d+)\.json$/;
const SNAPSHOT_NAME = /^(\d+)\.json\.br$/;
const TEMP_PREFIX = '.tmp-';

/** One version as the log records it: its header, and what it changed. */
export interface LogEntry extends VersionHeader {
  /** Partitions this version wrote (replacing any entry of the same key). */
  readonly put: readonly PartitionEntry[];
  /** Partitions this version removed. */
  readonly remove: readonly string[];
  readonly partitionCount: number;
}

/**
 * A snapshot stores its partitions column by column (one array per field, strings shared through tables),
 * which parses several times faster than one object per partition and compresses better: a year of hourly
 * partitions is about 1 MB. A file path that is the usual `<column>=<key>/part-<sha256>.parquet` is stored
 * as null and rebuilt on read.
 */
interface SnapshotFile {
  readonly format: 2;
  readonly asset: string;
  readonly version: number;
  readonly partitionColumn: string | null;
  /** Distinct values shared by many partitions (schemas, run ids, inputs' dataset, kind and version). */
  readonly schemas: readonly (readonly ColumnSchema[])[];
  readonly runIds: readonly string[];
  readonly inputShapes: readonly string[];
  readonly key: readonly string[];
  readonly rows: readonly number[];
  readonly bytes: readonly number[];
  readonly fingerprint: readonly string[];
  readonly runId: readonly number[];
  readonly committedAt: readonly string[];
  readonly schema: readonly number[];
  /** Per partition: its files as [path or null, sha256, bytes, rows] tuples. */
  readonly files: readonly (readonly (readonly [string | null, string, number, number])[])[];
  /** Per partition: its inputs as [shape index, partitions read (null: just this partition's key), fingerprint]. */
  readonly inputs: readonly (readonly (readonly [number, readonly string[] | null, string])[])[];
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
    return join(this.snapshotDir, versionFileName(version, '.json.br'));
  }

  /** Versions with a log entry, ascending. */
  async versions(): Promise<number[]> {
    return numbered(await listDir(this.logDir), ENTRY_NAME, '.json');
  }

  async snapshots(): Promise<number[]> {
    return numbered(await listDir(this.snapshotDir), SNAPSHOT_NAME, '.json.br');
  }

  has(version: number): Promise<boolean> {
    return exists(this.entryPath(version));
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
    const text = (await brotliDecompressAsync(await readFile(path), { chunkSize: BROTLI_CHUNK })).toString('utf8');
    const snapshot = parse(text, path, this.asset, version) as SnapshotFile;
    if (snapshot.format !== 2 || !isList(snapshot.key)) throw corrupt(path, this.asset, version, 'it is not a snapshot of format 2');
    const keys: readonly string[] = snapshot.key;
    const shapes = snapshot.inputShapes.map((shape) => JSON.parse(shape) as Pick<InputRef, 'dataset' | 'kind' | 'version'>);
    const partitions = new Map<string, PartitionEntry>();
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const schema = snapshot.schemas[snapshot.schema[i] ?? -1];
      const runId = snapshot.runIds[snapshot.runId[i] ?? -1];
      if (schema === undefined || runId === undefined) throw corrupt(path, this.asset, version, `partition ${key} names a schema or run it lacks`);
      partitions.set(key, {
        key,
        files: (snapshot.files[i] ?? []).map(([filePath, sha256, bytes, rows]) => ({ path: filePath ?? canonicalPath(snapshot.partitionColumn, key, sha256), sha256, bytes, rows })),
        rows: snapshot.rows[i] ?? 0,
        bytes: snapshot.bytes[i] ?? 0,
        fingerprint: snapshot.fingerprint[i] ?? '',
        runId,
        committedAt: snapshot.committedAt[i] ?? '',
        inputs: (snapshot.inputs[i] ?? []).map(([shape, read, fingerprint]) => {
          const { dataset, kind, version: inputVersion } = shapes[shape] as Pick<InputRef, 'dataset' | 'kind' | 'version'>;
          return { dataset, kind, version: inputVersion, partitions: read ?? [key], fingerprint };
        }),
        schema,
      });
    }
    return partitions;
  }

  /** Write (or rewrite, identically) the snapshot of a version; rename makes it appear whole. */
  async writeSnapshot(version: number, partitionColumn: string | null, partitions: Iterable<PartitionEntry>): Promise<void> {
    const intern = <T>(values: T[], index: Map<string, number>, value: () => T, signature: string): number => {
      let id = index.get(signature);
      if (id === undefined) {
        id = values.length;
        values.push(value());
        index.set(signature, id);
      }
      return id;
    };
    const schemas: (readonly ColumnSchema[])[] = [];
    const runIds: string[] = [];
    const inputShapes: string[] = [];
    const [schemaIndex, runIndex, shapeIndex] = [new Map<string, number>(), new Map<string, number>(), new Map<string, number>()];
    // Partitions read from one snapshot share their schema arrays: most need no signature at all.
    const seenSchemas = new Map<readonly ColumnSchema[], number>();
    const snapshot = {
      format: 2 as const, asset: this.asset, version, partitionColumn, schemas, runIds, inputShapes,
      key: [] as string[], rows: [] as number[], bytes: [] as number[], fingerprint: [] as string[], runId: [] as number[],
      committedAt: [] as string[], schema: [] as number[],
      files: [] as (readonly [string | null, string, number, number])[][],
      inputs: [] as (readonly [number, readonly string[] | null, string])[][],
    };
    for (const entry of partitions) {
      snapshot.key.push(entry.key);
      snapshot.rows.push(entry.rows);
      snapshot.bytes.push(entry.bytes);
      snapshot.fingerprint.push(entry.fingerprint);
      snapshot.runId.push(intern(runIds, runIndex, () => entry.runId, entry.runId));
      snapshot.committedAt.push(entry.committedAt);
      let schemaId = seenSchemas.get(entry.schema);
      if (schemaId === undefined) {
        schemaId = intern(schemas, schemaIndex, () => entry.schema, entry.schema.map((c) => `${c.name}\u0000${c.type}`).join('\u0001'));
        seenSchemas.set(entry.schema, schemaId);
      }
      snapshot.schema.push(schemaId);
      const files: (readonly [string | null, string, number, number])[] = [];
      for (const f of entry.files) files.push([f.path === canonicalPath(partitionColumn, entry.key, f.sha256) ? null : f.path, f.sha256, f.bytes, f.rows]);
      snapshot.files.push(files);
      const inputs: (readonly [number, readonly string[] | null, string])[] = [];
      for (const input of entry.inputs) {
        const shape = intern(inputShapes, shapeIndex, () => JSON.stringify({ dataset: input.dataset, kind: input.kind, version: input.version }), `${input.dataset}\u0000${input.kind}\u0000${input.version ?? ''}`);
        const own = input.partitions.length === 1 && input.partitions[0] === entry.key;
        inputs.push([shape, own ? null : input.partitions, input.fingerprint]);
      }
      snapshot.inputs.push(inputs);
    }
    const body = await brotliCompressAsync(JSON.stringify(snapshot), { chunkSize: BROTLI_CHUNK, params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } });
    await ensureDir(this.snapshotDir);
    const temp = join(this.snapshotDir, `${TEMP_PREFIX}${process.pid}-${randomUUID()}.json.br`);
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(body);
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

/**
 * The Hive folder of a partition, relative to the table: `<column>=<key>`; for two dimensions (columns
 * `date/region`, key `2026-01-01|eu`) one level per column, `date=2026-01-01/region=eu`.
 */
export function hivePath(partitionColumn: string, key: string): string {
  const columns = partitionColumn.split('/');
  const parts = columns.length === 1 ? [key] : key.split('|');
  return columns.map((column, i) => `${column}=${parts[i] ?? ''}`).join('/');
}

/** The path a data file of a partition normally has: `<column>=<key>/part-<sha256>.parquet`. */
function canonicalPath(partitionColumn: string | null, key: string, sha256: string): string {
  const name = `part-${sha256}.parquet`;
  return partitionColumn === null ? name : `${hivePath(partitionColumn, key)}/${name}`;
}

/** Apply one log entry to a partition map, in place. */
export function applyChanges(partitions: Map<string, PartitionEntry>, entry: LogEntry): void {
  for (const key of entry.remove) partitions.delete(key);
  for (const put of entry.put) partitions.set(put.key, put);
}

/** Write the snapshot of `version` from the nearest earlier snapshot and the entries after it. */
export async function snapshotFromLog(log: TableLog, version: number, partitionColumn: string | null): Promise<void> {
  const base = (await log.snapshots()).filter((s) => s <= version).at(-1);
  if (base === version) return;
  const partitions = base === undefined ? new Map<string, PartitionEntry>() : await log.readSnapshot(base);
  for (let next = (base ?? 0) + 1; next <= version; next++) {
    const entry = await log.read(next);
    if (entry === undefined) throw new SluiceError('VERSION_NOT_FOUND', `table "${log.asset}" has no log entry ${next}: cannot snapshot version ${version}`, { asset: log.asset, version: next });
    applyChanges(partitions, entry);
  }
  await log.writeSnapshot(version, partitionColumn, partitions.values());
}

/** Whether a path exists (a file or folder). */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw error;
  }
}
