// Distributional expectations (GX's chi-square, KL divergence and Kolmogorov-Smirnov tests). Value counts and
// bin counts come from the one pass; the KS tests compare every value with a CDF, so they read the column's
// values (sorted, as doubles) in one extra query and compute the statistic here.
import type { CategoricalPartition, ContinuousPartition, ExpectationType } from '../../define/expect.ts';
import { DISTRIBUTION_PARAMS } from '../../define/expect.ts';
import { formatAggregateResult } from '../result-format.ts';
import { cdf, chiSquarePValue, klDivergence, ksCriticalValue, ksPValue, ksStatistic } from '../stats.ts';
import { seededRandom } from '../../random.ts';
import type { Finish, PlanInput } from '../plan.ts';
import { sameValue, sqlLiteral, toNumber } from '../values.ts';
import { valueCounts } from './aggregate.ts';

function counts<T extends ExpectationType>(input: PlanInput<T>, column: string) {
  const total = input.aggregate('count(*)');
  const nonnull = input.aggregate(`count(${input.env.columns.ident(column)})`);
  return {
    nonnull: () => toNumber(nonnull()) ?? 0,
    aggregate: () => {
      const elementCount = toNumber(total()) ?? 0;
      return { elementCount, nullCount: elementCount - (toNumber(nonnull()) ?? 0) };
    },
  };
}

/** GX joins expected and observed categories: the partition's values first, then values only observed. */
function joinCategories(partition: CategoricalPartition, observed: readonly { value: unknown; count: number }[]) {
  const values: unknown[] = [...partition.values];
  const expected: (number | null)[] = [...partition.weights];
  const seen: number[] = partition.values.map(() => 0);
  for (const o of observed) {
    const at = values.findIndex((v) => sameValue(v, o.value));
    if (at >= 0) seen[at] = (seen[at] ?? 0) + o.count;
    else { values.push(o.value); expected.push(null); seen.push(o.count); }
  }
  return { values, expected, seen, unexpected: expected.filter((e) => e === null).length };
}

function holdout(expected: readonly (number | null)[], unexpected: number, tailWeightHoldout: number, scale: number): number[] {
  return expected.map((e) => (e === null ? (scale * tailWeightHoldout) / unexpected : unexpected > 0 ? e * (1 - tailWeightHoldout) : e));
}

function normalise(values: readonly number[]): number[] {
  const sum = values.reduce((a, b) => a + b, 0);
  return values.map((v) => v / sum);
}

export function planChiSquare(input: PlanInput<'expect_column_chisquare_test_p_value_to_be_greater_than'>): Finish {
  const { partition_object: partition, p = 0.05, tail_weight_holdout: tail = 0 } = input.kwargs;
  const c = counts(input, input.kwargs.column);
  const observed = valueCounts(input, input.kwargs.column);
  return () => {
    const n = c.nonnull();
    const joined = joinCategories(partition, observed());
    const expected = holdout(joined.expected.map((e) => (e === null ? null : e * n)), joined.unexpected, tail, n);
    const pValue = chiSquarePValue(joined.seen, expected);
    const counted = c.aggregate();
    // GX's (V2) column aggregate wrapper reports no missing_count for this expectation when nothing is missing.
    return Promise.resolve({
      success: pValue > p,
      result: formatAggregateResult(input.format, Number.isNaN(pValue) ? null : pValue, counted, {
        observed_partition: { values: joined.values, weights: normalise(joined.seen) },
        expected_partition: { values: joined.values, weights: normalise(expected) },
      }),
    });
  };
}

/** Bin counts of a continuous partition as GX's SQL histogram takes them: [b_i, b_i+1), the last bin closed. */
function binConditions(x: string, bins: readonly number[]): string[] {
  const k = bins.length - 1;
  return Array.from({ length: k }, (_, i) => {
    const parts: string[] = [];
    if (!(i === 0 && bins[0] === -Infinity)) parts.push(`${x} >= ${sqlLiteral(bins[i])}`);
    if (i < k - 1) parts.push(`${x} < ${sqlLiteral(bins[i + 1])}`);
    else if (bins[k] !== Infinity) parts.push(`${x} <= ${sqlLiteral(bins[k])}`);
    return parts.length === 0 ? `${x} IS NOT NULL` : parts.join(' AND ');
  });
}

interface ContinuousCounts {
  readonly hist: number[];
  readonly below: number;
  readonly above: number;
}

function klContinuous(partition: ContinuousPartition, data: ContinuousCounts, n: number, tail: number, internal: number) {
  const bins = partition.bins;
  const observedWeights = data.hist.map((h) => h / n);
  let expectedWeights = partition.weights.map((w) => w * (1 - tail - internal));
  if (internal > 0) {
    const zeros = expectedWeights.filter((w) => w === 0).length;
    if (zeros > 0) expectedWeights = expectedWeights.map((w) => (w === 0 ? internal / zeros : w));
  }
  const lowInfinite = bins[0] === -Infinity;
  const highInfinite = bins[bins.length - 1] === Infinity;
  const first = (list: number[]): number => list[0] ?? 0;
  const last = (list: number[]): number => list[list.length - 1] ?? 0;
  let combinedExpected: number[];
  let combinedObserved: number[];
  let expectedBins: number[];
  let expectedTail: number[];
  let observedTail: number[];
  let mainExpected: number[];
  let mainObserved: number[];
  if (lowInfinite && highInfinite) {
    expectedBins = bins.slice(1, -1);
    combinedExpected = expectedWeights;
    combinedObserved = observedWeights;
    expectedTail = [first(expectedWeights), last(expectedWeights)];
    observedTail = [first(observedWeights), last(observedWeights)];
    mainExpected = expectedWeights.slice(1, -1);
    mainObserved = observedWeights.slice(1, -1);
  } else if (lowInfinite) {
    expectedBins = bins.slice(1);
    combinedExpected = [...expectedWeights, tail];
    combinedObserved = [...observedWeights, data.above / n];
    expectedTail = [first(expectedWeights), tail];
    observedTail = [first(observedWeights), data.above / n];
    mainExpected = expectedWeights.slice(1);
    mainObserved = observedWeights.slice(1);
  } else if (highInfinite) {
    expectedBins = bins.slice(0, -1);
    combinedExpected = [tail, ...expectedWeights];
    combinedObserved = [data.below / n, ...observedWeights];
    expectedTail = [tail, last(expectedWeights)];
    observedTail = [data.below / n, last(observedWeights)];
    mainExpected = expectedWeights.slice(0, -1);
    mainObserved = observedWeights.slice(0, -1);
  } else {
    expectedBins = [...bins];
    expectedTail = partition.tail_weights !== undefined ? [...partition.tail_weights] : [tail / 2, tail / 2];
    combinedExpected = [first(expectedTail), ...expectedWeights, last(expectedTail)];
    combinedObserved = [data.below / n, ...observedWeights, data.above / n];
    observedTail = [data.below / n, data.above / n];
    mainExpected = expectedWeights;
    mainObserved = observedWeights;
  }
  return {
    kl: klDivergence(combinedObserved, combinedExpected),
    details: {
      observed_partition: { bins: expectedBins, weights: mainObserved, tail_weights: observedTail },
      expected_partition: { bins: expectedBins, weights: mainExpected, tail_weights: expectedTail },
    },
  };
}

export function planKlDivergence(input: PlanInput<'expect_column_kl_divergence_to_be_less_than'>): Finish {
  const k = input.kwargs;
  const x = input.env.columns.ident(k.column);
  const c = counts(input, k.column);
  const tail = k.tail_weight_holdout ?? 0;
  const internal = k.internal_weight_holdout ?? 0;
  const threshold = k.threshold ?? null;
  const partition = k.partition_object ?? null;
  const finish = (kl: number, details: Record<string, unknown>) => ({
    success: threshold === null || kl <= threshold,
    result: formatAggregateResult(input.format, Number.isFinite(kl) ? kl : null, c.aggregate(), details),
  });
  if (partition !== null && 'values' in partition) {
    const observed = valueCounts(input, k.column);
    return () => {
      const n = c.nonnull();
      const joined = joinCategories(partition, observed());
      const pk = joined.seen.map((s) => s / n);
      const qk = holdout(joined.expected, joined.unexpected, tail, 1);
      return Promise.resolve(finish(klDivergence(pk, qk), {
        observed_partition: { values: joined.values, weights: pk },
        expected_partition: { values: joined.values, weights: qk },
      }));
    };
  }
  if (partition !== null) {
    const bins = partition.bins;
    const hist = binConditions(x, bins).map((condition) => input.aggregate(`count(*) FILTER (WHERE ${condition})`));
    const below = input.aggregate(`count(*) FILTER (WHERE ${x} < ${sqlLiteral(bins[0])})`);
    const above = input.aggregate(`count(*) FILTER (WHERE ${x} > ${sqlLiteral(bins[bins.length - 1])})`);
    return () => {
      const data = { hist: hist.map((h) => toNumber(h()) ?? 0), below: toNumber(below()) ?? 0, above: toNumber(above()) ?? 0 };
      const { kl, details } = klContinuous(partition, data, c.nonnull(), tail, internal);
      return Promise.resolve(finish(kl, details));
    };
  }
  // No partition: GX builds one from the data itself (profiling), which the data then match exactly.
  if (k.bucketize_data === false) {
    const observed = valueCounts(input, k.column);
    return () => {
      const values = observed();
      const weights = values.map((v) => v.count / Math.max(1, c.nonnull()));
      const built = { values: values.map((v) => v.value), weights };
      return Promise.resolve(finish(klDivergence(weights, weights), { observed_partition: built, expected_partition: built }));
    };
  }
  const quartiles = input.aggregate(`quantile_disc(${x}, [0.0, 0.25, 0.75, 1.0]::DOUBLE[])`);
  return async () => {
    const n = c.nonnull();
    const [min, q25, q75, max] = ((quartiles() ?? []) as unknown[]).map((v) => toNumber(v) ?? 0);
    const sturges = Math.log2(n + 1);
    const iqr = (q75 ?? 0) - (q25 ?? 0);
    const binCount = Math.max(1, iqr < 1e-10 ? Math.ceil(sturges) : Math.max(Math.ceil(sturges), Math.ceil(((max ?? 0) - (min ?? 0)) / ((2 * iqr) / n ** (1 / 3)))));
    const bins = Array.from({ length: binCount + 1 }, (_, i) => (min ?? 0) + (((max ?? 0) - (min ?? 0)) * i) / binCount);
    const conditions = binConditions(x, bins);
    const [row] = await input.env.query(`SELECT ${conditions.map((cond, i) => `count(*) FILTER (WHERE ${cond}) AS b${i}`).join(', ')} FROM ${input.env.relation}`);
    const weights = conditions.map((_, i) => (toNumber(row?.[`b${i}`]) ?? 0) / Math.max(1, n));
    const built = { bins, weights, tail_weights: [0, 0] };
    return finish(klDivergence(weights, weights), { observed_partition: built, expected_partition: built });
  };
}

/** The column's non-null values as sorted doubles (the one extra query of the KS tests). */
async function sortedValues<T extends ExpectationType>(input: PlanInput<T>, column: string): Promise<Float64Array> {
  const x = input.env.columns.ident(column);
  const rows = await input.env.query(`SELECT CAST(${x} AS DOUBLE) AS v FROM ${input.env.relation} WHERE ${x} IS NOT NULL ORDER BY 1`);
  return Float64Array.from(rows, (r) => toNumber(r['v']) ?? NaN);
}

/** np.interp: piecewise linear through (xs, ys), constant beyond the ends. */
function interpolate(xs: readonly number[], ys: readonly number[]): (x: number) => number {
  return (x) => {
    if (x <= (xs[0] ?? 0)) return ys[0] ?? 0;
    const last = xs.length - 1;
    if (x >= (xs[last] ?? 0)) return ys[last] ?? 0;
    let lo = 0;
    let hi = last;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if ((xs[mid] ?? 0) <= x) lo = mid;
      else hi = mid;
    }
    const x0 = xs[lo] ?? 0;
    const x1 = xs[hi] ?? 0;
    return (ys[lo] ?? 0) + (((ys[hi] ?? 0) - (ys[lo] ?? 0)) * (x - x0)) / (x1 - x0);
  };
}

/** np.histogram over the partition's bins (last bin closed), plus the counts below and above it. */
function histogram(values: Float64Array, bins: readonly number[]): ContinuousCounts {
  const k = bins.length - 1;
  const hist = new Array<number>(k).fill(0);
  let below = 0;
  let above = 0;
  for (const v of values) {
    if (v < (bins[0] ?? 0)) { below += 1; continue; }
    if (v > (bins[k] ?? 0)) { above += 1; continue; }
    let lo = 0;
    let hi = k;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if ((bins[mid] ?? 0) <= v) lo = mid;
      else hi = mid;
    }
    hist[lo] = (hist[lo] ?? 0) + 1;
  }
  return { hist, below, above };
}

export function planBootstrappedKs(input: PlanInput<'expect_column_bootstrapped_ks_test_p_value_to_be_greater_than'>): Finish {
  const { partition_object: partition, p = 0.05 } = input.kwargs;
  const c = counts(input, input.kwargs.column);
  const samples = input.kwargs.bootstrap_samples ?? 1000;
  const size = input.kwargs.bootstrap_sample_size ?? partition.weights.length * 2;
  return async () => {
    const values = await sortedValues(input, input.kwargs.column);
    const testCdf = [0];
    for (const w of partition.weights) testCdf.push((testCdf[testCdf.length - 1] ?? 0) + w);
    const expected = interpolate(partition.bins, testCdf);
    // Rounds whose p-value reaches p are those whose statistic is at most the critical value for the sample size.
    const critical = ksCriticalValue(size, p);
    const random = seededRandom(0x5eed);
    let passing = 0;
    const sample = new Float64Array(size);
    for (let round = 0; round < samples && values.length > 0; round++) {
      for (let i = 0; i < size; i++) sample[i] = values[Math.floor(random() * values.length)] ?? 0;
      sample.sort();
      if (ksStatistic(sample, expected) <= critical) passing += 1;
    }
    const result = (1 + passing) / (samples + 1);
    const { hist, below, above } = histogram(values, partition.bins);
    const n = values.length;
    const lowest = values[0] ?? 0;
    const highest = values[n - 1] ?? 0;
    const observedBins = [...(below > 0 ? [lowest] : []), ...partition.bins, ...(above > 0 ? [highest] : [])];
    const observedWeights = [...(below > 0 ? [below] : []), ...hist, ...(above > 0 ? [above] : [])].map((h) => h / n);
    const cumulative = [0];
    for (const w of observedWeights) cumulative.push((cumulative[cumulative.length - 1] ?? 0) + w);
    return {
      success: result > p,
      result: formatAggregateResult(input.format, result, c.aggregate(), {
        bootstrap_samples: samples,
        bootstrap_sample_size: size,
        observed_partition: { bins: observedBins, weights: observedWeights },
        expected_partition: { bins: [...partition.bins], weights: [...partition.weights] },
        observed_cdf: { x: observedBins, cdf_values: cumulative },
        expected_cdf: { x: [...partition.bins], cdf_values: testCdf },
      }),
    };
  };
}

export function planParameterizedKs(input: PlanInput<'expect_column_parameterized_distribution_ks_test_p_value_to_be_greater_than'>): Finish {
  const { distribution, params, p_value: threshold = 0.05 } = input.kwargs;
  const names = DISTRIBUTION_PARAMS[distribution];
  // GX maps a dict to scipy's positional arguments; for uniform, {min, max} become (loc, scale) as they are.
  const positional = Array.isArray(params) ? [...params] : [...names.dict.map((key) => params[key] ?? 0), ...(distribution === 'uniform' ? [] : [params['loc'] ?? 0, params['scale'] ?? 1])];
  const shapes = names.positional.length - 2;
  const shape = positional.slice(0, shapes);
  const loc = positional[shapes] ?? 0;
  const scale = positional[shapes + 1] ?? 1;
  if (!(scale > 0)) throw new Error(`${distribution}: scale must be greater than 0`);
  const c = counts(input, input.kwargs.column);
  return async () => {
    const values = await sortedValues(input, input.kwargs.column);
    const d = ksStatistic(values, cdf(distribution, shape, loc, scale));
    const pValue = values.length === 0 ? null : ksPValue(values.length, d);
    return {
      success: pValue !== null && pValue >= threshold,
      result: formatAggregateResult(input.format, pValue, c.aggregate(), { expected_params: positional, observed_ks_result: { statistic: d, pvalue: pValue } }),
    };
  };
}
