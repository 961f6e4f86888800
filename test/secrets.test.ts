// Secrets never leave: a churn demo run through the CLI (generate into PostgreSQL, backfill, run, status, report,
// materialize, serve with API keys, audit, and commands that fail on purpose) with a catalog URL and a PostgreSQL
// source URL carrying a password, an API key in SLUICE_API_KEYS and one in the principals file, a PII secret and an
// OpenLineage URL with credentials; every output
// (stdout, stderr with debug logs), every file under the project (.sluice, reports) and every catalog row is then
// searched for each secret.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPostgresUrl } from '../src/config.ts';
import { createTestSchema, type TestSchema } from './helpers/postgres.ts';
import { makeTempDir, repoRoot, runCli, type CliResult } from './helpers/temp.ts';
import { startServeProcess } from './helpers/serve-process.ts';

/** Every file under `dir`, with its bytes. */
function filesUnder(dir: string): { file: string; bytes: Buffer }[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const file = path.join(entry.parentPath, entry.name);
      return { file, bytes: fs.readFileSync(file) };
    });
}

describe('secrets', () => {
  let dir: string;
  let cleanup: () => void;
  let schema: TestSchema;
  const password = `pw${randomBytes(12).toString('hex')}`;
  const apiKey = `ak${randomBytes(16).toString('hex')}`;
  const piiKey = `pk${randomBytes(16).toString('hex')}`;
  const lineageToken = `ol${randomBytes(12).toString('hex')}`;
  const outputs: { what: string; text: string }[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    ({ dir, cleanup } = makeTempDir('sluice-secrets-'));
    fs.copyFileSync(path.join(repoRoot, 'examples/churn/sluice.config.ts'), path.join(dir, 'sluice.config.ts'));
    schema = await createTestSchema('sluice_secrets');
    // The test server trusts local connections, so it accepts any password: the URLs carry one all the same.
    const withPassword = new URL(testPostgresUrl());
    withPassword.password = password;
    const catalogUrl = new URL(withPassword);
    catalogUrl.searchParams.set('schema', schema.schema);
    env = {
      SLUICE_CATALOG_URL: catalogUrl.toString(),
      CHURN_USERS_PG_URL: withPassword.toString(),
      CHURN_USERS_PG_TABLE: `${schema.schema}.users`,
      SLUICE_API_KEYS: `${apiKey}=churn_model_v1`,
      SLUICE_PRINCIPAL: 'secrets-test',
      SLUICE_PII_KEY: piiKey,
      // An OpenLineage endpoint with credentials in its URL, down: events go to the outbox, warnings name the endpoint.
      SLUICE_OPENLINEAGE_URL: `http://lineage:${lineageToken}@127.0.0.1:1/api/v1/lineage`,
      SLUICE_LOG_LEVEL: 'debug',
      SLUICE_LOG_FORMAT: 'json',
    };
  });
  afterAll(async () => {
    await schema.drop();
    cleanup();
  });

  const cli = async (args: readonly string[], extra: Record<string, string> = {}): Promise<CliResult> => {
    const result = await runCli([...args, '-p', dir], { cwd: dir, env: { ...env, ...extra } });
    outputs.push({ what: `sluice ${args.join(' ')}`, text: result.stdout + result.stderr });
    return result;
  };

  // About twenty CLI processes: minutes on a loaded machine.
  it('appear in no output, file or catalog row of a full run', { timeout: 300_000 }, async () => {
    const pgUrl = env['CHURN_USERS_PG_URL'] ?? '';
    const generated = await cli(['generate', 'churn', '--users', '300', '--days', '33', '--seed', '7', '--end-date', '2026-11-25', '--out', 'data', '--postgres-url', pgUrl, '--postgres-table', `${schema.schema}.users`]);
    expect(generated.code, generated.stderr.slice(-2000)).toBe(0);
    const backfill = await cli(['backfill', 'churn_daily', '--from', '2026-11-23', '--to', '2026-11-25']);
    expect(backfill.code, backfill.stderr.slice(-2000)).toBe(0);
    const all = await cli(['run', 'users_latest']);
    expect(all.code, (all.stdout + all.stderr).slice(-3000)).toBe(0);
    for (const args of [['status'], ['runs'], ['versions', 'user_features'], ['show', 'user_features', '--limit', '3'], ['features', 'materialize'], ['report', '--out', 'reports/quality.html']]) {
      const result = await cli(args);
      expect(result.code, `${args.join(' ')}: ${result.stderr.slice(-2000)}`).toBe(0);
    }
    const runId = (JSON.parse((await cli(['runs', '--json'])).stdout) as { id: string }[])[0]?.id ?? '';
    expect((await cli(['runs', runId])).code).toBe(0);

    // A key made by `sluice access add-key` is printed once, to its owner: that output is the one place it may appear.
    const added = await runCli(['access', 'add-key', 'ops', '--role', 'operator', '--service', 'churn_model_v1', '-p', dir], { cwd: dir, env });
    expect(added.code, added.stderr).toBe(0);
    const fileKey = added.stdout.trim();
    outputs.push({ what: 'sluice access add-key (stderr)', text: added.stderr });

    // Serving, with a valid key, the file's key, and a wrong key that looks like the real one.
    const server = await startServeProcess(['-p', dir], env);
    let exit: number | null = null;
    try {
      const url = server.url;
      const lookup = async (key: string, service = 'churn_model_v1'): Promise<{ status: number; body: string }> => {
        const response = await fetch(`${url}/v1/features`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify({ service, entities: [{ user_id: 1 }, { user_id: 2 }], request: { plan_price: 9.99 } }) });
        const body = await response.text();
        outputs.push({ what: `POST /v1/features (${response.status})`, text: body });
        return { status: response.status, body };
      };
      expect((await lookup(apiKey)).status).toBe(200);
      expect((await lookup(fileKey)).status).toBe(200);
      expect((await lookup(`${apiKey}0`)).status).toBe(401);
      expect((await lookup(apiKey, 'nope')).status).toBe(403);
      const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${apiKey}` } });
      outputs.push({ what: 'GET /metrics', text: await metrics.text() });
      const health = await fetch(`${url}/health`);
      outputs.push({ what: 'GET /health', text: await health.text() });
    } finally {
      exit = await server.stop();
    }
    expect(exit).toBe(0);
    outputs.push({ what: 'sluice serve', text: server.output() });
    const audit = await cli(['audit']);
    expect(audit.stdout).toMatch(/secrets-test\s+\S*\s*backfill\s+job:churn_daily/);
    expect(audit.stdout).toMatch(/SLUICE_API_KEYS entry 1\s+[0-9a-f]{12}\s+read\s+service:churn_model_v1/);

    // Failures print and record URLs too: a catalog that cannot be reached, a PostgreSQL source that cannot.
    const unreachable = new URL(env['SLUICE_CATALOG_URL'] ?? '');
    unreachable.port = '1';
    const noCatalog = await cli(['status'], { SLUICE_CATALOG_URL: unreachable.toString() });
    expect(noCatalog.code).toBe(1);
    expect(noCatalog.stderr).toContain('***');
    expect((await cli(['status', '--debug'], { SLUICE_CATALOG_URL: unreachable.toString() })).code).toBe(1);
    const badSource = new URL(pgUrl);
    badSource.port = '1';
    const failed = await cli(['run', 'users_latest'], { CHURN_USERS_PG_URL: badSource.toString() });
    expect(failed.code).toBe(1);
    expect(failed.stdout + failed.stderr).toMatch(/postgres source "users_pg" \(postgres:\/\/postgres:\*\*\*@/);

    const secrets = { password, apiKey, fileKey, piiKey, lineageToken };
    for (const [name, secret] of Object.entries(secrets)) {
      for (const output of outputs) expect(output.text.includes(secret), `${name} in the output of ${output.what}`).toBe(false);
      for (const { file, bytes } of filesUnder(dir)) expect(bytes.includes(secret), `${name} in ${path.relative(dir, file)}`).toBe(false);
      const tables = await schema.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema.schema]);
      expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['runs', 'steps', 'audit_log', 'lineage', 'check_results']));
      for (const { table_name: table } of tables) {
        const rows = await schema.query<{ row: string }>(`SELECT t::text AS row FROM "${schema.schema}"."${table}" t`);
        for (const { row } of rows) expect(row.includes(secret), `${name} in catalog table ${table}: ${row.slice(0, 200)}`).toBe(false);
      }
    }
    // The search looked where the secrets would be: the report, the state and the logs are there and not empty.
    expect(fs.statSync(path.join(dir, 'reports/quality.html')).size).toBeGreaterThan(1000);
    expect(filesUnder(path.join(dir, '.sluice')).length).toBeGreaterThan(10);
    expect(outputs.map((o) => o.text).join('').length).toBeGreaterThan(10_000);
  });
});
