import { describe, expect, it } from 'vitest';
import { asset, dailyPartitions, defineProject, fileSource } from '../src/index.ts';
import { plan } from '../src/batch/plan.ts';
import { partitionContext } from '../src/define/asset.ts';
import { thrownSluiceError } from './helpers/errors.ts';

const events = fileSource('events', { format: 'parquet', path: 'events/*.parquet' });

const error = thrownSluiceError;

describe('defineProject', () => {
  it('infers the dependency graph from ref() calls, with unlisted referenced objects joining the project', () => {
    const daily = asset('daily', { sql: ({ ref }) => `SELECT * FROM ${ref(events)}` });
    const weekly = asset('weekly', { sql: ({ ref }) => `SELECT * FROM ${ref(daily)} JOIN ${ref('events')} USING (id)` });
    const project = defineProject({ name: 'p', assets: [weekly] });
    expect([...project.datasets.keys()].sort()).toEqual(['daily', 'events', 'weekly']);
    expect(project.dependencies.get('weekly')?.map((d) => d.dataset)).toEqual(['daily', 'events']);
    expect(project.order).toEqual(['daily', 'weekly']);
  });

  it('rejects a string reference to an unknown name at load, naming the asset and suggesting the close name', () => {
    const daily = asset('user_daily', { sql: ({ ref }) => `SELECT * FROM ${ref(events)}` });
    const features = asset('features', { sql: ({ ref }) => `SELECT * FROM ${ref('user_dialy')}` });
    const e = error(() => defineProject({ name: 'p', assets: [daily, features] }));
    expect(e.code).toBe('UNKNOWN_REFERENCE');
    expect(e.message).toContain('asset "features" references "user_dialy"');
    expect(e.message).toContain('did you mean "user_daily"');
  });

  it('makes a typo in an object reference a compile error', () => {
    const daily = asset('daily', { sql: ({ ref }) => `SELECT * FROM ${ref(events)}` });
    // @ts-expect-error `dialy` is not defined: tsc (part of the test command) fails if this line compiles.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-argument
    const make = (): unknown => asset('x', { sql: ({ ref }) => `SELECT * FROM ${ref(dialy)}` });
    expect(typeof make).toBe('function');
    expect(daily.name).toBe('daily');
  });

  it('rejects cycles and prints the cycle', () => {
    const a: ReturnType<typeof asset> = asset('a', { sql: ({ ref }) => `SELECT * FROM ${ref('c')}` });
    const b = asset('b', { sql: ({ ref }) => `SELECT * FROM ${ref(a)}` });
    const c = asset('c', { sql: ({ ref }) => `SELECT * FROM ${ref(b)}` });
    const e = error(() => defineProject({ name: 'p', assets: [a, b, c] }));
    expect(e.code).toBe('DEPENDENCY_CYCLE');
    expect(e.message).toBe('dependency cycle: a -> c -> b -> a');
    const self = asset('self', { sql: ({ ref }) => `SELECT * FROM ${ref('self')}` });
    expect(error(() => defineProject({ name: 'p', assets: [self] })).code).toBe('DEPENDENCY_CYCLE');
  });

  it('validates options with messages naming the definition and the option', () => {
    expect(error(() => defineProject({ name: 'p', sources: [fileSource('s', { format: 'xls' as 'csv', path: 'x' })], assets: [] })).message)
      .toMatch(/source "s" option format/);
    expect(error(() => defineProject({ name: 'p', sources: [fileSource('s', { format: 'csv', path: 'd/{date}.csv' })], assets: [] })).message)
      .toMatch(/contains \{date\}; add partitions/);
    expect(error(() => defineProject({ name: 'p', assets: [asset('bad name', { sql: 'SELECT 1' })] })).message).toMatch(/asset "bad name" option name/);
    expect(error(() => defineProject({ name: 'p', assets: [asset('a', { sql: 'SELECT 1', retry: { retries: -1 } })] })).message).toMatch(/asset "a" option retry.retries/);
    const lookback = asset('w', { partitions: dailyPartitions({ start: '2026-01-01' }), sql: ({ ref }) => `SELECT * FROM ${ref(events, { lookback: 1.5 })}` });
    expect(error(() => defineProject({ name: 'p', assets: [lookback] })).message).toMatch(/lookback must be a whole number/);
    const dup = asset('events', { sql: 'SELECT 1' });
    expect(error(() => defineProject({ name: 'p', sources: [events], assets: [dup] })).message).toMatch(/two different definitions are named "events"/);
    // A misspelt option (a .ts config is not type-checked when loaded) is refused, not ignored.
    expect(error(() => defineProject({ name: 'p', assets: [], features: [] } as Parameters<typeof defineProject>[0])).message)
      .toMatch(/project "p": "features" is not a project option; the options are name, sources, assets, featureViews, featureServices/);
  });

  it('supports {{ ref() }} templates in plain SQL strings', () => {
    const daily = asset('daily', { partitions: dailyPartitions({ start: '2026-01-01' }), sql: "SELECT * FROM {{ ref('events') }} WHERE d = {{ partition_date }}" });
    const weekly = asset('weekly', { partitions: dailyPartitions({ start: '2026-01-01' }), sql: "SELECT * FROM {{ ref('daily', lookback=6) }}" });
    const project = defineProject({ name: 'p', sources: [events], assets: [daily, weekly] });
    expect(project.dependencies.get('weekly')).toEqual([{ dataset: 'daily', lookback: 6, lookahead: 0 }]);
    expect(daily.sql({ ref: (d) => `"${typeof d === 'string' ? d : d.name}"`, ...partitionContext(daily, '2026-02-03') }))
      .toBe(`SELECT * FROM "events" WHERE d = DATE '2026-02-03'`);
  });
});

describe('plan', () => {
  const days = dailyPartitions({ start: '2026-11-01' });
  const logs = fileSource('logs', { format: 'parquet', path: 'logs/{date}/*.parquet', partitions: days });
  const dims = asset('dims', { sql: 'SELECT 1 AS id' });
  const daily = asset('daily', { partitions: days, sql: ({ ref }) => `SELECT * FROM ${ref(logs, { lookahead: 1 })}` });
  const rolling = asset('rolling', { partitions: days, sql: ({ ref }) => `SELECT * FROM ${ref(daily, { lookback: 6 })} JOIN ${ref(dims)} USING (id)` });
  const project = defineProject({ name: 'p', assets: [dims, daily, rolling] });

  it('widens a partition to the upstream window, clipped at the partitions start', () => {
    const steps = plan(project, { assets: ['rolling'], partitions: ['2026-11-03'] });
    expect(steps.map((s) => s.key)).toEqual(['daily@2026-11-01', 'daily@2026-11-02', 'daily@2026-11-03', 'dims', 'rolling@2026-11-03']);
    expect(steps.find((s) => s.asset === 'rolling')?.after).toEqual(['daily@2026-11-01', 'daily@2026-11-02', 'daily@2026-11-03', 'dims']);
    expect(steps.filter((s) => s.selected).map((s) => s.key)).toEqual(['rolling@2026-11-03']);
  });

  it('requires partitions for partitioned assets and rejects ones outside the range', () => {
    expect(error(() => plan(project, { assets: ['rolling'], partitions: [] })).message).toMatch(/is partitioned \(daily from 2026-11-01 onwards\): pass --partition YYYY-MM-DD/);
    expect(error(() => plan(project, { assets: ['rolling'], partitions: ['2026-10-01'] })).message).toMatch(/its partitions are daily from 2026-11-01 onwards/);
    expect(error(() => plan(project, { assets: ['rollin'], partitions: [] })).message).toMatch(/no asset named "rollin".*did you mean "rolling"/);
  });
});
