// Personal data (issue: governance): columns classified as PII are protected where they enter sluice, in
// DuckDB, before anything is written: dropped, masked, hashed with a key (HMAC-SHA256, checked against Node's
// crypto as an independent oracle), generalised, or tokenised into an encrypted vault that gives the values
// back. The raw values appear in no file sluice writes; a changed policy or secret rebuilds; mistakes are named.
import { createHmac, hkdfSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { queryTable } from '../src/batch/inspect.ts';
import { vacuum } from '../src/batch/table-admin.ts';
import { entity, featureService, featureView } from '../src/define/features.ts';
import { dailyPartitions } from '../src/define/partitions.ts';
import { materialize } from '../src/features/materialize.ts';
import { forget } from '../src/orchestrate/forget.ts';
import { SqliteOnlineStore } from '../src/store/online/sqlite-online-store.ts';
import { duck } from './helpers/temp.ts';
import { quoteLiteral } from '../src/sql/identifiers.ts';
import { detokenize } from '../src/batch/protect.ts';
import { piiReport, type PiiLocation } from '../src/batch/pii-inventory.ts';
import { runAssets } from '../src/batch/runner.ts';
import { asset } from '../src/define/asset.ts';
import type { PiiPolicyOption } from '../src/define/pii.ts';
import { defineProject, type Project } from '../src/define/project.ts';
import { fileSource } from '../src/define/source.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { tempProjectEachTest } from './helpers/temp.ts';
import { createTestSchema } from './helpers/postgres.ts';
import { testPostgresUrl } from '../src/config.ts';

let dir: string;
const opened: Workspace[] = [];
tempProjectEachTest('sluice-pii-', {}, (d) => (dir = d), opened);

const SECRET = 'a-test-secret-of-32-characters!!';
afterEach(() => {
  delete process.env['SLUICE_PII_KEY'];
});

const PEOPLE = [
  { user_id: 1, email: 'ada@example.com', phone: '+1 (555) 010-1234', name: 'Ada Lovelace', country: 'GB', birth_date: '1990-05-17', ip: '192.168.1.77', zip: '94110', ssn: '078-05-1120', income: 53210 },
  { user_id: 2, email: 'alan@turing.org', phone: '555-0199', name: 'Alan Turing', country: 'GB', birth_date: '1985-12-01', ip: '10.0.0.5', zip: '10001', ssn: '219-09-9999', income: 120000 },
  { user_id: 3, email: 'grace@navy.mil', phone: '5550100', name: 'Grace Hopper', country: 'US', birth_date: '1979-01-31', ip: '172.16.5.4', zip: '20500', ssn: '078-05-1120', income: 9999 },
];

function writeUsers(rows = PEOPLE): void {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const header = 'user_id,email,phone,name,country,birth_date,ip,zip,ssn,income';
  fs.writeFileSync(path.join(dir, 'data', 'users.csv'), [header, ...rows.map((r) => [r.user_id, r.email, `"${r.phone}"`, r.name, r.country, r.birth_date, r.ip, r.zip, r.ssn, r.income].join(','))].join('\n'));
}

function makeProject(emailPolicy: PiiPolicyOption = 'hash', incomeType = 'INTEGER', settings: Project['settings'] = {}): Project {
  const users = fileSource('users', {
    format: 'csv', path: 'data/users.csv',
    columns: {
      user_id: 'BIGINT',
      email: { type: 'VARCHAR', pii: 'email', policy: emailPolicy },
      phone: { type: 'VARCHAR', pii: 'phone', policy: 'mask' },
      name: { type: 'VARCHAR', pii: 'name', policy: 'drop' },
      country: { type: 'VARCHAR', pii: 'address' },
      birth_date: { type: 'DATE', pii: 'dob', policy: { generalize: 'year' } },
      ip: { type: 'VARCHAR', pii: 'ip', policy: 'generalize' },
      zip: { type: 'VARCHAR', pii: 'address', policy: { generalize: { prefix: 3 } } },
      ssn: { type: 'VARCHAR', pii: 'id', policy: 'tokenize' },
      income: { type: incomeType, pii: 'income', policy: { generalize: { bin: 10000 } } },
    },
  });
  const clean = asset('users_clean', { sql: ({ ref }) => `SELECT * FROM ${ref(users)}` });
  const notes = asset('notes', {
    sql: ({ ref }) => `SELECT user_id, 'called ' || email AS note, email AS contact FROM ${ref(users)}`,
    pii: { note: { pii: 'free_text', policy: 'drop' }, contact: { pii: 'email', policy: { mask: 'none' } } },
  });
  return defineProject({ name: 'pii', sources: [users], assets: [clean, notes], settings });
}

async function open(project: Project): Promise<Workspace> {
  const stateDir = path.join(dir, '.sluice');
  const ws = await openWorkspace(project, dir, { stateDir, catalogUrl: `sqlite:${path.join(stateDir, 'catalog.db')}` });
  opened.push(ws);
  return ws;
}

/** The keyed hash of the documented construction, computed by Node: HKDF-SHA256 of the secret, then HMAC-SHA256. */
function expectedHash(value: string, secret = SECRET): string {
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(secret), 'sluice-pii-v1', 'keyed hash', 32));
  return createHmac('sha256', key).update(value).digest('hex');
}

function filesUnder(root: string): string[] {
  return fs.readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('personal data', () => {
  it('drops, masks, hashes, generalises and tokenises before anything is written, and the vault gives tokens back', async () => {
    writeUsers();
    process.env['SLUICE_PII_KEY'] = SECRET;
    const ws = await open(makeProject());
    const summary = await runAssets(ws);
    expect(summary.steps.map((s) => [s.asset, s.status, s.error]).sort()).toEqual([['notes', 'success', null], ['users_clean', 'success', null]]);

    const rows = await queryTable(ws, 'users_clean', (r) => `SELECT * REPLACE (CAST(birth_date AS VARCHAR) AS birth_date) FROM ${r} ORDER BY user_id`);
    expect(Object.keys(rows[0] ?? {})).toEqual(['user_id', 'email', 'phone', 'country', 'birth_date', 'ip', 'zip', 'ssn', 'income']);
    expect(rows.map((r) => r['email'])).toEqual(PEOPLE.map((p) => expectedHash(p.email)));
    expect(rows.map((r) => r['phone'])).toEqual(['*******1234', '***0199', '***0100']);
    expect(rows.map((r) => r['country'])).toEqual(['GB', 'GB', 'US']);
    expect(rows.map((r) => r['birth_date'])).toEqual(['1990-01-01', '1985-01-01', '1979-01-01']);
    expect(rows.map((r) => r['ip'])).toEqual(['192.168.1.0', '10.0.0.0', '172.16.5.0']);
    expect(rows.map((r) => r['zip'])).toEqual(['941', '100', '205']);
    expect(rows.map((r) => r['income'])).toEqual([50000, 120000, 0]);
    // Tokens are deterministic (joins still match: users 1 and 3 share an SSN) and opaque.
    const tokens = rows.map((r) => r['ssn'] as string);
    expect(tokens.every((t) => /^tok_[0-9a-f]{32}$/.test(t))).toBe(true);
    expect(tokens[0]).toBe(tokens[2]);
    expect(tokens[0]).not.toBe(tokens[1]);
    const back = await detokenize({ project: ws.project, projectDir: dir, stateDir: ws.stateDir, catalog: ws.catalog }, tokens);
    expect(tokens.map((t) => back.get(t)?.value)).toEqual(PEOPLE.map((p) => p.ssn));
    expect(back.get(tokens[0] ?? '')?.pii).toBe('id');
    expect(await ws.catalog.vaultEntries(tokens)).toHaveLength(2);

    // An asset's own policies apply to its SQL's result.
    const notes = await queryTable(ws, 'notes', (r) => `SELECT * FROM ${r} ORDER BY user_id`);
    expect(notes.map((r) => Object.keys(r))).toEqual([['user_id', 'contact'], ['user_id', 'contact'], ['user_id', 'contact']]);
    expect(notes.map((r) => r['contact'])).toEqual(['***', '***', '***']);

    // No raw value of a protected column is in any file under .sluice (tables, catalog and vault, logs).
    const stored = filesUnder(path.join(dir, '.sluice')).map((f) => fs.readFileSync(f));
    expect(stored.length).toBeGreaterThan(3);
    for (const person of PEOPLE) {
      for (const value of [person.email, person.phone, person.name, person.ssn, person.birth_date, person.ip]) {
        expect(stored.some((bytes) => bytes.includes(value)), `${value} is stored`).toBe(false);
      }
    }

    // The same inputs, policies and secret: up to date. A new secret or a changed policy rebuilds.
    expect((await runAssets(ws)).steps.map((s) => s.status)).toEqual(['skipped', 'skipped']);
    process.env['SLUICE_PII_KEY'] = 'another-secret-of-32-characters!';
    expect((await runAssets(ws)).steps.map((s) => s.status)).toEqual(['success', 'success']);
    const rehashed = await queryTable(ws, 'users_clean', (r) => `SELECT email FROM ${r} ORDER BY user_id`);
    expect(rehashed.map((r) => r['email'])).toEqual(PEOPLE.map((p) => expectedHash(p.email, 'another-secret-of-32-characters!')));
    const masked = await open(makeProject('mask'));
    expect((await runAssets(masked)).steps.map((s) => s.status)).toEqual(['success', 'success']);
    expect((await queryTable(masked, 'users_clean', (r) => `SELECT email FROM ${r} ORDER BY user_id`)).map((r) => r['email'])).toEqual(['***@example.com', '***@turing.org', '***@navy.mil']);
  });

  it('names the column and the way out when a secret is missing or weak, or a policy does not fit the type', async () => {
    writeUsers();
    // A secret named in the settings is required: nothing is generated in its place.
    const ws = await open(makeProject('hash', 'INTEGER', { pii: { keyEnv: 'SLUICE_PII_KEY' } }));
    const noKey = await runAssets(ws);
    expect(noKey.steps.find((s) => s.asset === 'users_clean')?.error).toMatch(/source "users" column "email" is hashed or tokenised with a secret key, but no secret is set: set the environment variable SLUICE_PII_KEY/);
    process.env['SLUICE_PII_KEY'] = 'short';
    expect((await runAssets(ws)).steps.find((s) => s.asset === 'users_clean')?.error).toMatch(/the PII secret from the environment variable SLUICE_PII_KEY is 5 bytes; use at least 16/);
    process.env['SLUICE_PII_KEY'] = SECRET;
    const wrongType = await open(makeProject('hash', 'VARCHAR', { pii: { keyEnv: 'SLUICE_PII_KEY' } }));
    expect((await runAssets(wrongType)).steps.find((s) => s.asset === 'users_clean')?.error).toMatch(/source "users": generalize \{ bin: 10000 \} needs a number, but the column is VARCHAR/);
    expect(() => makeProjectWith({ pii: 'e-mail' })).toThrow(/source "people" column "email": pii "e-mail" is not a classification/);
    expect(() => makeProjectWith({ pii: 'email', policy: 'encrypt' as PiiPolicyOption })).toThrow(/policy "encrypt" is not a policy; use 'keep', 'drop', 'mask'/);
    expect(() => makeProjectWith({ pii: 'email', policy: { generalize: { bin: -1 } } })).toThrow(/needs a positive bin width/);
  });
});

describe('where personal data goes', () => {
  it('follows classifications down column lineage, stops at protections, and refuses PII where it is forbidden, naming the path', async () => {
    writeUsers();
    process.env['SLUICE_PII_KEY'] = SECRET;
    const base = makeProject();
    const users = base.datasets.get('users') as ReturnType<typeof fileSource>;
    const clean = base.datasets.get('users_clean') as ReturnType<typeof asset>;
    const byCountry = asset('by_country', { sql: ({ ref }) => `SELECT upper(country) AS region, count(*) AS people, max(email) AS some_email FROM ${ref(clean)} GROUP BY ALL` });
    const user = entity('user', { keys: { user_id: 'int' } });
    const profile = featureView('profile', { entity: user, source: 'users_clean', timestamp: 'birth_date', features: ['country', 'email'] });
    const project = (forbidden: boolean): Project => defineProject({
      name: 'pii_paths', sources: [users],
      assets: [clean, byCountry, asset('regions', { sql: ({ ref }) => `SELECT region, people FROM ${ref(byCountry)}`, ...(forbidden ? { pii: 'forbidden' as const } : {}) })],
      featureServices: [featureService('model', { features: [profile], ...(forbidden ? { pii: 'forbidden' as const } : {}) })],
    });
    const ws = await open(project(false));
    expect((await runAssets(ws)).steps.every((s) => s.error === null)).toBe(true);
    const report = await piiReport(ws);
    const at = (kind: string, name: string, column: string): PiiLocation | undefined => report.find((l) => l.kind === kind && l.name === name && l.column === column);
    expect(at('source', 'users', 'email')).toMatchObject({ pii: 'email', policy: 'hash', protected: true, origin: 'declared' });
    expect(at('source', 'users', 'country')).toMatchObject({ pii: 'address', policy: 'none (unprotected)', protected: false });
    // SELECT * carries country on unprotected; upper(country) is still PII; a hashed e-mail is not PII any more.
    expect(at('asset', 'users_clean', 'country')).toMatchObject({ protected: false, origin: 'users.country' });
    expect(at('asset', 'by_country', 'region')).toMatchObject({ pii: 'address', protected: false, origin: 'users_clean.country' });
    expect(at('asset', 'by_country', 'some_email')).toBeUndefined();
    expect(at('asset', 'regions', 'region')).toMatchObject({ origin: 'by_country.region' });
    expect(at('asset', 'regions', 'people')).toBeUndefined();
    expect(at('served', 'model', 'country')).toMatchObject({ pii: 'address', protected: false, origin: 'profile.country' });
    expect(at('served', 'model', 'email')).toBeUndefined();

    // A service marked forbidden is refused before a run, and materialisation writes nothing online for it.
    const serviceOnly = await open(defineProject({ name: 'pii_paths', sources: [users], assets: [clean, byCountry], featureServices: [featureService('model', { features: [profile], pii: 'forbidden' })] }));
    const servedPath = `feature service "model" is marked pii: 'forbidden', but its feature "country" carries unprotected personal data: profile.country <- users_clean.country <- users.country (address, none (unprotected))`;
    await expect(runAssets(serviceOnly)).rejects.toMatchObject({ code: 'PII_FORBIDDEN', message: expect.stringContaining(servedPath) as unknown });
    const online = new SqliteOnlineStore(path.join(dir, 'online-forbidden.db'));
    try {
      await expect(materialize(serviceOnly, online)).rejects.toMatchObject({ code: 'PII_FORBIDDEN' });
      expect(await online.count('profile')).toBe(0);
    } finally {
      await online.close();
    }

    const strict = await open(project(true));
    await expect(runAssets(strict)).rejects.toMatchObject({
      code: 'PII_FORBIDDEN',
      message: expect.stringContaining(`asset "regions" is marked pii: 'forbidden', but unprotected personal data reaches its column "region": regions.region <- by_country.region <- users_clean.country <- users.country (address, none (unprotected))`) as unknown,
    });
  });
});

describe('sluice forget', () => {
  it('erases one entity from every current table, the online store and the vault, and after vacuum from the disk', async () => {
    writeUsers();
    fs.writeFileSync(path.join(dir, 'data', 'visits-2026-01-01.csv'), 'user_id,seen_at\n1,2026-01-01 10:00:00\n2,2026-01-01 11:00:00\n');
    fs.writeFileSync(path.join(dir, 'data', 'visits-2026-01-02.csv'), 'user_id,seen_at\n2,2026-01-02 09:00:00\n3,2026-01-02 12:00:00\n');
    fs.writeFileSync(path.join(dir, 'data', 'visits-2026-01-03.csv'), 'user_id,seen_at\n1,2026-01-03 08:00:00\n');
    process.env['SLUICE_PII_KEY'] = SECRET;
    const base = makeProject();
    const days = dailyPartitions({ start: '2026-01-01', end: '2026-01-03' });
    const visitsSource = fileSource('visits', { format: 'csv', path: 'data/visits-{date}.csv', partitions: days, columns: { user_id: 'BIGINT', seen_at: 'TIMESTAMP' } });
    const visits = asset('visits_daily', { partitions: days, sql: ({ ref }) => `SELECT user_id, seen_at FROM ${ref(visitsSource)}` });
    const user = entity('user', { keys: { user_id: 'int' } });
    const lastVisit = featureView('last_visit', { entity: user, source: 'visits_daily', timestamp: 'seen_at', aggregations: { visits_7d: { function: 'count', window: '7d' } } });
    const project = defineProject({
      name: 'forget', sources: [...[...base.datasets.values()].filter((d) => d.kind === 'source'), visitsSource],
      assets: [...[...base.datasets.values()].flatMap((d) => (d.kind === 'asset' ? [d] : [])), visits],
      featureServices: [featureService('visits_model', { features: [lastVisit] })],
    });
    const ws = await open(project);
    const built = await runAssets(ws, { partitions: ['2026-01-01', '2026-01-02', '2026-01-03'] });
    expect(built.steps.filter((s) => s.error !== null).map((s) => s.error)).toEqual([]);
    const store = new SqliteOnlineStore(path.join(dir, '.sluice', 'online.db'));
    await materialize(ws, store, { toMicros: Date.UTC(2026, 0, 4) * 1000 });
    await store.close();
    const tokenOf = async (user: number): Promise<string> => String((await queryTable(ws, 'users_clean', (r) => `SELECT ssn FROM ${r} WHERE user_id = ${user}`))[0]?.['ssn']);
    const [token1, token2] = [await tokenOf(1), await tokenOf(2)];

    const dry = await forget(ws, { user_id: '2' }, { dryRun: true });
    expect(dry.assets.map((a) => [a.asset, a.partitions, a.rows]).sort()).toEqual([['notes', [''], 1], ['users_clean', [''], 1], ['visits_daily', ['2026-01-01', '2026-01-02'], 2]]);
    expect(dry.online).toEqual([{ view: 'last_visit', deleted: 1 }]);
    expect(dry.tokens).toBe(1);
    expect((await queryTable(ws, 'visits_daily', (r) => `SELECT count(*)::INT AS n FROM ${r} WHERE user_id = 2`))[0]?.['n']).toBe(2);

    const done = await forget(ws, { user_id: '2' });
    expect(done.assets.map((a) => a.asset).sort()).toEqual(['notes', 'users_clean', 'visits_daily']);
    expect(done.sourceFiles.map((f) => [f.source, path.basename(f.file), f.rows]).sort()).toEqual([['users', 'users.csv', 1], ['visits', 'visits-2026-01-01.csv', 1], ['visits', 'visits-2026-01-02.csv', 1]]);
    // Gone from every current table; other entities untouched.
    for (const name of ['users_clean', 'notes', 'visits_daily']) {
      expect((await queryTable(ws, name, (r) => `SELECT count(*)::INT AS n FROM ${r} WHERE user_id = 2`))[0]?.['n']).toBe(0);
    }
    expect((await queryTable(ws, 'visits_daily', (r) => `SELECT user_id::INT AS u FROM ${r} ORDER BY seen_at`)).map((r) => r['u'])).toEqual([1, 3, 1]);
    // The Hive folders outside readers read hold only current files: no row of user 2 there either.
    expect(await duck(`SELECT count(*)::INT AS n FROM read_parquet(${quoteLiteral(path.join(dir, '.sluice', 'tables', '**', '*.parquet'))}, union_by_name = true) WHERE user_id = 2`)).toEqual([{ n: 0 }]);
    // Online store and vault: user 2's record and its only token are gone; user 1's stay.
    const after = new SqliteOnlineStore(path.join(dir, '.sluice', 'online.db'));
    const [[one, two]] = await after.read([{ view: 'last_visit', keys: ['[1]', '[2]'] }]) as [[unknown, unknown]];
    await after.close();
    expect(one).toBeDefined();
    expect(two).toBeUndefined();
    expect((await ws.catalog.vaultEntries([token1, token2])).map((e) => e.token)).toEqual([token1]);
    // The record keeps key names and a keyed hash, never the value.
    const [run] = await ws.catalog.listRuns({ limit: 1 });
    expect(run?.args).toEqual({ command: 'forget', keyColumns: ['user_id'], entityHash: createHmac('sha256', Buffer.from(hkdfSync('sha256', Buffer.from(SECRET), 'sluice-pii-v1', 'keyed hash', 32))).update('["2"]').digest('hex') });
    // Rewritten partitions keep their fingerprints: the next run does not rebuild them from the sources.
    expect((await runAssets(ws, { partitions: ['2026-01-01', '2026-01-02', '2026-01-03'] })).steps.every((s) => s.status === 'skipped')).toBe(true);

    // Old versions still hold it until vacuum; after it, no Parquet file on disk does.
    const everyFile = path.join(dir, '.sluice', '**', '*.parquet');
    const onDisk = async (): Promise<number> => (await duck<{ n: number }>(`SELECT count(*)::INT AS n FROM read_parquet(${quoteLiteral(everyFile)}, union_by_name = true) WHERE user_id = 2`))[0]?.n ?? -1;
    expect(await onDisk()).toBeGreaterThan(0);
    await vacuum(ws, [], { keepVersions: 1, graceMs: 0 });
    expect(await onDisk()).toBe(0);
  });
});

describe('the secret on embedded defaults', () => {
  it('is generated once into .sluice/pii.key (mode 0600) and reused; a shared catalog never gets one', async () => {
    writeUsers();
    const ws = await open(makeProject());
    expect((await runAssets(ws)).steps.every((s) => s.error === null)).toBe(true);
    const file = path.join(dir, '.sluice', 'pii.key');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const secret = fs.readFileSync(file, 'utf8').trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const emails = async (w: Workspace): Promise<unknown[]> => (await queryTable(w, 'users_clean', (r) => `SELECT email FROM ${r} ORDER BY user_id`)).map((r) => r['email']);
    expect(await emails(ws)).toEqual(PEOPLE.map((p) => expectedHash(p.email, secret)));
    // Another process (workspace) of the same project finds the same secret: nothing is rebuilt.
    const again = await open(makeProject());
    expect((await runAssets(again)).steps.map((s) => s.status)).toEqual(['skipped', 'skipped']);
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(secret);

    // With the catalog in PostgreSQL, machines must share one configured secret: none is generated.
    const schema = await createTestSchema('sluice_pii');
    try {
      const stateDir = path.join(dir, 'pg-state');
      const url = new URL(testPostgresUrl());
      url.searchParams.set('schema', schema.schema);
      const shared = await openWorkspace(makeProject(), dir, { stateDir, catalogUrl: url.toString() });
      try {
        expect((await runAssets(shared)).steps.find((s) => s.asset === 'users_clean')?.error).toMatch(/no secret is set: set the environment variable SLUICE_PII_KEY/);
        expect(fs.existsSync(path.join(stateDir, 'pii.key'))).toBe(false);
      } finally {
        await shared.close();
      }
    } finally {
      await schema.drop();
    }
  });
});

function makeProjectWith(options: { pii: string; policy?: PiiPolicyOption }): Project {
  const people = fileSource('people', { format: 'csv', path: 'p.csv', columns: { email: { type: 'VARCHAR', ...options } } });
  return defineProject({ name: 'p', sources: [people], assets: [asset('a', { sql: ({ ref }) => `SELECT * FROM ${ref(people)}` })] });
}
