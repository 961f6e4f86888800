// Benchmark: a 30-expectation suite on 10M rows, three ways, in one process on one DuckDB instance:
//   suite       validateSuite: the suite compiled to as few SQL passes as possible
//   one scan    a hand-written single SELECT computing the same aggregates (the floor for any validator)
//   per check   one validateSuite call per expectation, the way GX's SQL backend issues its queries
// Usage: npm run bench:quality -- [--rows 10000000] [--repeat 3]. Writes bench/results/quality.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExpectationConfig } from '../src/define/checks.ts';
import { Engine } from '../src/engine/engine.ts';
import { quoteLiteral } from '../src/sql/identifiers.ts';
import { validateSuite } from '../src/quality/validate.ts';
import { median, numberFlag, writeResult } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rows = numberFlag('rows', 10_000_000);
const repeat = numberFlag('repeat', 3);

const e = (type: string, kwargs: Record<string, unknown>): ExpectationConfig => ({ type, kwargs });
const EXPECTATIONS: ExpectationConfig[] = [
  e('expect_column_to_exist', { column: 'user_id' }),
  e('expect_table_row_count_to_be_between', { min_value: 1, max_value: rows * 2 }),
  e('expect_table_column_count_to_equal', { value: 8 }),
  e('expect_column_values_to_not_be_null', { column: 'user_id' }),
  e('expect_column_values_to_not_be_null', { column: 'event_ts' }),
  e('expect_column_values_to_not_be_null', { column: 'amount', mostly: 0.95 }),
  e('expect_column_values_to_not_be_null', { column: 'country', mostly: 0.9 }),
  e('expect_column_values_to_be_null', { column: 'deleted_at', mostly: 0.9 }),
  e('expect_column_values_to_be_between', { column: 'amount', min_value: 0, max_value: 10000 }),
  e('expect_column_values_to_be_between', { column: 'age', min_value: 13, max_value: 120, mostly: 0.99 }),
  e('expect_column_values_to_be_between', { column: 'user_id', min_value: 1 }),
  e('expect_column_values_to_be_in_set', { column: 'country', value_set: ['US', 'GB', 'DE', 'FR', 'BR', 'IN', 'JP', 'CA'] }),
  e('expect_column_values_to_be_in_set', { column: 'plan', value_set: ['free', 'basic', 'pro'] }),
  e('expect_column_values_to_not_be_in_set', { column: 'plan', value_set: ['test', 'internal'] }),
  e('expect_column_values_to_match_regex', { column: 'plan', regex: '^[a-z]+$' }),
  e('expect_column_values_to_not_match_regex', { column: 'country', regex: '[0-9]' }),
  e('expect_column_value_lengths_to_be_between', { column: 'country', min_value: 2, max_value: 2 }),
  e('expect_column_value_lengths_to_be_between', { column: 'plan', min_value: 3, max_value: 10 }),
  e('expect_column_min_to_be_between', { column: 'amount', min_value: 0, max_value: 1 }),
  e('expect_column_max_to_be_between', { column: 'amount', min_value: 100, max_value: 10000 }),
  e('expect_column_mean_to_be_between', { column: 'amount', min_value: 10, max_value: 1000 }),
  e('expect_column_mean_to_be_between', { column: 'age', min_value: 20, max_value: 60 }),
  e('expect_column_stdev_to_be_between', { column: 'amount', min_value: 1, max_value: 10000 }),
  e('expect_column_sum_to_be_between', { column: 'age', min_value: 0 }),
  e('expect_column_median_to_be_between', { column: 'age', min_value: 20, max_value: 60 }),
  e('expect_column_quantile_values_to_be_between', { column: 'amount', quantile_ranges: { quantiles: [0.05, 0.5, 0.95], value_ranges: [[0, 100], [0, 1000], [0, 5000]] } }),
  e('expect_column_proportion_of_unique_values_to_be_between', { column: 'plan', min_value: 0, max_value: 0.01 }),
  e('expect_column_unique_value_count_to_be_between', { column: 'country', min_value: 1, max_value: 20 }),
  e('expect_column_pair_values_a_to_be_greater_than_b', { column_A: 'event_ts', column_B: 'signup_ts', or_equal: true }),
  e('expect_column_values_to_be_of_type', { column: 'amount', type_: 'DOUBLE' }),
];

const PLAIN_SCAN = `SELECT count(*) AS n,
  count(*) FILTER (WHERE user_id IS NULL), count(*) FILTER (WHERE event_ts IS NULL), count(*) FILTER (WHERE amount IS NULL),
  count(*) FILTER (WHERE country IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL),
  count(*) FILTER (WHERE amount < 0 OR amount > 10000), count(*) FILTER (WHERE age < 13 OR age > 120), count(*) FILTER (WHERE user_id < 1),
  count(*) FILTER (WHERE country NOT IN ('US','GB','DE','FR','BR','IN','JP','CA')), count(*) FILTER (WHERE plan NOT IN ('free','basic','pro')),
  count(*) FILTER (WHERE plan IN ('test','internal')), count(*) FILTER (WHERE NOT regexp_matches(plan, '^[a-z]+$')),
  count(*) FILTER (WHERE regexp_matches(country, '[0-9]')), count(*) FILTER (WHERE length(country) NOT BETWEEN 2 AND 2),
  count(*) FILTER (WHERE length(plan) NOT BETWEEN 3 AND 10), min(amount), max(amount), avg(amount), avg(age), stddev_samp(amount),
  sum(age), median(age), quantile_cont(amount, [0.05, 0.5, 0.95]), count(DISTINCT plan), count(plan), count(DISTINCT country),
  count(*) FILTER (WHERE NOT (event_ts >= signup_ts))
FROM t`;

async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function main(): Promise<void> {
  const dataDir = path.join(root, 'bench', 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, `quality-${rows}.parquet`);
  const engine = await Engine.open();
  try {
    await engine.withSession(async (s) => {
      if (!fs.existsSync(file)) {
        process.stderr.write(`generating ${rows} rows into ${file} ...\n`);
        await s.run(`COPY (SELECT i + 1 AS user_id,
            TIMESTAMP '2026-01-01' + to_seconds((hash(i, 1) % 31536000)::BIGINT) AS event_ts,
            TIMESTAMP '2025-01-01' + to_seconds((hash(i, 2) % 31536000)::BIGINT) AS signup_ts,
            CASE WHEN hash(i, 3) % 100 = 0 THEN NULL ELSE round((hash(i, 4) % 100000) / 100.0, 2)::DOUBLE END AS amount,
            (18 + hash(i, 5) % 60)::INTEGER AS age,
            CASE WHEN hash(i, 6) % 50 = 0 THEN NULL ELSE ['US','GB','DE','FR','BR','IN','JP','CA'][1 + (hash(i, 7) % 8)::INT] END AS country,
            ['free','basic','pro'][1 + (hash(i, 8) % 3)::INT] AS plan,
            CASE WHEN hash(i, 9) % 100 = 0 THEN TIMESTAMP '2026-06-01' END AS deleted_at
          FROM range(${rows}) r(i)) TO ${quoteLiteral(file)} (FORMAT parquet, COMPRESSION zstd)`);
      }
      const relation = `read_parquet(${quoteLiteral(file)})`;
      await s.run(`CREATE OR REPLACE TEMP VIEW t AS SELECT * FROM ${relation}`);
      const suiteMs: number[] = [];
      const scanMs: number[] = [];
      const perMs: number[] = [];
      let passed = 0;
      let queries = 0;
      for (let i = 0; i < repeat; i++) {
        const scan = await time(() => s.query(PLAIN_SCAN));
        scanMs.push(scan.ms);
        const suite = await time(() => validateSuite(s, 't', { name: 'bench', expectations: EXPECTATIONS }));
        suiteMs.push(suite.ms);
        passed = suite.value.statistics.successful_expectations;
        queries = Number(suite.value.meta['queries'] ?? NaN);
        const per = await time(async () => {
          for (const expectation of EXPECTATIONS) await validateSuite(s, 't', { name: 'one', expectations: [expectation] });
        });
        perMs.push(per.ms);
        process.stderr.write(`#${i + 1}: suite ${suite.ms.toFixed(0)} ms, scan ${scan.ms.toFixed(0)} ms, per-check ${per.ms.toFixed(0)} ms\n`);
      }
      const result = {
        benchmark: 'quality',
        date: new Date().toISOString(),
        machine: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
        shape: { rows, expectations: EXPECTATIONS.length, repeat, file: path.relative(root, file) },
        suite: { ms: median(suiteMs), queries, passed },
        plainScan: { ms: median(scanMs), note: 'one hand-written SELECT with the same aggregates' },
        perExpectation: { ms: median(perMs), note: 'one validateSuite call per expectation (GX-style: queries per expectation)' },
        ratios: {
          suite_vs_plain_scan: median(suiteMs) / median(scanMs),
          per_expectation_vs_suite_speedup: median(perMs) / median(suiteMs),
          goal: 'suite/plain scan <= 1.5; speed-up over per-expectation >= 5',
        },
      };
      fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
      writeResult('quality', result);
      process.stdout.write(`quality: ${EXPECTATIONS.length} expectations on ${rows.toLocaleString('en-US')} rows (median of ${repeat})\n`);
      process.stdout.write(`mode                  ms       ratio\n`);
      process.stdout.write(`suite (${queries} queries)  ${median(suiteMs).toFixed(0).padStart(7)}  1.00\n`);
      process.stdout.write(`plain scan            ${median(scanMs).toFixed(0).padStart(7)}  ${(median(scanMs) / median(suiteMs)).toFixed(2)}\n`);
      process.stdout.write(`one query per check   ${median(perMs).toFixed(0).padStart(7)}  ${(median(perMs) / median(suiteMs)).toFixed(2)}\n`);
      process.stdout.write(`suite/plain scan = ${result.ratios.suite_vs_plain_scan.toFixed(2)} (goal <= 1.5); speed-up over per-check = ${result.ratios.per_expectation_vs_suite_speedup.toFixed(1)}x (goal >= 5); ${passed}/${EXPECTATIONS.length} passed\n`);
    });
  } finally {
    engine.close();
  }
}

await main();
