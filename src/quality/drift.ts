// Distribution drift between a current and a reference relation: PSI (numeric and categorical), the two-sample
// Kolmogorov–Smirnov test and Pearson's chi-square test of homogeneity. DuckDB does the counting over all rows;
// only per-bin or per-category counts come back, and the statistics and p-values are computed from them here.
import { gammaQ, lnGamma } from './stats.ts';
import type { Session } from '../engine/engine.ts';
import { SluiceError } from '../errors.ts';
import { quoteIdent } from '../sql/identifiers.ts';

/**
 * Proportion used in place of an empty bin or a category absent from one side, so that ln(a/e) stays finite.
 * 1e-4 is the usual choice: an empty bin facing a 10% bin adds (0.1 − 1e-4)·ln(1000) ≈ 0.69 to the PSI.
 */
export const DEFAULT_PSI_EPSILON = 1e-4;
export const DEFAULT_PSI_BINS = 10;
const MAX_PSI_BINS = 1000;

export interface PsiOptions {
  /** Number of reference quantile bins before ties are merged (default 10: deciles). */
  readonly bins?: number | undefined;
  /** Proportion substituted for an empty bin (default {@link DEFAULT_PSI_EPSILON}). */
  readonly epsilon?: number | undefined;
}

/** One reference quantile bin, `(lower, upper]`; `null` bounds are open (−∞ and +∞). */
export interface PsiBin {
  readonly lower: number | null;
  readonly upper: number | null;
  /** Share of the reference's non-missing values in this bin (before epsilon). */
  readonly expected: number;
  /** Share of the current relation's non-missing values in this bin (before epsilon). */
  readonly actual: number;
}

export interface PsiCategory {
  /** The category as text (DuckDB's cast to VARCHAR). */
  readonly category: string;
  readonly expected: number;
  readonly actual: number;
}

/** Non-missing and missing row counts of both sides, reported with every PSI. */
export interface SampleCounts {
  readonly currentCount: number;
  readonly referenceCount: number;
  /** NULLs (and, for the numeric PSI, NaNs) left out of the current relation. */
  readonly currentNulls: number;
  readonly referenceNulls: number;
}

export interface PsiResult extends SampleCounts {
  readonly psi: number;
  readonly bins: PsiBin[];
}

export interface PsiCategoricalResult extends SampleCounts {
  readonly psi: number;
  readonly bins: PsiCategory[];
}

export interface KsResult {
  /** D = sup |F_current − F_reference| over all values. */
  readonly statistic: number;
  /** Asymptotic p-value: Kolmogorov distribution with Stephens' small-sample correction. */
  readonly pValue: number;
  /** Non-NULL values in the current relation. */
  readonly n: number;
  /** Non-NULL values in the reference relation. */
  readonly m: number;
}

export interface ChiSquareResult {
  readonly statistic: number;
  readonly pValue: number;
  readonly degreesOfFreedom: number;
}

/**
 * Population stability index of a numeric column. Bins are the reference's quantiles (`quantile_disc`, so edges are
 * reference values and tied quantiles merge into one edge); the first and last bins are open-ended, so current
 * values outside the reference's range are counted. PSI = Σ (a − e)·ln(a / e) over bins, with an empty bin's
 * proportion replaced by `epsilon`. NULL and NaN values are left out and counted.
 */
export async function psi(session: Session, current: string, reference: string, column: string, options: PsiOptions = {}): Promise<PsiResult> {
  const bins = options.bins ?? DEFAULT_PSI_BINS;
  if (!Number.isInteger(bins) || bins < 2 || bins > MAX_PSI_BINS) {
    throw new SluiceError('DEFINITION_INVALID', `PSI of column "${column}": bins must be a whole number from 2 to ${MAX_PSI_BINS}, got ${String(bins)}`, { column });
  }
  const epsilon = checkEpsilon(options.epsilon, column);
  const probabilities = Array.from({ length: bins - 1 }, (_, i) => String((i + 1) / bins)).join(', ');
  const col = quoteIdent(column);
  // Bin i holds values above i edges: len(list_filter(edges, e < v)); (lower, upper] bins keep a tied edge value
  // together with the values just below it.
  const rows = await session.query<{ side: number; bin: bigint | null; n: bigint; edges: number[] }>(`
    WITH reference_values AS (SELECT CAST(${col} AS DOUBLE) AS v FROM ${reference}),
    current_values AS (SELECT CAST(${col} AS DOUBLE) AS v FROM ${current}),
    edges AS (
      SELECT coalesce(list_sort(list_distinct(quantile_disc(v, [${probabilities}]::DOUBLE[]))), []::DOUBLE[]) AS e
      FROM reference_values WHERE NOT isnan(v)
    ),
    tagged AS (
      SELECT 0 AS side, v FROM reference_values
      UNION ALL
      SELECT 1 AS side, v FROM current_values
    )
    SELECT side,
      CASE WHEN v IS NULL OR isnan(v) THEN NULL ELSE len(list_filter(edges.e, lambda x: x < v)) END AS bin,
      count(*) AS n,
      any_value(edges.e) AS edges
    FROM tagged CROSS JOIN edges
    GROUP BY ALL`);
  const edges = rows[0]?.edges ?? [];
  const binCount = edges.length + 1;
  const counts = [new Array<number>(binCount).fill(0), new Array<number>(binCount).fill(0)] as const;
  const nulls = [0, 0];
  for (const row of rows) {
    const side = row.side === 0 ? 0 : 1;
    if (row.bin === null) nulls[side] = Number(row.n);
    else counts[side][Number(row.bin)] = Number(row.n);
  }
  const sample = sampleCounts('PSI', column, counts[1], counts[0], nulls[1] ?? 0, nulls[0] ?? 0);
  const { value, expected, actual } = psiFromCounts(counts[0], counts[1], epsilon);
  return {
    psi: value,
    bins: expected.map((e, i) => ({
      lower: i === 0 ? null : (edges[i - 1] ?? null),
      upper: i === binCount - 1 ? null : (edges[i] ?? null),
      expected: e,
      actual: actual[i] ?? 0,
    })),
    ...sample,
  };
}

/**
 * PSI over category frequencies: the union of both sides' categories (compared by value), a category missing from
 * one side given proportion `epsilon`. NULLs are left out and counted. Categories come back most frequent first.
 */
export async function psiCategorical(session: Session, current: string, reference: string, column: string, options: { readonly epsilon?: number | undefined } = {}): Promise<PsiCategoricalResult> {
  const epsilon = checkEpsilon(options.epsilon, column);
  const table = await categoryCounts(session, current, reference, column, 'PSI');
  const { value, expected, actual } = psiFromCounts(table.reference, table.current, epsilon);
  return {
    psi: value,
    bins: table.categories.map((category, i) => ({ category, expected: expected[i] ?? 0, actual: actual[i] ?? 0 })),
    currentCount: table.currentCount,
    referenceCount: table.referenceCount,
    currentNulls: table.currentNulls,
    referenceNulls: table.referenceNulls,
  };
}

/**
 * Exact two-sample Kolmogorov–Smirnov statistic over every non-NULL value of an orderable column. Both empirical
 * CDFs are evaluated after each distinct value (ties within and across samples step together), in integers:
 * D = max |c·m − r·n| / (n·m) with c, r the cumulative counts. NaN sorts as the largest value, as in DuckDB.
 */
export async function ksStatistic(session: Session, current: string, reference: string, column: string): Promise<KsResult> {
  const col = quoteIdent(column);
  const [row] = await session.query<{ numerator: bigint | null; n: bigint | null; m: bigint | null }>(`
    WITH tagged AS (
      SELECT ${col} AS v, 1 AS c, 0 AS r FROM ${current} WHERE ${col} IS NOT NULL
      UNION ALL
      SELECT ${col} AS v, 0 AS c, 1 AS r FROM ${reference} WHERE ${col} IS NOT NULL
    ),
    per_value AS (SELECT v, sum(c) AS c, sum(r) AS r FROM tagged GROUP BY v),
    cumulative AS (
      SELECT sum(c) OVER w AS c, sum(r) OVER w AS r, sum(c) OVER () AS n, sum(r) OVER () AS m
      FROM per_value
      WINDOW w AS (ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    )
    SELECT max(abs(CAST(c AS HUGEINT) * m - CAST(r AS HUGEINT) * n)) AS numerator, any_value(n) AS n, any_value(m) AS m
    FROM cumulative`);
  const n = Number(row?.n ?? 0);
  const m = Number(row?.m ?? 0);
  requireValues('Kolmogorov–Smirnov test', column, n, m);
  const statistic = Number(row?.numerator ?? 0) / (n * m);
  return { statistic, pValue: ksPValue(statistic, n, m), n, m };
}

/**
 * Pearson's chi-square test of homogeneity on the 2×k table of category counts (current, reference), without
 * Yates' continuity correction. Degrees of freedom k − 1 over the categories seen on either side; with a single
 * category the statistic is 0 and the p-value 1. NULLs are left out.
 */
export async function chiSquare(session: Session, current: string, reference: string, column: string): Promise<ChiSquareResult> {
  const table = await categoryCounts(session, current, reference, column, 'chi-square test');
  const n = table.currentCount;
  const m = table.referenceCount;
  const total = n + m;
  let statistic = 0;
  table.categories.forEach((_, j) => {
    const observedCurrent = table.current[j] ?? 0;
    const observedReference = table.reference[j] ?? 0;
    const columnTotal = observedCurrent + observedReference;
    const expectedCurrent = (n * columnTotal) / total;
    const expectedReference = (m * columnTotal) / total;
    statistic += (observedCurrent - expectedCurrent) ** 2 / expectedCurrent + (observedReference - expectedReference) ** 2 / expectedReference;
  });
  const degreesOfFreedom = table.categories.length - 1;
  return { statistic, pValue: degreesOfFreedom === 0 ? 1 : chiSquareSurvival(statistic, degreesOfFreedom), degreesOfFreedom };
}

/**
 * Asymptotic two-sided KS p-value: Q_KS((√en + 0.12 + 0.11/√en)·D) with en = n·m/(n + m) (Stephens 1970,
 * Numerical Recipes' `kstwo`; scipy before 1.5 used the same for `ks_2samp(mode='asymp')`).
 */
export function ksPValue(d: number, n: number, m: number): number {
  const en = Math.sqrt((n * m) / (n + m));
  return kolmogorovSurvival((en + 0.12 + 0.11 / en) * d);
}

/** Survival function of the Kolmogorov distribution, Q_KS(λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2j²λ²}. */
export function kolmogorovSurvival(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 1.18) {
    // The alternating series converges slowly for small λ; Jacobi's dual form converges fast there:
    // P(K ≤ λ) = √(2π)/λ · Σ_{j≥1} e^{−(2j−1)²π²/(8λ²)}.
    const w = (Math.PI * Math.PI) / (8 * lambda * lambda);
    let sum = 0;
    for (let j = 1; j <= 20; j++) {
      const term = Math.exp(-((2 * j - 1) ** 2) * w);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    return clamp01(1 - (Math.sqrt(2 * Math.PI) / lambda) * sum);
  }
  let sum = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda);
    sum += j % 2 === 1 ? term : -term;
    if (term < 1e-17 * sum) break;
  }
  return clamp01(2 * sum);
}

/** P(X > x) for X ~ χ²(df): the regularized upper incomplete gamma function Q(df/2, x/2). */
export function chiSquareSurvival(x: number, degreesOfFreedom: number): number {
  return regularizedGammaQ(degreesOfFreedom / 2, x / 2);
}

/** The regularized upper incomplete gamma Q(a, x) (one implementation, shared with the GX statistics). */
export const regularizedGammaQ = gammaQ;
/** ln Γ(z) by the Lanczos approximation. */
export const logGamma = lnGamma;

interface CategoryTable extends SampleCounts {
  readonly categories: string[];
  readonly current: number[];
  readonly reference: number[];
}

/** Per-category counts of both sides in one scan; the two columns meet at DuckDB's common supertype. */
async function categoryCounts(session: Session, current: string, reference: string, column: string, what: string): Promise<CategoryTable> {
  const col = quoteIdent(column);
  const rows = await session.query<{ category: string | null; c: bigint; r: bigint }>(`
    WITH tagged AS (
      SELECT 1 AS side, ${col} AS v FROM ${current}
      UNION ALL
      SELECT 0 AS side, ${col} AS v FROM ${reference}
    )
    SELECT CAST(v AS VARCHAR) AS category, count(*) FILTER (WHERE side = 1) AS c, count(*) FILTER (WHERE side = 0) AS r
    FROM tagged GROUP BY v
    ORDER BY v IS NULL, r DESC, c DESC, category`);
  const categories: string[] = [];
  const currentCounts: number[] = [];
  const referenceCounts: number[] = [];
  let currentNulls = 0;
  let referenceNulls = 0;
  for (const row of rows) {
    if (row.category === null) {
      currentNulls = Number(row.c);
      referenceNulls = Number(row.r);
      continue;
    }
    categories.push(row.category);
    currentCounts.push(Number(row.c));
    referenceCounts.push(Number(row.r));
  }
  return {
    categories,
    current: currentCounts,
    reference: referenceCounts,
    ...sampleCounts(what, column, currentCounts, referenceCounts, currentNulls, referenceNulls),
  };
}

function psiFromCounts(expectedCounts: readonly number[], actualCounts: readonly number[], epsilon: number): { value: number; expected: number[]; actual: number[] } {
  const expectedTotal = sum(expectedCounts);
  const actualTotal = sum(actualCounts);
  const expected = expectedCounts.map((c) => c / expectedTotal);
  const actual = actualCounts.map((c) => c / actualTotal);
  let value = 0;
  expected.forEach((e, i) => {
    const es = e === 0 ? epsilon : e;
    const as = (actual[i] ?? 0) === 0 ? epsilon : (actual[i] ?? 0);
    value += (as - es) * Math.log(as / es);
  });
  return { value, expected, actual };
}

function sampleCounts(what: string, column: string, current: readonly number[], reference: readonly number[], currentNulls: number, referenceNulls: number): SampleCounts {
  const currentCount = sum(current);
  const referenceCount = sum(reference);
  requireValues(what, column, currentCount, referenceCount);
  return { currentCount, referenceCount, currentNulls, referenceNulls };
}

/** A drift statistic needs values on both sides; an empty side is a failed check, never a silent pass. */
function requireValues(what: string, column: string, currentCount: number, referenceCount: number): void {
  const empty = [currentCount === 0 ? 'current' : null, referenceCount === 0 ? 'reference' : null].filter((s) => s !== null);
  if (empty.length > 0) {
    throw new SluiceError(
      'STEP_FAILED',
      `cannot compute the ${what} of column "${column}": the ${empty.join(' and ')} data ${empty.length > 1 ? 'have' : 'has'} no non-missing values; check the partition or the column`,
      { column },
    );
  }
}

function checkEpsilon(epsilon: number | undefined, column: string): number {
  const value = epsilon ?? DEFAULT_PSI_EPSILON;
  if (!(value > 0 && value < 1)) {
    throw new SluiceError('DEFINITION_INVALID', `PSI of column "${column}": epsilon must be between 0 and 1 (exclusive), got ${String(epsilon)}`, { column });
  }
  return value;
}

function sum(values: readonly number[]): number {
  return values.reduce((acc, v) => acc + v, 0);
}

function clamp01(p: number): number {
  return Math.min(1, Math.max(0, p));
}
