// Bad input on real files through the API: corrupt Parquet, schema mismatches, malformed CSV and NDJSON
// records (CRLF and blank lines included) in `fail` and `dead-letter` modes, and missing files. Every
// failure names source, file and row/column, and publishes nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { queryTable } from '../src/batch/inspect.ts';
import { prepareSource } from '../src/batch/read-source.ts';
import { runAssets, type RunSummary } from '../src/batch/runner.ts';
import { asset, type Asset } from '../src/define/asset.ts';
import { dailyPartitions } from '../src/define/partitions.ts';
import { defineProject } from '../src/define/project.ts';
import { fileSource, type FileSource, type FileSourceOptions } from '../src/define/source.ts';
import { Engine } from '../src/engine/engine.ts';
import { SluiceError, type ErrorCode } from '../src/errors.ts';
import { quoteLiteral } from '../src/sql/identifiers.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';

const DAY = '2026-01-01';
const days = dailyPartitions({ start: DAY });

let dir: string;
let ws: Workspace | undefined;
let generator: Engine;

beforeAll(async () => {
  generator = await Engine.open({ threads: 1 });
});
afterAll(() => generator.close());
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bad-input-'));
});
afterEach(async () => {
  try {
    await ws?.close();
  } finally {
    ws = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function file(relative: string): string {
  return path.join(dir, relative);
}

function writeText(relative: string, text: string | Buffer): string {
  fs.mkdirSync(path.dirname(file(relative)), { recursive: true });
  fs.writeFileSync(file(relative), text);
  return file(relative);
}

async function writeParquet(relative: string, sql: string): Promise<string> {
  fs.mkdirSync(path.dirname(file(relative)), { recursive: true });
  await generator.withSession((s) => s.run(`COPY (${sql}) TO ${quoteLiteral(file(relative))} (FORMAT parquet)`));
  return file(relative);
}

/** Bytes from a fixed-seed generator (a linear congruential one): "random" yet the same on every run. */
function noise(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

async function open(sources: FileSource[], assets: Asset[]): Promise<Workspace> {
  const project = defineProject({ name: 'bad_input', sources, assets });
  const stateDir = path.join(dir, '.sluice');
  ws = await openWorkspace(project, dir, { stateDir, catalogUrl: `sqlite:${path.join(stateDir, 'catalog.db')}` });
  return ws;
}

/** A plain pass-through asset over a source, and one downstream of it. */
function pipeline(source: FileSource, partitioned: boolean): Asset[] {
  const copy = asset('copied', { ...(partitioned ? { partitions: days } : {}), sql: ({ ref }) => `SELECT * FROM ${ref(source)}` });
  const downstream = asset('downstream', { ...(partitioned ? { partitions: days } : {}), sql: ({ ref }) => `SELECT count(*) AS n FROM ${ref(copy)}` });
  return [copy, downstream];
}

async function run(w: Workspace, options: { force?: boolean } = {}): Promise<RunSummary> {
  const partitioned = [...w.project.datasets.values()].some((d) => d.kind === 'asset' && d.partitions !== undefined);
  return runAssets(w, { partitions: partitioned ? [DAY] : [], force: options.force ?? false });
}

function step(summary: RunSummary, assetName: string): RunSummary['steps'][number] {
  const found = summary.steps.find((s) => s.asset === assetName);
  if (found === undefined) throw new Error(`no step for ${assetName}`);
  return found;
}

/** The run failed at `copied` with a message containing every fragment, and published nothing. */
async function expectFailedRun(w: Workspace, summary: RunSummary, fragments: readonly string[]): Promise<void> {
  expect(summary.status).toBe('failed');
  const failed = step(summary, 'copied');
  expect(failed.status).toBe('failed');
  for (const fragment of fragments) expect(failed.error).toContain(fragment);
  expect(step(summary, 'downstream').status).toBe('upstream_failed');
  expect(await w.tables.latest('copied')).toBeUndefined();
  expect(await w.tables.latest('downstream')).toBeUndefined();
  const recorded = await w.catalog.listSteps(summary.runId);
  expect(recorded.find((s) => s.asset === 'copied')).toMatchObject({ status: 'failed', version: null, error: failed.error });
}

/** Read a source directly, as a step does, to see the SluiceError itself. */
async function prepare(w: Workspace, source: FileSource, anchor: string | null): Promise<Awaited<ReturnType<typeof prepareSource>>> {
  return w.engine.withSession((session) =>
    prepareSource(session, { projectDir: w.projectDir, stateDir: w.stateDir }, source, { anchor, lookback: 0, lookahead: 0 }, source.name));
}

async function expectSluiceError(promise: Promise<unknown>, code: ErrorCode): Promise<SluiceError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(SluiceError);
  expect((error as SluiceError).code).toBe(code);
  return error as SluiceError;
}

interface DeadRecord {
  source: string;
  file: string;
  line: number;
  column: string | null;
  reason: string;
  raw: string;
}

function deadLetters(w: Workspace, source: string): { files: string[]; records: DeadRecord[] } {
  const deadDir = path.join(w.stateDir, 'dead-letter', source);
  const files = fs.existsSync(deadDir) ? fs.readdirSync(deadDir).sort() : [];
  const records = files.flatMap((f) => fs.readFileSync(path.join(deadDir, f), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as DeadRecord));
  return { files, records };
}

const EVENTS_SQL = `SELECT i::BIGINT AS id, i * 1.5 AS amount FROM range(1, 101) t(i)`;

describe('Parquet sources', () => {
  const events = (columns: Record<string, string> = { id: 'BIGINT', amount: 'DOUBLE' }): FileSource =>
    fileSource('events', { format: 'parquet', path: 'data/date={date}/*.parquet', partitions: days, columns });

  it.each([
    ['random bytes', (): Promise<Buffer> => Promise.resolve(noise(600, 42))],
    ['a truncated real file', async (): Promise<Buffer> => {
      const whole = fs.readFileSync(await writeParquet('scratch/whole.parquet', EVENTS_SQL));
      return whole.subarray(0, Math.floor(whole.length / 2));
    }],
  ])('a corrupt file (%s) among good ones fails the step with SOURCE_READ naming source and file', async (_kind, corrupt) => {
    await writeParquet(`data/date=${DAY}/a.parquet`, EVENTS_SQL);
    const bad = writeText(`data/date=${DAY}/b.parquet`, await corrupt());
    await writeParquet(`data/date=${DAY}/c.parquet`, EVENTS_SQL);
    const source = events();
    const w = await open([source], pipeline(source, true));

    await expectFailedRun(w, await run(w), ['source "events"', bad]);
    const error = await expectSluiceError(prepare(w, source, DAY), 'SOURCE_READ');
    expect(error.context).toMatchObject({ source: 'events', file: bad });
    expect(error.message).toMatch(/Replace it with a complete Parquet file/);
  });

  it('bytes flipped inside a zstd page are found (footer statistics), the step fails with SOURCE_CORRUPT and nothing is published', async () => {
    // The case: 69,245 rows, 100 bytes flipped a third of the way into the file.
    const target = file(`data/date=${DAY}/a.parquet`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    await generator.withSession((s) => s.run(`COPY (SELECT i::BIGINT AS id, (i * 7919 % 100003) / 100003.0 AS amount FROM range(69245) t(i)) TO ${quoteLiteral(target)} (FORMAT parquet, COMPRESSION zstd)`));
    const bytes = fs.readFileSync(target);
    const from = Math.floor(bytes.length / 3);
    for (let i = from; i < from + 100; i++) bytes[i] = (bytes[i] as number) ^ 0xff;
    fs.writeFileSync(target, bytes);
    const source = events();
    const w = await open([source], pipeline(source, true));
    await expectFailedRun(w, await run(w), ['source "events"', target, 'is damaged']);
    const error = await expectSluiceError(prepare(w, source, DAY), 'SOURCE_CORRUPT');
    expect(error.message).toMatch(/row group 0, column amount: the footer records (min|max|null count) .*, the data read has .*replace it with a good copy/);
  });

  it('one value changed beyond the footer\'s max is found by the statistics, naming row group, column and values', async () => {
    const target = file(`data/date=${DAY}/a.parquet`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    await generator.withSession((s) => s.run(`COPY (SELECT i::BIGINT AS id, (i * 0.5)::DOUBLE AS amount FROM range(5000) t(i)) TO ${quoteLiteral(target)} (FORMAT parquet, COMPRESSION uncompressed, ROW_GROUP_SIZE 2048)`));
    const bytes = fs.readFileSync(target);
    const original = Buffer.alloc(8);
    original.writeDoubleLE(1500.5);
    const at = bytes.indexOf(original);
    expect(at).toBeGreaterThan(0);
    bytes.writeDoubleLE(1e300, at);
    fs.writeFileSync(target, bytes);
    const source = events();
    const w = await open([source], pipeline(source, true));
    const error = await expectSluiceError(prepare(w, source, DAY), 'SOURCE_CORRUPT');
    expect(error.message).toContain(`Parquet file ${target} is damaged: row group 1, column amount: the footer records max 2047.5, the data read has max 1e+300`);
    expect(error.context).toMatchObject({ source: 'events', file: target, column: 'amount' });
    // A source that opts out reads the damaged values as they are.
    await w.close();
    const trusting = fileSource('events', { format: 'parquet', path: 'data/date={date}/*.parquet', partitions: days, columns: { id: 'BIGINT', amount: 'DOUBLE' }, verifyIntegrity: false });
    const w2 = await open([trusting], pipeline(trusting, true));
    expect((await prepare(w2, trusting, DAY)).rows).toBe(5000);
  });

  it.each([['data page v1, uncompressed', 'page-crc-v1.parquet'], ['data page v2, snappy', 'page-crc-v2.parquet']])(
    'page checksums written by another tool are verified (%s): a good file reads, one changed value within the bounds is found',
    async (_kind, fixture) => {
      const good = fs.readFileSync(path.join(import.meta.dirname, 'fixtures', 'parquet', fixture));
      const target = writeText(`data/date=${DAY}/a.parquet`, good);
      const source = fileSource('scores', { format: 'parquet', path: 'data/date={date}/*.parquet', partitions: days, columns: { id: 'BIGINT', name: 'VARCHAR', score: 'BIGINT' } });
      const w = await open([source], pipeline(source, true));
      expect((await prepare(w, source, DAY)).rows).toBe(1000);

      // score 1500 (id 500) becomes 1501: inside [0, 2997], no null count changes, so only the checksum can tell.
      const bytes = Buffer.from(good);
      const original = Buffer.alloc(8);
      original.writeBigInt64LE(1500n);
      const at = bytes.indexOf(original);
      if (fixture.includes('v1')) {
        expect(at).toBeGreaterThan(0);
        bytes.writeBigInt64LE(1501n, at);
      } else {
        // Snappy-compressed: flip one byte in the middle of the last column's pages instead.
        const middle = Math.floor(bytes.length / 2);
        bytes[middle] = (bytes[middle] as number) ^ 0x01;
      }
      fs.writeFileSync(target, bytes);
      fs.utimesSync(target, new Date(), new Date(Date.now() + 5000));
      const error = await prepare(w, source, DAY).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(SluiceError);
      expect((error as SluiceError).code, (error as Error).message).toBe('SOURCE_CORRUPT');
      expect((error as Error).message).toMatch(/row group 0, column \w+: page \d+ fails its CRC32 checksum \(stored 0x[0-9a-f]{8}, the bytes give 0x[0-9a-f]{8}\)/);
    },
  );

  it.each([
    ['a missing column', `SELECT i::BIGINT AS id FROM range(3) t(i)`, 'amount', /column "amount" is missing and not optional: .* has no such column .*amount: \{ type: 'DOUBLE', optional: true \}/],
    ['VARCHAR where BIGINT is declared', `SELECT 'u' || i AS id, i * 1.5 AS amount FROM range(3) t(i)`, 'id', /column "id" in file .* is VARCHAR, but the source declares BIGINT/],
  ])('%s fails with SOURCE_SCHEMA naming source, file and column', async (_kind, sql, column, pattern) => {
    await writeParquet(`data/date=${DAY}/a.parquet`, EVENTS_SQL);
    const bad = await writeParquet(`data/date=${DAY}/b.parquet`, sql);
    const source = events();
    const w = await open([source], pipeline(source, true));

    await expectFailedRun(w, await run(w), ['source "events"', bad, `"${column}"`]);
    const error = await expectSluiceError(prepare(w, source, DAY), 'SOURCE_SCHEMA');
    expect(error.message).toMatch(pattern);
    expect(error.context).toMatchObject({ source: 'events', file: bad, column });
  });

  it('reads a numeric column narrower than the file when every value converts exactly, and names the row of one that does not', async () => {
    // DOUBLE and BIGINT in the files, INTEGER declared: whole numbers in range are fine.
    await writeParquet(`data/date=${DAY}/a.parquet`, `SELECT i::BIGINT AS id, (i * 2)::DOUBLE AS qty FROM range(1, 6) t(i)`);
    const source = events({ id: 'INTEGER', qty: 'INTEGER' });
    const w = await open([source], pipeline(source, true));
    const ok = await run(w);
    expect(ok.status).toBe('success');
    expect(await queryTable(w, 'copied', (t) => `SELECT typeof(qty) AS type, sum(qty)::INTEGER AS total FROM ${t} GROUP BY ALL`)).toEqual([{ type: 'INTEGER', total: 30 }]);

    // A fraction would be rounded, a huge id would overflow: both are bad values at their row.
    const fraction = await writeParquet(`data/date=2026-01-02/a.parquet`, `SELECT * FROM (VALUES (1::BIGINT, 1.0::DOUBLE), (2, 2.0), (3, 2.5), (4, 7.5)) t(id, qty)`);
    const huge = await writeParquet(`data/date=2026-01-03/a.parquet`, `SELECT * FROM (VALUES (1::BIGINT, 1.0::DOUBLE), (${2 ** 40}, 2.0)) t(id, qty)`);
    const failedFraction = await expectSluiceError(prepare(w, source, '2026-01-02'), 'BAD_RECORD');
    expect(failedFraction.message).toContain(`${fraction} row 3 column qty: 2.5 (DOUBLE in the file) does not convert to INTEGER`);
    expect(failedFraction.message).toContain('(and 1 more row)');
    expect(failedFraction.context).toMatchObject({ source: 'events', file: fraction, row: 3, column: 'qty' });
    const failedHuge = await expectSluiceError(prepare(w, source, '2026-01-03'), 'BAD_RECORD');
    expect(failedHuge.context).toMatchObject({ source: 'events', file: huge, row: 2, column: 'id' });

    const summary = await runAssets(w, { partitions: ['2026-01-02'] });
    expect(step(summary, 'copied').error).toContain(`source "events": bad value at ${fraction} row 3 column qty`);
    expect(Object.keys((await w.tables.latest('copied'))?.partitions ?? {})).toEqual([DAY]);
  });
});

// Physical lines: 1 header, 3-4 one record with a quoted line break, 5 blank, 6 bad cast, 7 too few
// fields, 8 too many, 10 an unterminated quote (which swallows the rest of the file).
const PAYMENT_LINES = [
  'id,amount,note',
  '1,1.5,plain',
  '2,2.5,"two',
  'lines"',
  '',
  '3,x,cast fails',
  '4,4.5',
  '5,5.5,ok,extra',
  '6,6.5,fine',
  '7,7.5,"open quote',
];
const PAYMENT_COLUMNS = { id: 'BIGINT', amount: 'DOUBLE', note: 'VARCHAR' };

function payments(options: Partial<FileSourceOptions> = {}): FileSource {
  return fileSource('payments', { format: 'csv', path: 'data/payments.csv', columns: PAYMENT_COLUMNS, ...options });
}

describe('CSV sources', () => {
  it.each([['LF', '\n'], ['CRLF', '\r\n']])('badRecords fail (%s): the first bad record fails the step with BAD_RECORD, file, line and column', async (_name, newline) => {
    const csv = writeText('data/payments.csv', `${PAYMENT_LINES.join(newline)}${newline}`);
    const source = payments();
    expect(source.badRecords).toBe('fail');
    const w = await open([source], pipeline(source, false));

    await expectFailedRun(w, await run(w), ['source "payments"', `${csv} line 6 column amount`, 'Could not convert string "x"', '(and 3 more bad records)']);
    const error = await expectSluiceError(prepare(w, source, null), 'BAD_RECORD');
    expect(error.context).toEqual({ source: 'payments', file: csv, row: 6, column: 'amount' });
    expect(error.message).toMatch(/set badRecords: 'dead-letter'/);
    expect(deadLetters(w, 'payments').files).toEqual([]);
  });

  it('badRecords fail: a row with the wrong number of fields is located by line and first missing column', async () => {
    const csv = writeText('data/payments.csv', 'id,amount,note\n1,1.5,a\n"2",2.5\n');
    const source = payments();
    const w = await open([source], pipeline(source, false));
    await expectFailedRun(w, await run(w), [`${csv} line 3 column note: missing columns: Expected Number of Columns: 3 Found: 2`]);
  });

  it.each([['LF', '\n'], ['CRLF', '\r\n']])('badRecords dead-letter (%s): good rows are published, bad ones set aside once with their reasons', async (_name, newline) => {
    const csv = writeText('data/payments.csv', `${PAYMENT_LINES.join(newline)}${newline}`);
    const source = payments({ badRecords: 'dead-letter' });
    const w = await open([source], pipeline(source, false));

    const summary = await run(w);
    expect(summary.status).toBe('success');
    expect(step(summary, 'copied').outcome?.badRecords).toBe(4);
    expect(await queryTable(w, 'copied', (t) => `SELECT id::INTEGER AS id, note FROM ${t} ORDER BY id`)).toEqual([
      { id: 1, note: 'plain' }, { id: 2, note: `two${newline}lines` }, { id: 6, note: 'fine' },
    ]);
    const recorded = await w.catalog.listSteps(summary.runId);
    expect(recorded.find((s) => s.asset === 'copied')?.badRecords).toBe(4);

    const dead = deadLetters(w, 'payments');
    expect(dead.files).toHaveLength(1);
    expect(dead.records.map((r) => [r.line, r.column, r.raw])).toEqual([
      [6, 'amount', '3,x,cast fails'],
      [7, 'note', '4,4.5'],
      [8, null, '5,5.5,ok,extra'],
      [10, 'note', '7,7.5,"open quote'],
    ]);
    for (const record of dead.records) expect(record).toMatchObject({ source: 'payments', file: csv });
    expect(dead.records.map((r) => r.reason)).toEqual([
      expect.stringMatching(/^cast: .*Could not convert string "x" to 'DOUBLE'/),
      expect.stringMatching(/^missing columns: Expected Number of Columns: 3 Found: 2/),
      expect.stringMatching(/^too many columns: Expected Number of Columns: 3 Found: 4/),
      expect.stringMatching(/^unquoted value: /),
    ]);

    // An unchanged rerun skips; a forced one rewrites the same file with the same records.
    const deadFile = path.join(w.stateDir, 'dead-letter', 'payments', dead.files[0] ?? '');
    const before = fs.readFileSync(deadFile, 'utf8');
    expect(step(await run(w), 'copied').status).toBe('skipped');
    const forced = await run(w, { force: true });
    expect(step(forced, 'copied')).toMatchObject({ status: 'success', outcome: { badRecords: 4 } });
    expect(deadLetters(w, 'payments').files).toEqual(dead.files);
    expect(fs.readFileSync(deadFile, 'utf8')).toBe(before);

    // Fixed input: no bad records, and no stale dead letters left behind.
    writeText('data/payments.csv', 'id,amount,note\n1,1.5,plain\n');
    const fixed = await run(w);
    expect(step(fixed, 'copied')).toMatchObject({ status: 'success', outcome: { badRecords: 0 } });
    expect(deadLetters(w, 'payments').files).toEqual([]);
  });

  it('dead letters of one input file are written once, however many partition windows read it', async () => {
    const source = fileSource('daily', {
      format: 'csv', path: 'data/day={date}.csv', partitions: days, columns: { id: 'BIGINT' }, badRecords: 'dead-letter',
    });
    writeText(`data/day=${DAY}.csv`, 'id\n1\nbad\n2\n');
    writeText('data/day=2026-01-02.csv', 'id\n3\n4\nworse\n');
    const windowed = asset('windowed', { partitions: days, sql: ({ ref }) => `SELECT count(*) AS n FROM ${ref(source, { lookback: 1 })}` });
    const w = await open([source], [windowed]);
    const summary = await runAssets(w, { partitions: [DAY, '2026-01-02'] });
    expect(summary.status).toBe('success');
    expect(summary.steps.map((s) => s.outcome?.badRecords)).toEqual([1, 2]);
    const dead = deadLetters(w, 'daily');
    expect(dead.files).toHaveLength(2);
    expect(dead.records.map((r) => [path.basename(r.file), r.line, r.raw]).sort()).toEqual([
      [`day=${DAY}.csv`, 3, 'bad'],
      ['day=2026-01-02.csv', 4, 'worse'],
    ]);
  });

  it('each rejected CSV line is attributed to its own file when concurrent steps read overlapping windows', async () => {
    // DuckDB's multi-file CSV reader, with another read of the same files running, can give two files the
    // same file_id in its rejects tables: every bad line was then attributed to every file of the window.
    const source = fileSource('daily', { format: 'csv', path: 'data/day={date}.csv', partitions: days, columns: { id: 'BIGINT' }, badRecords: 'dead-letter' });
    const keys = Array.from({ length: 12 }, (_, i) => `2026-01-${String(i + 1).padStart(2, '0')}`);
    const expected: [string, number, string][] = [];
    keys.forEach((key, i) => {
      const good = Array.from({ length: 1 + (i % 4) }, (_, j) => String(i * 100 + j));
      writeText(`data/day=${key}.csv`, ['id', ...good, `bad${i}`, '7'].join('\n') + '\n');
      expected.push([`day=${key}.csv`, good.length + 2, `bad${i}`]);
    });
    const windowed = asset('windowed', { partitions: days, sql: ({ ref }) => `SELECT count(*) AS n FROM ${ref(source, { lookback: 3 })}` });
    const w = await open([source], [windowed]);
    for (let round = 0; round < 3; round++) {
      const summary = await runAssets(w, { partitions: keys, force: true, concurrency: 4 });
      expect(summary.status).toBe('success');
      // A step's window holds min(4, i + 1) files, one bad line each.
      expect(summary.steps.map((s) => s.outcome?.badRecords)).toEqual(keys.map((_, i) => Math.min(4, i + 1)));
      const dead = deadLetters(w, 'daily');
      expect(dead.files).toHaveLength(keys.length);
      expect(dead.records.map((r) => [path.basename(r.file), r.line, r.raw]).sort()).toEqual(expected);
    }
  });

  it('an empty input is refused, never published over good data, unless the source or asset allows it', async () => {
    const source = (allowEmpty = false): FileSource => fileSource('events', { format: 'ndjson', path: 'in/events.ndjson', columns: { id: 'BIGINT' }, ...(allowEmpty ? { allowEmpty } : {}) });
    const events = writeText('in/events.ndjson', '{"id": 1}\n{"id": 2}\n');
    const out = (allowEmpty = false): Asset => asset('events_out', { sql: ({ ref }) => `SELECT * FROM ${ref('events')}`, ...(allowEmpty ? { allowEmpty } : {}) });
    let w = await open([source()], [out()]);
    expect((await runAssets(w, {})).status).toBe('success');
    // `: > in/events.ndjson`: a 0-byte file.
    writeText('in/events.ndjson', '');
    let failed = await runAssets(w, {});
    expect(failed.steps[0]?.error).toContain(`source "events": ${events} is empty (0 bytes)`);
    expect(failed.steps[0]?.error).toContain('allowEmpty: true');
    // Blank lines only: the file is not empty, but the asset refuses to replace 2 rows with none.
    writeText('in/events.ndjson', '\n\n');
    failed = await runAssets(w, {});
    expect(failed.steps[0]?.error).toContain('asset "events_out": its output has no rows, where version 1 has 2; nothing was published');
    expect(failed.steps[0]?.error).toContain('allowEmpty: true on the asset');
    expect((await w.tables.latest('events_out'))?.rowCount).toBe(2);
    // The source allows a 0-byte file: the asset still refuses.
    writeText('in/events.ndjson', '');
    w = await open([source(true)], [out()]);
    failed = await runAssets(w, {});
    expect(failed.steps[0]?.error).toContain('asset "events_out": its output has no rows, where version 1 has 2; nothing was published');
    expect((await w.tables.latest('events_out'))?.rowCount).toBe(2);
    // Both allow it: an empty version is published.
    w = await open([source(true)], [out(true)]);
    expect((await runAssets(w, {})).status).toBe('success');
    expect((await w.tables.latest('events_out'))?.rowCount).toBe(0);
  });

  it('a NUL byte in a CSV record makes it a bad record, as NDJSON does: refused by fail, set aside once by dead-letter', async () => {
    const csv = writeText('data/payments.csv', 'id,amount,note\n1,1.5,plain\n2,2.5,a\u0000b\n3,3.5,fine\n4,4.5,"two\nlines\u0000"\n5\u0000,5.5,bad id\n6,6.5,ok\n');
    const failing = payments();
    const strict = await open([failing], pipeline(failing, false));
    await expectFailedRun(strict, await run(strict), [`${csv} line 3 column note: a NUL byte (0x00)`, '(and 2 more bad records)']);
    await strict.close();
    ws = undefined;

    const source = payments({ badRecords: 'dead-letter' });
    const w = await open([source], pipeline(source, false));
    const summary = await run(w);
    expect(summary.status).toBe('success');
    expect(step(summary, 'copied').outcome?.badRecords).toBe(3);
    expect(await queryTable(w, 'copied', (t) => `SELECT id::INTEGER AS id, note FROM ${t} ORDER BY id`)).toEqual([
      { id: 1, note: 'plain' }, { id: 3, note: 'fine' }, { id: 6, note: 'ok' },
    ]);
    const dead = deadLetters(w, 'payments');
    expect(dead.records.map((r) => [r.line, r.column])).toEqual([[3, 'note'], [5, 'note'], [7, 'id']]);
    expect(dead.records[0]?.reason).toMatch(/^a NUL byte \(0x00\) at byte 8 of the record/);
    expect(dead.records[0]?.raw).toBe('2,2.5,a\u0000b');
  });

  it('a source path that is a directory says so, with the glob to use', async () => {
    fs.mkdirSync(file('in/logs'), { recursive: true });
    const source = fileSource('logs', { format: 'parquet', path: 'in/logs' });
    const w = await open([source], [asset('copied', { sql: ({ ref }) => `SELECT * FROM ${ref(source)}` })]);
    const summary = await runAssets(w, {});
    expect(summary.steps[0]?.error).toContain(`${file('in/logs')} is a directory, not a file; point the path at its files, e.g. ${file('in/logs/*.parquet')}`);
  });

  it('a header without a declared column fails with SOURCE_SCHEMA naming the column', async () => {
    const csv = writeText('data/payments.csv', 'id,note\n1,a\n');
    const source = payments({ badRecords: 'dead-letter' });
    const w = await open([source], pipeline(source, false));
    await expectFailedRun(w, await run(w), ['source "payments"', csv, 'column "amount" is missing and not optional']);
    const error = await expectSluiceError(prepare(w, source, null), 'SOURCE_SCHEMA');
    expect(error.context).toMatchObject({ source: 'payments', file: csv, row: 1, column: 'amount' });
  });
});

// Physical lines: 2 blank, 3 a value that does not cast, 4 invalid JSON, 6 not an object, 7 two bad
// values, 8 a null (fine), 9 a blank line holding spaces.
const EVENT_LINES = [
  '{"id": 1, "amount": 1.5, "name": "a"}',
  '',
  '{"id": 2, "amount": "lots", "name": "b"}',
  '{"id": 3, "amount": 3.5, "name": "c"',
  '{"id": 4, "amount": 4.5, "name": "d"}',
  '[1, 2]',
  '{"id": "x", "amount": "y", "name": "e"}',
  '{"id": 5, "amount": null, "name": "f"}',
  '   ',
  '{"id": 6, "amount": 6, "name": "g;\\"quoted\\""}',
];

describe('NDJSON sources', () => {
  const clicks = (badRecords: 'fail' | 'dead-letter'): FileSource =>
    fileSource('clicks', { format: 'ndjson', path: 'data/clicks.ndjson', columns: { id: 'BIGINT', amount: 'DOUBLE', name: 'VARCHAR' }, badRecords });

  it.each([['LF', '\n'], ['CRLF', '\r\n']])('badRecords fail (%s): BAD_RECORD with the physical line and column', async (_name, newline) => {
    const ndjson = writeText('data/clicks.ndjson', `${EVENT_LINES.join(newline)}${newline}`);
    const source = clicks('fail');
    const w = await open([source], pipeline(source, false));
    await expectFailedRun(w, await run(w), ['source "clicks"', `${ndjson} line 3 column amount: amount: could not convert lots to DOUBLE`, '(and 3 more bad records)']);
    const error = await expectSluiceError(prepare(w, source, null), 'BAD_RECORD');
    expect(error.context).toEqual({ source: 'clicks', file: ndjson, row: 3, column: 'amount' });
  });

  it.each([['LF', '\n'], ['CRLF with a byte-order mark', '\r\n']])('badRecords dead-letter (%s): good rows published, bad lines recorded with reasons', async (name, newline) => {
    const bom = name.includes('byte-order') ? '\uFEFF' : '';
    const ndjson = writeText('data/clicks.ndjson', `${bom}${EVENT_LINES.join(newline)}${newline}`);
    const source = clicks('dead-letter');
    const w = await open([source], pipeline(source, false));
    const summary = await run(w);
    expect(summary.status).toBe('success');
    expect(await queryTable(w, 'copied', (t) => `SELECT id::INTEGER AS id, amount, name FROM ${t} ORDER BY id`)).toEqual([
      { id: 1, amount: 1.5, name: 'a' }, { id: 4, amount: 4.5, name: 'd' }, { id: 5, amount: null, name: 'f' }, { id: 6, amount: 6, name: 'g;"quoted"' },
    ]);
    expect((await w.catalog.listSteps(summary.runId)).find((s) => s.asset === 'copied')?.badRecords).toBe(4);
    const dead = deadLetters(w, 'clicks');
    expect(dead.files).toHaveLength(1);
    expect(dead.records).toEqual([
      { source: 'clicks', file: ndjson, line: 3, column: 'amount', reason: 'amount: could not convert lots to DOUBLE', raw: EVENT_LINES[2] },
      { source: 'clicks', file: ndjson, line: 4, column: null, reason: 'invalid JSON', raw: EVENT_LINES[3] },
      { source: 'clicks', file: ndjson, line: 6, column: null, reason: expect.stringMatching(/^not a JSON object/), raw: EVENT_LINES[5] },
      { source: 'clicks', file: ndjson, line: 7, column: 'id, amount', reason: 'id: could not convert x to BIGINT; amount: could not convert y to DOUBLE', raw: EVENT_LINES[6] },
    ]);
  });

  it('declared columns may share names with the reader\'s bookkeeping (file, line, line_no)', async () => {
    writeText('data/clicks.ndjson', '{"file": "a.txt", "line": 3, "line_no": 9}\n{"file": "b.txt", "line": "three", "line_no": 1}\n');
    const source = fileSource('clicks', { format: 'ndjson', path: 'data/clicks.ndjson', columns: { file: 'VARCHAR', line: 'INTEGER', line_no: 'INTEGER' }, badRecords: 'dead-letter' });
    const w = await open([source], pipeline(source, false));
    expect((await run(w)).status).toBe('success');
    expect(await queryTable(w, 'copied', (t) => `SELECT * FROM ${t}`)).toEqual([{ file: 'a.txt', line: 3, line_no: 9 }]);
    expect(deadLetters(w, 'clicks').records.map((r) => [r.line, r.column])).toEqual([[2, 'line']]);
  });

  it('without declared columns each valid line is one JSON record', async () => {
    writeText('data/clicks.ndjson', '{"a": 1}\nnot json\n{"a": [2, 3]}\n');
    const source = fileSource('clicks', { format: 'ndjson', path: 'data/clicks.ndjson', badRecords: 'dead-letter' });
    const w = await open([source], pipeline(source, false));
    const summary = await run(w);
    expect(summary.status).toBe('success');
    expect(step(summary, 'copied').outcome).toMatchObject({ rowsOut: 2, badRecords: 1 });
    expect(deadLetters(w, 'clicks').records).toMatchObject([{ line: 2, reason: 'invalid JSON', raw: 'not json' }]);
  });
});

describe('missing files', () => {
  it('an untemplated path that matches nothing fails with SOURCE_NOT_FOUND naming the path', async () => {
    const source = fileSource('orders', { format: 'csv', path: 'data/orders/*.csv', columns: { id: 'BIGINT' } });
    const w = await open([source], pipeline(source, false));
    const pattern = file('data/orders/*.csv');
    await expectFailedRun(w, await run(w), ['source "orders"', `no files match ${pattern}`]);
    const error = await expectSluiceError(prepare(w, source, null), 'SOURCE_NOT_FOUND');
    expect(error.context).toMatchObject({ source: 'orders', file: pattern });
  });

  it('a templated path with no file for the partition fails with SOURCE_NOT_FOUND naming path and partition', async () => {
    const source = fileSource('orders', { format: 'parquet', path: 'data/date={date}/orders.parquet', partitions: days, columns: { id: 'BIGINT' } });
    const w = await open([source], pipeline(source, true));
    const expected = file(`data/date=${DAY}/orders.parquet`);
    await expectFailedRun(w, await run(w), ['source "orders"', `no files match ${expected} for partition ${DAY}`]);
    const error = await expectSluiceError(prepare(w, source, DAY), 'SOURCE_NOT_FOUND');
    expect(error.context).toMatchObject({ source: 'orders', partition: DAY, file: expected });
  });
});
