// Online reads and the serving API, over both online stores (a SQLite file; Redis under a prefix of its own):
// statuses and TTLs, batches, key types, on-demand features, errors and their messages, keys, health, metrics.
// Records are written straight into the store; nothing is built.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { asset } from '../src/define/asset.ts';
import { entity, featureService, featureView, onDemandFeature, select } from '../src/define/features.ts';
import { defineProject } from '../src/define/project.ts';
import { testRedisUrl } from '../src/config.ts';
import { SluiceError } from '../src/errors.ts';
import { encodeKey } from '../src/features/keys.ts';
import { createFeatureClient, readOnlineFeatures, type OnlineFeaturesResponse } from '../src/features/online-read.ts';
import { createLogger } from '../src/logger.ts';
import { parseApiKeys } from '../src/access/api-keys.ts';
import { buildServer, startServer } from '../src/server/server.ts';
import type { OnlineRecord, OnlineStore, ReadRequest } from '../src/store/online/online-store.ts';
import { openOnlineStore } from '../src/store/online/open-online-store.ts';
import { thrownSluiceError } from './helpers/errors.ts';
import { deleteRedisPrefix } from './helpers/redis.ts';
import { makeTempDir } from './helpers/temp.ts';

// ---- the project

const stats = asset('user_stats', { sql: 'SELECT 1 AS user_id' });
const user = entity('user', { keys: { user_id: 'int' } });
const storeItem = entity('store_item', { keys: { store_id: 'string', item_id: 'int' } });
const device = entity('device', { keys: { device_id: 'string' } });

const userProfile = featureView('user_profile', { entity: user, source: stats, timestamp: 'ts', ttl: '1d', features: ['age', 'country', 'score'] });
const userActivity = featureView('user_activity', { entity: user, source: stats, timestamp: 'ts', features: ['logins_7d'] });
const itemStock = featureView('item_stock', { entity: storeItem, source: stats, timestamp: 'ts', features: ['stock', 'price'] });
const deviceRisk = featureView('device_risk', { entity: device, source: stats, timestamp: 'ts', ttl: '1h', features: ['risk', 'tags'] });

const pricing = onDemandFeature('pricing', {
  inputs: [itemStock],
  request: { coupon: 'float', member: 'bool' },
  outputs: { final_price: 'float', in_stock: 'bool' },
  fn: (row) => {
    const price = row['price'] as number | null;
    const stock = row['stock'] as number | null;
    const off = (row['coupon'] as number) + (row['member'] === true ? 1 : 0);
    return { final_price: price === null ? null : price - off, in_stock: stock === null ? null : stock > 0 };
  },
});
const broken = onDemandFeature('broken', {
  inputs: [userActivity],
  outputs: { boom: 'int' },
  fn: () => {
    throw new Error('division by zero in boom');
  },
});

const userService = featureService('user_service', { features: [userProfile, userActivity] });
const shopService = featureService('shop_service', { features: [select(userProfile, ['country']), itemStock, pricing] });
const deviceService = featureService('device_service', { features: [deviceRisk] });
const brokenService = featureService('broken_service', { features: [userActivity, broken] });

const project = defineProject({ name: 'serving', assets: [stats], featureServices: [userService, shopService, deviceService, brokenService] });
const VIEWS = ['user_profile', 'user_activity', 'item_stock', 'device_risk'];

const quiet = createLogger('silent');
const HOUR = 3_600_000;
// Event times relative to the real clock, so HTTP reads (which use the server's clock) see the same ages.
const started = Date.now();
const micros = (ms: number): number => ms * 1000;
const BATCH = 500;

async function seed(store: OnlineStore): Promise<void> {
  const userKey = (id: number): string => encodeKey(user.keys, [id]);
  await store.write('user_profile', [
    { key: userKey(1), eventTimeMicros: micros(started - HOUR), values: { age: 31, country: 'PT', score: 0.75 } },
    // 36 h old with a 1-day TTL: expired, yet inside the grace period Redis keeps a hash for (so it reads as expired, not missing).
    { key: userKey(2), eventTimeMicros: micros(started - 36 * HOUR), values: { age: 45, country: 'DE', score: 0.1 } },
    // Stored without `score`: that feature is missing, the others present.
    { key: userKey(4), eventTimeMicros: micros(started - 2 * HOUR) + 123, values: { age: 19, country: 'BR' } },
  ], { ttlMs: userProfile.ttlMs });
  const activity: OnlineRecord[] = [];
  for (let id = 1; id <= BATCH; id++) if (id % 5 !== 0) activity.push({ key: userKey(id), eventTimeMicros: micros(started - 30 * 24 * HOUR), values: { logins_7d: id * 2 } });
  await store.write('user_activity', activity);
  await store.write('item_stock', [
    { key: encodeKey(storeItem.keys, ['lisbon', 7]), eventTimeMicros: micros(started - HOUR), values: { stock: 3, price: 20.5 } },
    { key: encodeKey(storeItem.keys, ['porto', 7]), eventTimeMicros: micros(started - HOUR), values: { stock: 0, price: 19 } },
  ]);
  await store.write('device_risk', [
    { key: encodeKey(device.keys, ['a1b2-c3']), eventTimeMicros: micros(started - 60_000), values: { risk: 0.9, tags: ['vpn', 'new'] } },
    { key: encodeKey(device.keys, ['old-device']), eventTimeMicros: micros(started - 2 * HOUR), values: { risk: 0.2, tags: [] } },
  ], { ttlMs: deviceRisk.ttlMs });
}

/** A store that counts read round trips. */
function counting(store: OnlineStore): { store: OnlineStore; reads: ReadRequest[][] } {
  const reads: ReadRequest[][] = [];
  const wrapped: OnlineStore = {
    kind: store.kind,
    location: store.location,
    write: (view, records, options) => store.write(view, records, options),
    deleteKeys: (view, keys) => store.deleteKeys(view, keys),
    read: (requests) => {
      reads.push([...requests]);
      return store.read(requests);
    },
    sampleKeys: (view, limit) => store.sampleKeys(view, limit),
    count: (view) => store.count(view),
    dropView: (view) => store.dropView(view),
    ping: () => store.ping(),
    close: () => store.close(),
  };
  return { store: wrapped, reads };
}

interface Backend {
  readonly name: string;
  open(): Promise<{ store: OnlineStore; cleanup: () => Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    open: async () => {
      const temp = makeTempDir('sluice-serve-');
      const store = await openOnlineStore(`sqlite:${path.join(temp.dir, 'online.db')}`);
      return { store, cleanup: async () => { await store.close(); temp.cleanup(); } };
    },
  },
  {
    name: 'redis',
    open: async () => {
      const prefix = `sluice-test-serve-${process.pid}-${Date.now()}:`;
      const store = await openOnlineStore(`${testRedisUrl()}?prefix=${encodeURIComponent(prefix)}`);
      return {
        store,
        cleanup: async () => {
          try {
            for (const view of VIEWS) await store.dropView(view);
          } finally {
            await store.close();
          }
          // Whatever else the run left under its prefix goes too.
          await deleteRedisPrefix(prefix);
        },
      };
    },
  },
];

async function post(app: FastifyInstance, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await app.inject({ method: 'POST', url: '/v1/features', payload: body as Record<string, unknown>, headers });
  return { status: response.statusCode, json: response.json() };
}

describe.each(backends)('online serving on $name', (backend) => {
  let store: OnlineStore;
  let reads: ReadRequest[][];
  let cleanup: () => Promise<void>;
  let app: FastifyInstance;

  beforeAll(async () => {
    const opened = await backend.open();
    cleanup = opened.cleanup;
    ({ store, reads } = counting(opened.store));
    await seed(store);
    app = buildServer({ project, store, logger: quiet });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await cleanup?.();
  });

  it('returns present, missing and expired values with their event times', async () => {
    const { status, json } = await post(app, { service: 'user_service', entities: [{ user_id: 1 }, { user_id: 2 }, { user_id: 3 }, { user_id: 4 }] });
    expect(status).toBe(200);
    const body = json as unknown as OnlineFeaturesResponse;
    expect(body.service).toBe('user_service');
    expect(body.features).toEqual(['age', 'country', 'score', 'logins_7d']);
    const [one, two, three, four] = body.results;
    expect(one?.entity).toEqual({ user_id: 1 });
    expect(one?.features['age']).toEqual({ value: 31, status: 'present', eventTimestamp: new Date(started - HOUR).toISOString() });
    expect(one?.features['score']).toEqual({ value: 0.75, status: 'present', eventTimestamp: new Date(started - HOUR).toISOString() });
    // No TTL on user_activity: a month-old value is still present.
    expect(one?.features['logins_7d']?.status).toBe('present');
    expect(one?.features['logins_7d']?.value).toBe(2);
    // Expired: the stale value is never returned.
    expect(two?.features['age']).toEqual({ value: null, status: 'expired', eventTimestamp: new Date(started - 36 * HOUR).toISOString() });
    expect(two?.features['country']?.value).toBeNull();
    expect(three?.features['age']).toEqual({ value: null, status: 'missing', eventTimestamp: null });
    // Stored without one feature: that one is missing, the rest present; sub-millisecond event times survive.
    expect(four?.features['score']).toEqual({ value: null, status: 'missing', eventTimestamp: null });
    expect(four?.features['country']?.value).toBe('BR');
    expect(four?.features['country']?.eventTimestamp).toBe(`${new Date(started - 2 * HOUR).toISOString().slice(0, -1)}123Z`);
  });

  it('gives the same results in process as over HTTP, and answers as of a given time', async () => {
    const client = createFeatureClient({ project, store });
    const lookup = { service: 'user_service', entities: [{ user_id: 1 }, { user_id: 2 }, { user_id: 3 }, { user_id: 4 }] };
    const http = await post(app, lookup);
    const direct = await client.getOnlineFeatures(lookup);
    expect(JSON.parse(JSON.stringify(direct))).toEqual(http.json);
    // Two days later, user 1's profile has expired too; at its event time, user 2's is present.
    const later = await readOnlineFeatures(project, store, lookup, { asOf: started + 2 * 24 * HOUR });
    expect(later.results[0]?.features['age']?.status).toBe('expired');
    const earlier = await readOnlineFeatures(project, store, lookup, { asOf: new Date(started - 36 * HOUR + 1) });
    expect(earlier.results[1]?.features['age']).toMatchObject({ value: 45, status: 'present' });
    // The same over HTTP: a request's asOf, a server's default, and a request overriding the default.
    const laterIso = new Date(started + 2 * 24 * HOUR).toISOString();
    const overHttp = await post(app, { ...lookup, asOf: laterIso });
    expect(overHttp.json).toEqual(JSON.parse(JSON.stringify(later)));
    const pinned = buildServer({ project, store, logger: quiet, asOf: laterIso });
    try {
      expect((await post(pinned, lookup)).json).toEqual(JSON.parse(JSON.stringify(later)));
      expect((await post(pinned, { ...lookup, asOf: started })).json).toEqual(http.json);
    } finally {
      await pinned.close();
    }
    const bad = await post(app, { ...lookup, asOf: 'yesterday-ish' });
    expect(bad.status).toBe(400);
    expect(bad.json['message']).toMatch(/request\.asOf must be a time.*"yesterday-ish"/);
    expect(() => createFeatureClient({ project, store, asOf: 'soon' })).toThrow(/asOf must be a time/);
  });

  it('reads a batch of entities in one store round trip', async () => {
    const before = reads.length;
    const entities = Array.from({ length: BATCH }, (_, i) => ({ user_id: i + 1 }));
    const { status, json } = await post(app, { service: 'user_service', entities });
    expect(status).toBe(200);
    expect(reads.length - before).toBe(1);
    expect(reads.at(-1)?.map((r) => [r.view, r.keys.length])).toEqual([['user_profile', BATCH], ['user_activity', BATCH]]);
    const results = (json as unknown as OnlineFeaturesResponse).results;
    expect(results).toHaveLength(BATCH);
    results.forEach((result, i) => {
      const id = i + 1;
      expect(result.entity).toEqual({ user_id: id });
      expect(result.features['logins_7d']).toMatchObject(id % 5 === 0 ? { value: null, status: 'missing' } : { value: id * 2, status: 'present' });
    });
  });

  it('reads composite and string keys, and runs on-demand features on request data', async () => {
    const { status, json } = await post(app, {
      service: 'shop_service',
      entities: [{ user_id: 1, store_id: 'lisbon', item_id: 7 }, { user_id: 3, store_id: 'porto', item_id: 7 }, { user_id: 4, store_id: 'faro', item_id: 7 }],
      request: { coupon: 2.5, member: true },
    });
    expect(status).toBe(200);
    const body = json as unknown as OnlineFeaturesResponse;
    expect(body.features).toEqual(['country', 'stock', 'price', 'final_price', 'in_stock']);
    const [lisbon, porto, faro] = body.results;
    expect(lisbon?.entity).toEqual({ user_id: 1, store_id: 'lisbon', item_id: 7 });
    expect(lisbon?.features['country']?.value).toBe('PT');
    expect(lisbon?.features['final_price']).toEqual({ value: 17, status: 'present', eventTimestamp: null });
    expect(lisbon?.features['in_stock']?.value).toBe(true);
    expect(porto?.features['country']?.status).toBe('missing');
    expect(porto?.features['in_stock']?.value).toBe(false);
    // No stored item: the function receives nulls for its inputs, as in offline retrieval.
    expect(faro?.features['stock']?.status).toBe('missing');
    expect(faro?.features['final_price']).toEqual({ value: null, status: 'present', eventTimestamp: null });

    const devices = await post(app, { service: 'device_service', entities: [{ device_id: 'a1b2-c3' }, { device_id: 'old-device' }] });
    const [fresh, old] = (devices.json as unknown as OnlineFeaturesResponse).results;
    expect(fresh?.features['tags']).toMatchObject({ value: ['vpn', 'new'], status: 'present' });
    expect(old?.features['risk']).toMatchObject({ value: null, status: 'expired' });
  });

  it('returns a subset of features, reading only the views it needs', async () => {
    const before = reads.length;
    const { status, json } = await post(app, { service: 'shop_service', entities: [{ user_id: 1, store_id: 'lisbon', item_id: 7 }], features: ['in_stock', 'country'], request: { coupon: 0, member: false } });
    expect(status).toBe(200);
    const body = json as unknown as OnlineFeaturesResponse;
    expect(body.features).toEqual(['in_stock', 'country']);
    expect(Object.keys(body.results[0]?.features ?? {})).toEqual(['in_stock', 'country']);
    expect(body.results[0]?.features['in_stock']?.value).toBe(true);
    expect(reads.slice(before).flat().map((r) => r.view).sort()).toEqual(['item_stock', 'user_profile']);
    // Without an on-demand feature, no request fields are needed.
    const plain = await post(app, { service: 'shop_service', entities: [{ user_id: 1, store_id: 'lisbon', item_id: 7 }], features: ['price'] });
    expect(plain.status).toBe(200);
  });

  it('rejects bad lookups with 400 and a message that says what to fix', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ service: 'user_servce', entities: [{ user_id: 1 }] }, 'FEATURE_NOT_FOUND', /no feature service named "user_servce".*did you mean "user_service"/],
      [{ service: 'user_service', entities: [{ user_id: 1 }], features: ['agee'] }, 'FEATURE_NOT_FOUND', /has no feature "agee" \(did you mean "age"\?\); its features: age, country, score, logins_7d/],
      [{ service: 'user_service', entities: [{ user_id: 1 }, {}] }, 'FEATURE_REQUEST', /entities\[1\] is missing the key "user_id" \(int\)/],
      [{ service: 'user_service', entities: [{ user_id: 'abc' }] }, 'FEATURE_REQUEST', /entities\[0\] key "user_id" is an int: expected an integer, got the string "abc"/],
      [{ service: 'user_service', entities: [{ user_id: 1.5 }] }, 'FEATURE_REQUEST', /key "user_id" is an int: expected an integer, got the number 1.5/],
      [{ service: 'shop_service', entities: [{ user_id: 1, store_id: 7, item_id: 7 }], features: ['price'] }, 'FEATURE_REQUEST', /key "store_id" is a string: expected a string, got the number 7/],
      [{ service: 'user_service', entities: [{ user_id: 1, userid: 2 }] }, 'FEATURE_REQUEST', /entities\[0\] has an unknown field "userid".*entity objects hold only the keys user_id \(int\)/],
      [{ service: 'shop_service', entities: [{ user_id: 1, store_id: 'lisbon', item_id: 7, coupon: 1 }] }, 'FEATURE_REQUEST', /"coupon" is a request field: send it in "request"/],
      [{ service: 'shop_service', entities: [{ user_id: 1, store_id: 'lisbon', item_id: 7 }], request: { coupon: 1 } }, 'FEATURE_REQUEST', /request field "member" \(bool\) is missing: on-demand feature "pricing" needs it/],
      [{ service: 'shop_service', entities: [{ user_id: 1, store_id: 'lisbon', item_id: 7 }], request: { coupon: '1', member: true } }, 'FEATURE_REQUEST', /request field "coupon" must be a float; got the string "1"/],
      [{ service: 'shop_service', entities: [{ user_id: 1, store_id: 'lisbon', item_id: 7 }], request: { coupon: 1, member: true, cupon: 2 } }, 'FEATURE_REQUEST', /unknown request field "cupon" \(did you mean "coupon"\?\); its request fields: coupon \(float\), member \(bool\)/],
      [{ service: 'user_service', entities: Array.from({ length: 1001 }, (_, i) => ({ user_id: i })) }, 'FEATURE_REQUEST', /1001 entities in one lookup; at most 1000/],
      [{ service: 'user_service', entities: [] }, 'FEATURE_REQUEST', /body.entities must NOT have fewer than 1 items/],
      [{ service: 'user_service', entities: [1] }, 'FEATURE_REQUEST', /body.entities\[0\] must be object/],
      [{ service: 'user_service' }, 'FEATURE_REQUEST', /body is missing "entities"/],
      [{ service: 'user_service', entities: [{ user_id: 1 }], extra: true }, 'FEATURE_REQUEST', /body has an unknown field "extra"/],
      [{ service: 'broken_service', entities: [{ user_id: 1 }] }, 'FEATURE_REQUEST', /on-demand feature "broken" failed for entities\[0\]: division by zero in boom/],
    ];
    for (const [body, code, message] of cases) {
      const { status, json } = await post(app, body);
      expect({ status, error: json['error'] }, JSON.stringify(body).slice(0, 200)).toEqual({ status: 400, error: code });
      expect(json['message']).toMatch(message);
    }
    const malformed = await app.inject({ method: 'POST', url: '/v1/features', payload: '{"service": "user_service", "entities": [', headers: { 'content-type': 'application/json' } });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ error: 'FEATURE_REQUEST', message: expect.stringMatching(/not valid JSON/) as unknown });
  });

  it('throws the same errors from the in-process client', async () => {
    const client = createFeatureClient({ project, store });
    await expect(client.getOnlineFeatures({ service: 'user_service', entities: [{ user_id: '1' }] })).rejects.toMatchObject({ code: 'FEATURE_REQUEST', message: expect.stringMatching(/"user_id" is an int/) as unknown });
    await expect(client.getOnlineFeatures({ service: 'nope', entities: [{ user_id: 1 }] })).rejects.toBeInstanceOf(SluiceError);
  });

  it('reports health and metrics without a key', async () => {
    const health = await app.inject({ method: 'GET', url: '/health' });
    expect(health.json()).toEqual({ status: 'ok', store: backend.name, checks: { onlineStore: { ok: true } }, services: ['user_service', 'shop_service', 'device_service', 'broken_service'] });
    expect((await app.inject({ method: 'GET', url: '/ready' })).json()).toEqual({ ready: true });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/text\/plain/);
    const text = metrics.body;
    expect(text).toMatch(/sluice_feature_request_duration_seconds_bucket\{le="0.001",service="user_service",status_code="200"\} \d+/);
    expect(text).toMatch(/sluice_feature_request_duration_seconds_count\{service="user_service",status_code="400"\} [1-9]/);
    expect(text).toMatch(/sluice_feature_values_total\{service="user_service",result="hit"\} [1-9]/);
    expect(text).toMatch(/sluice_feature_values_total\{service="user_service",result="miss"\} [1-9]/);
    expect(text).toMatch(/sluice_feature_values_total\{service="user_service",result="expired"\} [1-9]/);
    expect(text).toMatch(/sluice_feature_request_errors_total\{service="unknown",code="FEATURE_NOT_FOUND"\} 1/);
    expect(text).toMatch(/sluice_feature_request_errors_total\{service="broken_service",code="FEATURE_REQUEST"\} 1/);
    // The registry is the server's own: the global one stays empty.
    const { register } = await import('prom-client');
    expect(await register.metrics()).not.toMatch(/sluice_feature/);
  });

  it('serves a real listening socket', async () => {
    const server = await startServer({ project, store, logger: quiet, host: '127.0.0.1', port: 0 });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const response = await fetch(`${server.url}/v1/features`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ service: 'device_service', entities: [{ device_id: 'a1b2-c3' }] }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as OnlineFeaturesResponse;
      expect(body.results[0]?.features['risk']).toMatchObject({ value: 0.9, status: 'present' });
      const missingRoute = await fetch(`${server.url}/v2/features`);
      expect(missingRoute.status).toBe(404);
      expect(await missingRoute.json()).toMatchObject({ error: 'NOT_FOUND', message: expect.stringMatching(/routes: POST \/v1\/features/) as unknown });
    } finally {
      await server.close();
    }
  });
});

describe('API keys', () => {
  const secretA = 'k-user-only-0123456789';
  const secretB = 'k-all-abcdef==';
  const stubStore = (read: OnlineStore['read'] = (requests) => Promise.resolve(requests.map((r) => r.keys.map(() => undefined)))): OnlineStore => ({
    kind: 'sqlite', location: 'sqlite:stub', read,
    write: () => Promise.resolve({ written: 0, stale: 0 }), sampleKeys: () => Promise.resolve([]), count: () => Promise.resolve(0), dropView: () => Promise.resolve(), deleteKeys: () => Promise.resolve(0), ping: () => Promise.resolve(), close: () => Promise.resolve(),
  });
  let app: FastifyInstance;
  beforeAll(async () => {
    app = buildServer({ project, store: stubStore(), apiKeys: `${secretA}=user_service|device_service, ${secretB}=*`, logger: quiet });
    await app.ready();
  });
  afterAll(async () => { await app?.close(); });
  const lookup = { service: 'shop_service', entities: [{ user_id: 1, store_id: 's', item_id: 1 }], features: ['price'] };

  it('401 without a key or with an unknown one, 403 for a service the key may not read', async () => {
    const noKey = await post(app, lookup);
    expect(noKey).toMatchObject({ status: 401, json: { error: 'UNAUTHORIZED', message: expect.stringMatching(/x-api-key header or as Authorization: Bearer/) as unknown } });
    expect((await post(app, lookup, { 'x-api-key': 'wrong' })).status).toBe(401);
    expect((await post(app, lookup, { authorization: 'Basic abc' })).status).toBe(401);
    // A bad body from an unauthenticated client is still 401: keys are checked before the body is read.
    expect((await post(app, { nonsense: true })).status).toBe(401);
    const forbidden = await post(app, lookup, { 'x-api-key': secretA });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json).toEqual({
      error: 'FORBIDDEN', principal: 'SLUICE_API_KEYS entry 1', route: 'POST /v1/features', missing: 'grants.services: ["shop_service"]',
      message: 'principal "SLUICE_API_KEYS entry 1" may not read feature service "shop_service" (POST /v1/features): it needs grants.services: ["shop_service"]; ask an admin to grant it',
    });
    expect(JSON.stringify(forbidden.json)).not.toContain(secretA);
    // A restricted key learns nothing about services it cannot read, not even suggestions.
    expect((await post(app, { ...lookup, service: 'shop_servic' }, { 'x-api-key': secretA })).status).toBe(403);
  });

  it('accepts x-api-key and Bearer, for the services each key grants', async () => {
    expect((await post(app, { service: 'user_service', entities: [{ user_id: 1 }] }, { 'x-api-key': secretA })).status).toBe(200);
    expect((await post(app, lookup, { authorization: `Bearer ${secretB}` })).status).toBe(200);
    expect((await post(app, lookup, { authorization: `bearer  ${secretB}` })).status).toBe(200);
    const unknown = await post(app, { ...lookup, service: 'shop_servic' }, { 'x-api-key': secretB });
    expect(unknown).toMatchObject({ status: 400, json: { error: 'FEATURE_NOT_FOUND' } });
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    // With keys, /metrics wants one too (any principal's); /health stays open for load balancers.
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-api-key': secretA } })).statusCode).toBe(200);
  });

  it('parses the key format and rejects malformed values without echoing keys', () => {
    const config = parseApiKeys(' a=svc1|svc2 , b==* ,');
    expect(config.grants.size).toBe(2);
    expect([...config.grants.values()]).toEqual([new Set(['svc1', 'svc2']), '*']);
    expect(parseApiKeys('').grants.size).toBe(0);
    for (const [raw, message] of [
      ['supersecret', /entry 1 has no "="/],
      ['a=*,supersecret=', /entry 2 names no services/],
      ['=svc', /entry 1 has an empty key/],
      ['a=*,a=svc', /entry 2 repeats the key of an earlier entry/],
      ['supersecret=svc||x', /entry 1: "" is not a feature service name/],
    ] as const) {
      const error = thrownSluiceError(() => parseApiKeys(raw));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('supersecret');
    }
    const unknown = thrownSluiceError(() => buildServer({ project, store: stubStore(), apiKeys: 'k=user_service|usr_service', logger: quiet }));
    expect(unknown).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/does not define: SLUICE_API_KEYS entry 1: services "usr_service"/) as unknown });
  });

  it('maps store failures to 503 and unexpected errors to 500, without internals', async () => {
    const lookupUser = { service: 'user_service', entities: [{ user_id: 1 }] };
    const down = buildServer({ project, store: stubStore(() => Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:6379'))), logger: quiet });
    const odd = buildServer({ project, store: stubStore(() => Promise.reject(new SluiceError('CATALOG', 'secret table xyz broke'))), logger: quiet });
    try {
      const unavailable = await post(down, lookupUser);
      expect(unavailable).toEqual({ status: 503, json: { error: 'ONLINE_STORE', message: 'the online store could not be read; retry shortly' } });
      const internal = await post(odd, lookupUser);
      expect(internal.status).toBe(500);
      expect(JSON.stringify(internal.json)).not.toMatch(/secret|xyz/);
      const metrics = (await down.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/sluice_feature_request_errors_total\{service="user_service",code="ONLINE_STORE"\} 1/);
      expect(metrics).toMatch(/sluice_feature_request_duration_seconds_count\{service="user_service",status_code="503"\} 1/);
    } finally {
      await down.close();
      await odd.close();
    }
  });
});

describe('serving under faults', () => {
  it('/health and /ready answer 503 while Redis is down, and 200 again once it is back', async () => {
    // A private redis-server on a port of its own, killed and restarted by this test (never the shared one).
    const port = 20000 + (process.pid % 20000);
    const temp = makeTempDir('sluice-serve-redis-');
    const start = (): ChildProcess => spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', temp.dir], { stdio: 'ignore' });
    const ready = async (): Promise<void> => {
      for (let i = 0; i < 100; i++) {
        if (await new Promise<boolean>((resolve) => { const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true); }); socket.on('error', () => resolve(false)); })) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`redis-server did not start on ${port}`);
    };
    let redis = start();
    await ready();
    const store = await openOnlineStore(`redis://127.0.0.1:${port}/0?prefix=health:`);
    const app = buildServer({ project, store, logger: quiet });
    try {
      expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      redis.kill('SIGKILL');
      await new Promise((resolve) => redis.once('exit', resolve));
      const down = await app.inject({ method: 'GET', url: '/health' });
      expect(down.statusCode).toBe(503);
      expect(down.json()).toMatchObject({ status: 'unavailable', checks: { onlineStore: { ok: false } } });
      expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(503);
      redis = start();
      await ready();
      let back = 503;
      for (let i = 0; i < 100 && back !== 200; i++) {
        back = (await app.inject({ method: 'GET', url: '/ready' })).statusCode;
        if (back !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(back).toBe(200);
    } finally {
      await app.close();
      await store.close();
      redis.kill('SIGKILL');
      temp.cleanup();
    }
  });

  it('cuts off a client that sends headers and never the body', async () => {
    const store = await openOnlineStore(`sqlite:${path.join(makeTempDir('sluice-serve-timeout-').dir, 'online.db')}`);
    const server = await startServer({ project, store, logger: quiet, port: 0, requestTimeoutMs: 500 });
    try {
      const { port } = new URL(server.url);
      const started = Date.now();
      const closed = await new Promise<{ ms: number; response: string }>((resolve) => {
        let response = '';
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write('POST /v1/features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"serv');
        });
        socket.on('data', (chunk) => { response += chunk.toString('utf8'); });
        socket.on('close', () => resolve({ ms: Date.now() - started, response }));
      });
      expect(closed.ms).toBeLessThan(5_000);
      expect(closed.response).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
