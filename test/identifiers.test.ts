// Identifiers and values from users never become SQL or paths unchecked: hostile names are rejected at
// definition time, quoting round-trips through real DuckDB, and partition values that could leave a
// folder or end a statement are refused by the CLI parser, the planner and the table store.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { queryTable } from '../src/batch/inspect.ts';
import { runAssets } from '../src/batch/runner.ts';
import { partitionsFrom } from '../src/cli/commands/run.ts';
import { asset } from '../src/define/asset.ts';
import { dailyPartitions, parseDateKey } from '../src/define/partitions.ts';
import { defineProject } from '../src/define/project.ts';
import { fileSource } from '../src/define/source.ts';
import { Engine } from '../src/engine/engine.ts';
import { SluiceError, type ErrorCode } from '../src/errors.ts';
import { assertName, quoteIdent, quoteList, quoteLiteral } from '../src/sql/identifiers.ts';
import { deadLetterDir, deadLetterPath } from '../src/store/dead-letter.ts';
import { assertPartitionKey } from '../src/store/tables/table-store.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';

const HOSTILE = 'x"; drop table y; --';
const HOSTILE_LITERAL = "'); drop table t; --";

function thrown(fn: () => unknown, code: ErrorCode): SluiceError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SluiceError);
  expect((caught as SluiceError).code).toBe(code);
  return caught as SluiceError;
}

const plain = fileSource('events', { format: 'csv', path: 'data/events.csv', columns: { id: 'BIGINT' } });
const reader = asset('reader', { sql: ({ ref }) => `SELECT * FROM ${ref(plain)}` });

describe('names in definitions', () => {
  const named = `${JSON.stringify(HOSTILE)} option name: use letters, digits and underscores`;
  it.each([
    ['an asset', () => defineProject({ name: 'p', assets: [asset(HOSTILE, { sql: 'SELECT 1 AS one' })] }), `asset ${named}`],
    ['a source', () => defineProject({ name: 'p', sources: [fileSource(HOSTILE, { format: 'csv', path: 'a.csv' })], assets: [reader] }), `source ${named}`],
    ['a source column', () => defineProject({ name: 'p', sources: [fileSource('s', { format: 'csv', path: 'a.csv', columns: { [HOSTILE]: 'BIGINT' } })], assets: [reader] }), `source "s" option columns.${HOSTILE}`],
    ['an asset column description', () => defineProject({ name: 'p', assets: [asset('a', { sql: 'SELECT 1 AS one', columns: { [HOSTILE]: 'text' } })] }), `asset "a" option columns.${HOSTILE}`],
    ['a partition column', () => defineProject({ name: 'p', assets: [asset('a', { sql: 'SELECT 1 AS one', partitions: dailyPartitions({ start: '2026-01-01', column: HOSTILE }) })] }), 'asset "a" option partitions.column: use letters'],
  ])('rejects %s named like SQL, saying where', (_what, define, where) => {
    expect(thrown(define, 'DEFINITION_INVALID').message).toContain(where);
  });

  it('rejects a project name, a string reference and reserved leading underscores', () => {
    expect(thrown(() => defineProject({ name: HOSTILE, assets: [reader] }), 'DEFINITION_INVALID').message).toContain(JSON.stringify(HOSTILE));
    const sneaky = asset('sneaky', { sql: ({ ref }) => `SELECT * FROM ${ref(HOSTILE)}` });
    expect(thrown(() => defineProject({ name: 'p', assets: [reader, sneaky] }), 'UNKNOWN_REFERENCE').message).toContain(HOSTILE);
    thrown(() => defineProject({ name: 'p', assets: [asset('__rejects_reader', { sql: 'SELECT 1 AS one' })] }), 'DEFINITION_INVALID');
    for (const name of [HOSTILE, '', '_x', '1x', 'a-b', 'a b', 'a'.repeat(64), 'naïve']) {
      expect(thrown(() => assertName(name, 'asset'), 'INVALID_IDENTIFIER').context).toEqual({ name });
    }
    expect(assertName('a'.repeat(63), 'asset')).toBe('a'.repeat(63));
  });

  it.each(['INTEGER); DROP TABLE x; --', "VARCHAR' || 'x", 'BIGINT; SELECT 1', 'INTEGER -- comment', 'DECIMAL(18,2)); DROP TABLE x'])(
    'rejects the declared column type %j',
    (type) => {
      const source = fileSource('s', { format: 'csv', path: 'a.csv', columns: { id: type } });
      const error = thrown(() => defineProject({ name: 'p', sources: [source], assets: [asset('a', { sql: ({ ref }) => `SELECT * FROM ${ref(source)}` })] }), 'DEFINITION_INVALID');
      expect(error.message).toContain('source "s" option columns.id');
    },
  );

  it('accepts ordinary DuckDB types', () => {
    const source = fileSource('s', { format: 'csv', path: 'a.csv', columns: { a: 'BIGINT', b: 'DECIMAL(18, 2)', c: 'TIMESTAMP WITH TIME ZONE', d: 'VARCHAR[]', e: 'DOUBLE PRECISION' } });
    expect(() => defineProject({ name: 'p', sources: [source], assets: [asset('a', { sql: ({ ref }) => `SELECT * FROM ${ref(source)}` })] })).not.toThrow();
  });
});

describe('quoting through DuckDB', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.open({ threads: 1 });
  });
  afterAll(() => engine.close());

  const strings = [HOSTILE, HOSTILE_LITERAL, "it's", "''", '""', 'a\\b', 'line\nbreak', '$$ dollar $$', 'ünïcødé 🦆', '', ' ', '--', '/* c */'];

  it.each(strings)('a literal %j comes back verbatim', async (value) => {
    const rows = await engine.withSession((s) => s.query<{ v: string; l: string[] }>(`SELECT ${quoteLiteral(value)} AS v, ${quoteList([value, value])} AS l`));
    expect(rows).toEqual([{ v: value, l: [value, value] }]);
  });

  it('tables and columns named with quotes and semicolons work when quoted, and nothing else runs', async () => {
    await engine.withSession(async (s) => {
      await s.run('CREATE TEMP TABLE y (keep INTEGER); INSERT INTO y VALUES (1)');
      const table = quoteIdent(HOSTILE);
      const column = quoteIdent('a"b; --c');
      await s.run(`CREATE TEMP TABLE ${table} (${column} VARCHAR, ${quoteIdent('select')} INTEGER)`);
      await s.run(`INSERT INTO ${table} VALUES (${quoteLiteral(HOSTILE_LITERAL)}, 1)`);
      const rows = await s.query(`SELECT ${column} AS value, ${quoteIdent('select')} AS n FROM ${table}`);
      expect(rows).toEqual([{ value: HOSTILE_LITERAL, n: 1 }]);
      const described = await s.describe(`SELECT * FROM ${table}`);
      expect(described.map((c) => c.name)).toEqual(['a"b; --c', 'select']);
      expect(await s.query('SELECT keep FROM y')).toEqual([{ keep: 1 }]);
    });
  });

  it('refuses NUL characters, which would end the string early in C code', () => {
    thrown(() => quoteIdent('a\u0000b'), 'INVALID_IDENTIFIER');
    thrown(() => quoteLiteral('a\u0000b'), 'INVALID_IDENTIFIER');
  });
});

describe('partition values', () => {
  const bad = ['../../etc', '2026-13-01', '2026-11-25; drop', '2026-02-30', '2026-1-01', '20261125', ' 2026-11-25', '2026-11-25/..', ''];

  it.each(bad)('%j is rejected by the CLI parser and parseDateKey', (value) => {
    thrown(() => parseDateKey(value), 'INVALID_PARTITION');
    const error = thrown(() => partitionsFrom({ partition: value }), 'INVALID_PARTITION');
    expect(error.message).toContain(JSON.stringify(value));
    thrown(() => partitionsFrom({ from: value, to: '2026-11-25' }), 'INVALID_PARTITION');
    thrown(() => partitionsFrom({ from: '2026-11-25', to: value }), 'INVALID_PARTITION');
  });

  it('the CLI parser accepts real dates', () => {
    expect(partitionsFrom({ partition: '2028-02-29' })).toEqual(['2028-02-29']);
    expect(partitionsFrom({ from: '2026-12-30', to: '2027-01-01' })).toEqual(['2026-12-30', '2026-12-31', '2027-01-01']);
  });

  it.each(['../../etc', '..', '/etc', 'a/b', 'a\\b', '2026-11-25; drop', "2026-11-25'", '', '.hidden'])(
    'the table store refuses the partition key %j before any I/O',
    (key) => {
      const error = thrown(() => assertPartitionKey('orders', key), 'INVALID_PARTITION');
      expect(error.context).toEqual({ asset: 'orders', partition: key });
    },
  );

  it('the table store takes any path-safe key: calendar validity is checked where dates come in', () => {
    for (const key of ['2026-11-25', '2026-13-01', 'eu_west.1']) expect(() => assertPartitionKey('orders', key)).not.toThrow();
  });

  it('dead-letter paths stay inside the state folder whatever the source or input file is called', () => {
    const state = path.join(os.tmpdir(), 'state');
    thrown(() => deadLetterDir(state, '../../etc'), 'INVALID_IDENTIFIER');
    for (const input of ['/data/../../etc/passwd', "/data/o'brien; rm -rf ~.csv", '/data/..', '/data/.']) {
      const target = deadLetterPath(state, 'orders', input);
      expect(path.dirname(target)).toBe(path.join(state, 'dead-letter', 'orders'));
      expect(path.basename(target)).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_.-]*-[0-9a-f]{16}\.ndjson$/);
    }
  });
});

describe('a run with hostile values', () => {
  let dir: string;
  let ws: Workspace | undefined;
  afterEach(async () => {
    try {
      await ws?.close();
    } finally {
      ws = undefined;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a file whose path has quotes and semicolons, keeps a hostile output column name, and refuses bad partitions and assets', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-identifiers-'));
    const folder = `it's "odd"; drop table x; --`;
    fs.mkdirSync(path.join(dir, folder));
    fs.writeFileSync(path.join(dir, folder, 'events.csv'), `id,note\n1,${HOSTILE_LITERAL}\n2,"${HOSTILE.replaceAll('"', '""')}"\n`);
    const events = fileSource('events', { format: 'csv', path: `${folder}/events.csv`, columns: { id: 'BIGINT', note: 'VARCHAR' } });
    const daily = asset('daily', {
      partitions: dailyPartitions({ start: '2026-01-01' }),
      sql: ({ ref, partitionDate }) => `SELECT id, note AS ${quoteIdent('we"ird; col')}, ${partitionDate} AS day FROM ${ref(events)}`,
    });
    const stateDir = path.join(dir, '.sluice');
    ws = await openWorkspace(defineProject({ name: 'p', sources: [events], assets: [daily] }), dir, { stateDir, catalogUrl: `sqlite:${path.join(stateDir, 'catalog.db')}` });

    const summary = await runAssets(ws, { partitions: ['2026-01-01'] });
    expect(summary.status).toBe('success');
    expect(await queryTable(ws, 'daily', (t) => `SELECT id::INTEGER AS id, ${quoteIdent('we"ird; col')} AS note FROM ${t} ORDER BY id`)).toEqual([
      { id: 1, note: HOSTILE_LITERAL }, { id: 2, note: HOSTILE },
    ]);

    for (const partition of ['../../etc', '2026-13-01', '2026-11-25; drop']) {
      const error = await runAssets(ws, { partitions: [partition] }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(SluiceError);
      expect((error as SluiceError).code).toBe('INVALID_PARTITION');
    }
    const missing = await runAssets(ws, { assets: [HOSTILE] }).then(() => undefined, (e: unknown) => e);
    expect((missing as SluiceError).code).toBe('ASSET_NOT_FOUND');
    expect(fs.readdirSync(path.join(stateDir, 'tables'))).toEqual(['daily']);
  });
});
