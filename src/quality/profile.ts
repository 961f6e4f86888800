// Column profiles of a relation, computed by DuckDB in at most three scans: one aggregate pass for every column's
// counts, extremes, moments and quantiles, one for the numeric columns' histograms, one for the top values.
import type { Row, Session } from '../engine/engine.ts';
import { SluiceError } from '../errors.ts';
import { quoteIdent } from '../sql/identifiers.ts';

export const DEFAULT_HISTOGRAM_BINS = 20;
const MAX_HISTOGRAM_BINS = 1000;
export const TOP_VALUES = 10;
/** Up to this many rows, distinct counts are exact. */
export const EXACT_DISTINCT_ROWS = 5_000_000;
/** Numeric and temporal columns with at most this many distinct values also get top values. */
const LOW_CARDINALITY = 20;
/** Text columns whose approximate distinct count reaches this share of their values get no top values. */
const NEARLY_UNIQUE = 0.95;

export const PROFILE_QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95] as const;

export type ColumnKind = 'numeric' | 'temporal' | 'boolean' | 'text' | 'other';

export interface Quantiles<T> {
  readonly p5: T;
  readonly p25: T;
  readonly p50: T;
  readonly p75: T;
  readonly p95: T;
}

/** One equal-width bin, `[lower, upper)`; the last bin also holds `upper`. */
export interface HistogramBin {
  readonly lower: number;
  readonly upper: number;
  readonly count: number;
}

export interface TopValue {
  /** The value as text (DuckDB's cast to VARCHAR). */
  readonly value: string;
  readonly count: number;
}

export interface ColumnProfile {
  readonly name: string;
  /** DuckDB type, e.g. BIGINT, VARCHAR, TIMESTAMP WITH TIME ZONE. */
  readonly type: string;
  readonly kind: ColumnKind;
  /** Rows in the relation. */
  readonly count: number;
  readonly nullCount: number;
  /** nullCount / count; 0 for an empty relation. */
  readonly nullFraction: number;
  /** NaN and ±Infinity values of a FLOAT or DOUBLE column, left out of every numeric statistic below. */
  readonly nonFiniteCount: number;
  /** Distinct non-null values: exact up to EXACT_DISTINCT_ROWS rows, approximate (HyperLogLog) beyond. */
  readonly distinct: number;
  readonly distinctExact: boolean;
  /** Numbers for numeric columns; text (DuckDB's cast to VARCHAR) otherwise; null when there is no value. */
  readonly min: number | string | null;
  readonly max: number | string | null;
  /** Numeric: the mean; boolean: the fraction true; temporal: the mean instant as text. */
  readonly mean: number | string | null;
  /** Sample standard deviation, numeric columns only. */
  readonly std: number | null;
  /** Approximate (t-digest) quantiles of numeric and temporal columns; temporal ones to the second, as text. */
  readonly quantiles: Quantiles<number | string> | null;
  /** Numeric columns: equal-width bins between the finite min and max. */
  readonly histogram: readonly HistogramBin[] | null;
  /** Most frequent non-null values, most frequent first (ties by value): boolean columns, text columns that are
   * not nearly unique, and numeric or temporal columns with few distinct values. */
  readonly topValues: readonly TopValue[] | null;
}

export interface ProfileOptions {
  /** Histogram bins for numeric columns (default 20). Integer columns spanning fewer values get one bin per value. */
  readonly bins?: number | undefined;
}

const INTEGER_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;
const FLOAT_TYPE = /^(FLOAT|DOUBLE|REAL)$/;
const DECIMAL_TYPE = /^DECIMAL(\(\d+,\s*\d+\))?$/;
const TEMPORAL_TYPE = /^(DATE|TIME|TIMESTAMP(_S|_MS|_NS)?|TIMESTAMP WITH TIME ZONE|TIME WITH TIME ZONE)$/;
const TEXT_TYPE = /^(VARCHAR|UUID|ENUM\(.*\))$/s;

export function columnKind(type: string): ColumnKind {
  if (INTEGER_TYPE.test(type) || FLOAT_TYPE.test(type) || DECIMAL_TYPE.test(type)) return 'numeric';
  if (TEMPORAL_TYPE.test(type)) return 'temporal';
  if (type === 'BOOLEAN') return 'boolean';
  if (TEXT_TYPE.test(type)) return 'text';
  return 'other';
}

interface ColumnPlan {
  readonly name: string;
  readonly type: string;
  readonly kind: ColumnKind;
  readonly alias: string;
  readonly ident: string;
  readonly isFloat: boolean;
  readonly isInteger: boolean;
}

interface Aggregates {
  readonly nonNull: number;
  readonly distinct: number;
  readonly nonFinite: number;
  readonly min: number | string | null;
  readonly max: number | string | null;
  readonly mean: number | string | null;
  readonly std: number | null;
  readonly quantiles: readonly (number | string)[] | null;
}

interface BinPlan {
  readonly lower: number;
  readonly width: number;
  readonly bins: number;
}

/**
 * Profile every column of `relation`: a table or view name, or a parenthesised subquery (as the quality layer's
 * relations are everywhere). Work is pushed to DuckDB; only one row per pass, or ten values per column, return.
 */
export async function profileRelation(session: Session, relation: string, options: ProfileOptions = {}): Promise<ColumnProfile[]> {
  const bins = options.bins ?? DEFAULT_HISTOGRAM_BINS;
  if (!Number.isInteger(bins) || bins < 1 || bins > MAX_HISTOGRAM_BINS) {
    throw new SluiceError('CONFIG_INVALID', `histogram bins must be a whole number from 1 to ${MAX_HISTOGRAM_BINS}, got ${bins}`);
  }
  const columns = (await session.describe(`SELECT * FROM ${relation}`)).map((c, i): ColumnPlan => ({
    name: c.name,
    type: c.type,
    kind: columnKind(c.type),
    alias: `c${i}`,
    ident: quoteIdent(c.name),
    isFloat: FLOAT_TYPE.test(c.type),
    isInteger: INTEGER_TYPE.test(c.type),
  }));
  if (columns.length === 0) return [];

  // Exact distinct counts cost a hash table per column: cheap up to a few million rows, approximated beyond.
  const [counted] = await session.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${relation}`);
  const exact = Number(counted?.n ?? 0n) <= EXACT_DISTINCT_ROWS;
  const [summary] = await session.query(
    `SELECT count(*) AS __rows, ${columns.map((c) => `${aggregateSql(c, exact)} AS ${c.alias}`).join(', ')} FROM ${relation}`,
  );
  const rows = Number(summary?.['__rows'] ?? 0);
  const aggregates = new Map(columns.map((c) => [c.alias, toAggregates(summary?.[c.alias])]));

  const binPlans = new Map<string, BinPlan>();
  for (const c of columns) {
    const a = aggregates.get(c.alias);
    if (c.kind !== 'numeric' || typeof a?.min !== 'number' || typeof a.max !== 'number') continue;
    binPlans.set(c.alias, planBins(a.min, a.max, bins, c.isInteger));
  }
  const topColumns = columns.filter((c) => {
    const a = aggregates.get(c.alias);
    if (a === undefined || a.nonNull === 0) return false;
    if (c.kind === 'boolean') return true;
    // A (nearly) unique text column, such as an id, has no frequent values, and grouping it is the costliest part.
    if (c.kind === 'text') return a.distinct <= LOW_CARDINALITY || a.distinct < NEARLY_UNIQUE * a.nonNull;
    return (c.kind === 'numeric' || c.kind === 'temporal') && a.distinct <= LOW_CARDINALITY;
  });

  const histograms = await histogramPass(session, relation, columns, binPlans);
  const topValues = await topValuesPass(session, relation, topColumns);

  return columns.map((c): ColumnProfile => {
    const a = aggregates.get(c.alias) ?? toAggregates(undefined);
    const nullCount = rows - a.nonNull;
    return {
      name: c.name,
      type: c.type,
      kind: c.kind,
      count: rows,
      nullCount,
      nullFraction: rows === 0 ? 0 : nullCount / rows,
      nonFiniteCount: a.nonFinite,
      distinct: Math.min(a.distinct, a.nonNull),
      distinctExact: exact,
      min: a.min,
      max: a.max,
      mean: a.mean,
      std: a.std,
      quantiles: toQuantiles(a.quantiles),
      histogram: histograms.get(c.alias) ?? null,
      topValues: topValues.get(c.alias) ?? (topColumns.includes(c) ? [] : null),
    };
  });
}

/** The numeric value of a column as DOUBLE, NULL where it is NaN or infinite (only floats can be). */
function finiteValue(c: ColumnPlan): string {
  const value = `CAST(${c.ident} AS DOUBLE)`;
  return c.isFloat ? `CASE WHEN isfinite(${c.ident}) THEN ${value} END` : value;
}

const QUANTILE_LIST = `[${PROFILE_QUANTILES.join(', ')}]`;

/** One struct per column, so that each column's statistics come back together under one alias. */
function aggregateSql(c: ColumnPlan, exactDistinct: boolean): string {
  const fields: string[] = [`'non_null': count(${c.ident})`, `'distinct': ${exactDistinct ? `count(DISTINCT ${c.ident})` : `approx_count_distinct(${c.ident})`}`];
  switch (c.kind) {
    case 'numeric': {
      const v = finiteValue(c);
      if (c.isFloat) fields.push(`'non_finite': count(${c.ident}) FILTER (WHERE NOT isfinite(${c.ident}))`);
      fields.push(`'min': min(${v})`, `'max': max(${v})`, `'mean': avg(${v})`, `'std': stddev_samp(${v})`);
      fields.push(`'quantiles': approx_quantile(${v}, ${QUANTILE_LIST})`);
      break;
    }
    case 'temporal': {
      // t-digest quantiles of instants are off by microseconds; seconds are what a reader compares.
      const seconds = (sql: string): string => (c.type === 'DATE' ? `CAST(${sql} AS VARCHAR)` : `regexp_replace(CAST(${sql} AS VARCHAR), '\\.\\d+', '')`);
      fields.push(`'min': CAST(min(${c.ident}) AS VARCHAR)`, `'max': CAST(max(${c.ident}) AS VARCHAR)`);
      if (!c.type.startsWith('TIME WITH')) fields.push(`'mean': ${seconds(`avg(${c.ident})`)}`);
      fields.push(`'quantiles': list_transform(approx_quantile(${c.ident}, ${QUANTILE_LIST}), x -> ${seconds('x')})`);
      break;
    }
    case 'boolean':
      fields.push(`'min': CAST(min(${c.ident}) AS VARCHAR)`, `'max': CAST(max(${c.ident}) AS VARCHAR)`, `'mean': avg(CAST(${c.ident} AS INTEGER))`);
      break;
    case 'text':
      fields.push(`'min': CAST(min(${c.ident}) AS VARCHAR)`, `'max': CAST(max(${c.ident}) AS VARCHAR)`);
      break;
    case 'other':
      break;
  }
  return `{${fields.join(', ')}}`;
}

function toAggregates(value: unknown): Aggregates {
  const s = isRow(value) ? value : {};
  const quantiles = Array.isArray(s['quantiles']) ? s['quantiles'].map(toScalar).filter((q): q is number | string => q !== null) : null;
  return {
    nonNull: toCount(s['non_null']),
    distinct: toCount(s['distinct']),
    nonFinite: toCount(s['non_finite']),
    min: toScalar(s['min']),
    max: toScalar(s['max']),
    mean: toScalar(s['mean']),
    std: toNumber(s['std']),
    quantiles: quantiles?.length === PROFILE_QUANTILES.length ? quantiles : null,
  };
}

function toQuantiles(values: readonly (number | string)[] | null): Quantiles<number | string> | null {
  if (values === null) return null;
  const [p5, p25, p50, p75, p95] = values;
  if (p5 === undefined || p25 === undefined || p50 === undefined || p75 === undefined || p95 === undefined) return null;
  return { p5, p25, p50, p75, p95 };
}

/** Equal-width bins over [min, max]; an integer column spanning fewer values than bins gets one bin per value. */
function planBins(min: number, max: number, bins: number, isInteger: boolean): BinPlan {
  if (min === max) return { lower: min, width: 1, bins: 1 };
  if (isInteger && max - min + 1 <= bins) return { lower: min, width: 1, bins: max - min + 1 };
  return { lower: min, width: (max - min) / bins, bins };
}

async function histogramPass(session: Session, relation: string, columns: readonly ColumnPlan[], plans: ReadonlyMap<string, BinPlan>): Promise<Map<string, HistogramBin[]>> {
  const out = new Map<string, HistogramBin[]>();
  const selected = columns.filter((c) => plans.has(c.alias));
  if (selected.length === 0) return out;
  const expressions = selected.map((c) => {
    const plan = plans.get(c.alias) as BinPlan;
    const index = `CAST(floor((${finiteValue(c)} - ${doubleLiteral(plan.lower)}) / ${doubleLiteral(plan.width)}) AS INTEGER)`;
    // Not least(): it skips NULLs, which would put every NULL and NaN into the last bin. The maximum lands on
    // index `bins` and belongs to the last bin.
    return `histogram(CASE WHEN ${index} >= ${plan.bins - 1} THEN ${plan.bins - 1} ELSE ${index} END) AS ${c.alias}`;
  });
  const [row] = await session.query(`SELECT ${expressions.join(', ')} FROM ${relation}`);
  for (const c of selected) {
    const plan = plans.get(c.alias) as BinPlan;
    const counts = new Map<number, number>();
    const entries: unknown = row?.[c.alias];
    if (Array.isArray(entries)) {
      for (const entry of entries) if (isRow(entry)) counts.set(Number(entry['key']), toCount(entry['value']));
    }
    const last = plan.lower + plan.width * plan.bins;
    out.set(
      c.alias,
      Array.from({ length: plan.bins }, (_, k) => ({
        lower: plan.lower + plan.width * k,
        upper: k === plan.bins - 1 ? last : plan.lower + plan.width * (k + 1),
        count: counts.get(k) ?? 0,
      })),
    );
  }
  return out;
}

/** One scan: every selected column's values as (column, value) pairs, grouped, the top ten kept per column. */
async function topValuesPass(session: Session, relation: string, columns: readonly ColumnPlan[]): Promise<Map<string, TopValue[]>> {
  const out = new Map<string, TopValue[]>();
  if (columns.length === 0) return out;
  const pairs = columns.map((c, i) => `{'i': ${i}, 'v': CAST(${c.ident} AS VARCHAR)}`);
  const rows = await session.query<{ i: number; v: string; n: bigint }>(`
    SELECT s.i AS i, s.v AS v, count(*) AS n
    FROM (SELECT unnest([${pairs.join(', ')}]) AS s FROM ${relation})
    WHERE s.v IS NOT NULL
    GROUP BY s.i, s.v
    QUALIFY row_number() OVER (PARTITION BY s.i ORDER BY count(*) DESC, s.v) <= ${TOP_VALUES}
    ORDER BY i, n DESC, v`);
  for (const row of rows) {
    const column = columns[row.i];
    if (column === undefined) continue;
    const list = out.get(column.alias) ?? [];
    list.push({ value: row.v, count: Number(row.n) });
    out.set(column.alias, list);
  }
  return out;
}

function doubleLiteral(value: number): string {
  return `CAST('${String(value)}' AS DOUBLE)`;
}

function isRow(value: unknown): value is Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function toCount(value: unknown): number {
  return typeof value === 'number' || typeof value === 'bigint' ? Number(value) : 0;
}

function toNumber(value: unknown): number | null {
  if (typeof value === 'bigint') return Number(value);
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function toScalar(value: unknown): number | string | null {
  if (typeof value === 'string') return value;
  return toNumber(value);
}
