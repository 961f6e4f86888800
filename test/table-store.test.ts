// The offline table store on real files in a temp folder: versions, partition replacement, time travel,
// content addressing, validation, and two child-process tests (concurrent committers, SIGKILL at random moments).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SluiceError } from '../src/errors.ts';
import { sha256File } from '../src/store/tables/hash.ts';
import { TableStore } from '../src/store/tables/table-store.ts';
import type { Manifest } from '../src/store/tables/manifest.ts';
import type { CommitterConfig } from './fixtures/table-committer.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const committer = join(repoRoot, 'test', 'fixtures', 'table-committer.ts');
const schema = [
  { name: 'id', type: 'BIGINT' },
  { name: 'amount', type: 'DOUBLE' },
];

let root: string;
let store: TableStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-tables-'));
  store = new TableStore({ tablesDir: join(root, 'tables'), stagingDir: join(root, 'staging') });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

interface Put {
  readonly asset?: string;
  readonly partition?: string;
  readonly partitionColumn?: string | null;
  readonly content: string;
  readonly rows?: number;
  readonly runId?: string;
  readonly schema?: ReadonlyArray<{ name: string; type: string }>;
}

async function put(request: Put): Promise<Awaited<ReturnType<TableStore['commit']>> & { stagedFile: string }> {
  const asset = request.asset ?? 'orders';
  const partition = request.partition ?? '2026-01-01';
  const runId = request.runId ?? 'run-1';
  const stagedFile = store.stagingPath(runId, asset, partition);
  await writeFile(stagedFile, request.content);
  const result = await store.commit({
    asset,
    partition,
    partitionColumn: request.partitionColumn === undefined ? 'date' : request.partitionColumn,
    stagedFile,
    schema: request.schema ?? schema,
    rows: request.rows ?? 10,
    runId,
    fingerprint: `fp:${request.content}`,
    inputs: [{ dataset: 'raw_orders', kind: 'source', version: null, partitions: [partition], fingerprint: 'src' }],
  });
  return { ...result, stagedFile };
}

async function expectSluiceError(promise: Promise<unknown> | (() => unknown), code: string, ...parts: string[]) {
  let caught: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SluiceError);
  const error = caught as SluiceError;
  expect(error.code).toBe(code);
  for (const part of parts) expect(error.message).toContain(part);
  return error;
}

describe('TableStore', () => {
  it('commits, then reads the version back through latest, read and files', async () => {
    const { manifest, file, stagedFile } = await put({ partition: '', partitionColumn: null, content: 'hello', rows: 3 });
    expect(file).toEqual({ path: `part-${sha256('hello')}.parquet`, sha256: sha256('hello'), bytes: 5, rows: 3 });
    expect(manifest).toMatchObject({
      format: 2,
      asset: 'orders',
      version: 1,
      parent: null,
      runId: 'run-1',
      partitionColumn: null,
      changed: [''],
      removed: [],
      schemaChanges: [],
      rowCount: 3,
      bytes: 5,
    });
    expect(manifest.partitions['']?.files).toEqual([file]);
    expect(existsSync(stagedFile)).toBe(false);
    expect(await store.latest('orders')).toEqual(manifest);
    expect(await store.read('orders', 1)).toEqual(manifest);
    expect(await store.versions('orders')).toEqual([1]);
    expect(await store.assets()).toEqual(['orders']);
    expect(await readdir(join(root, 'versions', 'orders', 'log'))).toEqual(['00000001.json']);
    const [path] = store.files(manifest);
    expect(path).toBe(join(root, 'versions', 'orders', 'data', `part-${sha256('hello')}.parquet`));
    // The Hive folder outside readers see holds the current file and nothing else.
    expect(await readdir(join(root, 'tables', 'orders'))).toEqual([`part-${sha256('hello')}.parquet`]);
    expect(await readFile(path ?? '', 'utf8')).toBe('hello');
    expect(await store.latest('customers')).toBeUndefined();
  });

  it('replaces one partition and keeps the others', async () => {
    await put({ partition: '2026-01-01', content: 'day one', rows: 1 });
    const second = await put({ partition: '2026-01-02', content: 'day two', rows: 2 });
    const newSchema = [...schema, { name: 'note', type: 'VARCHAR' }];
    const { manifest } = await put({ partition: '2026-01-01', content: 'day one, again', rows: 4, runId: 'run-2', schema: newSchema });

    expect(manifest.version).toBe(3);
    expect(manifest.parent).toBe(2);
    expect(manifest.changed).toEqual(['2026-01-01']);
    expect(manifest.schema).toEqual(newSchema);
    expect(manifest.schemaChanges).toEqual([{ column: 'note', change: 'added', from: null, to: 'VARCHAR', breaking: false }]);
    expect(manifest.partitions['2026-01-01']?.schema).toEqual(newSchema);
    expect(manifest.partitions['2026-01-02']?.schema).toEqual(schema);
    expect(Object.keys(manifest.partitions)).toEqual(['2026-01-01', '2026-01-02']);
    expect(manifest.partitions['2026-01-02']).toEqual(second.manifest.partitions['2026-01-02']);
    expect(manifest.partitions['2026-01-01']).toMatchObject({ rows: 4, runId: 'run-2', fingerprint: 'fp:day one, again' });
    expect(manifest.rowCount).toBe(6);
    expect(manifest.bytes).toBe('day one, again'.length + 'day two'.length);
    const dayTwo = join(root, 'versions', 'orders', 'data', 'date=2026-01-02', `part-${sha256('day two')}.parquet`);
    expect(store.files(manifest, ['2026-01-02'])).toEqual([dayTwo]);
    expect(store.files(manifest, ['2026-01-02', '2026-12-31', '__proto__'])).toEqual([dayTwo]);
    expect(store.files(manifest)).toHaveLength(2);
  });

  it('time travels: version 1 stays readable, with its files, after later commits', async () => {
    const first = await put({ content: 'v1' });
    await put({ content: 'v2' });
    await put({ content: 'v3' });
    expect(await store.versions('orders')).toEqual([1, 2, 3]);
    const v1 = await store.read('orders', 1);
    expect(v1).toEqual(first.manifest);
    const paths = store.files(v1);
    expect(paths).toHaveLength(1);
    expect(await readFile(paths[0] ?? '', 'utf8')).toBe('v1');
    expect((await store.latest('orders'))?.partitions['2026-01-01']?.files[0]?.sha256).toBe(sha256('v3'));

    const missing = await expectSluiceError(store.read('orders', 7), 'VERSION_NOT_FOUND', '"orders"', 'version 7', '1..3');
    expect(missing.context).toMatchObject({ asset: 'orders', version: 7, latest: 3 });
    await expectSluiceError(store.read('orders', 0), 'VERSION_NOT_FOUND', '1..3');
    await expectSluiceError(store.read('customers', 1), 'VERSION_NOT_FOUND', '"customers"', 'no versions yet');
  });

  it('stores identical bytes once, at the same content-addressed path', async () => {
    const a = await put({ content: 'same bytes' });
    const b = await put({ content: 'same bytes', runId: 'run-2' });
    expect(b.file).toEqual(a.file);
    expect(b.manifest.version).toBe(2);
    expect(existsSync(b.stagedFile)).toBe(false);
    expect(await readdir(join(root, 'versions', 'orders', 'data', 'date=2026-01-01'))).toEqual([`part-${sha256('same bytes')}.parquet`]);
    expect(await readdir(join(root, 'tables', 'orders', 'date=2026-01-01'))).toEqual([`part-${sha256('same bytes')}.parquet`]);
    expect(store.files(b.manifest)).toEqual(store.files(a.manifest));
  });

  it('rejects unsafe partition keys, asset names and run ids before touching the filesystem', async () => {
    const tables = join(root, 'tables');
    const staging = join(root, 'staging');
    const badKeys = ['../../etc', '..', 'a..b', 'a/b', 'a\\b', '/etc', '.hidden', '-x', 'sp ace', 'é', 'x'.repeat(201)];
    for (const key of badKeys) {
      await expectSluiceError(() => store.stagingPath('run-1', 'orders', key), 'INVALID_PARTITION', JSON.stringify(key), '"orders"');
      const commit = store.commit({
        asset: 'orders',
        partition: key,
        partitionColumn: 'date',
        stagedFile: join(root, 'nothing.parquet'),
        schema,
        rows: 0,
        runId: 'run-1',
        fingerprint: 'fp',
        inputs: [],
      });
      const error = await expectSluiceError(commit, 'INVALID_PARTITION', JSON.stringify(key), '"orders"');
      expect(error.context).toMatchObject({ asset: 'orders', partition: key });
    }
    for (const asset of ['../orders', 'orders/x', '1orders', 'or-ders', '', 'a'.repeat(64)]) {
      await expectSluiceError(() => store.stagingPath('run-1', asset, '2026-01-01'), 'INVALID_IDENTIFIER');
      await expectSluiceError(store.versions(asset), 'INVALID_IDENTIFIER');
      await expectSluiceError(store.read(asset, 1), 'INVALID_IDENTIFIER');
    }
    for (const runId of ['../run', 'a/b', '', '.']) {
      await expectSluiceError(() => store.stagingPath(runId, 'orders', '2026-01-01'), 'INVALID_IDENTIFIER');
      await expectSluiceError(store.cleanStaging(runId), 'INVALID_IDENTIFIER');
    }
    expect(existsSync(tables)).toBe(false);
    expect(existsSync(staging)).toBe(false);
    expect(existsSync(join(root, 'etc'))).toBe(false);

    // Keys that look odd but are safe segments are accepted.
    for (const key of ['2026-11-25', '2026-11-25T10:00:00+01:00', 'eu_west.1', '_all']) {
      expect(() => store.stagingPath('run-1', 'orders', key)).not.toThrow();
    }
  });

  it('rejects a key that does not fit the partitioning, and a change of partition column', async () => {
    await expectSluiceError(put({ partition: '2026-01-01', partitionColumn: null, content: 'x' }), 'INVALID_PARTITION', "must be ''");
    await expectSluiceError(put({ partition: '', partitionColumn: 'date', content: 'x' }), 'INVALID_PARTITION', '"date"');
    await put({ content: 'by date' });
    await expectSluiceError(put({ partitionColumn: 'day', content: 'by day' }), 'COMMIT_CONFLICT', 'partitioned by "date"', 'version 1');
    expect(await store.versions('orders')).toEqual([1]);
  });

  it('ignores temp files and junk in the version log, and lists only tables with versions', async () => {
    await put({ content: 'x' });
    const versionsDir = join(root, 'versions', 'orders', 'log');
    await writeFile(join(versionsDir, '.tmp-123-abc.json'), '{"format":2,"version":2');
    await writeFile(join(versionsDir, '2.json'), '{}');
    await writeFile(join(versionsDir, 'notes.txt'), 'hi');
    expect(await store.versions('orders')).toEqual([1]);
    expect((await store.latest('orders'))?.version).toBe(1);
    await mkdir(join(root, 'versions', 'empty_table', 'log'), { recursive: true });
    await mkdir(join(root, 'tables', 'not-an-asset'), { recursive: true });
    expect(await store.assets()).toEqual(['orders']);
    // The temp is ignored, so the next commit is version 2.
    expect((await put({ content: 'y' })).manifest.version).toBe(2);
  });

  it('converts a table of the earlier format (a full manifest per version) once, keeping every version readable', async () => {
    const tableDir = join(root, 'tables', 'orders');
    const file = async (key: string, content: string): Promise<{ path: string; sha256: string; bytes: number; rows: number }> => {
      const path = `date=${key}/part-${sha256(content)}.parquet`;
      await mkdir(join(tableDir, `date=${key}`), { recursive: true });
      await writeFile(join(tableDir, ...path.split('/')), content);
      return { path, sha256: sha256(content), bytes: content.length, rows: 1 };
    };
    const entry = (key: string, f: Awaited<ReturnType<typeof file>>, runId: string) => ({ key, files: [f], rows: 1, bytes: f.bytes, fingerprint: `fp-${f.sha256}`, runId, committedAt: '2026-11-01T00:00:00.000Z', inputs: [] });
    const a1 = await file('2026-01-01', 'a1');
    const b1 = await file('2026-01-02', 'b1');
    const a2 = await file('2026-01-01', 'a2');
    const v1 = { format: 1, asset: 'orders', version: 1, parent: null, createdAt: '2026-11-01T00:00:00.000Z', runId: 'r1', partitionColumn: 'date', schema, changed: ['2026-01-01', '2026-01-02'], partitions: { '2026-01-01': entry('2026-01-01', a1, 'r1'), '2026-01-02': entry('2026-01-02', b1, 'r1') }, rowCount: 2, bytes: 4 };
    const v2 = { ...v1, version: 2, parent: 1, runId: 'r2', changed: ['2026-01-01'], partitions: { ...v1.partitions, '2026-01-01': entry('2026-01-01', a2, 'r2') } };
    await mkdir(join(tableDir, '_versions'), { recursive: true });
    await writeFile(join(tableDir, '_versions', '00000001.json'), JSON.stringify(v1));
    await writeFile(join(tableDir, '_versions', '00000002.json'), JSON.stringify(v2));

    const latest = await store.latest('orders');
    expect(latest).toMatchObject({ format: 2, version: 2, changed: ['2026-01-01'], rowCount: 2 });
    expect(latest?.partitions['2026-01-01']?.files).toEqual([a2]);
    expect((await store.read('orders', 1)).partitions['2026-01-01']?.files).toEqual([a1]);
    expect(await readFile(store.files(await store.read('orders', 1), ['2026-01-01'])[0] ?? '', 'utf8')).toBe('a1');
    // The Hive folder keeps only the current files; the old manifests are gone; a new commit carries on.
    expect(existsSync(join(tableDir, '_versions'))).toBe(false);
    expect(await readdir(join(tableDir, 'date=2026-01-01'))).toEqual([`part-${sha256('a2')}.parquet`]);
    expect((await put({ partition: '2026-01-02', content: 'b3' })).manifest.version).toBe(3);
    expect(await new TableStore({ tablesDir: join(root, 'tables'), stagingDir: join(root, 'staging') }).versions('orders')).toEqual([1, 2, 3]);
  });

  it('cleans a run staging folder', async () => {
    const path = store.stagingPath('run-9', 'orders', '2026-01-01');
    expect(path.startsWith(join(root, 'staging', 'run-9', 'orders') + sep)).toBe(true);
    expect(store.stagingPath('run-9', 'orders', '2026-01-01')).not.toBe(path);
    await writeFile(path, 'partial');
    await store.cleanStaging('run-9');
    expect(existsSync(join(root, 'staging', 'run-9'))).toBe(false);
    await store.cleanStaging('run-9');
  });
});

describe('TableStore across processes', () => {
  interface Child {
    readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
    readonly ready: Promise<void>;
    kill(): void;
  }

  function startCommitter(config: CommitterConfig): Child {
    const child = spawn(process.execPath, ['--import', 'tsx', committer, JSON.stringify(config)], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let markReady: () => void = () => undefined;
    const ready = new Promise<void>((resolveReady) => (markReady = resolveReady));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.startsWith('ready\n')) markReady();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
      (resolveExit, reject) => {
        child.on('error', reject);
        child.on('close', (code, signal) => {
          markReady();
          resolveExit({ code, signal, stdout, stderr });
        });
      },
    );
    return { exit, ready, kill: () => child.kill('SIGKILL') };
  }

  function baseConfig(prefix: string): CommitterConfig {
    return {
      mode: 'concurrent',
      tablesDir: join(root, 'tables'),
      stagingDir: join(root, 'staging'),
      asset: 'events',
      prefix,
      count: 50,
      startAt: 0,
      fileBytes: 0,
    };
  }

  it('two processes committing 50 partitions each lose nothing and leave contiguous versions', async () => {
    const startAt = Date.now() + 1500;
    const children = ['A', 'B'].map((prefix) => startCommitter({ ...baseConfig(prefix), startAt }));
    const results = await Promise.all(children.map((child) => child.exit));
    for (const result of results) expect(result, result.stderr).toMatchObject({ code: 0 });

    const published = results.flatMap((result) => (JSON.parse(result.stdout) as { published: Array<[number, string]> }).published);
    expect(published.map(([version]) => version).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(await store.versions('events')).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));

    const latest = await store.latest('events');
    expect(Object.keys(latest?.partitions ?? {})).toHaveLength(100);
    expect(latest?.partitions['A_49']).toBeDefined();
    expect(latest?.partitions['B_49']).toBeDefined();

    // Each version on disk is the one its committer published: nothing was overwritten, nothing lost in a merge.
    let previousKeys: string[] = [];
    let switches = 0;
    let previousRun = '';
    const byVersion = new Map(published);
    for (let version = 1; version <= 100; version++) {
      const manifest = await store.read('events', version);
      expect(manifest.parent).toBe(version === 1 ? null : version - 1);
      expect(manifest.changed).toEqual([byVersion.get(version)]);
      const keys = Object.keys(manifest.partitions);
      expect(keys).toHaveLength(version);
      expect(keys).toEqual(expect.arrayContaining(previousKeys));
      for (const path of store.files(manifest, manifest.changed)) {
        expect(await readFile(path, 'utf8')).toBe(`${manifest.runId} ${manifest.changed[0] ?? ''}`);
      }
      if (previousRun !== '' && manifest.runId !== previousRun) switches++;
      previousRun = manifest.runId;
      previousKeys = keys;
    }
    // The two committers really interleaved (otherwise this test proves nothing about races).
    expect(switches).toBeGreaterThan(1);
  });

  it('survives SIGKILL at random moments: the latest version stays complete and verifiable', async () => {
    const random = mulberry32(20261125);
    const hashes = new Map<string, string>();
    let rounds = 0;
    for (; rounds < 5; rounds++) {
      const child = startCommitter({ ...baseConfig('K'), mode: 'crash', fileBytes: 3 * 1024 * 1024 });
      await child.ready;
      await sleep(50 + Math.floor(random() * 700));
      child.kill();
      const result = await child.exit;
      expect(result.signal, result.stderr).toBe('SIGKILL');
      await verifyTable(store, 'events', hashes);
    }
    const versions = await store.versions('events');
    expect(versions.length).toBeGreaterThan(rounds);
    // A fresh committer carries on from whatever the kills left behind.
    const stagedFile = store.stagingPath('after', 'events', 'K_0');
    await writeFile(stagedFile, 'after the crashes');
    const { manifest } = await store.commit({
      asset: 'events',
      partition: 'K_0',
      partitionColumn: 'p',
      stagedFile,
      schema: [{ name: 'payload', type: 'BLOB' }],
      rows: 1,
      runId: 'after',
      fingerprint: 'fp',
      inputs: [],
    });
    expect(manifest.version).toBe((versions.at(-1) ?? 0) + 1);
    await verifyTable(store, 'events', hashes);
    // After a commit the Hive folder shows exactly the latest version, whatever the kills left in it.
    const shown = (await readdir(store.tableDir('events'), { recursive: true })).filter((f) => f.endsWith('.parquet')).map((f) => f.replaceAll(sep, '/')).sort();
    expect(shown).toEqual(Object.values(manifest.partitions).flatMap((e) => e.files.map((f) => f.path)).sort());
  });
});

/** Check every invariant a reader relies on; `hashes` caches sha256 by path across calls (files are immutable). */
async function verifyTable(tableStore: TableStore, asset: string, hashes: Map<string, string>): Promise<void> {
  const tableDir = tableStore.dataDir(asset);
  const hashOf = async (path: string): Promise<string> => {
    const known = hashes.get(path);
    if (known !== undefined) return known;
    const { sha256: digest } = await sha256File(path);
    hashes.set(path, digest);
    return digest;
  };

  for (const name of await readdir(tableStore.log(asset).logDir)) {
    expect(name.startsWith('.tmp-') || /^\d{8}\.json$/.test(name), name).toBe(true);
  }
  const versions = await tableStore.versions(asset);
  expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
  const latest: Manifest | undefined = await tableStore.latest(asset);
  expect(latest?.version).toBe(versions.at(-1));
  for (const version of versions) {
    const manifest = await tableStore.read(asset, version);
    for (const entry of Object.values(manifest.partitions)) {
      for (const file of entry.files) {
        const path = join(tableDir, ...file.path.split('/'));
        expect((await stat(path)).size, path).toBe(file.bytes);
        expect(await hashOf(path), path).toBe(file.sha256);
      }
    }
  }
  // Every file at a content-addressed path, referenced or orphaned by a kill, holds exactly the bytes its name
  // says, in the version store and in the Hive folder alike.
  for (const dir of [tableDir, tableStore.tableDir(asset)]) {
    for (const entry of await readdir(dir, { recursive: true })) {
      const match = /part-([0-9a-f]{64})\.parquet$/.exec(entry);
      if (match === null) continue;
      const path = join(dir, entry);
      expect(await hashOf(path), relative(dir, path)).toBe(match[1]);
    }
  }
}

/** A small seeded PRNG so the kill timings repeat from run to run. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
