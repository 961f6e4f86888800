// Access control and audit: roles and grants decide every route (401 without a valid key, 403 naming the missing
// grant), keys live hashed in the principals file and rotate without a restart, request counts land in the
// catalog's audit log per principal, key and minute, and `sluice access` / `sluice audit` work as real processes.
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RequestAudit, minuteOf } from '../src/access/audit.ts';
import { KeyRing } from '../src/access/key-ring.ts';
import { addKey, revokeKeys } from '../src/access/principals-file.ts';
import { authorize, hashKey, type Principal, type Role } from '../src/access/principals.ts';
import { projectNames } from '../src/access/serving-access.ts';
import { buildServer } from '../src/server/server.ts';
import type { Catalog } from '../src/store/catalog/catalog.ts';
import { openCatalog } from '../src/store/catalog/open-catalog.ts';
import type { OnlineStore } from '../src/store/online/online-store.ts';
import { openOnlineStore } from '../src/store/online/open-online-store.ts';
import { thrownSluiceError } from './helpers/errors.ts';
import { fraudProject } from './helpers/fraud-project.ts';
import { makeTempDir, runCli, writeParquet } from './helpers/temp.ts';
import { startServeProcess } from './helpers/serve-process.ts';

const project = fraudProject();
const known = projectNames(project);
const principal = (role: Role, grants: Partial<Principal['grants']> = {}): Principal => ({
  name: `a-${role}`, role, keys: [], grants: { services: [], assets: [], streams: [], detokenize: [], ...grants },
});

/** Wait until `check` holds (a server re-reading its file), or fail after `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('authorize', () => {
  it('lets readers read granted services, operators also ingest and build granted streams and assets, admins do all but detokenize', () => {
    const reader = principal('reader', { services: ['fraud'], streams: ['transactions'], assets: ['transactions'] });
    expect(authorize(reader, { action: 'read', service: 'fraud' })).toEqual({ allowed: true });
    expect(authorize(reader, { action: 'read', service: 'other' })).toEqual({ allowed: false, missing: 'grants.services: ["other"]' });
    expect(authorize(reader, { action: 'ingest', stream: 'transactions' })).toEqual({ allowed: false, missing: 'role "operator" (ingest into stream "transactions"; this principal is a reader)' });
    expect(authorize(reader, { action: 'run', asset: 'transactions' })).toMatchObject({ allowed: false, missing: expect.stringMatching(/^role "operator"/) as unknown });

    const operator = principal('operator', { services: ['*'], streams: ['transactions'], assets: ['transactions'] });
    expect(authorize(operator, { action: 'read', service: 'anything' })).toEqual({ allowed: true });
    expect(authorize(operator, { action: 'ingest', stream: 'transactions' })).toEqual({ allowed: true });
    expect(authorize(operator, { action: 'ingest', stream: 'clicks' })).toEqual({ allowed: false, missing: 'grants.streams: ["clicks"]' });
    for (const action of ['run', 'backfill', 'delete'] as const) {
      expect(authorize(operator, { action, asset: 'transactions' })).toEqual({ allowed: true });
      expect(authorize(operator, { action, asset: 'orders' })).toEqual({ allowed: false, missing: 'grants.assets: ["orders"]' });
    }

    const admin = principal('admin');
    expect(authorize(admin, { action: 'read', service: 'fraud' })).toEqual({ allowed: true });
    expect(authorize(admin, { action: 'ingest', stream: 'x' })).toEqual({ allowed: true });
    expect(authorize(admin, { action: 'delete', asset: 'x' })).toEqual({ allowed: true });
    // Detokenizing is never implied: not by the admin role, not by a * on services.
    expect(authorize(admin, { action: 'detokenize', pii: 'email' })).toEqual({ allowed: false, missing: 'grants.detokenize: ["email"]' });
    expect(authorize(principal('reader', { detokenize: ['email'] }), { action: 'detokenize', pii: 'email' })).toEqual({ allowed: true });
  });
});

describe('the principals file', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = makeTempDir('sluice-access-')));
  afterEach(() => cleanup());

  it('stores only the SHA-256 of each key, readable by its owner only, and refuses bad entries with the field named', () => {
    const file = path.join(dir, 'access.json');
    const first = addKey(file, 'model-a', { role: 'reader', grants: { services: ['fraud'] }, known });
    const second = addKey(file, 'model-a', {});
    expect(first.key).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(second.key).not.toBe(first.key);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain(first.key);
    expect(text).not.toContain(second.key);
    expect(text).toContain(hashKey(first.key));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(text)).toMatchObject({ principals: [{ name: 'model-a', role: 'reader', grants: { services: ['fraud'] }, keys: [{ sha256: hashKey(first.key) }, { sha256: hashKey(second.key) }] }] });

    expect(thrownSluiceError(() => addKey(file, 'newcomer', {})).message).toMatch(/principal "newcomer" is not in .*access\.json: give it a role to create it, e\.g\. `sluice access add-key newcomer --role reader/);
    expect(thrownSluiceError(() => addKey(file, 'model-b', { role: 'reader', grants: { services: ['frud'] }, known })).message).toMatch(/does not define: model-b: services "frud"/);
    expect(thrownSluiceError(() => revokeKeys(file, 'model-a', {})).message).toMatch(/--key <id> \(one of [0-9a-f]{12}, [0-9a-f]{12}\) or --all/);
    fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ principals: [{ name: 'x', role: 'root', keys: [] }] }));
    expect(() => new KeyRing({ file: path.join(dir, 'bad.json') })).toThrow(/principals file .*bad\.json at principals\.0\.role: /);
    fs.writeFileSync(path.join(dir, 'plain.json'), JSON.stringify({ principals: [{ name: 'x', role: 'reader', keys: [{ sha256: 'sk_my_actual_key' }] }] }));
    const plain = thrownSluiceError(() => new KeyRing({ file: path.join(dir, 'plain.json') }));
    expect(plain.message).toMatch(/at principals\.0\.keys\.0\.sha256: the SHA-256 of the key, 64 hex digits \(never the key itself\)/);
    expect(plain.message).not.toContain('sk_my_actual_key');
  });
});

describe('the API with principals', () => {
  let dir: string;
  let cleanup: () => void;
  let file: string;
  let store: OnlineStore;
  let catalog: Catalog;
  let ring: KeyRing;
  let app: FastifyInstance;
  const ingested: string[] = [];
  const keys: Record<string, string> = {};
  const lookup = { service: 'fraud', entities: [{ card_id: 1 }] };
  const event = { txn_id: 't1', card_id: 1, merchant_id: 'm', amount: 2.5, ts: '2026-11-25T08:00:00Z' };

  beforeAll(async () => {
    ({ dir, cleanup } = makeTempDir('sluice-access-api-'));
    file = path.join(dir, 'access.json');
    keys['reader'] = addKey(file, 'model-a', { role: 'reader', grants: { services: ['fraud'] } }).key;
    keys['nothing'] = addKey(file, 'stranger', { role: 'reader' }).key;
    keys['operator'] = addKey(file, 'ingester', { role: 'operator', grants: { streams: ['transactions'] } }).key;
    keys['expired'] = addKey(file, 'old-model', { role: 'reader', grants: { services: ['fraud'] }, expires: '2020-01-01T00:00:00.000Z' }).key;
    store = await openOnlineStore(`sqlite:${path.join(dir, 'online.db')}`);
    catalog = await openCatalog(`sqlite:${path.join(dir, 'catalog.db')}`);
    ring = new KeyRing({ file, known, refreshMs: 20 });
    app = buildServer({
      project, store, access: ring, audit: catalog, auditFlushMs: 60_000, processMetrics: false,
      ingest: (_stream, events) => { ingested.push(...events); return Promise.resolve(events.length); },
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    ring.close();
    await store.close();
    await catalog.close();
    cleanup();
  });

  const send = async (url: string, payload: unknown, key?: string): Promise<{ status: number; json: Record<string, string> }> => {
    const response = await app.inject({ method: 'POST', url, headers: key === undefined ? {} : { 'x-api-key': key }, payload: payload as Record<string, unknown> });
    return { status: response.statusCode, json: response.json() };
  };

  it('answers 401 without a key, with an unknown one and with an expired one, saying why', async () => {
    expect(await send('/v1/features', lookup)).toMatchObject({ status: 401, json: { error: 'UNAUTHORIZED', message: expect.stringMatching(/x-api-key header/) as unknown } });
    expect(await send('/v1/features', lookup, 'sk_not-a-key')).toMatchObject({ status: 401, json: { message: 'the API key is not valid' } });
    const expired = await send('/v1/features', lookup, keys['expired']);
    expect(expired).toMatchObject({ status: 401, json: { message: expect.stringMatching(/^the API key [0-9a-f]{12} of principal "old-model" expired at 2020-01-01T00:00:00.000Z; ask an admin for a new one/) as unknown } });
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('answers 403 naming the principal, the route and the missing grant, on every route', async () => {
    expect((await send('/v1/features', lookup, keys['reader'])).status).toBe(200);
    expect(await send('/v1/features', lookup, keys['nothing'])).toEqual({
      status: 403,
      json: {
        error: 'FORBIDDEN', principal: 'stranger', route: 'POST /v1/features', missing: 'grants.services: ["fraud"]',
        message: 'principal "stranger" may not read feature service "fraud" (POST /v1/features): it needs grants.services: ["fraud"]; ask an admin to grant it',
      },
    });
    const readerIngest = await send('/v1/events/transactions', event, keys['reader']);
    expect(readerIngest).toMatchObject({ status: 403, json: { principal: 'model-a', route: 'POST /v1/events/:stream', missing: 'role "operator" (ingest into stream "transactions"; this principal is a reader)' } });
    expect(await send('/v1/events/transactions', [event, { ...event, txn_id: 't2' }], keys['operator'])).toEqual({ status: 202, json: { stream: 'transactions', accepted: 2 } });
    expect(ingested.map((line) => (JSON.parse(line) as { txn_id: string }).txn_id)).toEqual(['t1', 't2']);
    expect(await send('/v1/features', lookup, keys['operator'])).toMatchObject({ status: 403, json: { principal: 'ingester', missing: 'grants.services: ["fraud"]' } });
    expect((await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${keys['nothing'] ?? ''}` } })).statusCode).toBe(200);
  });

  it('rotates keys without a restart: a second key works beside the first, a revoked one stops at once the file changes', async () => {
    const before = keys['reader'] ?? '';
    const next = addKey(file, 'model-a', {});
    await eventually(async () => (await send('/v1/features', lookup, next.key)).status === 200);
    expect((await send('/v1/features', lookup, before)).status).toBe(200);
    expect(revokeKeys(file, 'model-a', { keyId: hashKey(before).slice(0, 12) })).toEqual([hashKey(before).slice(0, 12)]);
    await eventually(async () => (await send('/v1/features', lookup, before)).status === 401);
    expect((await send('/v1/features', lookup, next.key)).status).toBe(200);
    keys['reader'] = next.key;
    // A file that stops parsing mid-edit leaves the keys in force.
    fs.writeFileSync(file, '{ "principals": [');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await send('/v1/features', lookup, next.key)).status).toBe(200);
  });

  it('counts reads, ingests and refusals per principal, key and minute in the catalog, not one row per request', async () => {
    const counts = new Map<string, number>();
    for (const entry of await catalog.listAudit()) counts.set(`${entry.principal}|${entry.action}|${entry.target}`, entry.count);
    expect(counts.size).toBe(0); // nothing is written until a flush
    await app.close();
    const entries = await catalog.listAudit();
    const sum = (principalName: string, action: string, target: string): number =>
      entries.filter((e) => e.principal === principalName && e.action === action && e.target === target).reduce((n, e) => n + e.count, 0);
    expect(sum('model-a', 'read', 'service:fraud')).toBeGreaterThanOrEqual(6);
    expect(sum('ingester', 'ingest', 'stream:transactions')).toBe(1);
    expect(sum('stranger', 'denied', 'POST /v1/features')).toBe(1);
    // No key, an unknown key, an expired key, then the revoked key until the server had re-read the file.
    expect(sum('anonymous', 'denied', 'POST /v1/features')).toBeGreaterThanOrEqual(4);
    expect(sum('anonymous', 'denied', 'GET /metrics')).toBe(1);
    expect(entries.every((e) => e.at.endsWith(':00.000Z'))).toBe(true);
    // One row per (principal, key, action, target, minute): model-a read with two keys, so at most two rows per minute.
    const modelReads = entries.filter((e) => e.principal === 'model-a' && e.action === 'read');
    expect(new Set(modelReads.map((e) => `${e.keyId ?? ''}|${e.at}`)).size).toBe(modelReads.length);
    expect(modelReads.length).toBeLessThanOrEqual(4);
  });
});

describe('RequestAudit', () => {
  it('keeps counts per minute and adds up flushes of the same minute', async () => {
    const { dir, cleanup } = makeTempDir('sluice-audit-');
    const catalog = await openCatalog(`sqlite:${path.join(dir, 'catalog.db')}`);
    try {
      const audit = new RequestAudit({ catalog, flushMs: 60_000 });
      const t0 = Date.UTC(2026, 10, 25, 8, 0, 10);
      for (let i = 0; i < 5; i++) audit.count('model-a', 'k1', 'read', 'service:fraud', t0 + i * 1_000);
      audit.count('model-a', 'k1', 'read', 'service:fraud', t0 + 60_000);
      await audit.flush();
      audit.count('model-a', 'k1', 'read', 'service:fraud', t0 + 30_000);
      audit.count('model-b', 'k2', 'read', 'service:fraud', t0);
      await audit.close();
      const rows = (await catalog.listAudit()).map((e) => [e.at, e.principal, e.count]);
      expect(rows).toEqual(expect.arrayContaining([[minuteOf(t0 + 60_000), 'model-a', 1], [minuteOf(t0), 'model-a', 6], [minuteOf(t0), 'model-b', 1]]));
      expect(rows).toHaveLength(3);
    } finally {
      await catalog.close();
      cleanup();
    }
  });
});

const CONFIG = `import { asset, defineProject, entity, featureService, featureView, fileSource } from 'sluice';
const user = entity('user', { keys: { user_id: 'int' } });
const raw = fileSource('raw', { format: 'parquet', path: 'data/profiles.parquet' });
const profiles = asset('profiles', { sql: ({ ref }) => \`SELECT * FROM \${ref(raw)}\` });
const profile = featureView('profile', { entity: user, source: profiles, timestamp: 'ts', features: ['score'] });
export default defineProject({
  name: 'audited',
  assets: [profiles],
  featureServices: [featureService('model', { features: [profile] })],
  settings: { access: { principalsFile: 'config/access.json' } },
});
`;

describe('sluice access and sluice audit', () => {
  let dir: string;
  let cleanup: () => void;
  const env = { SLUICE_PRINCIPAL: 'alice@example.com' };
  beforeAll(async () => {
    ({ dir, cleanup } = makeTempDir('sluice-access-cli-'));
    fs.writeFileSync(path.join(dir, 'sluice.config.ts'), CONFIG);
    await writeParquet(path.join(dir, 'data/profiles.parquet'), `SELECT i AS user_id, TIMESTAMP '2026-11-01' + to_hours(i) AS ts, i * 1.5 AS score FROM range(1, 6) t(i)`);
  });
  afterAll(() => cleanup());

  // About fifteen CLI processes, each loading the project: minutes on a loaded machine.
  it('records who ran and vacuumed, prints keys once, and rotates the keys of a running server', { timeout: 240_000 }, async () => {
    const run = await runCli(['run', '-p', dir], { env });
    expect(run.code, run.stderr).toBe(0);
    expect((await runCli(['features', 'materialize', '-p', dir], { env })).code).toBe(0);
    expect((await runCli(['vacuum', '-p', dir], { env })).code).toBe(0);

    const added = await runCli(['access', 'add-key', 'model-a', '--role', 'reader', '--service', 'model', '-p', dir]);
    expect(added.code, added.stderr).toBe(0);
    const key1 = added.stdout.trim();
    expect(key1).toMatch(/^sk_/);
    expect(added.stderr).toMatch(/new key [0-9a-f]{12} for reader "model-a" in .*config\/access\.json; shown once/);
    expect(fs.readFileSync(path.join(dir, 'config/access.json'), 'utf8')).not.toContain(key1);
    const refused = await runCli(['access', 'add-key', 'model-b', '--role', 'reader', '--service', 'modle', '-p', dir]);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/model-b: services "modle"/) as unknown });

    const server = await startServeProcess(['-p', dir], { SLUICE_LOG_LEVEL: 'error' });
    let exit: number | null = null;
    try {
      const url = server.url;
      const status = async (key: string): Promise<number> => (await fetch(`${url}/v1/features`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify({ service: 'model', entities: [{ user_id: 2 }] }),
      })).status;
      for (let i = 0; i < 3; i++) expect(await status(key1)).toBe(200);
      const key2 = (await runCli(['access', 'add-key', 'model-a', '-p', dir])).stdout.trim();
      await eventually(async () => (await status(key2)) === 200);
      expect(await status(key1)).toBe(200);
      const listed = JSON.parse((await runCli(['access', 'list', '--json', '-p', dir])).stdout) as { principal: string; keys: string }[];
      expect(listed).toMatchObject([{ principal: 'model-a', role: 'reader', services: 'model', keys: `${hashKey(key1).slice(0, 12)}, ${hashKey(key2).slice(0, 12)}` }]);
      expect((await runCli(['access', 'revoke', 'model-a', '--key', hashKey(key1).slice(0, 12), '-p', dir])).code).toBe(0);
      await eventually(async () => (await status(key1)) === 401);
      expect(await status(key2)).toBe(200);
    } finally {
      exit = await server.stop();
    }
    expect(exit).toBe(0);

    const audit = await runCli(['audit', '--json', '-p', dir]);
    expect(audit.code, audit.stderr).toBe(0);
    const entries = JSON.parse(audit.stdout) as { principal: string; action: string; target: string; count: number; keyId: string | null }[];
    expect(entries).toEqual(expect.arrayContaining([
      expect.objectContaining({ principal: 'alice@example.com', action: 'run', target: 'asset:profiles' }),
      expect.objectContaining({ principal: 'alice@example.com', action: 'vacuum', target: 'tables' }),
    ]));
    const reads = (keyId: string): number => entries.filter((e) => e.principal === 'model-a' && e.action === 'read' && e.keyId === keyId).reduce((n, e) => n + e.count, 0);
    expect(reads(hashKey(key1).slice(0, 12))).toBeGreaterThanOrEqual(4);
    expect(reads(hashKey(key1).slice(0, 12)) + reads(entries.find((e) => e.keyId !== hashKey(key1).slice(0, 12) && e.principal === 'model-a')?.keyId ?? '')).toBeGreaterThanOrEqual(6);
    const text = await runCli(['audit', '--since', '1h', '--action', 'run', '-p', dir]);
    expect(text.stdout).toMatch(/alice@example\.com\s+run\s+asset:profiles/);
    expect(text.stdout).not.toMatch(/vacuum/);
    expect((await runCli(['audit', '--since', 'yesterday-ish', '-p', dir])).stderr).toMatch(/--since: "yesterday-ish" is neither a date/);
  });
});
