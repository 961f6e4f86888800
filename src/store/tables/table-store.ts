// The offline table store. Every file of every kept version lives, content-addressed and immutable, under
// `<versions>/<asset>/data/`; what each version contains is its version log (table-log.ts); and the Hive
// folder `tables/<asset>/` holds exactly the current version's files (folder.ts) for outside readers. Pure
// filesystem: a version is published by hard-linking a fully written log entry, so a crash or a concurrent
// committer never exposes or overwrites one.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { SluiceError } from '../../errors.ts';
import { assertName, isValidName } from '../../sql/identifiers.ts';
import { reconcileFolder, syncPartitionFolder, withFolderLock } from './folder.ts';
import { ownerIsGone, PROCESS_OWNER } from '../owner.ts';
import { sha256Handle } from './hash.ts';
import type { FileDigest } from './hash.ts';
import type { ColumnSchema, InputRef, Manifest, ManifestFile, PartitionEntry, VersionSummary } from './manifest.ts';
import { applySchemaPolicy, diffSchema, type SchemaPolicy } from './schema-evolution.ts';
import { applyChanges, ensureDir, errnoCode, fsyncDir, hivePath, listDir, SNAPSHOT_EVERY, TableLog, type LogEntry } from './table-log.ts';
import { SnapshotThread } from './snapshot-thread.ts';
import { migrateLegacyTable } from './legacy.ts';

export interface TableStoreOptions {
  /** Root of the Hive folders outside readers read, e.g. `.sluice/tables`. */
  readonly tablesDir: string;
  /** Where callers write data files before commit; must be on the same filesystem as versionsDir. */
  readonly stagingDir: string;
  /** Version logs, snapshots and every kept version's files; default: `versions` beside tablesDir. */
  readonly versionsDir?: string;
  /** Versions between snapshots (default SNAPSHOT_EVERY). */
  readonly snapshotEvery?: number;
}

export interface CommitRequest {
  readonly asset: string;
  /** Partition key, or '' for an unpartitioned table (partitionColumn null). */
  readonly partition: string;
  readonly partitionColumn: string | null;
  /** A file from `stagingPath`; it is consumed (moved or removed) by a successful commit. */
  readonly stagedFile: string;
  /** The staged file's columns, with the partition column. */
  readonly schema: readonly ColumnSchema[];
  readonly rows: number;
  readonly runId: string;
  readonly fingerprint: string;
  readonly inputs: readonly InputRef[];
  /** How the table's schema may change (default 'evolve'). */
  readonly schemaPolicy?: SchemaPolicy | undefined;
  /** Accept a change the policy refuses, recorded as breaking. */
  readonly allowSchemaChange?: boolean | undefined;
}

/** Several partitions of one table in one version: each staged file replaces its partition. */
export interface MultiCommitRequest extends Omit<CommitRequest, 'partition' | 'stagedFile' | 'schema' | 'rows'> {
  readonly partitions: readonly {
    readonly key: string; readonly stagedFile: string; readonly schema: readonly ColumnSchema[]; readonly rows: number;
    /** This partition's own fingerprint and inputs instead of the request's (a rewrite that keeps what the partition was built from). */
    readonly fingerprint?: string; readonly inputs?: readonly InputRef[];
  }[];
  /**
   * Remove the table's partitions starting with this prefix that are not in `partitions` (the keys a dynamic
   * asset no longer produces: '' for every key, `2026-01-01|` for one day's); null removes nothing.
   */
  readonly removeWithin: string | null;
}

export interface MultiCommitResult {
  readonly manifest: Manifest;
  readonly files: readonly ManifestFile[];
}

export interface CommitResult {
  readonly manifest: Manifest;
  readonly file: ManifestFile;
}

/** Safe as one path segment: no separators, no leading dot, no '..'. */
const PATH_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.:+-]*$/;
const MAX_SEGMENT_LENGTH = 200;
/** Each failed attempt means another committer published a version, so the loop only spins under heavy contention. */
const MAX_PUBLISH_ATTEMPTS = 1000;
/** Older versions kept in memory after a time-travel read. */
const OLD_VERSION_CACHE = 4;
const FOLDER_MARKER = 'folder-version';

/** The latest state of one table, kept per process: the next commit applies one entry to it. */
interface TableState {
  manifest: Manifest;
  readonly partitions: Map<string, PartitionEntry>;
}

export class TableStore {
  readonly tablesDir: string;
  readonly stagingDir: string;
  readonly versionsDir: string;
  readonly #snapshotEvery: number;
  readonly #latest = new Map<string, TableState>();
  readonly #old = new Map<string, Manifest>();
  readonly #folderChecked = new Set<string>();
  readonly #pending = new Set<Promise<void>>();
  #snapshots: SnapshotThread | undefined;
  readonly #migrated = new Set<string>();

  constructor(options: TableStoreOptions) {
    this.tablesDir = resolve(options.tablesDir);
    this.stagingDir = resolve(options.stagingDir);
    this.versionsDir = resolve(options.versionsDir ?? join(dirname(this.tablesDir), 'versions'));
    this.#snapshotEvery = options.snapshotEvery ?? SNAPSHOT_EVERY;
  }

  /** A fresh path for the caller to write one data file into; its folder exists on return. */
  stagingPath(runId: string, asset: string, partition: string): string {
    assertRunId(runId);
    assertAsset(asset);
    for (const part of partition.split('|')) assertPartitionKey(asset, part, partition === '');
    const dir = join(this.stagingDir, runId, asset);
    mkdirSync(dir, { recursive: true });
    return join(dir, `${partition === '' ? '_' : partition.replaceAll('|', '+')}.${randomUUID()}.parquet`);
  }

  /** Move a staged file into the table and publish a new version in which it replaces its partition. */
  async commit(request: CommitRequest): Promise<CommitResult> {
    assertPartitioning(request);
    const { partition, stagedFile, schema, rows, ...common } = request;
    const result = await this.commitPartitions({ ...common, partitions: [{ key: partition, stagedFile, schema, rows }], removeWithin: null });
    return { manifest: result.manifest, file: result.files[0] as ManifestFile };
  }

  /**
   * Publish one version that replaces several partitions at once (a dynamic asset's step writes every key it
   * found) and, with `removeWithin`, removes the table's partitions of that scope not among them. Their files share one schema.
   */
  async commitPartitions(request: MultiCommitRequest): Promise<MultiCommitResult> {
    const { asset } = request;
    assertAsset(asset);
    for (const part of request.partitions) assertPartitioning({ asset, partition: part.key, partitionColumn: request.partitionColumn });
    const schema = request.partitions[0]?.schema ?? [];
    const previous = await this.latest(asset);
    if (previous !== undefined) assertSameLayout(previous, request.partitionColumn, request.partitions[0]?.key ?? '');
    const where = request.partitions.length === 1 ? (request.partitions[0]?.key ?? '') : '';
    const decide = (prev: Manifest | undefined): ReturnType<typeof applySchemaPolicy> => applySchemaPolicy(
      diffSchema(prev?.schema, schema), request.schemaPolicy ?? 'evolve', request.allowSchemaChange === true,
      { asset, partition: where, version: prev?.version ?? null },
    );
    // Refused before the files move (nothing to clean up), and again against the version actually replaced.
    decide(previous);
    const files: ManifestFile[] = [];
    for (const part of request.partitions) files.push(await this.#placeDataFile({ asset, partitionColumn: request.partitionColumn, partition: part.key, stagedFile: part.stagedFile, rows: part.rows }));
    const keys = new Set(request.partitions.map((p) => p.key));
    const manifest = await this.#publish(asset, request.runId, request.partitionColumn, (prev) => {
      const decision = decide(prev);
      const committedAt = new Date().toISOString();
      const put = request.partitions.map((part, i): PartitionEntry => ({
        key: part.key,
        files: [files[i] as ManifestFile],
        rows: part.rows,
        bytes: (files[i] as ManifestFile).bytes,
        fingerprint: part.fingerprint ?? request.fingerprint,
        runId: request.runId,
        committedAt,
        inputs: (part.inputs ?? request.inputs).map((input) => ({ ...input, partitions: [...input.partitions] })),
        schema: part.schema.map((c) => ({ name: c.name, type: c.type })),
      }));
      const within = request.removeWithin;
      const remove = within !== null && prev !== undefined ? Object.keys(prev.partitions).filter((key) => key.startsWith(within) && !keys.has(key)).sort() : [];
      return { put, remove, schema: decision.schema, schemaChanges: decision.changes };
    });
    return { manifest, files };
  }

  /**
   * Publish a version without the given partitions (`sluice delete`): downstream steps that read them see
   * them gone on their next run. Keys the table does not have are an error naming the ones it has.
   */
  async deletePartitions(asset: string, keys: readonly string[], runId: string): Promise<Manifest> {
    assertAsset(asset);
    assertRunId(runId);
    const current = await this.latest(asset);
    if (current === undefined) throw new SluiceError('VERSION_NOT_FOUND', `table "${asset}" has no versions yet: nothing to delete`, { asset });
    const missing = keys.filter((key) => !Object.hasOwn(current.partitions, key));
    if (missing.length > 0) {
      const have = Object.keys(current.partitions);
      throw new SluiceError('INVALID_PARTITION', `table "${asset}" has no partition ${missing.map((k) => JSON.stringify(k)).join(', ')} as of version ${current.version}; it has ${have.length} partition(s)${have.length > 0 ? `, ${have[0] ?? ''} … ${have.at(-1) ?? ''}` : ''}`, { asset, partition: missing[0] });
    }
    return this.#publish(asset, runId, current.partitionColumn, (prev) => ({
      put: [],
      remove: keys.filter((key) => prev !== undefined && Object.hasOwn(prev.partitions, key)),
      schema: prev?.schema ?? [],
      schemaChanges: [],
    }));
  }

  async latest(asset: string): Promise<Manifest | undefined> {
    assertAsset(asset);
    const latest = await this.#latestState(asset);
    // Once per table and process: a folder left behind by a committer that died mid-switch is caught up.
    if (latest !== undefined && !this.#folderChecked.has(asset)) {
      this.#folderChecked.add(asset);
      if ((await this.#readFolderMarker(asset)) < latest.version) await this.#switchFolder(asset, false);
    }
    return latest;
  }

  async #latestState(asset: string): Promise<Manifest | undefined> {
    await this.#migrate(asset);
    const log = this.#log(asset);
    const state = this.#latest.get(asset);
    if (state !== undefined) {
      // Versions other processes published since: apply their entries.
      let last: LogEntry | undefined;
      for (let next = state.manifest.version + 1; await log.has(next); next++) {
        const entry = await log.read(next);
        if (entry === undefined) break;
        applyChanges(state.partitions, entry);
        last = entry;
      }
      if (last !== undefined) state.manifest = manifestOf(last, state.partitions);
      return state.manifest;
    }
    // Entries after the latest snapshot are contiguous up to the latest version: probe them instead of
    // listing a log that holds a version per commit.
    let last = (await log.snapshots()).at(-1) ?? 0;
    // One probe first: a table never built (status and the UI ask about every asset) costs one stat, not 64.
    if (await log.has(last + 1)) {
      last += 1;
      for (;;) {
        const probes = await Promise.all(Array.from({ length: 64 }, (_, i) => log.has(last + 1 + i)));
        const missing = probes.indexOf(false);
        last += missing === -1 ? 64 : missing;
        if (missing !== -1) break;
      }
    }
    if (last === 0) return undefined;
    const built = await this.#build(asset, last);
    const existing = this.#latest.get(asset);
    if (existing !== undefined && existing.manifest.version >= built.manifest.version) return existing.manifest;
    this.#latest.set(asset, built);
    return built.manifest;
  }

  async read(asset: string, version: number): Promise<Manifest> {
    assertAsset(asset);
    const latest = await this.latest(asset);
    if (latest?.version === version) return latest;
    const key = `${asset}@${version}`;
    const cached = this.#old.get(key);
    if (cached !== undefined) return cached;
    const log = this.#log(asset);
    if (!Number.isSafeInteger(version) || version < 1 || !(await log.has(version))) throw versionNotFound(asset, version, await log.versions());
    const { manifest } = await this.#build(asset, version);
    this.#old.set(key, manifest);
    if (this.#old.size > OLD_VERSION_CACHE) this.#old.delete(this.#old.keys().next().value as string);
    return manifest;
  }

  /** Published versions still kept, ascending. */
  async versions(asset: string): Promise<number[]> {
    assertAsset(asset);
    await this.#migrate(asset);
    return this.#log(asset).versions();
  }

  /** Every kept version as its log entry tells it, without rebuilding partition maps; ascending. */
  async history(asset: string): Promise<VersionSummary[]> {
    const log = this.#log(asset);
    const versions = await this.versions(asset);
    const summaries: VersionSummary[] = [];
    for (let i = 0; i < versions.length; i += 64) {
      const entries = await Promise.all(versions.slice(i, i + 64).map((v) => log.read(v)));
      for (const entry of entries) if (entry !== undefined) summaries.push(summaryOf(entry));
    }
    return summaries;
  }

  /** One version as its log entry tells it (no partition map), or undefined when it is not kept. */
  async summary(asset: string, version: number): Promise<VersionSummary | undefined> {
    const entry = await this.#log(assertAsset(asset)).read(version);
    return entry === undefined ? undefined : summaryOf(entry);
  }

  /** Absolute paths of the data files of the given partitions (all when omitted), sorted; unknown keys have none. */
  files(manifest: Manifest, partitions?: readonly string[]): string[] {
    const dataDir = this.dataDir(assertAsset(manifest.asset));
    const keys = partitions ?? Object.keys(manifest.partitions);
    const paths: string[] = [];
    for (const key of keys) {
      // hasOwn: a key such as `__proto__` is valid and must not reach Object.prototype.
      if (!Object.hasOwn(manifest.partitions, key)) continue;
      for (const file of manifest.partitions[key]?.files ?? []) paths.push(join(dataDir, ...file.path.split('/')));
    }
    return paths.sort();
  }

  /** Where every kept file of a table lives: `<versions>/<asset>/data`. */
  dataDir(asset: string): string {
    return join(this.versionsDir, assertAsset(asset), 'data');
  }

  /** The Hive folder outside readers read: `tables/<asset>`. */
  tableDir(asset: string): string {
    return join(this.tablesDir, assertAsset(asset));
  }

  /** The version log of a table (vacuum compacts it). */
  log(asset: string): TableLog {
    return this.#log(assertAsset(asset));
  }

  /** Tables with at least one published version, sorted. */
  async assets(): Promise<string[]> {
    const names = new Set([...await listDir(this.versionsDir), ...await listDir(this.tablesDir)]);
    const found: string[] = [];
    for (const name of names) {
      if (isValidName(name) && (await this.versions(name)).length > 0) found.push(name);
    }
    return found.sort();
  }

  async cleanStaging(runId: string): Promise<void> {
    assertRunId(runId);
    await rm(join(this.stagingDir, runId), { recursive: true, force: true });
  }

  /** Make `tables/<asset>/` hold exactly the current version's files (after a crash, or files put there by hand). */
  async syncFolder(asset: string): Promise<void> {
    assertAsset(asset);
    await withFolderLock(this.#folderLock(asset), PROCESS_OWNER, ownerIsGone, async () => {
      const latest = await this.#latestState(asset);
      await reconcileFolder(this.tableDir(asset), this.dataDir(asset), latest);
      if (latest !== undefined) await this.#writeFolderMarker(asset, latest.version);
    }, { wait: true });
  }

  /**
   * Bring the Hive folder up to the latest version, holding the folder lock: the partitions changed by every
   * version since the one the folder shows (its marker) are switched. Committers call it after publishing,
   * so a switch a dead committer never made is made by the next one; readers call it (without waiting for the
   * lock) when they first open a table.
   */
  async #switchFolder(asset: string, wait: boolean): Promise<void> {
    await withFolderLock(this.#folderLock(asset), PROCESS_OWNER, ownerIsGone, async () => {
      const shown = await this.#readFolderMarker(asset);
      const latest = await this.#latestState(asset);
      if (latest === undefined || shown >= latest.version) return;
      const tableDir = this.tableDir(asset);
      const dataDir = this.dataDir(asset);
      const log = this.#log(asset);
      const keys = new Set<string>();
      let complete = shown > 0;
      for (let version = shown + 1; complete && version <= latest.version; version++) {
        const entry = await log.read(version);
        if (entry === undefined) complete = false;
        else for (const key of [...entry.put.map((p) => p.key), ...entry.remove]) keys.add(key);
      }
      if (complete) {
        for (const key of keys) await syncPartitionFolder(tableDir, dataDir, latest.partitionColumn, key, latest.partitions[key]);
      } else {
        await reconcileFolder(tableDir, dataDir, latest);
      }
      await this.#writeFolderMarker(asset, latest.version);
    }, { wait });
  }

  #folderLock(asset: string): string {
    return join(this.versionsDir, asset, 'folder.lock');
  }

  /** Wait for snapshots still being written. */
  async close(): Promise<void> {
    await Promise.all([...this.#pending]);
    await this.#snapshots?.close();
    this.#snapshots = undefined;
  }

  #defer(task: Promise<void>): void {
    // A snapshot that could not be written costs later opens some time, nothing else: the log has it all.
    const tracked: Promise<void> = task.catch(() => undefined).finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /** Forget what this process remembers of a table (after vacuum rewrote its log). */
  forget(asset: string): void {
    this.#latest.delete(asset);
    for (const key of [...this.#old.keys()]) if (key.startsWith(`${asset}@`)) this.#old.delete(key);
  }

  #log(asset: string): TableLog {
    return new TableLog(join(this.versionsDir, asset), asset);
  }

  /** Rebuild a version: the nearest snapshot at or before it, then the entries after that snapshot. */
  async #build(asset: string, version: number): Promise<TableState> {
    const log = this.#log(asset);
    const base = (await log.snapshots()).filter((s) => s <= version).at(-1);
    const partitions = base === undefined ? new Map<string, PartitionEntry>() : await log.readSnapshot(base);
    const from = (base ?? 0) + 1;
    let last: LogEntry | undefined;
    for (let start = from; start <= version; start += 64) {
      const numbers = Array.from({ length: Math.min(64, version - start + 1) }, (_, i) => start + i);
      const entries = await Promise.all(numbers.map((n) => log.read(n)));
      for (const [i, entry] of entries.entries()) {
        if (entry === undefined) throw versionNotFound(asset, numbers[i] ?? version, await log.versions());
        applyChanges(partitions, entry);
        last = entry;
      }
    }
    // A version that is a snapshot's own: its entry still holds the header.
    last ??= await log.read(version);
    if (last === undefined) throw versionNotFound(asset, version, await log.versions());
    return { manifest: manifestOf(last, partitions), partitions };
  }

  /**
   * Publish the next version: `change` computes it from the previous one and runs again whenever another
   * committer took the number first. Then the snapshot (every N versions) and the Hive folder follow.
   */
  async #publish(asset: string, runId: string, partitionColumn: string | null, change: (previous: Manifest | undefined) => Pick<LogEntry, 'put' | 'remove' | 'schema' | 'schemaChanges'>): Promise<Manifest> {
    const log = this.#log(asset);
    for (let attempt = 0; attempt < MAX_PUBLISH_ATTEMPTS; attempt++) {
      const previous = await this.#latestState(asset);
      const { put, remove, schema, schemaChanges } = change(previous);
      const state = this.#latest.get(asset);
      const partitions = state?.partitions ?? new Map<string, PartitionEntry>();
      let rowCount = previous?.rowCount ?? 0;
      let bytes = previous?.bytes ?? 0;
      let count = partitions.size;
      for (const entry of put) {
        const old = partitions.get(entry.key);
        rowCount += entry.rows - (old?.rows ?? 0);
        bytes += entry.bytes - (old?.bytes ?? 0);
        if (old === undefined) count++;
      }
      for (const key of remove) {
        const old = partitions.get(key);
        if (old === undefined) continue;
        rowCount -= old.rows;
        bytes -= old.bytes;
        count--;
      }
      const version = (previous?.version ?? 0) + 1;
      const entry: LogEntry = {
        format: 2, asset, version, parent: previous?.version ?? null, createdAt: new Date().toISOString(), runId,
        partitionColumn, schema, schemaChanges, put, remove, rowCount, bytes, partitionCount: count,
      };
      if (!(await log.publish(entry))) continue;
      const current = this.#latest.get(asset);
      let manifest: Manifest;
      if (current === undefined || current.manifest.version === version - 1) {
        const map = current?.partitions ?? new Map<string, PartitionEntry>();
        manifest = applyEntry(map, entry);
        this.#latest.set(asset, { manifest, partitions: map });
      } else {
        manifest = (await this.read(asset, version));
      }
      // The snapshot is written while the caller goes on (close() waits for it): only opening cost depends on it.
      if (version % this.#snapshotEvery === 0) {
        this.#snapshots ??= new SnapshotThread();
        this.#defer(this.#snapshots.write({ root: log.root, asset, version, partitionColumn }));
      }
      await this.#switchFolder(asset, true);
      return manifest;
    }
    throw new SluiceError(
      'COMMIT_CONFLICT',
      `could not publish a new version of table "${asset}" after ${MAX_PUBLISH_ATTEMPTS} attempts: other processes kept committing first; retry the run`,
      { asset },
      { transient: true },
    );
  }

  /** Hash and fsync the staged file, then rename it to its content-addressed path (or drop it if that exists). */
  async #placeDataFile(request: Pick<CommitRequest, 'asset' | 'partitionColumn' | 'partition' | 'stagedFile' | 'rows'>): Promise<ManifestFile> {
    const handle = await open(request.stagedFile, 'r+');
    let digest: FileDigest;
    try {
      digest = await sha256Handle(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const name = `part-${digest.sha256}.parquet`;
    const path = request.partitionColumn === null ? name : `${hivePath(request.partitionColumn, request.partition)}/${name}`;
    const absolute = join(this.dataDir(request.asset), ...path.split('/'));
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

  async #readFolderMarker(asset: string): Promise<number> {
    try {
      const value = Number((await readFile(join(this.versionsDir, asset, FOLDER_MARKER), 'utf8')).trim());
      return Number.isSafeInteger(value) ? value : 0;
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return 0;
      throw error;
    }
  }

  async #writeFolderMarker(asset: string, version: number): Promise<void> {
    // Under the folder lock; a temp file and rename, so a reader never sees a torn number.
    const marker = join(this.versionsDir, asset, FOLDER_MARKER);
    const temp = `${marker}.${randomUUID()}.tmp`;
    await writeFile(temp, `${version}\n`);
    await rename(temp, marker);
  }

  /** A table written by an earlier sluice (format 1, manifests in `tables/<asset>/_versions`) is converted once. */
  async #migrate(asset: string): Promise<void> {
    if (this.#migrated.has(asset)) return;
    await migrateLegacyTable(this, asset);
    this.#migrated.add(asset);
  }
}

/** Apply one log entry to a partition map (in place) and return the manifest of its version. */
function applyEntry(partitions: Map<string, PartitionEntry>, entry: LogEntry): Manifest {
  applyChanges(partitions, entry);
  return manifestOf(entry, partitions);
}

/**
 * The manifest of an entry's version over the partition map as of that version. The map keeps changing
 * with later versions, so the entries are copied out now; the sorted record callers read by key is built
 * on first use (a commit in a loop of commits never needs it).
 */
function manifestOf(entry: LogEntry, partitions: ReadonlyMap<string, PartitionEntry>): Manifest {
  const entries = [...partitions.values()];
  const { partitionCount: _count, ...header } = summaryOf(entry);
  let record: Readonly<Record<string, PartitionEntry>> | undefined;
  const manifest = Object.freeze(Object.defineProperty({ ...header }, 'partitions', {
    enumerable: true,
    get(): Readonly<Record<string, PartitionEntry>> {
      record ??= Object.freeze(Object.fromEntries([...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((e) => [e.key, e])));
      return record;
    },
  })) as Manifest;
  return manifest;
}

function summaryOf(entry: LogEntry): VersionSummary {
  return {
    format: 2,
    asset: entry.asset,
    version: entry.version,
    parent: entry.parent,
    createdAt: entry.createdAt,
    runId: entry.runId,
    partitionColumn: entry.partitionColumn,
    schema: entry.schema,
    changed: [...entry.put.map((p) => p.key), ...entry.remove],
    removed: entry.remove,
    schemaChanges: entry.schemaChanges,
    rowCount: entry.rowCount,
    bytes: entry.bytes,
    partitionCount: entry.partitionCount,
  };
}

function versionNotFound(asset: string, version: number, existing: readonly number[]): SluiceError {
  const has =
    existing.length === 0
      ? 'it has no versions yet (run the asset first)'
      : `it has versions ${describeVersions(existing)}${(existing[0] ?? 1) > version && version >= 1 ? ' (older ones were removed by sluice vacuum)' : ''}`;
  return new SluiceError('VERSION_NOT_FOUND', `table "${asset}" has no version ${version}: ${has}`, {
    asset,
    version,
    latest: existing.at(-1) ?? null,
  });
}

/** `1..5, 8` rather than every number: versions are normally contiguous. */
export function describeVersions(versions: readonly number[]): string {
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

function assertPartitioning(request: Pick<CommitRequest, 'asset' | 'partition' | 'partitionColumn'>): void {
  const { asset, partition, partitionColumn } = request;
  if (partitionColumn === null) {
    if (partition === '') return;
    throw new SluiceError(
      'INVALID_PARTITION',
      `asset "${asset}" is unpartitioned (no partition column), so its partition key must be '' but got ${JSON.stringify(partition)}`,
      { asset, partition },
    );
  }
  for (const column of partitionColumn.split('/')) assertName(column, 'partition column');
  if (partition === '') {
    throw new SluiceError(
      'INVALID_PARTITION',
      `asset "${asset}" is partitioned by "${partitionColumn}", so a commit needs a partition key; got ''`,
      { asset, partition, column: partitionColumn },
    );
  }
  const parts = partition.split('|');
  if (parts.length !== partitionColumn.split('/').length) {
    throw new SluiceError('INVALID_PARTITION', `asset "${asset}" is partitioned by ${partitionColumn.split('/').join(' and ')}, so its key has ${partitionColumn.split('/').length} part(s) separated by |; got ${JSON.stringify(partition)}`, { asset, partition });
  }
  for (const part of parts) assertPartitionKey(asset, part);
}

function assertSameLayout(previous: Manifest, partitionColumn: string | null, partition: string): void {
  if (previous.partitionColumn === partitionColumn) return;
  const describe = (column: string | null): string => (column === null ? 'unpartitioned' : `partitioned by "${column}"`);
  throw new SluiceError(
    'COMMIT_CONFLICT',
    `table "${previous.asset}" is ${describe(previous.partitionColumn)} as of version ${previous.version}, but this commit is ` +
      `${describe(partitionColumn)}: partitioning cannot change in place; give the asset a new name or delete its table folder`,
    { asset: previous.asset, partition, version: previous.version },
  );
}

function assertRunId(runId: string): void {
  if (isPathSegment(runId)) return;
  throw new SluiceError('INVALID_IDENTIFIER', `run id ${JSON.stringify(runId)} cannot name a staging folder`, { runId });
}
