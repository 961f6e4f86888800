// Data-quality expectations as users declare them: Great Expectations' types and kwargs, one zod schema per
// type (the load-time validation), camelCase builders (`expect.columnValuesToBeBetween('age', {...})`),
// `suite(...)` and `parseSuite(json)` for GX's JSON suite form. Pure: no I/O, no DuckDB.
//
// Types beyond GX (sluice's own, same result shapes):
// | type                                                    | kwargs                                              | what it checks |
// | ------------------------------------------------------- | --------------------------------------------------- | -------------- |
// | expect_column_max_to_be_within_duration_of_now          | column, max_age ('26h', '2d', '1h30m', 'PT1H30M' or seconds), relative_to ('now' \| 'partition_end') | freshness: the newest value is at most max_age old |
// | expect_column_values_to_be_in_other_table               | column, other_table (a QualityContext.tables name), other_column?, mostly | referential integrity; unexpected rows are the orphans |
// | expect_table_row_count_to_be_within_percent_of_previous | percent                                             | row count changed by at most percent % from QualityContext.previous |
// | expect_row_condition_to_hold                            | condition (SQL boolean over a row), mostly         | business rule; unexpected rows are those where it is FALSE (NULL holds, as in SQL CHECK) |
// | expect_table_schema_to_match                            | columns ({name: type}), allow_extra                 | schema: added, removed and changed columns |
// | expect_column_null_fraction_to_be_at_most               | column, max_value                                   | null rate threshold |
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import type { ExpectationConfig, Severity, Suite } from './checks.ts';
import { suggest } from './project.ts';

export type { ExpectationConfig, Severity, Suite } from './checks.ts';

// ---------------------------------------------------------------------------------------------------------
// Argument shapes shared by many expectation types
// ---------------------------------------------------------------------------------------------------------

const RESULT_FORMATS = ['BOOLEAN_ONLY', 'BASIC', 'SUMMARY', 'COMPLETE'] as const;
export type ResultFormatName = (typeof RESULT_FORMATS)[number];

const resultFormat = z.union([
  z.enum(RESULT_FORMATS),
  z.strictObject({
    result_format: z.enum(RESULT_FORMATS),
    partial_unexpected_count: z.number().int().min(0).optional(),
    include_unexpected_rows: z.boolean().optional(),
    exclude_unexpected_values: z.boolean().optional(),
    unexpected_index_column_names: z.array(z.string().min(1)).optional(),
    return_unexpected_index_query: z.boolean().optional(),
  }),
], { error: `expected one of ${RESULT_FORMATS.join(', ')} or {"result_format": ..., "partial_unexpected_count": N}` });
export type ResultFormatSpec = z.output<typeof resultFormat>;

const CONDITION_PARSERS = ['great_expectations__experimental__', 'great_expectations', 'sql'] as const;

/**
 * Accepted by every expectation: GX's runtime keys (catch_exceptions is accepted; sluice always catches) and
 * its conditional-expectation keys: `row_condition` restricts the rows the expectation sees, written in GX's
 * syntax (`col("status") == "active" & col("amount") > 0`) or, with condition_parser "sql", as a SQL expression.
 */
const COMMON = {
  result_format: resultFormat.optional(),
  catch_exceptions: z.boolean().optional(),
  include_config: z.boolean().optional(),
  row_condition: z.string().min(1).optional(),
  condition_parser: z.enum(CONDITION_PARSERS, { error: `expected one of ${CONDITION_PARSERS.join(', ')} (SQL backends do not run pandas or spark conditions)` }).optional(),
};

function checkRowCondition(k: { row_condition?: string | undefined; condition_parser?: string | undefined }, ctx: z.RefinementCtx): void {
  if (k.row_condition === undefined) {
    if (k.condition_parser !== undefined) ctx.addIssue({ code: 'custom', path: ['condition_parser'], message: 'condition_parser needs a row_condition' });
    return;
  }
  if (k.condition_parser === 'sql') {
    const bad = [';', '--', '/*'].find((token) => k.row_condition?.includes(token));
    if (bad !== undefined) ctx.addIssue({ code: 'custom', path: ['row_condition'], message: `must not contain "${bad}": give one SQL expression, without statement separators or comments` });
    return;
  }
  try {
    parseRowCondition(k.row_condition);
  } catch (error) {
    ctx.addIssue({ code: 'custom', path: ['row_condition'], message: (error as Error).message });
  }
}

// ---------------------------------------------------------------------------------------------------------
// GX's row_condition syntax: col("a") > 5, col("b") == "x", col("c").notnull(), joined by & | and or, with ~/not
// ---------------------------------------------------------------------------------------------------------

export type ConditionOperator = '==' | '!=' | '>' | '<' | '>=' | '<=';
export type RowConditionAst =
  | { readonly kind: 'compare'; readonly column: string; readonly op: ConditionOperator; readonly value: string | number | boolean | null }
  | { readonly kind: 'notnull' | 'isnull'; readonly column: string }
  | { readonly kind: 'and' | 'or'; readonly left: RowConditionAst; readonly right: RowConditionAst }
  | { readonly kind: 'not'; readonly operand: RowConditionAst };

/** Parse a GX row condition (condition_parser great_expectations or great_expectations__experimental__). */
export function parseRowCondition(text: string): RowConditionAst {
  const tokens = [...text.matchAll(/\s*(col\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)|\.(?:notnull|isnull|notNull|isNull)\(\)|==|!=|>=|<=|>|<|&|\||~|\(|\)|[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[A-Za-z_]+|\S)/g)];
  let at = 0;
  const peek = (): string | undefined => tokens[at]?.[1];
  const fail = (what: string): never => {
    throw new Error(`row_condition ${JSON.stringify(text)}: ${what} (write e.g. col("status") == "active" & col("amount") > 0)`);
  };
  const unquote = (token: string): string => token.slice(1, -1).replace(/\\(.)/g, '$1');
  const operand = (): RowConditionAst => {
    const token = peek();
    if (token === undefined) return fail('unexpected end');
    if (token === '(') {
      at += 1;
      const inner = disjunction();
      if (peek() !== ')') fail('missing ")"');
      at += 1;
      return inner;
    }
    if (token === '~' || token === 'not') {
      at += 1;
      return { kind: 'not', operand: operand() };
    }
    const match = tokens[at];
    if (match === undefined || !token.startsWith('col(')) return fail(`expected col("name"), found ${JSON.stringify(token)}`);
    at += 1;
    const column = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '').replace(/\\(.)/g, '$1');
    const next = peek();
    if (next !== undefined && next.startsWith('.')) {
      at += 1;
      return { kind: next.toLowerCase().startsWith('.notnull') ? 'notnull' : 'isnull', column };
    }
    if (next === undefined || !['==', '!=', '>', '<', '>=', '<='].includes(next)) return fail(`expected a comparison after col("${column}")`);
    at += 1;
    const raw = peek();
    if (raw === undefined) return fail('expected a value');
    at += 1;
    let value: string | number | boolean | null;
    if (/^["']/.test(raw)) value = unquote(raw);
    else if (/^[-+]?\d/.test(raw)) value = Number(raw);
    else if (raw === 'True' || raw === 'true') value = true;
    else if (raw === 'False' || raw === 'false') value = false;
    else if (raw === 'None' || raw === 'null') value = null;
    else return fail(`expected a number, a quoted string, True, False or None, found ${JSON.stringify(raw)}`);
    return { kind: 'compare', column, op: next as ConditionOperator, value };
  };
  const conjunction = (): RowConditionAst => {
    let left = operand();
    while (peek() === '&' || peek() === 'and') {
      at += 1;
      left = { kind: 'and', left, right: operand() };
    }
    return left;
  };
  const disjunction = (): RowConditionAst => {
    let left = conjunction();
    while (peek() === '|' || peek() === 'or') {
      at += 1;
      left = { kind: 'or', left, right: conjunction() };
    }
    return left;
  };
  const ast = disjunction();
  if (at < tokens.length) fail(`unexpected ${JSON.stringify(peek())}`);
  return ast;
}
const COMMON_KEYS = ['result_format', 'catch_exceptions', 'include_config'] as const;

const columnName = z.string({ error: 'expected a column name' }).min(1, 'expected a column name');
const columnList = z.array(columnName, { error: 'expected a list of column names' }).min(1, 'expected at least one column');
const mostly = z.number({ error: 'is not a valid float: expected a number between 0 and 1' })
  .min(0, 'must be greater than or equal to 0').max(1, 'must be less than or equal to 1').optional();
const finite = z.number({ error: 'expected a number' });
/** Partition bin edges may be infinite (GX's partition objects allow -Infinity and Infinity). */
const edge = z.custom<number>((v) => typeof v === 'number' && !Number.isNaN(v), 'expected a number');
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()], { error: 'expected a string, number, boolean or null' });
const valueSet = z.array(scalar, { error: 'expected a list of values' });
/** GX evaluation parameter: `{"$PARAMETER": "now() - timedelta(days=1)"}`, resolved when the suite runs. */
const parameter = z.strictObject({ $PARAMETER: z.string().min(1) });
const bound = z.union([finite, z.string(), parameter], { error: 'expected a number, a date/time string, or {"$PARAMETER": "..."}' }).nullable().optional();
const countBound = z.union([z.number().int().min(0), parameter], { error: 'is not a valid integer: expected a whole number' }).nullable().optional();
const count = z.union([z.number().int().min(0), parameter], { error: 'is not a valid integer: expected a whole number' });
const flag = z.boolean({ error: 'expected true or false' }).optional();
const betweenShape = { min_value: bound, max_value: bound, strict_min: flag, strict_max: flag };
const countBetweenShape = { min_value: countBound, max_value: countBound, strict_min: flag, strict_max: flag };
const ignoreRowIfPair = z.enum(['both_values_are_missing', 'either_value_is_missing', 'neither']).optional();
const ignoreRowIfMulti = z.enum(['all_values_are_missing', 'any_value_is_missing', 'never']).optional();
const matchOn = z.enum(['any', 'all']).optional();

/** SQL text written by the user (their own project): one expression or query, never a second statement. */
const userSql = z.string({ error: 'expected SQL text' }).min(1, 'expected SQL text').superRefine((text, ctx) => {
  for (const token of [';', '--', '/*']) {
    if (text.includes(token)) ctx.addIssue({ code: 'custom', message: `must not contain "${token}": give one SQL expression, without statement separators or comments` });
  }
});

/** Python strftime directives that DuckDB's strptime understands the same way. */
const STRFTIME_DIRECTIVES = new Set(['a', 'A', 'w', 'd', 'b', 'B', 'm', 'y', 'Y', 'H', 'I', 'p', 'M', 'S', 'f', 'z', 'Z', 'j', 'U', 'W', 'c', 'x', 'X', '%']);
const strftimeFormat = z.string().min(1).superRefine((format, ctx) => {
  for (const match of format.matchAll(/%(-?)(.?)/g)) {
    const directive = match[2] ?? '';
    if (!STRFTIME_DIRECTIVES.has(directive)) {
      ctx.addIssue({ code: 'custom', message: `Unable to use provided strftime_format: %${match[1] ?? ''}${directive} is not a supported directive (use ${[...STRFTIME_DIRECTIVES].map((d) => `%${d}`).join(' ')})` });
    }
  }
});

const weights = z.array(z.number().min(0, 'weights must not be negative'), { error: 'expected a list of weights' }).min(1);
const sumsToOne = (values: readonly number[]): boolean => Math.abs(values.reduce((a, b) => a + b, 0) - 1) <= 1e-8 + 1e-5;
const categoricalPartition = z.strictObject({ values: z.array(scalar).min(1), weights }).superRefine((p, ctx) => {
  if (p.values.length !== p.weights.length) ctx.addIssue({ code: 'custom', message: 'a categorical partition needs one weight per value' });
  if (!sumsToOne(p.weights)) ctx.addIssue({ code: 'custom', message: 'partition weights must sum to 1' });
});
const continuousPartition = z.strictObject({
  bins: z.array(edge).min(2),
  weights,
  tail_weights: z.tuple([z.number().min(0), z.number().min(0)]).optional(),
}).superRefine((p, ctx) => {
  if (p.bins.length !== p.weights.length + 1) ctx.addIssue({ code: 'custom', message: 'a continuous partition needs one more bin edge than weights' });
  if (p.bins.some((b, i) => i > 0 && !(b > (p.bins[i - 1] ?? -Infinity)))) ctx.addIssue({ code: 'custom', message: 'partition bins must increase strictly' });
  if (!sumsToOne([...p.weights, ...(p.tail_weights ?? [])])) ctx.addIssue({ code: 'custom', message: 'partition weights (with tail_weights) must sum to 1' });
});
export type CategoricalPartition = z.output<typeof categoricalPartition>;
export type ContinuousPartition = z.output<typeof continuousPartition>;

const DISTRIBUTIONS = ['norm', 'beta', 'gamma', 'uniform', 'chi2', 'expon'] as const;
/** Parameter names per distribution when given as a dict (GX's names), and the positional (scipy) order. */
export const DISTRIBUTION_PARAMS: Readonly<Record<(typeof DISTRIBUTIONS)[number], { readonly dict: readonly string[]; readonly positional: readonly string[] }>> = {
  norm: { dict: ['mean', 'std_dev'], positional: ['loc', 'scale'] },
  beta: { dict: ['alpha', 'beta'], positional: ['alpha', 'beta', 'loc', 'scale'] },
  gamma: { dict: ['alpha'], positional: ['alpha', 'loc', 'scale'] },
  uniform: { dict: ['min', 'max'], positional: ['loc', 'scale'] },
  chi2: { dict: ['df'], positional: ['df', 'loc', 'scale'] },
  expon: { dict: [], positional: ['loc', 'scale'] },
};

function betweenCheck(requireBound: boolean) {
  return (k: { min_value?: unknown; max_value?: unknown }, ctx: z.RefinementCtx): void => {
    const min = k.min_value ?? null;
    const max = k.max_value ?? null;
    if (requireBound && min === null && max === null) ctx.addIssue({ code: 'custom', path: ['min_value'], message: 'give min_value, max_value or both' });
    if (typeof min === 'number' && typeof max === 'number' && min > max) {
      ctx.addIssue({ code: 'custom', path: ['min_value'], message: `min_value (${min}) is greater than max_value (${max})` });
    }
  };
}

// ---------------------------------------------------------------------------------------------------------
// The catalogue: one entry per expectation type
// ---------------------------------------------------------------------------------------------------------

function def<const P extends readonly string[], S extends z.ZodRawShape>(
  positional: P,
  shape: S,
  check?: (kwargs: z.output<z.ZodObject<S>>, ctx: z.RefinementCtx) => void,
) {
  const base = z.strictObject({ ...shape, ...COMMON });
  const schema = base.superRefine((k, ctx) => {
    checkRowCondition(k as { row_condition?: string; condition_parser?: string }, ctx);
    check?.(k as z.output<z.ZodObject<S>>, ctx);
  });
  return { positional, schema };
}

const COLUMN = ['column'] as const;
const PAIR = ['column_A', 'column_B'] as const;
const MULTI = ['column_list'] as const;
const NONE = [] as const;
const col = { column: columnName };
const colMap = { column: columnName, mostly };

const DEFINITIONS = {
  // Column map expectations: a yes/no question per row, nulls excluded (except the null checks themselves).
  expect_column_values_to_not_be_null: def(COLUMN, { ...colMap }),
  expect_column_values_to_be_null: def(COLUMN, { ...colMap }),
  expect_column_values_to_be_between: def(COLUMN, { ...colMap, ...betweenShape, parse_strings_as_datetimes: flag, allow_cross_type_comparisons: flag }, betweenCheck(true)),
  // A null value_set is vacuous (GX: every value is in an unspecified set; none is excluded by it).
  expect_column_values_to_be_in_set: def(COLUMN, { ...colMap, value_set: valueSet.nullable(), parse_strings_as_datetimes: flag }),
  expect_column_values_to_not_be_in_set: def(COLUMN, { ...colMap, value_set: valueSet.nullable(), parse_strings_as_datetimes: flag }),
  expect_column_values_to_be_unique: def(COLUMN, { ...colMap }),
  expect_column_values_to_match_regex: def(COLUMN, { ...colMap, regex: z.string() }),
  expect_column_values_to_not_match_regex: def(COLUMN, { ...colMap, regex: z.string() }),
  expect_column_values_to_match_regex_list: def(COLUMN, { ...colMap, regex_list: z.array(z.string()).min(1), match_on: matchOn }),
  expect_column_values_to_not_match_regex_list: def(COLUMN, { ...colMap, regex_list: z.array(z.string()).min(1) }),
  expect_column_values_to_match_like_pattern: def(COLUMN, { ...colMap, like_pattern: z.string() }),
  expect_column_values_to_not_match_like_pattern: def(COLUMN, { ...colMap, like_pattern: z.string() }),
  expect_column_values_to_match_like_pattern_list: def(COLUMN, { ...colMap, like_pattern_list: z.array(z.string()).min(1), match_on: matchOn }),
  expect_column_values_to_not_match_like_pattern_list: def(COLUMN, { ...colMap, like_pattern_list: z.array(z.string()).min(1) }),
  expect_column_value_lengths_to_be_between: def(COLUMN, { ...colMap, min_value: countBound, max_value: countBound }, (k, ctx) => {
    if ((k.min_value ?? null) === null && (k.max_value ?? null) === null) ctx.addIssue({ code: 'custom', path: ['min_value'], message: 'give min_value, max_value or both' });
  }),
  expect_column_value_lengths_to_equal: def(COLUMN, { ...colMap, value: count }),
  expect_column_values_to_match_strftime_format: def(COLUMN, { ...colMap, strftime_format: strftimeFormat }),
  expect_column_values_to_be_dateutil_parseable: def(COLUMN, { ...colMap }),
  expect_column_values_to_match_json_schema: def(COLUMN, { ...colMap, json_schema: z.record(z.string(), z.unknown()) }),
  expect_column_values_to_be_increasing: def(COLUMN, { ...colMap, strictly: flag, parse_strings_as_datetimes: flag }),
  expect_column_values_to_be_decreasing: def(COLUMN, { ...colMap, strictly: flag, parse_strings_as_datetimes: flag }),
  expect_column_value_z_scores_to_be_less_than: def(COLUMN, { ...colMap, threshold: finite, double_sided: flag }),
  expect_column_values_to_be_in_type_list: def(COLUMN, { ...colMap, type_list: z.array(z.string().min(1)).nullable() }),
  expect_column_values_to_be_of_type: def(COLUMN, { ...colMap, type_: z.string().min(1) }),

  // Column aggregate expectations: one statistic of a column, compared with bounds.
  expect_column_min_to_be_between: def(COLUMN, { ...col, ...betweenShape, parse_strings_as_datetimes: flag, output_strftime_format: z.string().optional() }, betweenCheck(false)),
  expect_column_max_to_be_between: def(COLUMN, { ...col, ...betweenShape, parse_strings_as_datetimes: flag, output_strftime_format: z.string().optional() }, betweenCheck(false)),
  expect_column_mean_to_be_between: def(COLUMN, { ...col, ...betweenShape }, betweenCheck(false)),
  expect_column_median_to_be_between: def(COLUMN, { ...col, ...betweenShape }, betweenCheck(false)),
  expect_column_sum_to_be_between: def(COLUMN, { ...col, ...betweenShape }, betweenCheck(false)),
  expect_column_stdev_to_be_between: def(COLUMN, { ...col, ...betweenShape }, betweenCheck(false)),
  expect_column_unique_value_count_to_be_between: def(COLUMN, { ...col, ...countBetweenShape }, betweenCheck(false)),
  expect_column_proportion_of_unique_values_to_be_between: def(COLUMN, { ...col, ...betweenShape }, betweenCheck(false)),
  expect_column_quantile_values_to_be_between: def(COLUMN, {
    ...col,
    quantile_ranges: z.strictObject({
      quantiles: z.array(z.number().min(0).max(1)).min(1),
      value_ranges: z.array(z.tuple([finite.nullable(), finite.nullable()])),
    }),
    allow_relative_error: z.union([z.boolean(), z.number(), z.string()]).optional(),
  }, (k, ctx) => {
    const { quantiles, value_ranges } = k.quantile_ranges;
    if (quantiles.length !== value_ranges.length) ctx.addIssue({ code: 'custom', path: ['quantile_ranges'], message: 'give one value range per quantile' });
    value_ranges.forEach(([lo, hi], i) => {
      if (lo !== null && hi !== null && lo > hi) ctx.addIssue({ code: 'custom', path: ['quantile_ranges'], message: `value range ${i} [${lo}, ${hi}] has its minimum above its maximum` });
    });
  }),
  expect_column_most_common_value_to_be_in_set: def(COLUMN, { ...col, value_set: valueSet, ties_okay: flag }),
  expect_column_distinct_values_to_be_in_set: def(COLUMN, { ...col, value_set: valueSet.nullable(), parse_strings_as_datetimes: flag }),
  expect_column_distinct_values_to_contain_set: def(COLUMN, { ...col, value_set: valueSet, parse_strings_as_datetimes: flag }),
  expect_column_distinct_values_to_equal_set: def(COLUMN, { ...col, value_set: valueSet, parse_strings_as_datetimes: flag }),
  expect_column_chisquare_test_p_value_to_be_greater_than: def(COLUMN, {
    ...col, partition_object: categoricalPartition, p: z.number().min(0).max(1).optional(), tail_weight_holdout: z.number().min(0).max(1).optional(),
  }),
  expect_column_kl_divergence_to_be_less_than: def(COLUMN, {
    ...col,
    partition_object: z.union([categoricalPartition, continuousPartition], { error: 'expected a partition object: {"values": [...], "weights": [...]} or {"bins": [...], "weights": [...]}' }).nullable().optional(),
    threshold: z.number().min(0).nullable().optional(),
    tail_weight_holdout: z.number().min(0).max(1).optional(),
    internal_weight_holdout: z.number().min(0).max(1).optional(),
    bucketize_data: flag,
  }, (k, ctx) => {
    const partition = k.partition_object;
    if (partition && 'values' in partition && (k.internal_weight_holdout ?? 0) > 0) ctx.addIssue({ code: 'custom', path: ['internal_weight_holdout'], message: 'internal weight holdout cannot be used for discrete data' });
    if (partition && 'bins' in partition) {
      if ((k.tail_weight_holdout ?? 0) !== 0 && partition.tail_weights !== undefined) ctx.addIssue({ code: 'custom', path: ['tail_weight_holdout'], message: 'tail_weight_holdout must be 0 when the partition has tail_weights' });
      const infinite = partition.bins[0] === -Infinity || partition.bins[partition.bins.length - 1] === Infinity;
      if (infinite && partition.tail_weights !== undefined) ctx.addIssue({ code: 'custom', path: ['partition_object'], message: 'there can be no tail weights for partitions with an endpoint at infinity' });
      if (partition.bins[0] === -Infinity && partition.bins[partition.bins.length - 1] === Infinity && (k.tail_weight_holdout ?? 0) > 0) {
        ctx.addIssue({ code: 'custom', path: ['tail_weight_holdout'], message: 'tail_weight_holdout cannot be used for partitions with infinite endpoints' });
      }
    }
  }),
  expect_column_bootstrapped_ks_test_p_value_to_be_greater_than: def(COLUMN, {
    ...col, partition_object: continuousPartition, p: z.number().min(0).max(1).optional(),
    bootstrap_samples: z.number().int().min(1).optional(), bootstrap_sample_size: z.number().int().min(1).optional(),
  }, (k, ctx) => {
    const bins = k.partition_object.bins;
    if (!Number.isFinite(bins[0]) || !Number.isFinite(bins[bins.length - 1])) ctx.addIssue({ code: 'custom', path: ['partition_object'], message: 'Partition endpoints must be finite' });
    if ((k.partition_object.tail_weights ?? []).some((w) => w > 0)) ctx.addIssue({ code: 'custom', path: ['partition_object'], message: 'partition cannot have tail weights: endpoints must be finite' });
  }),
  expect_column_parameterized_distribution_ks_test_p_value_to_be_greater_than: def(COLUMN, {
    ...col,
    distribution: z.enum(DISTRIBUTIONS),
    p_value: z.number().min(0).max(1).optional(),
    params: z.union([z.record(z.string(), finite), z.array(finite)], { error: 'expected a dict of parameters or a list (scipy order)' }),
  }, (k, ctx) => {
    const names = DISTRIBUTION_PARAMS[k.distribution];
    if (Array.isArray(k.params)) {
      if (k.params.length > names.positional.length) ctx.addIssue({ code: 'custom', path: ['params'], message: `${k.distribution} takes at most ${names.positional.length} parameters (${names.positional.join(', ')})` });
    } else {
      const params = k.params;
      const missing = names.dict.filter((name) => params[name] === undefined);
      if (missing.length > 0) ctx.addIssue({ code: 'custom', path: ['params'], message: `${k.distribution} needs ${missing.join(', ')}` });
      const known = new Set([...names.dict, 'loc', 'scale']);
      for (const key of Object.keys(params)) if (!known.has(key)) ctx.addIssue({ code: 'custom', path: ['params'], message: `unknown ${k.distribution} parameter "${key}"${suggest(key, known)}` });
    }
  }),

  // Column pair and multicolumn map expectations.
  expect_column_pair_values_to_be_equal: def(PAIR, { column_A: columnName, column_B: columnName, ignore_row_if: ignoreRowIfPair, mostly }),
  expect_column_pair_values_a_to_be_greater_than_b: def(PAIR, {
    column_A: columnName, column_B: columnName, or_equal: flag, ignore_row_if: ignoreRowIfPair, mostly, parse_strings_as_datetimes: flag, allow_cross_type_comparisons: flag,
  }),
  expect_column_pair_values_to_be_in_set: def(PAIR, { column_A: columnName, column_B: columnName, value_pairs_set: z.array(z.tuple([scalar, scalar])), ignore_row_if: ignoreRowIfPair, mostly }),
  expect_compound_columns_to_be_unique: def(MULTI, { column_list: columnList, ignore_row_if: ignoreRowIfMulti, mostly }),
  expect_multicolumn_sum_to_equal: def(MULTI, { column_list: columnList, sum_total: finite, ignore_row_if: ignoreRowIfMulti, mostly }),
  expect_select_column_values_to_be_unique_within_record: def(MULTI, { column_list: columnList, ignore_row_if: ignoreRowIfMulti, mostly }),

  // Table expectations.
  expect_column_to_exist: def(COLUMN, { ...col, column_index: z.number().int().min(0).nullable().optional() }),
  expect_table_row_count_to_be_between: def(NONE, { ...countBetweenShape }, betweenCheck(false)),
  expect_table_row_count_to_equal: def(NONE, { value: count }),
  expect_table_row_count_to_equal_other_table: def(NONE, { other_table_name: z.string().min(1) }),
  expect_table_column_count_to_be_between: def(NONE, { ...countBetweenShape }, betweenCheck(false)),
  expect_table_column_count_to_equal: def(NONE, { value: count }),
  expect_table_columns_to_match_ordered_list: def(NONE, { column_list: z.array(columnName).nullable() }),
  expect_table_columns_to_match_set: def(NONE, { column_set: z.array(columnName).nullable(), exact_match: z.boolean().nullable().optional() }),
  unexpected_rows_expectation: def(NONE, { unexpected_rows_query: userSql, description: z.string().optional() }),

  // sluice's own (see the table at the top of this file).
  expect_column_max_to_be_within_duration_of_now: def(COLUMN, {
    ...col,
    max_age: z.union([z.number().min(0), z.string()], { error: 'expected a duration such as "26h", "2d", "1h30m", "PT1H30M", or a number of seconds' }),
    relative_to: z.enum(['now', 'partition_end']).optional(),
  }, (k, ctx) => {
    if (typeof k.max_age === 'string' && parseDuration(k.max_age) === undefined) {
      ctx.addIssue({ code: 'custom', path: ['max_age'], message: `"${k.max_age}" is not a duration: use e.g. "26h", "2d", "1h30m", "90s", "1w" or ISO 8601 "PT1H30M", "P2D"` });
    }
  }),
  expect_column_values_to_be_in_other_table: def(COLUMN, { ...colMap, other_table: z.string().min(1), other_column: columnName.optional() }),
  expect_table_row_count_to_be_within_percent_of_previous: def(NONE, { percent: z.number().min(0) }),
  expect_row_condition_to_hold: def(NONE, { condition: userSql, mostly }),
  expect_table_schema_to_match: def(NONE, { columns: z.record(columnName, z.string().min(1)), allow_extra: flag }),
  expect_column_null_fraction_to_be_at_most: def(COLUMN, { ...col, max_value: z.number().min(0).max(1) }),
};

type Definitions = typeof DEFINITIONS;
export type ExpectationType = keyof Definitions;
/** The kwargs of one expectation type after validation. */
export type Kwargs<T extends ExpectationType> = z.output<Definitions[T]['schema']>;
type KwargsInput<T extends ExpectationType> = z.input<Definitions[T]['schema']>;

export const EXPECTATION_TYPES: readonly ExpectationType[] = Object.freeze(Object.keys(DEFINITIONS) as ExpectationType[]);

export function isExpectationType(type: string): type is ExpectationType {
  return Object.hasOwn(DEFINITIONS, type);
}

/** The argument names an expectation type accepts (GX's snake_case kwargs). */
export function expectationArguments(type: ExpectationType): readonly string[] {
  return Object.keys(DEFINITIONS[type].schema.shape);
}

// ---------------------------------------------------------------------------------------------------------
// Validation (the one place kwargs are checked; results are cached per config object)
// ---------------------------------------------------------------------------------------------------------

/** A validated expectation: its type, kwargs typed for that type, and the frozen configuration. */
export interface ValidExpectation<T extends ExpectationType = ExpectationType> {
  readonly type: T;
  readonly kwargs: Kwargs<T>;
  readonly config: ExpectationConfig;
}
export type AnyValidExpectation = { [T in ExpectationType]: ValidExpectation<T> }[ExpectationType];

const validated = new WeakMap<ExpectationConfig, AnyValidExpectation>();

function describeIssue(issue: z.core.$ZodIssue, kwargs: Readonly<Record<string, unknown>>, type: ExpectationType): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `unknown argument "${key}"${suggest(key, expectationArguments(type))}`).join('; ');
  }
  const argument = issue.path[0];
  if (typeof argument === 'string') {
    if (issue.code === 'invalid_type' && !Object.hasOwn(kwargs, argument)) return `missing required argument "${argument}"`;
    const detail = issue.path.length > 1 ? ` (at ${issue.path.slice(1).join('.')})` : '';
    return `argument "${argument}"${detail}: ${issue.message}`;
  }
  return issue.message;
}

/**
 * Validate one expectation configuration (GX `type`, `kwargs`, `meta`), naming the expectation and the
 * argument on error, and return it normalised and frozen (meta.severity defaults to 'error').
 */
export function validateExpectation(config: unknown, where: string): AnyValidExpectation {
  if (typeof config === 'object' && config !== null && validated.has(config as ExpectationConfig)) {
    return validated.get(config as ExpectationConfig) as AnyValidExpectation;
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new SluiceError('DEFINITION_INVALID', `${where}: expected an object with "type" and "kwargs"`);
  }
  const record = config as Record<string, unknown>;
  const type = record['type'] ?? record['expectation_type'];
  if (typeof type !== 'string' || type.length === 0) {
    throw new SluiceError('DEFINITION_INVALID', `${where}: missing the expectation "type"`);
  }
  if (!isExpectationType(type)) {
    throw new SluiceError('DEFINITION_INVALID', `${where}: unknown expectation type "${type}"${suggest(type, EXPECTATION_TYPES)}`, { expectation: type });
  }
  const at = `${where} (${type})`;
  for (const key of Object.keys(record)) {
    if (!['type', 'expectation_type', 'kwargs', 'meta', 'id', 'notes', 'description', 'rendered_content'].includes(key)) {
      throw new SluiceError('DEFINITION_INVALID', `${at}: unknown key "${key}" (arguments go in "kwargs")`, { expectation: type });
    }
  }
  const rawKwargs = record['kwargs'] ?? {};
  if (typeof rawKwargs !== 'object' || rawKwargs === null || Array.isArray(rawKwargs)) {
    throw new SluiceError('DEFINITION_INVALID', `${at}: "kwargs" must be an object`, { expectation: type });
  }
  const kwargs = rawKwargs as Record<string, unknown>;
  const parsed = DEFINITIONS[type].schema.safeParse(kwargs);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const message = issue === undefined ? 'invalid arguments' : describeIssue(issue, kwargs, type);
    const argument = issue?.code === 'unrecognized_keys' ? issue.keys[0] : issue?.path[0];
    throw new SluiceError('DEFINITION_INVALID', `${at}: ${message}`, { expectation: type, argument: typeof argument === 'string' ? argument : undefined });
  }
  const meta = record['meta'] ?? {};
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw new SluiceError('DEFINITION_INVALID', `${at}: "meta" must be an object`, { expectation: type });
  }
  const severity = (meta as Record<string, unknown>)['severity'] ?? 'error';
  if (severity !== 'error' && severity !== 'warn') {
    throw new SluiceError('DEFINITION_INVALID', `${at}: meta.severity must be "error" or "warn", got ${JSON.stringify(severity)}`, { expectation: type });
  }
  const normalised: ExpectationConfig = deepFreeze({ type, kwargs: structuredClone(kwargs), meta: { ...structuredClone(meta as Record<string, unknown>), severity } });
  const result = deepFreeze({ type, kwargs: parsed.data, config: normalised }) as AnyValidExpectation;
  validated.set(normalised, result);
  return result;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Validate a list of expectation configurations (e.g. an asset's checks). */
export function validateExpectations(configs: readonly unknown[], where = 'checks'): readonly ExpectationConfig[] {
  return Object.freeze(configs.map((config, i) => validateExpectation(config, `${where}: expectations[${i}]`).config));
}

/** A suite: a name and its expectations, validated once here. */
export function suite(name: string, expectations: readonly ExpectationConfig[]): Suite {
  if (typeof name !== 'string' || name.length === 0) throw new SluiceError('DEFINITION_INVALID', 'a suite needs a non-empty name');
  return Object.freeze({ name, expectations: validateExpectations(expectations, `suite "${name}"`) });
}

const SUITE_KEYS = new Set(['name', 'expectation_suite_name', 'expectations', 'meta', 'data_asset_type', 'ge_cloud_id', 'id', 'notes', 'evaluation_parameters']);

/**
 * Parse GX's JSON suite form: `{"name": ..., "expectations": [{"type": ..., "kwargs": {...}, "meta": {...}}]}`
 * (also the older `expectation_suite_name` and `expectation_type` keys). `source` names the file in errors.
 */
export function parseSuite(json: unknown, source?: string): Suite {
  const origin = source === undefined ? '' : ` (${source})`;
  let data = json;
  if (typeof json === 'string') {
    try {
      data = JSON.parse(json) as unknown;
    } catch (error) {
      throw new SluiceError('DEFINITION_INVALID', `suite${origin} is not valid JSON: ${(error as Error).message}`, { file: source });
    }
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new SluiceError('DEFINITION_INVALID', `suite${origin}: expected an object with "name" and "expectations"`, { file: source });
  }
  const record = data as Record<string, unknown>;
  const name = record['name'] ?? record['expectation_suite_name'];
  if (typeof name !== 'string' || name.length === 0) throw new SluiceError('DEFINITION_INVALID', `suite${origin}: missing "name"`, { file: source });
  for (const key of Object.keys(record)) {
    if (!SUITE_KEYS.has(key)) throw new SluiceError('DEFINITION_INVALID', `suite "${name}"${origin}: unknown key "${key}"${suggest(key, SUITE_KEYS)}`, { file: source });
  }
  const expectations = record['expectations'] ?? [];
  if (!Array.isArray(expectations)) throw new SluiceError('DEFINITION_INVALID', `suite "${name}"${origin}: "expectations" must be a list`, { file: source });
  return Object.freeze({ name, expectations: validateExpectations(expectations, `suite "${name}"${origin}`) });
}

// ---------------------------------------------------------------------------------------------------------
// Durations ('26h', '2d', '1h30m', ISO 8601 'PT1H30M'), for freshness
// ---------------------------------------------------------------------------------------------------------

const UNIT_SECONDS: Readonly<Record<string, number>> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1, ms: 0.001 };

/** Seconds in a duration such as '26h', '2d', '1h30m', '90s', '1w', 'PT1H30M' or 'P1DT2H'; undefined when unreadable. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim().toLowerCase();
  const iso = /^p(?:(\d+(?:\.\d+)?)w)?(?:(\d+(?:\.\d+)?)d)?(?:t(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?)?$/.exec(trimmed);
  if (iso !== null && trimmed !== 'p' && !trimmed.endsWith('t')) {
    const [w, d, h, m, s] = iso.slice(1).map((part) => Number(part ?? 0));
    return (w ?? 0) * 604800 + (d ?? 0) * 86400 + (h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0);
  }
  if (!/^(\d+(?:\.\d+)?\s*(ms|w|d|h|m|s)\s*)+$/.test(trimmed)) return undefined;
  let seconds = 0;
  for (const match of trimmed.matchAll(/(\d+(?:\.\d+)?)\s*(ms|w|d|h|m|s)/g)) seconds += Number(match[1]) * (UNIT_SECONDS[match[2] ?? 's'] ?? 1);
  return seconds;
}

// ---------------------------------------------------------------------------------------------------------
// Builders: one camelCase function per type, options mapped to GX's snake_case kwargs
// ---------------------------------------------------------------------------------------------------------

type SnakeToCamel<S extends string> = S extends `${infer H}_${infer T}` ? (T extends '' ? H : `${H}${Capitalize<SnakeToCamel<T>>}`) : S;
type Camel<T> = { [K in keyof T as SnakeToCamel<K & string>]: T[K] };
type Positional<T extends ExpectationType> = Definitions[T]['positional'];
type PositionalArgs<T extends ExpectationType, P> = P extends readonly [infer A extends keyof KwargsInput<T>, ...infer R]
  ? [KwargsInput<T>[A], ...PositionalArgs<T, R>]
  : [];

/** Options every builder takes besides the expectation's own. */
export interface BuilderOptions {
  /** 'error' (default) gates the pipeline; 'warn' is recorded only. Goes into `meta.severity`. */
  readonly severity?: Severity;
  /** Free-form notes kept in `meta`. */
  readonly meta?: Readonly<Record<string, unknown>>;
  readonly resultFormat?: ResultFormatSpec;
}
type Options<T extends ExpectationType> = Camel<Omit<KwargsInput<T>, Positional<T>[number] | (typeof COMMON_KEYS)[number]>> & BuilderOptions;
type OptionsArg<O> = object extends O ? [options?: O] : [options: O];
type PositionalBuilder<T extends ExpectationType> = (...args: [...PositionalArgs<T, Positional<T>>, ...OptionsArg<Options<T>>]) => ExpectationConfig;
/** The columns given by name with the other options: `{ columnA, columnB, orEqual }`. */
type ObjectForm<T extends ExpectationType> = Camel<Pick<KwargsInput<T>, Positional<T>[number] & keyof KwargsInput<T>>> & Options<T>;
// The positional signature comes last, so Parameters<> (and editors' first hint) read it as before.
export type Builder<T extends ExpectationType> = Positional<T> extends readonly []
  ? PositionalBuilder<T>
  : ((options: ObjectForm<T>) => ExpectationConfig) & PositionalBuilder<T>;
type BuilderName<T extends string> = T extends `expect_${infer R}` ? SnakeToCamel<R> : T extends `${infer R}_expectation` ? SnakeToCamel<R> : never;
export type Builders = { readonly [T in ExpectationType as BuilderName<T>]: Builder<T> };

function snakeToCamel(name: string): string {
  return name.replace(/_+([^_])/g, (_, c: string) => c.toUpperCase()).replace(/_+$/, '');
}

function isOptionsObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * How a builder is called, for its errors: `expect.columnPairValuesAToBeGreaterThanB(columnA, columnB, options?)
 * or ({ columnA, columnB, ... })`; required options are named (`{ sumTotal, ... }`). Undefined without columns.
 */
function builderSignature(type: ExpectationType, builderName: string): string | undefined {
  const positional = DEFINITIONS[type].positional.map(snakeToCamel);
  if (positional.length === 0) return undefined;
  const shape = DEFINITIONS[type].schema.shape as Readonly<Record<string, z.ZodType>>;
  const required = Object.keys(shape)
    .filter((k) => !(DEFINITIONS[type].positional as readonly string[]).includes(k) && !shape[k]?.safeParse(undefined).success)
    .map(snakeToCamel);
  const options = required.length === 0 ? 'options?' : `{ ${required.join(', ')}, ... }`;
  return `expect.${builderName}(${[...positional, options].join(', ')}) or ({ ${[...positional, ...required].join(', ')}, ... })`;
}

function makeBuilder(type: ExpectationType): (...args: unknown[]) => ExpectationConfig {
  const positional: readonly string[] = DEFINITIONS[type].positional;
  const byCamel = new Map(expectationArguments(type).filter((k) => !(COMMON_KEYS as readonly string[]).includes(k)).map((k) => [snakeToCamel(k), k]));
  const builderName = snakeToCamel(type.replace(/^expect_/, '').replace(/_expectation$/, ''));
  const signature = builderSignature(type, builderName);
  const required = new Set(Object.entries(DEFINITIONS[type].schema.shape as Readonly<Record<string, z.ZodType>>)
    .filter(([, schema]) => !schema.safeParse(undefined).success).map(([key]) => key));
  const invalid = (message: string, argument: string | undefined): SluiceError =>
    new SluiceError('DEFINITION_INVALID', `expect.${builderName}: ${message}${signature === undefined ? '' : `; call it as ${signature}`}`, { expectation: type, argument });
  return (...args: unknown[]) => {
    // One options object in place of the columns: `{ columnA, columnB, ...options }`.
    const objectForm = positional.length > 0 && isOptionsObject(args[0]);
    if (objectForm && args.length > 1) {
      throw invalid('give the columns either positionally or in the options object, not both', undefined);
    }
    const kwargs: Record<string, unknown> = {};
    if (!objectForm) positional.forEach((key, i) => { kwargs[key] = args[i]; });
    const options = ((objectForm ? args[0] : args[positional.length]) ?? {}) as Record<string, unknown>;
    const meta: Record<string, unknown> = { ...(options['meta'] as Record<string, unknown> | undefined) };
    for (const [key, value] of Object.entries(options)) {
      if (value === undefined || key === 'meta') continue;
      if (key === 'severity') { meta['severity'] = value; continue; }
      if (key === 'resultFormat') { kwargs['result_format'] = value; continue; }
      const snake = byCamel.get(key);
      if (snake === undefined || (!objectForm && positional.includes(snake))) {
        const valid = [...[...byCamel.keys()].filter((k) => objectForm || !positional.includes(byCamel.get(k) ?? '')), 'severity', 'meta', 'resultFormat'];
        throw invalid(`unknown option "${key}"${suggest(key, valid)}; its options: ${valid.join(', ')}`, key);
      }
      kwargs[snake] = value;
    }
    try {
      return validateExpectation({ type, kwargs, meta }, `expect.${builderName}`).config;
    } catch (error) {
      // A wrong or missing column (or required option) is a wrong call: say how to call the builder.
      const argument = error instanceof SluiceError ? error.context['argument'] : undefined;
      if (signature === undefined || typeof argument !== 'string' || !(positional.includes(argument) || (required.has(argument) && kwargs[argument] === undefined))) throw error;
      throw new SluiceError('DEFINITION_INVALID', `${(error as SluiceError).message}; call it as ${signature}`, (error as SluiceError).context, { cause: error });
    }
  };
}

/**
 * `expect.columnValuesToBeBetween('age', { minValue: 0, maxValue: 120 })`, one builder per expectation type.
 * Top-level options are camelCase; values keep GX's structure (`quantileRanges: { quantiles, value_ranges }`).
 */
const builders: Readonly<Record<string, unknown>> = Object.freeze(Object.fromEntries(
  EXPECTATION_TYPES.map((type) => [snakeToCamel(type.replace(/^expect_/, '').replace(/_expectation$/, '')), makeBuilder(type)]),
));
/** Properties tools probe on any object (await, printers, test matchers): answered, not reported as typos. */
const INTROSPECTED = /^(then|toJSON|asymmetricMatch|nodeType|tagName|inspect|[$_@].*)$/;
// A misspelt builder (`expect.columnMeanBetween`) names the closest one instead of "is not a function".
export const expect: Builders = new Proxy(builders, {
  get(target, property, receiver) {
    if (typeof property !== 'string' || Object.hasOwn(target, property) || INTROSPECTED.test(property) || property in Object.prototype) return Reflect.get(target, property, receiver) as unknown;
    throw new SluiceError('DEFINITION_INVALID', `expect.${property} is not an expectation${suggest(property, Object.keys(target))}; the builders are expect.<expectation in camelCase>, e.g. expect.columnValuesToNotBeNull (see the GX expectation gallery)`, { expectation: property });
  },
}) as unknown as Builders;
