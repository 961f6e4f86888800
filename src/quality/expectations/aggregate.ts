// Column aggregate expectations: each statistic is one or two aggregates on the one pass; bounds are compared
// in SQL (so dates and strings compare as DuckDB compares them), value sets from one histogram per column.
import type { ExpectationType, Kwargs } from '../../define/expect.ts';
import { parseDuration } from '../../define/expect.ts';
import { isIntegerType, isTemporalType, typeMatches } from '../../sql/types.ts';
import { resolveParameter } from '../evaluation-parameters.ts';
import { formatAggregateResult, formatTableResult } from '../result-format.ts';
import type { Finish, Outcome, PlanInput } from '../plan.ts';
import { setRenderer, timestampFromText } from '../row-rules.ts';
import { compareValues, inList, quoteLiteral, sameValue, sqlLiteral, toJsonValue, toNumber } from '../values.ts';

/**
 * Sample standard deviation. For integer columns it is computed from exact integer sums and rounded once
 * (as PostgreSQL does), so [1, 1, 3] gives sqrt(4/3) exactly; other columns use DuckDB's stddev_samp.
 */
export function stdevSql(x: string, type: string): string {
  if (!isIntegerType(type)) return `stddev_samp(${x})`;
  const n = `count(${x})`;
  // Squares of 32-bit integers fit a BIGINT (sum() of BIGINT accumulates in HUGEINT); wider ones need HUGEINT products.
  const wide = ['BIGINT', 'HUGEINT', 'UBIGINT', 'UHUGEINT'].includes(type.toUpperCase());
  const square = wide ? `${x}::HUGEINT * ${x}::HUGEINT` : `${x}::BIGINT * ${x}::BIGINT`;
  const exact = `(${n}::HUGEINT * sum(${square}) - sum(${x}::HUGEINT) * sum(${x}::HUGEINT))`;
  return `CASE WHEN ${n} < 2 THEN NULL ELSE sqrt(${exact}::DOUBLE / (${n}::DOUBLE * (${n} - 1)::DOUBLE)) END`;
}

interface Bounds {
  readonly min_value?: unknown;
  readonly max_value?: unknown;
  readonly strict_min?: boolean | undefined;
  readonly strict_max?: boolean | undefined;
}

/** A timestamp string read as UTC (as DuckDB reads a naive TIMESTAMP literal). */
function parseTime(text: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  if (m === null) {
    const parsed = Date.parse(text);
    return Number.isNaN(parsed) ? null : new Date(parsed);
  }
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '0', zone] = m;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), Math.round(Number(`0.${frac}`) * 1000));
  if (zone === undefined || zone === 'Z') return new Date(utc);
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.replace(/[^0-9]/g, '');
  return new Date(utc - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000);
}

/** Python's ordering of a statistic and a bound: numbers, strings, and datetimes (strings parsed) compare; else it raises. */
function compare(metric: unknown, bound: unknown): number {
  const asNumber = (v: unknown): number | null => (typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : typeof v === 'bigint' ? Number(v) : null);
  const a = asNumber(metric);
  const b = asNumber(bound);
  if (a !== null && b !== null) return a - b;
  if (metric instanceof Date) {
    const other = bound instanceof Date ? bound : typeof bound === 'string' ? parseTime(bound) : null;
    if (other !== null) return metric.getTime() - other.getTime();
  }
  if (typeof metric === 'string' && typeof bound === 'string') return metric < bound ? -1 : metric > bound ? 1 : 0;
  if (typeof metric === 'string' && bound instanceof Date) {
    const time = parseTime(metric);
    if (time !== null) return time.getTime() - bound.getTime();
  }
  throw new Error(`cannot compare the observed value ${JSON.stringify(toJsonValue(metric))} with the bound ${JSON.stringify(toJsonValue(bound))}`);
}

/** Whether a statistic lies within the bounds (compared as GX compares them, in Python, after the query). */
function within(value: unknown, bounds: Bounds, now: Date): boolean {
  const lo = resolveParameter(bounds.min_value ?? null, now, 'min_value');
  const hi = resolveParameter(bounds.max_value ?? null, now, 'max_value');
  if (lo !== null && (bounds.strict_min === true ? !(compare(value, lo) > 0) : !(compare(value, lo) >= 0))) return false;
  if (hi !== null && (bounds.strict_max === true ? !(compare(value, hi) < 0) : !(compare(value, hi) <= 0))) return false;
  return true;
}

/** Element and null counts of the column, shared by every aggregate on it. */
function columnCounts<T extends ExpectationType>(input: PlanInput<T>, column: string) {
  const total = input.aggregate('count(*)');
  const nonnull = input.aggregate(`count(${input.env.columns.ident(column)})`);
  return () => {
    const elementCount = toNumber(total()) ?? 0;
    return { elementCount, nullCount: elementCount - (toNumber(nonnull()) ?? 0) };
  };
}

type BetweenType = 'expect_column_min_to_be_between' | 'expect_column_max_to_be_between' | 'expect_column_mean_to_be_between'
  | 'expect_column_median_to_be_between' | 'expect_column_sum_to_be_between' | 'expect_column_stdev_to_be_between'
  | 'expect_column_unique_value_count_to_be_between';

const METRICS: Readonly<Record<BetweenType, (x: string, type: string) => string>> = {
  expect_column_min_to_be_between: (x) => `min(${x})`,
  expect_column_max_to_be_between: (x) => `max(${x})`,
  expect_column_mean_to_be_between: (x) => `avg(${x})`,
  expect_column_median_to_be_between: (x) => `median(${x})`,
  expect_column_sum_to_be_between: (x) => `sum(${x})`,
  expect_column_stdev_to_be_between: stdevSql,
  expect_column_unique_value_count_to_be_between: (x) => `count(DISTINCT ${x})`,
};

/** min, max, mean, median, sum, stdev, unique count: the statistic on the pass, its bounds checked after. */
export function planBetween(input: PlanInput<BetweenType>): Finish {
  const k = input.kwargs as Kwargs<BetweenType> & { output_strftime_format?: string | undefined };
  const x = input.env.columns.ident(k.column);
  const type = input.env.columns.type(k.column);
  const metricSql = METRICS[input.expectation.type](x, type);
  const counts = columnCounts(input, k.column);
  const metric = input.aggregate(metricSql);
  const formatted = k.output_strftime_format !== undefined && isTemporalType(type)
    ? input.aggregate(`strftime(${metricSql}, ${quoteLiteral(k.output_strftime_format)})`) : undefined;
  // Date/time strings compared with a date/time statistic are read by DuckDB (as dateutil would), on the pass.
  const asTime = (v: unknown): (() => unknown) | undefined => (typeof v === 'string' && isTemporalType(type) ? input.aggregate(timestampFromText(v)) : undefined);
  const minTime = asTime(resolveParameter(k.min_value ?? null, input.env.now, 'min_value'));
  const maxTime = asTime(resolveParameter(k.max_value ?? null, input.env.now, 'max_value'));
  return () => {
    const raw = metric();
    const value = typeof raw === 'bigint' ? Number(raw) : raw;
    // GX: no observed value (an empty or all-null column) fails without comparing.
    if (value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value))) {
      return Promise.resolve({ success: false, result: formatAggregateResult(input.format, null, counts()) });
    }
    const observed = formatted !== undefined ? formatted() : toJsonValue(value, isTemporalType(type) ? type : undefined);
    const bounds = { ...k, min_value: minTime?.() ?? k.min_value, max_value: maxTime?.() ?? k.max_value };
    return Promise.resolve({ success: within(value, bounds, input.env.now), result: formatAggregateResult(input.format, observed, counts()) });
  };
}

export function planProportionUnique(input: PlanInput<'expect_column_proportion_of_unique_values_to_be_between'>): Finish {
  const x = input.env.columns.ident(input.kwargs.column);
  const counts = columnCounts(input, input.kwargs.column);
  const distinct = input.aggregate(`count(DISTINCT ${x})`);
  const nonnull = input.aggregate(`count(${x})`);
  return () => {
    const n = toNumber(nonnull()) ?? 0;
    const observed = n > 0 ? (toNumber(distinct()) ?? 0) / n : 0;
    return Promise.resolve({ success: within(observed, input.kwargs, input.env.now), result: formatAggregateResult(input.format, observed, counts()) });
  };
}

export function planQuantiles(input: PlanInput<'expect_column_quantile_values_to_be_between'>): Finish {
  const { quantiles, value_ranges: ranges } = input.kwargs.quantile_ranges;
  const x = input.env.columns.ident(input.kwargs.column);
  const counts = columnCounts(input, input.kwargs.column);
  // PostgreSQL's percentile_disc, as GX uses on SQL backends: actual values of the column, not interpolations.
  const values = input.aggregate(`quantile_disc(${x}, [${quantiles.map((q) => sqlLiteral(q)).join(', ')}]::DOUBLE[])`);
  return () => {
    const raw = values();
    const observed = Array.isArray(raw) ? raw.map((v) => toJsonValue(v)) : quantiles.map(() => null);
    const details = observed.map((v, i) => {
      const [lo, hi] = ranges[i] ?? [null, null];
      return typeof v === 'number' && (lo === null || v >= lo) && (hi === null || v <= hi);
    });
    return Promise.resolve({
      success: observed.every((v) => v !== null) && details.every(Boolean),
      result: formatAggregateResult(input.format, { quantiles: [...quantiles], values: observed }, counts(), { success_details: details }),
    });
  };
}

/** The value counts of a column (non-null values), from one `histogram` on the pass. */
export function valueCounts<T extends ExpectationType>(input: PlanInput<T>, column: string): () => { value: unknown; count: number }[] {
  const type = input.env.columns.type(column);
  const histogram = input.aggregate(`histogram(${input.env.columns.ident(column)})`);
  return () => {
    const entries = (histogram() ?? []) as { key: unknown; value: unknown }[];
    return entries.map((e) => ({ value: toJsonValue(e.key, type), count: toNumber(e.value) ?? 0 })).sort((a, b) => compareValues(a.value, b.value));
  };
}

export function planMostCommon(input: PlanInput<'expect_column_most_common_value_to_be_in_set'>): Finish {
  const counts = columnCounts(input, input.kwargs.column);
  const values = valueCounts(input, input.kwargs.column);
  return () => {
    const all = values();
    const top = Math.max(0, ...all.map((v) => v.count));
    const modes = all.filter((v) => v.count === top && top > 0).map((v) => v.value);
    const inSet = (v: unknown): boolean => input.kwargs.value_set.some((s) => sameValue(s, v));
    const success = modes.length > 0 && (input.kwargs.ties_okay === true ? modes.every(inSet) : modes.length === 1 && inSet(modes[0]));
    return Promise.resolve({ success, result: formatAggregateResult(input.format, modes, counts()) });
  };
}

type DistinctType = 'expect_column_distinct_values_to_be_in_set' | 'expect_column_distinct_values_to_contain_set' | 'expect_column_distinct_values_to_equal_set';

/** Distinct values against a set: membership counted in SQL (DuckDB's comparisons), observed values from the histogram. */
export function planDistinct(input: PlanInput<DistinctType>): Finish {
  const type = input.expectation.type;
  const x = input.env.columns.ident(input.kwargs.column);
  const set = input.kwargs.value_set;
  const counts = columnCounts(input, input.kwargs.column);
  const values = valueCounts(input, input.kwargs.column);
  const render = setRenderer(input.env.columns.type(input.kwargs.column));
  const needsOutside = set !== null && type !== 'expect_column_distinct_values_to_contain_set';
  const needsPresent = set !== null && type !== 'expect_column_distinct_values_to_be_in_set';
  const outside = needsOutside ? input.aggregate(`count(*) FILTER (WHERE ${x} IS NOT NULL AND NOT (${inList(x, set, render)}))`) : undefined;
  const present = needsPresent ? input.aggregate(`count(DISTINCT ${x}) FILTER (WHERE ${inList(x, set, render)})`) : undefined;
  return () => {
    const all = values();
    const wanted = (set ?? []).filter((v, i, list) => v !== null && list.findIndex((w) => sameValue(w, v)) === i).length;
    const allInSet = outside === undefined || (toNumber(outside()) ?? 0) === 0;
    const containsAll = present === undefined || (toNumber(present()) ?? 0) >= wanted;
    const success = type === 'expect_column_distinct_values_to_be_in_set' ? allInSet
      : type === 'expect_column_distinct_values_to_contain_set' ? containsAll : allInSet && containsAll;
    return Promise.resolve({ success, result: formatAggregateResult(input.format, all.map((v) => v.value), counts(), { value_counts: all }) });
  };
}

export function planNullFraction(input: PlanInput<'expect_column_null_fraction_to_be_at_most'>): Finish {
  const counts = columnCounts(input, input.kwargs.column);
  return () => {
    const c = counts();
    // An empty table has no nulls: its null fraction is 0.
    const observed = c.elementCount === 0 ? 0 : c.nullCount / c.elementCount;
    const result = formatAggregateResult(input.format, observed, c);
    if (input.format.format !== 'BOOLEAN_ONLY') result.missing_count = c.nullCount;
    return Promise.resolve({ success: observed <= input.kwargs.max_value, result });
  };
}

export function planOfType(input: PlanInput<'expect_column_values_to_be_of_type' | 'expect_column_values_to_be_in_type_list'>): Finish {
  const actual = input.env.columns.type(input.kwargs.column);
  const k = input.kwargs as { type_?: string; type_list?: readonly string[] | null };
  const wanted = k.type_ !== undefined ? [k.type_] : k.type_list;
  const success = wanted === null || wanted === undefined || wanted.some((t) => typeMatches(actual, t));
  return () => Promise.resolve({ success, result: formatTableResult(input.format, actual) });
}

export function planColumnExists(input: PlanInput<'expect_column_to_exist'>): Finish {
  const { column, column_index: index } = input.kwargs;
  const names = input.env.columns.list.map((c) => c.name);
  const exists = input.env.columns.get(column) !== undefined;
  const success = exists && (index === null || index === undefined || names[index] === column);
  return () => Promise.resolve({ success, result: input.format.format === 'BOOLEAN_ONLY' ? {} : { observed_value: exists ? names.indexOf(input.env.columns.require(column).name) : null } });
}

function humanDuration(seconds: number): string {
  const parts: string[] = [];
  let rest = Math.round(Math.abs(seconds));
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size || (unit === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return `${seconds < 0 ? '-' : ''}${parts.join('')}`;
}

export function planFreshness(input: PlanInput<'expect_column_max_to_be_within_duration_of_now'>): Finish {
  const { column, max_age: maxAge, relative_to: relativeTo = 'now' } = input.kwargs;
  const type = input.env.columns.type(column);
  if (!isTemporalType(type)) throw new Error(`column "${column}" is ${type}, not a DATE or TIMESTAMP: freshness needs a time column`);
  const reference = relativeTo === 'now' ? input.env.now : input.env.context.partitionEnd;
  if (reference === undefined) throw new Error('relative_to "partition_end" needs the end of the partition being validated (QualityContext.partitionEnd)');
  const maxSeconds = typeof maxAge === 'number' ? maxAge : parseDuration(maxAge) ?? 0;
  const counts = columnCounts(input, column);
  const newest = input.aggregate(`max(${input.env.columns.ident(column)})`);
  return (): Promise<Outcome> => {
    const value = newest();
    const observed = toJsonValue(value, type);
    if (!(value instanceof Date)) {
      return Promise.resolve({ success: false, result: formatAggregateResult(input.format, null, counts(), { reference: toJsonValue(reference), max_age_seconds: maxSeconds, note: 'the column has no values' }) });
    }
    const age = (reference.getTime() - value.getTime()) / 1000;
    return Promise.resolve({
      success: age <= maxSeconds,
      result: formatAggregateResult(input.format, observed, counts(), {
        reference: toJsonValue(reference), relative_to: relativeTo, age_seconds: age, age: humanDuration(age), max_age_seconds: maxSeconds, max_age: humanDuration(maxSeconds),
      }),
    });
  };
}
