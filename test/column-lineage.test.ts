// Column lineage: the analysis of real queries (parse trees from DuckDB's json_serialize_sql over real tables),
// what a real run records in the catalog, and `sluice lineage` on the churn and fraud examples, down to files.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTree, stepColumnLineage } from '../src/batch/column-lineage.ts';
import type { LineageAnswer, LineageTreeNode } from '../src/batch/lineage.ts';
import { Engine, type Session } from '../src/engine/engine.ts';
import { analyseColumnLineage } from '../src/sql/column-lineage.ts';
import { openCatalog } from '../src/store/catalog/open-catalog.ts';
import { makeTempDir, repoRoot, runCli } from './helpers/temp.ts';

// The relations as `ref()` names them: `events__0_1` is ref(logs, { lookahead: 1 }).
const RELATIONS = [{ view: 'events__0_1', dataset: 'logs' }, { view: 'users', dataset: 'users_clean' }];

describe('column lineage of a query', () => {
  let engine: Engine;
  let session: Session;

  beforeAll(async () => {
    engine = await Engine.open({ threads: 1 });
    session = await engine.session();
    await session.run(`CREATE TEMP TABLE events__0_1 AS SELECT * FROM (VALUES ('e1', 1::BIGINT, TIMESTAMP '2026-01-01 10:00', 'login', 3.5), ('e2', 2::BIGINT, TIMESTAMP '2026-01-02 11:00', 'action', 20.0))
      AS t(event_id, user_id, event_ts, event_type, amount)`);
    await session.run(`CREATE TEMP TABLE users AS SELECT * FROM (VALUES (1::BIGINT, 'US', 'pro'), (2::BIGINT, 'DE', 'free')) AS t(user_id, country, plan)`);
  });
  afterAll(() => session.close());

  /** Each output column's inputs as `dataset.column kind`; the query must bind in DuckDB. */
  const lineageOf = async (sql: string): Promise<Record<string, string[]>> => {
    const output = await session.describe(`SELECT * FROM (${sql})`);
    const result = await stepColumnLineage(session, sql, RELATIONS, output.map((c) => c.name));
    return Object.fromEntries(result.columns.map((c) => [c.column, c.inputs.map((i) => `${i.dataset}.${i.column} ${i.kind}`)]));
  };
  const filters = (...columns: string[]): string[] => columns.map((c) => `logs.${c} filter`);

  it('follows a CTE, WHERE and QUALIFY filters, aggregates with FILTER and count(*)', async () => {
    expect(await lineageOf(`
      WITH e AS (
        SELECT * FROM events__0_1 WHERE event_ts >= TIMESTAMP '2026-01-01'
        QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY event_ts) = 1
      )
      SELECT user_id, count(*) FILTER (WHERE event_type = 'login') AS logins, coalesce(sum(amount), 0) AS total, count(*) AS events
      FROM e GROUP BY user_id HAVING max(amount) > 0`)).toEqual({
      user_id: ['logs.amount filter', ...filters('event_id', 'event_ts'), 'logs.user_id direct'],
      logins: ['logs.* aggregate', 'logs.amount filter', ...filters('event_id', 'event_ts', 'event_type')],
      total: ['logs.amount aggregate', 'logs.amount filter', ...filters('event_id', 'event_ts')],
      events: ['logs.* aggregate', 'logs.amount filter', ...filters('event_id', 'event_ts')],
    });
  });

  it('joins with USING: one key column in SELECT *, from the side the join keeps; keys decide rows', async () => {
    const joins = ['logs.user_id join', 'users_clean.user_id join'];
    const left = await lineageOf('SELECT * FROM events__0_1 e LEFT JOIN users USING (user_id)');
    expect(Object.keys(left)).toEqual(['event_id', 'user_id', 'event_ts', 'event_type', 'amount', 'country', 'plan']);
    expect(left['user_id']).toEqual(['logs.user_id direct', ...joins]);
    expect(left['country']).toEqual(['logs.user_id join', 'users_clean.country direct', 'users_clean.user_id join']);
    const full = await lineageOf('SELECT user_id, plan FROM events__0_1 FULL OUTER JOIN users USING (user_id)');
    expect(full['user_id']).toEqual(['logs.user_id expression', 'logs.user_id join', 'users_clean.user_id expression', 'users_clean.user_id join']);
    const on = await lineageOf('SELECT e.event_id, u.plan FROM events__0_1 e JOIN users u ON e.user_id = u.user_id AND u.country <> \'FR\'');
    expect(on['plan']).toEqual(['logs.user_id join', 'users_clean.country join', 'users_clean.plan direct', 'users_clean.user_id join']);
  });

  it('expands * EXCLUDE, REPLACE and RENAME', async () => {
    expect(await lineageOf('SELECT * EXCLUDE (amount) REPLACE (upper(event_type) AS event_type) RENAME (event_ts AS ts) FROM events__0_1')).toEqual({
      event_id: ['logs.event_id direct'], user_id: ['logs.user_id direct'], ts: ['logs.event_ts direct'], event_type: ['logs.event_type expression'],
    });
  });

  it('records window functions over their arguments, partitions and orders', async () => {
    expect(await lineageOf(`
      SELECT event_id,
        sum(amount) OVER (PARTITION BY user_id ORDER BY event_ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS rolling,
        lag(event_type, 1, 'none') OVER (ORDER BY event_ts) AS previous
      FROM events__0_1`)).toEqual({
      event_id: ['logs.event_id direct'],
      rolling: ['logs.amount window', 'logs.event_ts window', 'logs.user_id window'],
      previous: ['logs.event_ts window', 'logs.event_type window'],
    });
  });

  it('reads CASE, scalar, IN and correlated EXISTS subqueries, and subqueries in FROM', async () => {
    expect(await lineageOf(`
      SELECT CASE WHEN amount > 10 THEN 'big' ELSE event_type END AS size,
        (SELECT max(country) FROM users u WHERE u.user_id = e.user_id) AS country,
        user_id IN (SELECT user_id FROM users WHERE plan = 'pro') AS pro,
        s.n
      FROM events__0_1 e, (SELECT count(*) AS n FROM users) s
      WHERE EXISTS (SELECT 1 FROM users u WHERE u.user_id = e.user_id)`)).toEqual({
      size: ['logs.amount expression', 'logs.event_type expression', 'logs.user_id filter', 'users_clean.user_id filter'],
      country: ['logs.user_id filter', 'users_clean.country aggregate', 'users_clean.user_id filter'],
      pro: ['logs.user_id expression', 'logs.user_id filter', 'users_clean.plan filter', 'users_clean.user_id expression', 'users_clean.user_id filter'],
      n: ['logs.user_id filter', 'users_clean.* aggregate', 'users_clean.user_id filter'],
    });
  });

  it('matches UNION BY NAME columns by name, and UNION by position', async () => {
    expect(await lineageOf('SELECT user_id, event_type AS label FROM events__0_1 UNION ALL BY NAME SELECT plan, country AS label, user_id FROM users')).toEqual({
      user_id: ['logs.user_id direct', 'users_clean.user_id direct'],
      label: ['logs.event_type direct', 'users_clean.country direct'],
      plan: ['users_clean.plan direct'],
    });
    expect(await lineageOf('SELECT event_id FROM events__0_1 UNION SELECT country FROM users')).toEqual({ event_id: ['logs.event_id direct', 'users_clean.country direct'] });
  });

  it('records what it cannot resolve as depending on every column of every input, never dropping it', async () => {
    const everything = ['logs.amount', 'logs.event_id', 'logs.event_ts', 'logs.event_type', 'logs.user_id', 'users_clean.country', 'users_clean.plan', 'users_clean.user_id'].map((c) => `${c} unresolved`);
    const pivot = await lineageOf("SELECT * FROM events__0_1 PIVOT (sum(amount) FOR event_type IN ('login', 'action'))");
    expect(Object.keys(pivot).length).toBeGreaterThan(0);
    for (const inputs of Object.values(pivot)) expect(inputs).toEqual(everything);
    // A tree DuckDB could not produce (a syntax error): the output columns named by the caller depend on everything.
    const result = analyseColumnLineage({
      tree: await parseTree(session, 'SELEC user_id FROM users'),
      inputs: [{ relation: 'users', dataset: 'users_clean', columns: ['user_id', 'plan'] }],
      output: ['user_id'],
      aggregates: new Set(),
    });
    expect(result.columns).toEqual([{ column: 'user_id', inputs: [{ dataset: 'users_clean', column: 'plan', kind: 'unresolved' }, { dataset: 'users_clean', column: 'user_id', kind: 'unresolved' }] }]);
    expect(result.unresolved.join('\n')).toMatch(/could not be parsed.*syntax error/);
  });
});

/** The child of a tree node at this dataset and column (throws a readable failure when absent). */
function child(node: LineageTreeNode, name: string, column: string): LineageTreeNode {
  const found = node.children.find((c) => c.name === name && c.column === column);
  if (found === undefined) throw new Error(`${node.name}.${node.column} has no input ${name}.${column}: ${node.children.map((c) => `${c.name}.${c.column}`).join(', ')}`);
  return found;
}

describe('sluice lineage on the churn example', () => {
  let dir: string;
  let cleanup: () => void;
  let day: string;

  beforeAll(async () => {
    ({ dir, cleanup } = makeTempDir('sluice-lineage-churn-'));
    fs.copyFileSync(path.join(repoRoot, 'examples/churn/sluice.config.ts'), path.join(dir, 'sluice.config.ts'));
    const generated = await runCli(['generate', 'churn', '--users', '30', '--days', '31', '--seed', '7', '--out', 'data'], { cwd: dir });
    expect(generated.code, generated.stderr).toBe(0);
    day = /\.\.(\d{4}-\d{2}-\d{2})\)/.exec(generated.stdout)?.[1] ?? '';
    const run = await runCli(['run', 'user_features', '--partition', day], { cwd: dir });
    expect(run.code, run.stderr + run.stdout).toBe(0);
  }, 120_000);
  afterAll(() => cleanup());

  it('records each committed version\'s column lineage in the catalog', async () => {
    const catalog = await openCatalog(`sqlite:${path.join(dir, '.sluice', 'catalog.db')}`);
    try {
      const [latest] = await catalog.listVersions('user_activity_daily', { limit: 1 });
      const daily = await catalog.listColumnLineage('user_activity_daily');
      expect(daily[0]?.version).toBe(latest?.version);
      const logins = daily.find((c) => c.column === 'logins');
      expect(logins?.inputs).toEqual(expect.arrayContaining([
        { dataset: 'logs', column: '*', kind: 'aggregate' },
        { dataset: 'logs', column: 'event_type', kind: 'filter' },
        { dataset: 'logs', column: 'event_ts', kind: 'filter' },
      ]));
      const features = await catalog.listColumnLineage('user_features');
      expect(features.map((c) => c.column)).toEqual(['user_id', 'logins_7d', 'logins_30d', 'session_seconds_7d', 'session_seconds_30d', 'actions_7d', 'actions_30d',
        'days_active_30d', 'days_since_last_login', 'signup_date', 'country', 'plan', 'tenure_days', 'feature_time']);
      expect(features.find((c) => c.column === 'tenure_days')?.inputs).toEqual(expect.arrayContaining([{ dataset: 'users_clean', column: 'signup_date', kind: 'expression' }]));
      expect(features.flatMap((c) => c.inputs).some((i) => i.kind === 'unresolved')).toBe(false);
    } finally {
      await catalog.close();
    }
  });

  it('traces user_features.logins_7d back to the log files, as a tree, JSON, DOT and Mermaid', async () => {
    const json = await runCli(['lineage', 'user_features.logins_7d', '--json'], { cwd: dir });
    expect(json.code, json.stderr).toBe(0);
    const answer = JSON.parse(json.stdout) as LineageAnswer;
    const root = answer.roots[0] as LineageTreeNode;
    const logins = child(root, 'user_activity_daily', 'logins');
    expect(logins.via).toBe('aggregate');
    const rows = child(logins, 'logs', '*');
    expect(child(rows, 'data/logs/date={date}/*.parquet', '').kind).toBe('files');

    const tree = await runCli(['lineage', 'user_features.logins_7d'], { cwd: dir });
    expect(tree.stdout).toContain('└─ aggregate  user_activity_daily.logins');
    expect(tree.stdout).toContain('direct  files data/logs/date={date}/*.parquet');
    const dot = await runCli(['lineage', 'user_features.country', '--format', 'dot'], { cwd: dir });
    expect(dot.stdout).toMatch(/^digraph lineage \{/);
    expect(dot.stdout).toContain('label="files data/users.csv"');
    const mermaid = await runCli(['lineage', 'user_features.country', '--format', 'mermaid', '--depth', '1'], { cwd: dir });
    expect(mermaid.stdout.split('\n').filter((l) => l.includes('-->'))).toEqual(['  c1 -->|direct| c0']);
  });

  it('answers where a served feature comes from: service, on-demand feature, view, assets, files and request data', async () => {
    const result = await runCli(['lineage', 'churn_model_v1', '--json'], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    const answer = JSON.parse(result.stdout) as LineageAnswer;
    const roots = answer.roots;
    expect(roots.map((r) => r.column)).toEqual(['logins_7d', 'logins_30d', 'session_seconds_7d', 'actions_7d', 'days_active_30d', 'days_since_last_login', 'tenure_days', 'plan', 'country',
      'active_days_14d', 'actions_avg_14d', 'logins_max_14d', 'logins_7d_share', 'price_per_active_day']);
    const root = roots.find((r) => r.column === 'price_per_active_day') as LineageTreeNode;
    const onDemand = child(root, 'engagement', 'price_per_active_day');
    expect(onDemand.kind).toBe('on-demand');
    expect(child(onDemand, 'engagement', 'plan_price').kind).toBe('request');
    // Shown in full under the service's own days_active_30d, so here only named.
    expect(child(onDemand, 'user_profile', 'days_active_30d').repeated).toBe(true);
    const view = child(roots.find((r) => r.column === 'days_active_30d') as LineageTreeNode, 'user_profile', 'days_active_30d');
    const asset = child(view, 'user_features', 'days_active_30d');
    expect(child(asset, 'user_activity_daily', 'date').via).toBe('aggregate');
    // A count over a view's source counts its rows, which come from the log files' rows.
    const count = child(child(roots.find((r) => r.column === 'active_days_14d') as LineageTreeNode, 'recent_activity', 'active_days_14d'), 'user_activity_daily', '*');
    expect(count.via).toBe('aggregate');
    const edges = answer.edges.map((e) => `${e.from.node}.${e.from.column} -${e.kind}-> ${e.to.node}.${e.to.column}`);
    expect(edges).toEqual(expect.arrayContaining([
      'source:logs.* -expression-> asset:user_activity_daily.*',
      'files:data/logs/date={date}/*.parquet. -direct-> source:logs.*',
    ]));
  });

  it('walks downstream from a source column to the features and services it feeds, with --rows for filters', async () => {
    const down = await runCli(['lineage', 'logs.session_seconds', '--downstream', '--json'], { cwd: dir });
    const reached = (JSON.parse(down.stdout) as LineageAnswer).nodes.map((n) => n.id);
    expect(reached).toEqual(expect.arrayContaining(['asset:user_activity_daily', 'asset:user_features', 'feature-view:user_profile', 'service:churn_model_v1']));
    const values = await runCli(['lineage', 'logs.event_type', '--downstream', '--json'], { cwd: dir });
    expect((JSON.parse(values.stdout) as LineageAnswer).roots[0]?.children).toEqual([]);
    const rows = await runCli(['lineage', 'logs.event_type', '--downstream', '--rows', '--depth', '1'], { cwd: dir });
    expect(rows.stdout).toContain('filter  user_activity_daily.logins');

    // With users from PostgreSQL, user metadata is an extract asset: its columns come from the table, read from the definition.
    const extract = await runCli(['lineage', 'users_latest.plan'], { cwd: dir, env: { CHURN_USERS_PG_URL: 'postgres://127.0.0.1:5432/test', CHURN_USERS_PG_TABLE: 'churn_users' } });
    expect(extract.code, extract.stderr).toBe(0);
    expect(extract.stdout.split('\n').slice(1, 3)).toEqual([
      '└─ direct  users_pg.plan  (extract-source: PostgreSQL source)',
      '   └─ direct  table churn_users',
    ]);

    const wrong = await runCli(['lineage', 'user_features.logins_7', '--json'], { cwd: dir });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('asset "user_features" has no column "logins_7"');
    expect(wrong.stderr).toContain('logins_7d');
  });
});

describe('sluice lineage on the fraud example', () => {
  it('traces a streamed windowed feature back to the landed NDJSON files', async () => {
    const { dir, cleanup } = makeTempDir('sluice-lineage-fraud-');
    try {
      fs.cpSync(path.join(repoRoot, 'examples/fraud'), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}.sluice`) });
      const run = await runCli(['run'], { cwd: dir });
      expect(run.code, run.stderr).toBe(0);
      const result = await runCli(['lineage', 'fraud_model_v1.txn_amount_sum_1h', '--json'], { cwd: dir });
      const root = (JSON.parse(result.stdout) as LineageAnswer).roots[0] as LineageTreeNode;
      const view = child(root, 'card_activity', 'txn_amount_sum_1h');
      const amount = child(view, 'transactions', 'amount');
      expect(amount.via).toBe('aggregate');
      expect(child(view, 'transactions', 'ts').via).toBe('window');
      expect(child(child(amount, 'transactions_landed', 'amount'), 'data/*.ndjson', '').kind).toBe('files');
    } finally {
      cleanup();
    }
  }, 60_000);
});
