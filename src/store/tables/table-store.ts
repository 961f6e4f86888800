// The offline table store: content-addressed Parquet files under tables/<asset>/ and immutable JSON manifests
// in tables/<asset>/_versions/ naming the files of each version. Pure filesystem; a version is published by
// hard-linking a fully written temp file, so a crash or a concurrent committer never exposes or overwrites one.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { SluiceError } from '../../errors.ts';
import { assertName, isValidName } from '../../sql/identifiers.ts';
import { sha256Handle } from './hash.ts';
import type { FileDigest } from './hash.ts';
import type { ColumnSchema, InputRef, Manifest, ManifestFile, PartitionEntry } from './manifest.ts';

export interface TableStoreOptions {
  /** Root of the tables, e.g. `.sluice/tables`. */
  readonly tablesDir: string;
  /** Where callers write data files before commit; must be on the same filesystem as tablesDir. */
  readonly stagingDir: string;
}

export interface CommitRequest {
  readonly asset: string;
  /** Partition key, or '' for an unpartitioned table (partitionColumn null). */
  readonly partition: string;
  readonly partitionColumn: string | null;
  /** A file from `stagingPath`; it is consumed (moved or removed) by a successful commit. */
  readonly stagedFile: string;
  readonly schema: readonly ColumnSchema[];
  readonly rows: number;
  readonly runId: string;
  readonly fingerprint: string;
  readonly inputs: readonly InputRef[];
}

export interface CommitResult {
  readonly manifest: Manifest;
  readonly file: ManifestFile;
}

const VERSIONS_DIR = '_versions';
/** Manifests are `_versions/00000001.json`: zero-padded so a plain listing sorts; longer numbers just grow. */
const VERSION_DIGITS = 8;
const MANIFEST_NAME = /^(\d+)\.json$/;
/** Temp manifests start with a dot and never match MANIFEST_NAME, so readers cannot take them for versions. */
const TEMP_PREFIX = '.tmp-';
/** Safe as one path segment: no separators, no leading dot, no '..'. */
const PATH_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.:+-]*$/;
const MAX_SEGMENT_LENGTH = 200;
/** Each failed attempt means another committer published a version, so the loop only spins under heavy contention. */
const MAX_PUBLISH_ATTEMPTS = 1000;

export function manifestFileName(version: number): string {
  return `${String(version).padStart(VERSION_DIGITS, '0')}.json`;
}

export class TableStore {
  readonly tablesDir: string;
  readonly stagingDir: string;

  constructor(options: TableStoreOptions) {
    this.tablesDir = resolve(options.tablesDir);
    this.stagingDir = resolve(options.stagingDir);
  }

  /** A fresh path for the caller to write one data file into; its folder exists on return. */
  stagingPath(runId: string, asset: string, partition: string): string {
    assertRunId(runId);
    assertAsset(asset);
    assertPartitionKey(asset, partition, true);
    const dir = join(this.stagingDir, runId, asset);
    mkdirSync(dir, { recursive: true });
    return join(dir, `${partition === '' ? '_' : partition}.${randomUUID()}.parquet`);
  }

  /** Move a staged file into the table and publish a new version in which it replaces its partition. */
  async commit(request: CommitRequest): Promise<CommitResult> {
    const { asset } = request;
    assertAsset(asset);
    assertPartitioning(request);
    const tableDir = join(this.tablesDir, asset);
    const previous = await this.latest(asset);
    if (previous !== undefined) assertSameLayout(previous, request);
    const file = await this.placeDataFile(tableDir, request);
    const manifest = await this.publish(tableDir, request, file);
    return { manifest, file };
  }

  async latest(asset: string): Promise<Manifest | undefined> {
    const versions = await this.versions(asset);
    const last = versions.at(-1);
    return last === undefined ? undefined : this.read(asset, last);
  }

  async read(asset: string, version: number): Promise<Manifest> {
    assertAsset(asset);
    const path = join(this.tablesDir, asset, VERSIONS_DIR, manifestFileName(version));
    let text: string | undefined;
    if (Number.isSafeInteger(version) && version >= 1) {
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
      }
    }
    if (text === undefined) throw versionNotFound(asset, version, await this.versions(asset));
    return parseManifest(text, asset, version, path);
  }

  /** Published versions, ascending; temp files and anything else in `_versions/` are ignored. */
  async versions(asset: string): Promise<number[]> {
    assertAsset(asset);
    const names = await listDir(join(this.tablesDir, asset, VERSIONS_DIR));
    const versions: number[] = [];
    for (const name of names) {
      const digits = MANIFEST_NAME.exec(name)?.[1];
      if (digits === undefined) continue;
      const version = Number(digits);
      if (version >= 1 && manifestFileName(version) === name) versions.push(version);
    }
    return versions.sort((a, b) => a - b);
  }

  /** Absolute paths of the data files of the given partitions (all when omitted), sorted; unknown keys have none. */
  files(manifest: Manifest, partitions?: readonly string[]): string[] {
    const tableDir = join(this.tablesDir, assertAsset(manifest.asset));
    const keys = partitions ?? Object.keys(manifest.partitions);
    const paths: string[] = [];
    for (const key of keys) {
      // hasOwn: a key such as `__proto__` is valid and must not reach Object.prototype.
      if (!Object.hasOwn(manifest.partitions, key)) continue;
      for (const file of manifest.partitions[key]?.files ?? []) paths.push(join(tableDir, ...file.path.split('/')));
    }
    return paths.sort();
  }

  /** Tables with at least one published version, sorted. */
  async assets(): Promise<string[]> {
    const found: string[] = [];
    for (const name of await listDir(this.tablesDir)) {
      if (isValidName(name) && (await this.versions(name)).length > 0) found.push(name);
    }
    return found.sort();
  }

  async cleanStaging(runId: string): Promise<void> {
    assertRunId(runId);
    await rm(join(this.stagingDir, runId), { recursive: true, force: true });
  }

  /** Hash and fsync the staged file, then rename it to its content-addressed path (or drop it if that exists). */
  private async placeDataFile(tableDir: string, request: CommitRequest): Promise<ManifestFile> {
    const handle = await open(request.stagedFile, 'r+');
    let digest: FileDigest;
    try {
      digest = await sha256Handle(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const name = `part-${digest.sha256}.parquet`;
    const path = request.partitionColumn === null ? name : `${request.partitionColumn}=${request.partition}/${name}`;
    const absolute = join(tableDir, ...path.split('/'));
    await ensureDir(dirname(absolute));
    const existing = await stat(absolute).catch((error: unknown) => {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw error;
    });
    // Same hash and size: a byte-identical rerun. A size mismatch can only be damage, so replace it (rename is atomic).
    if (existing?.isFile() === true && existing.size === digest.bytes) await rm(request.stagedFile, { force: true });
    else await rename(request.stagedFile, absolute);
    await fsyncDir(dirname(absolute));
    return { path, sha256: digest.sha256, bytes: digest.bytes, rows: request.rows };
  }

  /** Write the next manifest; `link` fails with EEXIST when another committer took the number, so re-merge and retry. */
  private async publish(tableDir: string, request: CommitRequest, file: ManifestFile): Promise<Manifest> {
    const versionsDir = join(tableDir, VERSIONS_DIR);
    await ensureDir(versionsDir);
    for (let attempt = 0; attempt < MAX_PUBLISH_ATTEMPTS; attempt++) {
      const previous = await this.latest(request.asset);
      if (previous !== undefined) assertSameLayout(previous, request);
      const manifest = nextManifest(previous, request, file);
      const temp = join(versionsDir, `${TEMP_PREFIX}${process.pid}-${randomUUID()}.json`);
      await writeDurably(temp, `${JSON.stringify(manifest, null, 2)}\n`);
      try {
        await link(temp, join(versionsDir, manifestFileName(manifest.version)));
      } catch (error) {
        if (errnoCode(error) === 'EEXIST') continue;
        throw error;
      } finally {
        await rm(temp, { force: true });
      }
      await fsyncDir(versionsDir);
      return manifest;
    }
    throw new SluiceError(
      'COMMIT_CONFLICT',
      `could not publish a new version of table "${request.asset}" after ${MAX_PUBLISH_ATTEMPTS} attempts: other processes kept committing first; retry the run`,
      { asset: request.asset, partition: request.partition },
      { transient: true },
    );
  }
}

function nextManifest(previous: Manifest | undefined, request: CommitRequest, file: ManifestFile): Manifest {
  const now = new Date().toISOString();
  const entry: PartitionEntry = {
    key: request.partition,
    files: [file],
    rows: request.rows,
    bytes: file.bytes,
    fingerprint: request.fingerprint,
    runId: request.runId,
    committedAt: now,
    inputs: request.inputs.map((input) => ({ ...input, partitions: [...input.partitions] })),
  };
  const merged = new Map(Object.entries(previous?.partitions ?? {}));
  merged.set(request.partition, entry);
  const entries = [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let rowCount = 0;
  let bytes = 0;
  for (const [, partition] of entries) {
    rowCount += partition.rows;
    bytes += partition.bytes;
  }
  return {
    format: 1,
    asset: request.asset,
    version: (previous?.version ?? 0) + 1,
    parent: previous?.version ?? null,
    createdAt: now,
    runId: request.runId,
    partitionColumn: request.partitionColumn,
    schema: request.schema.map((column) => ({ name: column.name, type: column.type })),
    changed: [request.partition],
    partitions: Object.fromEntries(entries),
    rowCount,
    bytes,
  };
}

function parseManifest(text: string, asset: string, version: number, path: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw corruptManifest(asset, version, path, 'it is not valid JSON', error);
  }
  if (typeof value !== 'object' || value === null) throw corruptManifest(asset, version, path, 'it is not an object');
  const fields = value as Record<string, unknown>;
  if (fields['format'] !== 1) throw corruptManifest(asset, version, path, `format ${String(fields['format'])} is not 1`);
  if (fields['asset'] !== asset || fields['version'] !== version) {
    throw corruptManifest(asset, version, path, `it names ${String(fields['asset'])} version ${String(fields['version'])}`);
  }
  if (typeof fields['partitions'] !== 'object' || fields['partitions'] === null) {
    throw corruptManifest(asset, version, path, 'it has no partitions');
  }
  return value as Manifest;
}

function corruptManifest(asset: string, version: number, path: string, why: string, cause?: unknown): SluiceError {
  return new SluiceError(
    'CATALOG',
    `manifest ${path} of table "${asset}" version ${version} is unreadable: ${why}. Manifests are written only by sluice; restore the file from a backup`,
    { asset, version, file: path },
    cause === undefined ? {} : { cause },
  );
}

function versionNotFound(asset: string, version: number, existing: readonly number[]): SluiceError {
  const has =
    existing.length === 0
      ? 'it has no versions yet (run the asset first)'
      : `it has versions ${describeVersions(existing)}`;
  return new SluiceError('VERSION_NOT_FOUND', `table "${asset}" has no version ${version}: ${has}`, {
    asset,
    version,
    latest: existing.at(-1) ?? null,
  });
}

/** `1..5, 8` rather than every number: versions are normally contiguous. */
function describeVersions(versions: readonly number[]): string {
  const ranges: string[] = [];
  let start = versions[0] ?? 0;
  for (let i = 1; i <= versions.length; i++) {
    const previous = versions[i - 1] ?? 0;
    const current = versions[i];
    if (current === previous + 1) continue;
    ranges.push(start === previous ? String(start) : `${start}..${previous}`);
    if (current !== undefined) start = current;
  }
  return ranges.join(', ');
}

function assertAsset(asset: string): string {
  return assertName(asset, 'asset');
}

function isPathSegment(value: string): boolean {
  return value.length <= MAX_SEGMENT_LENGTH && PATH_SEGMENT.test(value) && !value.includes('..');
}

/** Keys become folder names, so anything that could leave the table folder is rejected before any I/O. */
export function assertPartitionKey(asset: string, key: string, allowEmpty = false): void {
  if (key === '' && allowEmpty) return;
  if (isPathSegment(key)) return;
  throw new SluiceError(
    'INVALID_PARTITION',
    `partition key ${JSON.stringify(key)} of asset "${asset}" is not allowed: use letters, digits and _ . : + - ` +
      `(starting with a letter, digit or _, no "..", no slashes, at most ${MAX_SEGMENT_LENGTH} characters)`,
    { asset, partition: key },
  );
}

function assertPartitioning(request: CommitRequest): void {
  const { asset, partition, partitionColumn } = request;
  if (partitionColumn === null) {
    if (partition === '') return;
    throw new SluiceError(
      'INVALID_PARTITION',
      `asset "${asset}" is unpartitioned (no partition column), so its partition key must be '' but got ${JSON.stringify(partition)}`,
      { asset, partition },
    );
  }
  assertName(partitionColumn, 'partition column');
  if (partition === '') {
    throw new SluiceError(
      'INVALID_PARTITION',
      `asset "${asset}" is partitioned by "${partitionColumn}", so a commit needs a partition key; got ''`,
      { asset, partition, column: partitionColumn },
    );
  }
  assertPartitionKey(asset, partition);
}

function assertSameLayout(previous: Manifest, request: CommitRequest): void {
  if (previous.partitionColumn === request.partitionColumn) return;
  const describe = (column: string | null): string => (column === null ? 'unpartitioned' : `partitioned by "${column}"`);
  throw new SluiceError(
    'COMMIT_CONFLICT',
    `table "${request.asset}" is ${describe(previous.partitionColumn)} as of version ${previous.version}, but this commit is ` +
      `${describe(request.partitionColumn)}: partitioning cannot change in place; give the asset a new name or delete its table folder`,
    { asset: request.asset, partition: request.partition, version: previous.version },
  );
}

function assertRunId(runId: string): void {
  if (isPathSegment(runId)) return;
  throw new SluiceError('INVALID_IDENTIFIER', `run id ${JSON.stringify(runId)} cannot name a staging folder`, { runId });
}

function errnoCode(error: unknown): string | undefined {
  return error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
}

/** Create the temp file exclusively, write it and fsync before it is linked anywhere a reader looks. */
async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** mkdir -p, then fsync the parent of every folder it created so the new entries survive a power loss. */
async function ensureDir(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  const parents: string[] = [];
  for (let current = dir; ; current = dirname(current)) {
    parents.push(dirname(current));
    if (current === first || dirname(current) === current) break;
  }
  for (const parent of parents) await fsyncDir(parent);
}

async function fsyncDir(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS metadata is journaled anyway.
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
