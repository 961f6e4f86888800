// The web UI on the churn example after a real backfill, with one partition blocked by a failing check: its JSON
// API (shapes, pagination, filters, keys and roles) in process, and every page in Debian's Chromium against
// `sluice ui` as a process: the failing check red on the graph, a run's steps in its timeline, a backfill launched
// from the partition grid completing, the check's chart, and the features, streams and schedules pages.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing } from '../src/access/key-ring.ts';
import { hashKey, type Principal } from '../src/access/principals.ts';
import { projectNames } from '../src/access/serving-access.ts';
import { loadProject } from '../src/load-project.ts';
import { createLogger } from '../src/logger.ts';
import { buildUiServer } from '../src/server/ui-server.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { startServeProcess, type ServeProcess } from './helpers/serve-process.ts';
import { makeTempDir, repoRoot, runCli, writeParquet } from './helpers/temp.ts';

const CHROMIUM = '/usr/bin/chromium';
const RED = 'rgb(214, 52, 59)';

let dir: string;
let cleanup: () => void;

async function cli(args: readonly string[], allowFailure = false): Promise<string> {
  const result = await runCli(args, { cwd: dir });
  if (result.code !== 0 && !allowFailure) throw new Error(`sluice ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  ({ dir, cleanup } = makeTempDir('sluice-ui-'));
  // The API tests load the project in this process, where 'sluice' is this checkout's src/index.ts.
  const config = fs.readFileSync(path.join(repoRoot, 'examples/churn/sluice.config.ts'), 'utf8');
  fs.writeFileSync(path.join(dir, 'sluice.config.ts'), config.replace("from 'sluice'", `from '${path.join(repoRoot, 'src/index.ts')}'`));
  await cli(['generate', 'churn', '--users', '200', '--days', '40', '--seed', '7', '--end-date', '2026-11-30', '--out', 'data']);
  await cli(['backfill', 'churn_daily', '--from', '2026-11-29', '--to', '2026-11-30']);
  // A session of more than a day on 2026-11-30: user_activity_daily's error check blocks that partition.
  await writeParquet(path.join(dir, 'data/logs/date=2026-11-30/zz-bad.parquet'),
    `SELECT 'bad-1' AS event_id, 1::BIGINT AS user_id, TIMESTAMP '2026-11-30 12:00:00' AS event_ts, 'session_end' AS event_type, 100000::INTEGER AS session_seconds`);
  await cli(['run', 'user_activity_daily', '--partition', '2026-11-30'], true);
}, 120_000);

afterAll(() => cleanup());

describe('UI API', () => {
  let ws: Workspace;
  let ring: KeyRing;
  let app: Awaited<ReturnType<typeof buildUiServer>>;
  const principal = (name: string, role: Principal['role'], key: string): Principal => ({ name, role, grants: { services: ['*'], assets: ['*'], streams: [], detokenize: [] }, keys: [{ sha256: hashKey(key) }] });

  beforeAll(async () => {
    const { project, projectDir } = await loadProject(dir);
    ws = await openWorkspace(project, projectDir);
    ring = new KeyRing({ fixed: [principal('viewer', 'reader', 'reader-key'), principal('ops', 'operator', 'operator-key')], known: projectNames(project) });
    app = await buildUiServer({ ws, access: ring, logger: createLogger('silent') });
  });
  afterAll(async () => {
    await app.close();
    ring.close();
    await ws.close();
  });

  const get = async (url: string, key = 'reader-key'): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await app.inject({ method: 'GET', url, headers: { 'x-api-key': key } });
    return { status: response.statusCode, body: response.json() };
  };

  it('needs a key for the API, not for the page', async () => {
    expect((await app.inject({ method: 'GET', url: '/' })).body).toContain('<div id="app">');
    const js = await app.inject({ method: 'GET', url: '/app.js' });
    expect(js.headers['content-type']).toContain('javascript');
    const denied = await app.inject({ method: 'GET', url: '/api/graph' });
    expect(denied.statusCode).toBe(401);
    expect(denied.json().message).toMatch(/API key/);
    expect((await get('/api/graph', 'wrong')).status).toBe(401);
  });

  it('shows the blocked asset failing on the graph, with the failing check in its detail', async () => {
    const { body } = await get('/api/graph');
    const nodes = body['nodes'] as { id: string; status: string; summary: string }[];
    expect(nodes.find((n) => n.id === 'asset:user_activity_daily')).toMatchObject({ status: 'failing' });
    expect(nodes.find((n) => n.id === 'asset:user_activity_daily')?.summary).toContain('expect_column_values_to_be_between(session_seconds)');
    expect(nodes.find((n) => n.id === 'asset:users_clean')?.status).toBe('fresh');
    expect(nodes.map((n) => n.id)).toEqual(expect.arrayContaining(['source:logs', 'feature-view:user_profile', 'service:churn_model_v1']));
    expect(body['edges']).toContainEqual({ from: 'asset:user_activity_daily', to: 'asset:user_features' });
    const detail = (await get('/api/assets/user_features')).body;
    expect(detail['sql']).toContain('FROM user_activity_daily');
    expect(detail['columns']).toContainEqual({ name: 'logins_7d', type: 'BIGINT', description: 'logins in the 7 days ending on date' });
    expect((detail['lineage'] as { roots: unknown[] }).roots.length).toBeGreaterThan(0);
    expect((await get('/api/assets/nope')).body['message']).toMatch(/no asset named "nope"/);
  });

  it('pages and filters runs, as sluice runs --json lists them', async () => {
    const all = await ws.catalog.listRuns();
    const first = (await get('/api/runs?limit=2')).body;
    expect((first['runs'] as { id: string }[]).map((r) => r.id)).toEqual(all.slice(0, 2).map((r) => r.id));
    expect(first['more']).toBe(true);
    const second = (await get('/api/runs?limit=2&offset=2')).body;
    expect((second['runs'] as { id: string }[])[0]?.id).toBe(all[2]?.id);
    const failed = (await get('/api/runs?status=failed&asset=user_activity_daily')).body['runs'] as { id: string; status: string }[];
    expect(failed.length).toBe(1);
    const byJob = (await get('/api/runs?job=churn_daily')).body['runs'] as { args: { job: string } }[];
    expect(byJob.length).toBe(2);
    expect(byJob.every((r) => r.args.job === 'churn_daily')).toBe(true);
    expect((await get('/api/runs?status=nope')).body['message']).toMatch(/status= must be one of/);
    const detail = (await get(`/api/runs/${failed[0]?.id ?? ''}`)).body;
    expect((detail['steps'] as { status: string }[]).some((s) => s.status === 'failed')).toBe(true);
  });

  it('colours partitions and charts the failing check against its bounds', async () => {
    const grid = (await get('/api/assets/user_activity_daily/partitions')).body;
    const cells = grid['cells'] as { key: string; state: string }[];
    expect(cells.find((c) => c.key === '2026-11-30')?.state).toBe('stale');
    expect(cells.find((c) => c.key === '2026-11-29')?.state).toBe('built');
    expect(cells.find((c) => c.key === '2026-09-01')?.state).toBe('missing');
    const checks = (await get('/api/assets/user_activity_daily/checks')).body;
    const series = (checks['series'] as { expectationType: string; column: string | null; max: number | null; points: { success: boolean; value: number | null }[] }[])
      .find((s) => s.expectationType === 'expect_column_values_to_be_between' && s.column === 'session_seconds');
    expect(series?.points.some((p) => !p.success)).toBe(true);
    expect((checks['quarantine'] as { rows: { session_seconds: number }[] }[])[0]?.rows.some((r) => Number(r.session_seconds) > 86_400)).toBe(true);
  });

  it('lets only an operator launch a backfill', async () => {
    const body = { asset: 'user_features', from: '2026-11-20', to: '2026-11-20' };
    const reader = await app.inject({ method: 'POST', url: '/api/backfills', headers: { 'x-api-key': 'reader-key' }, payload: body });
    expect(reader.statusCode).toBe(403);
    expect(reader.json().message).toMatch(/principal "viewer" may not backfill asset "user_features" \(POST \/api\/backfills\): it needs role "operator"/);
    const bad = await app.inject({ method: 'POST', url: '/api/backfills', headers: { 'x-api-key': 'operator-key' }, payload: { asset: 'user_features' } });
    expect(bad.statusCode).toBe(400);
  });
});

describe('UI in Chromium', () => {
  let ui: ServeProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    ui = await startServeProcess(['--project', dir], { SLUICE_LOG_LEVEL: 'error' }, { command: 'ui', ready: /ui on (http:\/\/\S+)/ });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
  });

  it('shows the failing check red on the graph and the asset in the detail panel', async () => {
    await page.goto(`${ui.url}/#/graph`);
    const node = page.locator('[data-node="asset:user_activity_daily"]');
    await node.waitFor();
    expect(await node.getAttribute('data-status')).toBe('failing');
    expect(await node.locator('rect').evaluate((el) => (el.ownerDocument.defaultView as { getComputedStyle(e: unknown): { stroke: string } }).getComputedStyle(el).stroke)).toBe(RED);
    expect(await page.locator('[data-node="asset:users_clean"]').getAttribute('data-status')).toBe('fresh');
    await node.click();
    const detail = page.getByTestId('detail');
    await detail.getByText('Definition').waitFor();
    await detail.getByTestId('asset-checks').getByText('FAIL 2026-11-30').waitFor();
    expect(await detail.locator('pre.sql').textContent()).toContain('FROM logs');
  });

  it('shows a run as a timeline of its steps', async () => {
    await page.goto(`${ui.url}/#/runs?status=failed`);
    await page.getByTestId('runs').locator('a').first().click();
    await page.getByTestId('gantt').waitFor();
    expect(await page.getByTestId('run-status').textContent()).toBe('failed');
    const bar = page.locator('[data-step="user_activity_daily@2026-11-30"]');
    expect(await bar.getAttribute('class')).toContain('step-failed');
    expect(await page.getByTestId('steps').textContent()).toContain('expect_column_values_to_be_between(session_seconds)');
  });

  it('launches a backfill of a range selected on the partition grid, which completes', async () => {
    await page.goto(`${ui.url}/#/partitions/user_features`);
    await page.locator('[data-key="2026-11-27"]').click();
    await page.locator('[data-key="2026-11-28"]').click({ modifiers: ['Shift'] });
    expect(await page.getByTestId('range').textContent()).toBe('2026-11-27 … 2026-11-28');
    await page.getByRole('button', { name: /Launch backfill/ }).click();
    await page.getByTestId('launched').waitFor();
    await page.goto(`${ui.url}/#/schedules`);
    await page.locator('[data-testid="backfills"] tr', { hasText: 'churn_daily:2026-11-27:2026-11-28' }).locator('.progress[data-done="2"][data-total="2"]').waitFor({ timeout: 40_000 });
    await page.goto(`${ui.url}/#/partitions/user_features`);
    await page.locator('[data-key="2026-11-27"][data-state="built"]').waitFor();
    await page.locator('[data-key="2026-11-28"][data-state="built"]').waitFor();
  }, 60_000);

  it('charts the check history with the failure', async () => {
    await page.goto(`${ui.url}/#/checks/user_activity_daily`);
    const chart = page.locator('[data-check="expect_column_values_to_be_between(session_seconds)"]');
    await chart.waitFor();
    expect(await chart.getAttribute('class')).toContain('failing');
    expect(await chart.locator('circle.bad').count()).toBe(1);
  });

  it('shows features, streams and schedules', async () => {
    await page.goto(`${ui.url}/#/features`);
    await page.getByTestId('views').getByText('user_profile').waitFor();
    await page.getByText('churn_model_v1').first().waitFor();
    await page.goto(`${ui.url}/#/streams`);
    await page.getByText('this project has no event streams').waitFor();
    await page.getByLabel('dead letters of').selectOption('users');
    await page.getByTestId('dead-letters').getByText(/Could not convert string/).first().waitFor();
    await page.goto(`${ui.url}/#/schedules`);
    await page.getByText('0 2 * * * (UTC)').waitFor();
  });
});
