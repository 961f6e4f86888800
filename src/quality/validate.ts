// Validation: a suite compiled onto as few scans as possible, producing GX-style results.
//
// Passes: (1) DESCRIBE the relation once. (2) ONE `SELECT <aggregates> FROM relation` holding every
// row-level expectation's counts (`count(*) FILTER (WHERE <violation>)`), every column statistic (min, max,
// avg, stddev, quantiles, count(DISTINCT), histogram for value sets), and other tables' row counts as scalar
// subqueries. (3) Only where a shape cannot fold into that scan, one query for that expectation: z-scores
// (against the pass's mean), monotonicity (row order), KS tests (the column's values), duplicates when the
// distinct count says there are some, and a DESCRIBE per row condition / other table. Expectations with a
// GX row_condition see `(SELECT * FROM relation WHERE condition)`: one more pass per distinct condition.
// (4) Unexpected samples, one query per expectation, only when it has violations and its result_format
// shows them (BOOLEAN_ONLY never; BASIC and SUMMARY the first 20, COMPLETE all).
import type { ColumnInfo, Row } from '../engine/engine.ts';
import { SluiceError } from '../errors.ts';
import { validateExpectation, type AnyValidExpectation, type ExpectationConfig, type ResultFormatSpec, type Suite } from '../define/expect.ts';
import { AggregatePass, type QuerySession } from './aggregate-pass.ts';
import { ColumnLookup, referencedColumns } from './columns.ts';
import { isStringType } from '../sql/types.ts';
import { PLANNERS } from './expectations/index.ts';
import type { Finish, PlanEnv, PlanInput, Planner } from './plan.ts';
import { resolveResultFormat } from './result-format.ts';
import { conditionSql, conditionedRelation } from './row-condition.ts';
import { rowRule, violationPredicate } from './row-rules.ts';
import type { ExpectationResult, QualityContext, ValidationResult } from './types.ts';
import { cleanError } from './values.ts';

export type { QuerySession } from './aggregate-pass.ts';

export interface ValidateOptions {
  /** The result_format of expectations that do not set their own (GX's default, BASIC, when absent). */
  readonly resultFormat?: ResultFormatSpec;
}

async function describeRelation(session: QuerySession, relation: string): Promise<ColumnInfo[]> {
  const rows = await session.query<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${relation}`);
  return rows.map((r) => ({ name: r.column_name, type: r.column_type }));
}

function exceptionResult(config: ExpectationConfig, error: unknown): ExpectationResult {
  return { success: false, expectation_config: config, result: {}, exception_info: { raised_exception: true, exception_message: cleanError(error) } };
}

function plan(e: AnyValidExpectation, input: PlanInput<AnyValidExpectation['type']>): Finish | Promise<Finish> {
  // The planner table is complete over the types; TypeScript cannot correlate the union, so look it up once here.
  const planner = PLANNERS[e.type] as Planner<AnyValidExpectation['type']>;
  if (e.type === 'expect_column_values_to_match_strftime_format' || e.type === 'expect_column_values_to_be_dateutil_parseable') {
    const type = input.env.columns.type(e.kwargs.column);
    if (!isStringType(type)) throw new Error(`Values passed to ${e.type} must be of type string: column "${e.kwargs.column}" is ${type}`);
  }
  return planner(input);
}

/**
 * Validate `relation` (a quoted table or view name, or a parenthesised subquery) against a suite. Invalid
 * definitions throw DEFINITION_INVALID; an expectation that cannot be evaluated (a missing column, a type
 * mismatch) fails alone with `exception_info.raised_exception`, never the suite.
 */
export async function validateSuite(
  session: QuerySession,
  relation: string,
  suite: Suite,
  context: QualityContext = {},
  options: ValidateOptions = {},
): Promise<ValidationResult> {
  const started = Date.now();
  const expectations = suite.expectations.map((config, i) => validateExpectation(config, `suite "${suite.name}": expectations[${i}]`));
  let queries = 0;
  const query = async (sql: string): Promise<Row[]> => {
    queries += 1;
    return session.query(sql);
  };
  let columnInfo: ColumnInfo[];
  try {
    queries += 1;
    columnInfo = await describeRelation(session, relation);
  } catch (error) {
    throw new SluiceError('ASSET_SQL', `cannot read the relation to validate for suite "${suite.name}": ${cleanError(error)}`, { cause: error });
  }
  const columns = new ColumnLookup(columnInfo);
  const now = context.now ?? new Date();
  const described = new Map<string, Promise<readonly ColumnInfo[]>>();
  const describe = (other: string): Promise<readonly ColumnInfo[]> => {
    let columnsOf = described.get(other);
    if (columnsOf === undefined) {
      columnsOf = (async () => { queries += 1; return describeRelation(session, other); })();
      described.set(other, columnsOf);
    }
    return columnsOf;
  };
  // One environment and one pass per relation: the relation itself, and each distinct row_condition of it.
  const envs = new Map<string, { env: PlanEnv; pass: AggregatePass }>();
  const envFor = (target: string): { env: PlanEnv; pass: AggregatePass } => {
    let entry = envs.get(target);
    if (entry === undefined) {
      let order: Promise<string | null> | undefined;
      const env: PlanEnv = {
        session, relation: target, columns, context, now, query, describe,
        rowOrder: () => {
          order ??= query(`SELECT rowid FROM ${target} LIMIT 0`).then(() => 'rowid', () => null);
          return order;
        },
      };
      entry = { env, pass: new AggregatePass(target) };
      envs.set(target, entry);
    }
    return entry;
  };
  envFor(relation);
  const planned: (Finish | { error: unknown })[] = [];
  for (const [i, e] of expectations.entries()) {
    try {
      for (const name of referencedColumns(e)) columns.require(name);
      const { env, pass } = envFor(conditionedRelation(relation, e.kwargs, columns));
      const format = resolveResultFormat(e.kwargs.result_format, typeof options.resultFormat === 'string' ? options.resultFormat : 'BASIC');
      const effective = e.kwargs.result_format === undefined && typeof options.resultFormat === 'object' ? resolveResultFormat(options.resultFormat, 'BASIC') : format;
      const input: PlanInput<AnyValidExpectation['type']> = {
        expectation: e,
        kwargs: e.kwargs,
        env,
        format: effective,
        aggregate: (sql) => pass.add(i, sql),
        scope: { columns, now, relation: env.relation, tables: context.tables },
      };
      planned.push(await plan(e, input));
    } catch (error) {
      planned.push({ error });
    }
  }
  for (const { pass } of envs.values()) {
    if (pass.size > 0) queries += 1;
    await pass.run(session);
  }
  const results: ExpectationResult[] = [];
  for (const [i, step] of planned.entries()) {
    const config = expectations[i]?.config as ExpectationConfig;
    if (typeof step !== 'function') {
      results.push(exceptionResult(config, step.error));
      continue;
    }
    try {
      const outcome = await step();
      results.push({ success: outcome.success, expectation_config: config, result: outcome.result, exception_info: { raised_exception: false, exception_message: null } });
    } catch (error) {
      results.push(exceptionResult(config, error));
    }
  }
  const successful = results.filter((r) => r.success).length;
  return {
    success: successful === results.length,
    statistics: {
      evaluated_expectations: results.length,
      successful_expectations: successful,
      unsuccessful_expectations: results.length - successful,
      success_percent: results.length === 0 ? null : (successful / results.length) * 100,
    },
    results,
    suite_name: suite.name,
    meta: { validation_time: new Date(started).toISOString(), run_time_ms: Date.now() - started, queries },
  };
}

/** What rules that compare a row with other rows need: the relation itself, and other tables by name. */
export interface PredicateScope {
  readonly relation?: string;
  readonly context?: QualityContext;
}

/**
 * The SQL boolean expression that is TRUE exactly for a row violating a row-level (map) expectation, for
 * writing failing rows to quarantine; null for aggregate and table expectations and for monotonicity (which
 * depends on row order). Uniqueness, z-scores and referential integrity compare a row with other rows: they
 * need `scope.relation` (and `scope.context.tables`) and are null without it. A missing column throws.
 */
export function unexpectedRowPredicate(config: ExpectationConfig, columns: readonly (string | ColumnInfo)[], scope: PredicateScope = {}): string | null {
  const e = validateExpectation(config, 'unexpectedRowPredicate');
  const lookup = new ColumnLookup(columns);
  for (const name of referencedColumns(e)) lookup.require(name);
  const condition = conditionSql(e.kwargs, lookup);
  const relation = scope.relation === undefined ? undefined : conditionedRelation(scope.relation, e.kwargs, lookup);
  const rule = rowRule(e, { columns: lookup, now: scope.context?.now ?? new Date(), relation, tables: scope.context?.tables });
  if (rule === null) return null;
  return condition === null ? violationPredicate(rule) : `(coalesce(${condition}, FALSE) AND ${violationPredicate(rule)})`;
}
