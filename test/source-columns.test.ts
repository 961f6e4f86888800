// Sources whose columns evolve: declared columns are read by name (never by position) in CSV, Parquet and
// NDJSON files; a declared column may be optional (NULL of its type where a file lacks it); an undeclared extra
// column is ignored, kept or refused as the source says. Messages name the change, the file and the fix.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryTable } from '../src/batch/inspect.ts';
import { inspectFiles } from '../src/batch/inspect-file.ts';
import { Engine } from '../src/engine/engine.ts';
import { prepareSource } from '../src/batch/read-source.ts';
import { runAssets } from '../src/batch/runner.ts';
import { asset } from '../src/define/asset.ts';
import { defineProject } from '../src/define/project.ts';
import { fileSource, type FileSource, type FileSourceOptions } from '../src/define/source.ts';
import { SluiceError } from '../src/errors.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { expectSluiceError } from './helpers/errors.ts';
import { makeTempDir, writeParquet } from './helpers/temp.ts';

let dir: string;
let cleanup: () => void;
let ws: Workspace | undefined;

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('sluice-source-columns-'));
});
afterEach(async () => {
  try {
    await ws?.close();
  } finally {
    ws = undefined;
    cleanup();
  }
});

function write(relative: string, text: string): string {
  const file = path.join(dir, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

async function open(source: FileSource): Promise<Workspace> {
  const copy = asset('copied', { sql: ({ ref }) => `SELECT * FROM ${ref(source)}` });
  // Each definition starts from no state: the cases of one test define the same table differently.
  const stateDir = path.join(dir, '.sluice');
  fs.rmSync(stateDir, { recursive: true, force: true });
  ws = await openWorkspace(defineProject({ name: 'columns', sources: [source], assets: [copy] }), dir, { stateDir, catalogUrl: `sqlite:${path.join(stateDir, 'catalog.db')}` });
  return ws;
}

async function prepare(w: Workspace, source: FileSource): Promise<void> {
  await w.engine.withSession((session) => prepareSource(session, { projectDir: w.projectDir, stateDir: w.stateDir }, source, { anchor: null, lookback: 0, lookahead: 0 }, source.name));
}

/** Run the copy asset; its rows (ordered), or the step's error. */
async function read(w: Workspace, columns: string): Promise<Record<string, unknown>[]> {
  const summary = await runAssets(w, {});
  if (summary.status !== 'success') throw new Error(summary.steps[0]?.error ?? 'failed');
  return queryTable(w, 'copied', (t) => `SELECT ${columns} FROM ${t} ORDER BY ALL`);
}

async function types(w: Workspace): Promise<Record<string, string>> {
  const manifest = await w.tables.latest('copied');
  return Object.fromEntries((manifest?.schema ?? []).map((c) => [c.name, c.type]));
}

// Four days of weather in two CSV exports: the later one gained a humidity column, and lists its columns in another order.
const OLD_CSV = 'location,day,temp,weather\nparis,2020-01-01,4.5,rain\nlyon,2020-01-01,6,sun\n';
const NEW_CSV = 'day,location,weather,temp,humidity\n2020-01-02,paris,fog,3.25,0.9\n2020-01-02,lyon,sun,7,0.4\n';
const WEATHER = { location: 'VARCHAR', day: 'DATE', temp: 'DOUBLE', weather: 'VARCHAR' } as const;

function weather(options: Partial<FileSourceOptions> = {}): FileSource {
  return fileSource('weather', { format: 'csv', path: 'data/*.csv', columns: WEATHER, ...options });
}

describe('CSV: declared columns by header name', () => {
  it('reads a file whose header has the declared columns in another order, and ignores an undeclared extra column by default', async () => {
    write('data/a.csv', OLD_CSV);
    write('data/b.csv', NEW_CSV);
    const source = weather();
    expect(source.extraColumns).toBe('ignore');
    const w = await open(source);
    expect(await read(w, 'location, day::VARCHAR AS day, temp, weather')).toEqual([
      { location: 'lyon', day: '2020-01-01', temp: 6, weather: 'sun' },
      { location: 'lyon', day: '2020-01-02', temp: 7, weather: 'sun' },
      { location: 'paris', day: '2020-01-01', temp: 4.5, weather: 'rain' },
      { location: 'paris', day: '2020-01-02', temp: 3.25, weather: 'fog' },
    ]);
    expect(await types(w)).toEqual({ location: 'VARCHAR', day: 'DATE', temp: 'DOUBLE', weather: 'VARCHAR' });
  });

  it("extraColumns: 'refuse' names the undeclared column, the file and the fix", async () => {
    write('data/a.csv', OLD_CSV);
    const added = write('data/b.csv', NEW_CSV);
    const source = weather({ extraColumns: 'refuse' });
    const w = await open(source);
    const error = await expectSluiceError(prepare(w, source), 'SOURCE_SCHEMA');
    expect(error.message).toContain(`source "weather": column "humidity" is not declared: ${added} has it`);
    expect(error.message).toContain("extraColumns: 'ignore'");
    expect(error.message).toContain('optional: true');
    expect(error.message).not.toContain('in that order');
    expect(error.context).toMatchObject({ source: 'weather', file: added, column: 'humidity', row: 1 });
    const summary = await runAssets(w, {});
    expect(summary.steps[0]?.error).toContain('column "humidity" is not declared');
    expect(await w.tables.latest('copied')).toBeUndefined();
  });

  it("extraColumns: 'keep' keeps an undeclared column as text, NULL in files without it", async () => {
    write('data/a.csv', OLD_CSV);
    write('data/b.csv', NEW_CSV);
    const w = await open(weather({ extraColumns: 'keep' }));
    expect(await read(w, 'location, day::VARCHAR AS day, humidity')).toEqual([
      { location: 'lyon', day: '2020-01-01', humidity: null },
      { location: 'lyon', day: '2020-01-02', humidity: '0.4' },
      { location: 'paris', day: '2020-01-01', humidity: null },
      { location: 'paris', day: '2020-01-02', humidity: '0.9' },
    ]);
    expect(await types(w)).toMatchObject({ temp: 'DOUBLE', humidity: 'VARCHAR' });
  });

  it('an optional declared column reads as NULL of its type in older files', async () => {
    write('data/a.csv', OLD_CSV);
    write('data/b.csv', NEW_CSV);
    const w = await open(weather({ columns: { ...WEATHER, humidity: { type: 'DOUBLE', optional: true } }, extraColumns: 'refuse' }));
    expect(await read(w, 'location, day::VARCHAR AS day, humidity')).toEqual([
      { location: 'lyon', day: '2020-01-01', humidity: null },
      { location: 'lyon', day: '2020-01-02', humidity: 0.4 },
      { location: 'paris', day: '2020-01-01', humidity: null },
      { location: 'paris', day: '2020-01-02', humidity: 0.9 },
    ]);
    expect(await types(w)).toEqual({ location: 'VARCHAR', day: 'DATE', temp: 'DOUBLE', weather: 'VARCHAR', humidity: 'DOUBLE' });
  });

  it('an optional column absent from every file still reads (NULL), and one that is in no file and not optional is refused with the fix', async () => {
    const old = write('data/a.csv', OLD_CSV);
    const optional = weather({ columns: { ...WEATHER, humidity: { type: 'DOUBLE', optional: true } } });
    const w = await open(optional);
    expect(await read(w, 'location, humidity')).toEqual([{ location: 'lyon', humidity: null }, { location: 'paris', humidity: null }]);
    await w.close();
    ws = undefined;

    const required = weather({ columns: { ...WEATHER, humidity: 'DOUBLE' } });
    const strict = await open(required);
    const error = await expectSluiceError(prepare(strict, required), 'SOURCE_SCHEMA');
    expect(error.message).toContain(`source "weather": column "humidity" is missing and not optional: ${old} has no such column`);
    expect(error.message).toContain("humidity: { type: 'DOUBLE', optional: true }");
    expect(error.context).toMatchObject({ source: 'weather', file: old, column: 'humidity', row: 1 });
  });

  it('bad records keep their physical line and column by name when the header order differs', async () => {
    write('data/b.csv', 'temp,location,day,weather\n1.5,paris,2020-01-01,sun\nwarm,lyon,2020-01-02,rain\n');
    const source = weather({ badRecords: 'dead-letter' });
    const w = await open(source);
    const summary = await runAssets(w, {});
    expect(summary.status).toBe('success');
    expect(summary.steps[0]?.outcome?.badRecords).toBe(1);
    expect(await queryTable(w, 'copied', (t) => `SELECT location, temp FROM ${t}`)).toEqual([{ location: 'paris', temp: 1.5 }]);
  });

  it('a file with a header field twice is refused, naming it', async () => {
    const twice = write('data/a.csv', 'location,day,temp,weather,temp\nparis,2020-01-01,4.5,rain,5\n');
    const source = weather();
    const w = await open(source);
    const error = await expectSluiceError(prepare(w, source), 'SOURCE_SCHEMA');
    expect(error.message).toContain(`${twice} has the column "temp" twice in its header`);
  });
});

describe('Parquet and NDJSON: the same rules', () => {
  async function parquetFiles(): Promise<{ old: string; added: string }> {
    const old = path.join(dir, 'data', 'a.parquet');
    const added = path.join(dir, 'data', 'b.parquet');
    fs.mkdirSync(path.dirname(old), { recursive: true });
    await writeParquet(old, `SELECT 'paris' AS location, DATE '2020-01-01' AS day, 4.5 AS temp`);
    await writeParquet(added, `SELECT 0.9::DOUBLE AS humidity, 3.25 AS temp, DATE '2020-01-02' AS day, 'paris' AS location, 'x' AS note`);
    return { old, added };
  }
  const parquet = (options: Partial<FileSourceOptions>): FileSource =>
    fileSource('weather', { format: 'parquet', path: 'data/*.parquet', columns: { location: 'VARCHAR', day: 'DATE', temp: 'DOUBLE' }, ...options });

  it('Parquet: an optional column is NULL where a file lacks it; extras ignored, kept with their type, or refused', async () => {
    const { old, added } = await parquetFiles();
    const optional = parquet({ columns: { location: 'VARCHAR', day: 'DATE', temp: 'DOUBLE', humidity: { type: 'DOUBLE', optional: true } } });
    let w = await open(optional);
    expect(await read(w, 'day::VARCHAR AS day, temp, humidity')).toEqual([{ day: '2020-01-01', temp: 4.5, humidity: null }, { day: '2020-01-02', temp: 3.25, humidity: 0.9 }]);
    expect(await types(w)).toEqual({ location: 'VARCHAR', day: 'DATE', temp: 'DOUBLE', humidity: 'DOUBLE' });
    await w.close();

    w = await open(parquet({ extraColumns: 'keep' }));
    expect(await read(w, 'day::VARCHAR AS day, humidity, note')).toEqual([{ day: '2020-01-01', humidity: null, note: null }, { day: '2020-01-02', humidity: 0.9, note: 'x' }]);
    expect(await types(w)).toMatchObject({ humidity: 'DOUBLE', note: 'VARCHAR' });
    await w.close();

    const refusing = parquet({ extraColumns: 'refuse' });
    w = await open(refusing);
    const error = await expectSluiceError(prepare(w, refusing), 'SOURCE_SCHEMA');
    expect(error.message).toContain(`source "weather": column "humidity" is not declared: ${added} has it`);
    expect(error.context).toMatchObject({ file: added, column: 'humidity' });
    await w.close();

    const required = parquet({ columns: { location: 'VARCHAR', day: 'DATE', temp: 'DOUBLE', humidity: 'DOUBLE' } });
    w = await open(required);
    const missing = await expectSluiceError(prepare(w, required), 'SOURCE_SCHEMA');
    expect(missing.message).toContain(`source "weather": column "humidity" is missing and not optional: ${old} has no such column`);
    expect(missing.context).toMatchObject({ file: old, column: 'humidity' });
  });

  it('NDJSON: an optional key absent from a file reads NULL; a declared key in no record of a file is refused; extras follow extraColumns', async () => {
    const old = write('data/a.ndjson', '{"location": "paris", "temp": 4.5}\n{"location": "lyon", "temp": 6}\n');
    const added = write('data/b.ndjson', '{"location": "paris", "temp": 3.25, "humidity": 0.9, "note": "x"}\n{"location": "lyon", "temp": null}\n');
    const columns = { location: 'VARCHAR', temp: 'DOUBLE' };
    let w = await open(fileSource('weather', { format: 'ndjson', path: 'data/*.ndjson', columns: { ...columns, humidity: { type: 'DOUBLE', optional: true } } }));
    expect(await read(w, 'location, temp, humidity')).toEqual([
      { location: 'lyon', temp: 6, humidity: null }, { location: 'lyon', temp: null, humidity: null },
      { location: 'paris', temp: 3.25, humidity: 0.9 }, { location: 'paris', temp: 4.5, humidity: null },
    ]);
    await w.close();

    w = await open(fileSource('weather', { format: 'ndjson', path: 'data/*.ndjson', columns, extraColumns: 'keep' }));
    expect(await read(w, 'location, temp, humidity, note')).toEqual([
      { location: 'lyon', temp: 6, humidity: null, note: null }, { location: 'lyon', temp: null, humidity: null, note: null },
      { location: 'paris', temp: 3.25, humidity: '0.9', note: 'x' }, { location: 'paris', temp: 4.5, humidity: null, note: null },
    ]);
    await w.close();

    const refusing = fileSource('weather', { format: 'ndjson', path: 'data/*.ndjson', columns, extraColumns: 'refuse' });
    w = await open(refusing);
    const error = await expectSluiceError(prepare(w, refusing), 'SOURCE_SCHEMA');
    expect(error.message).toContain(`source "weather": column "humidity" is not declared: ${added} has it (line 1)`);
    expect(error.context).toMatchObject({ file: added, column: 'humidity', row: 1 });
    await w.close();

    const required = fileSource('weather', { format: 'ndjson', path: 'data/*.ndjson', columns: { ...columns, humidity: 'DOUBLE' } });
    w = await open(required);
    const missing = await expectSluiceError(prepare(w, required), 'SOURCE_SCHEMA');
    expect(missing.message).toContain(`source "weather": column "humidity" is missing and not optional: ${old} has no such column`);
  });
});

describe('declaring columns', () => {
  it('keeps the string form, and refuses a bad extraColumns or an optional column of a CSV without a header at load', () => {
    const source = fileSource('s', { format: 'csv', path: 'a.csv', columns: { a: 'BIGINT', b: { type: 'VARCHAR', optional: true }, c: { type: 'DATE' } } });
    expect(source.columns).toEqual({ a: 'BIGINT', b: 'VARCHAR', c: 'DATE' });
    expect(source.optionalColumns).toEqual(['b']);
    const load = (s: FileSource): unknown => defineProject({ name: 'p', sources: [s], assets: [] });
    const bad = (() => { try { load(fileSource('s', { format: 'csv', path: 'a.csv', columns: { a: 'BIGINT' }, extraColumns: 'drop' as never })); } catch (e) { return e; } return undefined; })();
    expect(bad).toBeInstanceOf(SluiceError);
    expect((bad as SluiceError).message).toContain('extraColumns');
    const headerless = (() => { try { load(fileSource('s', { format: 'csv', path: 'a.csv', columns: { a: 'BIGINT', b: { type: 'VARCHAR', optional: true } }, csv: { header: false } })); } catch (e) { return e; } return undefined; })();
    expect((headerless as SluiceError).message).toContain('optional column "b" needs a header');
  });
});

describe('sluice inspect over files whose columns differ', () => {
  it('reads them by name and marks a column that some files lack as optional in the columns block', async () => {
    write('csv/a.csv', OLD_CSV);
    write('csv/b.csv', NEW_CSV);
    write('json/a.ndjson', '{"location": "paris", "temp": 4.5}\n');
    write('json/b.ndjson', '{"temp": 3.25, "location": "lyon", "humidity": 0.9}\n');
    fs.mkdirSync(path.join(dir, 'pq'));
    await writeParquet(path.join(dir, 'pq', 'a.parquet'), `SELECT 'paris' AS location, 4.5 AS temp`);
    await writeParquet(path.join(dir, 'pq', 'b.parquet'), `SELECT 0.9::DOUBLE AS humidity, {'x': 1} AS extra, 3.25 AS temp, 'lyon' AS location`);
    const engine = await Engine.open({ threads: 1 });
    try {
      const csv = await inspectFiles(engine, path.join(dir, 'csv', '*.csv'));
      expect(csv.rows).toBe(4);
      expect(csv.columns.map((c) => c.name)).toEqual(['location', 'day', 'temp', 'weather', 'humidity']);
      expect(csv.optionalColumns).toEqual(['humidity']);
      expect(csv.columnsBlock).toContain("  location: 'VARCHAR',\n");
      expect(csv.columnsBlock).toContain("  humidity: { type: 'DOUBLE', optional: true },");
      const json = await inspectFiles(engine, path.join(dir, 'json', '*.ndjson'));
      expect(json.columns.find((c) => c.name === 'humidity')).toMatchObject({ nulls: 1 });
      expect(json.optionalColumns).toEqual(['humidity']);
      expect(json.columnsBlock).toContain("  humidity: { type: 'DOUBLE', optional: true },");
      const parquet = await inspectFiles(engine, path.join(dir, 'pq', '*.parquet'));
      expect(parquet.columns.map((c) => c.name)).toEqual(['location', 'temp', 'humidity', 'extra']);
      expect(parquet.optionalColumns).toEqual(['humidity', 'extra']);
      expect(parquet.columnsBlock).toContain("  temp: 'DECIMAL(3,2)',\n");
    } finally {
      engine.close();
    }
  });
});
