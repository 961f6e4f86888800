// Feature definitions are validated when they are made and when the project loads, with messages that
// name the view, service or feature at fault.
import { describe, expect, it } from 'vitest';
import { asset, defineProject, entity, featureService, featureView, fileSource, onDemandFeature, select } from '../src/index.ts';
import { parseDuration } from '../src/define/duration.ts';
import { getFeatureService } from '../src/define/project.ts';
import { decodeKey, encodeKey, encodeKeyOf } from '../src/features/keys.ts';
import { thrownSluiceError } from './helpers/errors.ts';

const user = entity('user', { keys: { user_id: 'int' } });
const stats = asset('stats', { sql: 'SELECT 1 AS user_id' });
const view = featureView('user_stats', { entity: user, source: stats, timestamp: 'ts', ttl: '2d', features: ['a', 'b'] });

describe('feature definitions', () => {
  it('parses durations and rejects malformed ones', () => {
    expect(parseDuration('90s', 'x')).toBe(90_000);
    expect(parseDuration('24h', 'x')).toBe(86_400_000);
    expect(parseDuration('7d', 'x')).toBe(7 * 86_400_000);
    expect(thrownSluiceError(() => parseDuration('1 hour', 'feature view "v" ttl')).message).toMatch(/feature view "v" ttl: "1 hour" is not a duration; .*30s, 15m, 1h/);
    expect(thrownSluiceError(() => featureView('v', { entity: user, source: stats, timestamp: 'ts', ttl: '0h' as '1h', features: ['a'] })).code).toBe('DEFINITION_INVALID');
  });

  it('rejects bad views with the view and feature named', () => {
    expect(thrownSluiceError(() => featureView('v', { entity: user, source: stats, timestamp: 'ts', aggregations: { n: { function: 'median' as 'avg', column: 'x', window: '1h' } } })).message)
      .toMatch(/feature view "v" feature "n": function "median" is not one of count, sum, avg, min, max, count_distinct, last/);
    expect(thrownSluiceError(() => featureView('v', { entity: user, source: stats, timestamp: 'ts', aggregations: { s: { function: 'sum', window: '1h' } } })).message)
      .toMatch(/feature "s": sum needs a column/);
    expect(thrownSluiceError(() => featureView('v', { entity: user, source: stats, timestamp: 'ts', features: ['user_id'] })).message)
      .toMatch(/feature "user_id" repeats a key, timestamp or another feature name/);
    expect(thrownSluiceError(() => featureView('v', { entity: user, source: stats, timestamp: 'ts', features: ['a; DROP'] })).message).toMatch(/not allowed/);
    expect(thrownSluiceError(() => entity('e', { keys: { id: 'float' as 'int' } })).message).toMatch(/entity "e" key "id": type "float" is not 'int' or 'string'/);
  });

  it('resolves services: order, selections, on-demand inputs and request fields', () => {
    const other = featureView('other', { entity: user, source: stats, timestamp: 'ts', features: ['c'] });
    const od = onDemandFeature('ratio', { inputs: [other], request: { price: 'float' }, outputs: { r: 'float' }, fn: (row) => ({ r: (row['c'] as number) / (row['price'] as number) }) });
    const service = featureService('svc', { features: [select(view, ['b']), od] });
    expect(service.features.map((f) => f.name)).toEqual(['b', 'r']);
    expect(service.views.map((v) => v.name)).toEqual(['user_stats', 'other']);
    expect(Object.fromEntries(service.fetched)).toEqual({ user_stats: ['b'], other: ['c'] });
    expect(service.request).toEqual({ price: 'float' });
    expect(service.keys).toEqual([{ name: 'user_id', type: 'int' }]);
    expect(thrownSluiceError(() => select(view, ['zz'])).message).toMatch(/feature view "user_stats" has no feature "zz"; it has a, b/);
    const dup = featureView('dup', { entity: user, source: stats, timestamp: 'ts', features: ['a'] });
    expect(thrownSluiceError(() => featureService('s2', { features: [view, dup] })).message).toMatch(/feature service "s2": two features are named "a"/);
    const account = entity('account', { keys: { user_id: 'string' } });
    const clash = featureView('clash', { entity: account, source: stats, timestamp: 'ts', features: ['z'] });
    expect(thrownSluiceError(() => featureService('s3', { features: [view, clash] })).message).toMatch(/key "user_id" is int in one entity and string in another/);
  });

  it('checks views against the project at load', () => {
    const stray = featureView('stray', { entity: user, source: 'statz', timestamp: 'ts', features: ['a'] });
    const error = thrownSluiceError(() => defineProject({ name: 'p', assets: [stats], featureViews: [stray] }));
    expect(error.code).toBe('UNKNOWN_REFERENCE');
    expect(error.message).toMatch(/feature view "stray" reads "statz", which is not a source or asset of project "p".*did you mean "stats"/);
    const raw = fileSource('raw', { format: 'csv', path: 'x.csv' });
    const onSource = featureView('on_source', { entity: user, source: raw, timestamp: 'ts', features: ['a'] });
    expect(thrownSluiceError(() => defineProject({ name: 'p', sources: [raw], assets: [stats], featureViews: [onSource] })).message).toMatch(/reads "raw", a file source; feature views read assets/);
    const project = defineProject({ name: 'p', assets: [stats], featureServices: [featureService('svc', { features: [view] })] });
    expect([...project.featureViews.keys()]).toEqual(['user_stats']);
    expect(thrownSluiceError(() => getFeatureService(project, 'scv')).message).toMatch(/no feature service named "scv" in project "p".*did you mean "svc"/);
  });

  it('encodes entity keys the same from any origin and rejects wrong types', () => {
    const keys = [{ name: 'user_id', type: 'int' as const }, { name: 'region', type: 'string' as const }];
    expect(encodeKey(keys, [42n, 'eu'])).toBe(encodeKey(keys, [42, 'eu']));
    expect(encodeKeyOf(keys, { user_id: 42, region: 'eu' })).toBe('[42,"eu"]');
    expect(decodeKey(keys, '[42,"eu"]')).toEqual({ user_id: 42, region: 'eu' });
    expect(encodeKey(keys, ['12345678901234567890', 'x'])).toBe('["12345678901234567890","x"]');
    expect(thrownSluiceError(() => encodeKeyOf(keys, { user_id: '42', region: 'eu' })).message).toBe('entity key "user_id": expected an integer, got the string "42"');
    expect(thrownSluiceError(() => encodeKeyOf(keys, { user_id: 1.5, region: 'eu' })).message).toMatch(/expected an integer, got the number 1.5/);
    expect(thrownSluiceError(() => encodeKeyOf(keys, { user_id: 1, region: 7 })).message).toMatch(/"region": expected a string, got the number 7/);
    expect(thrownSluiceError(() => encodeKeyOf(keys, { user_id: 1 })).message).toBe('entity key "region" is missing');
  });
});
