// GX's result_format: which keys a result carries (BOOLEAN_ONLY < BASIC < SUMMARY < COMPLETE), and the
// result objects of map expectations (GX's _format_map_output) and aggregate expectations.
import type { ResultFormatName, ResultFormatSpec } from '../define/expect.ts';
import type { ExpectationResultDetail } from './types.ts';
import { compareValues } from './values.ts';

export interface ResultFormat {
  readonly format: ResultFormatName;
  /** How many unexpected values partial lists hold (GX default 20). */
  readonly partialCount: number;
  readonly includeUnexpectedRows: boolean;
  readonly excludeUnexpectedValues: boolean;
  /** Columns that identify a row, reported in unexpected_index_list (GX's unexpected_index_column_names). */
  readonly indexColumns: readonly string[];
}

export const DEFAULT_PARTIAL_COUNT = 20;

export function resolveResultFormat(spec: ResultFormatSpec | undefined, fallback: ResultFormatName): ResultFormat {
  if (spec === undefined) {
    return { format: fallback, partialCount: DEFAULT_PARTIAL_COUNT, includeUnexpectedRows: false, excludeUnexpectedValues: false, indexColumns: [] };
  }
  if (typeof spec === 'string') {
    return { format: spec, partialCount: DEFAULT_PARTIAL_COUNT, includeUnexpectedRows: false, excludeUnexpectedValues: false, indexColumns: [] };
  }
  return {
    format: spec.result_format,
    partialCount: spec.partial_unexpected_count ?? DEFAULT_PARTIAL_COUNT,
    includeUnexpectedRows: spec.include_unexpected_rows ?? false,
    excludeUnexpectedValues: spec.exclude_unexpected_values ?? false,
    indexColumns: spec.unexpected_index_column_names ?? [],
  };
}

export function atLeast(format: ResultFormat, level: ResultFormatName): boolean {
  const order: readonly ResultFormatName[] = ['BOOLEAN_ONLY', 'BASIC', 'SUMMARY', 'COMPLETE'];
  return order.indexOf(format.format) >= order.indexOf(level);
}

export interface MapCounts {
  readonly elementCount: number;
  /** Rows the expectation considers (non-null values; rows not ignored); null when GX reports no missing counts. */
  readonly nonnullCount: number | null;
  readonly unexpectedCount: number;
}

export interface MapSamples {
  /** Unexpected values: all of them for COMPLETE, the first partialCount otherwise. */
  readonly values: readonly unknown[] | null;
  readonly indexList: readonly Record<string, unknown>[] | null;
  readonly rows: readonly Record<string, unknown>[] | null;
}

/** Success of a map expectation: vacuously true with nothing to check, else the share of good rows >= mostly. */
export function mapSuccess(counts: MapCounts, mostly: number): boolean {
  const considered = counts.nonnullCount ?? counts.elementCount;
  if (counts.elementCount === 0 || considered === 0) return true;
  return (considered - counts.unexpectedCount) / considered >= mostly;
}

function countValues(values: readonly unknown[], limit: number): { value: unknown; count: number }[] | null {
  if (values.some((v) => typeof v === 'object' && v !== null && !Array.isArray(v))) return null;
  const counts = new Map<string, { value: unknown; count: number }>();
  for (const value of values) {
    const key = JSON.stringify(value);
    const entry = counts.get(key);
    if (entry === undefined) counts.set(key, { value, count: 1 });
    else entry.count += 1;
  }
  return [...counts.values()].sort((a, b) => b.count - a.count || compareValues(a.value, b.value)).slice(0, limit);
}

/** GX's result object for map expectations (element, missing and unexpected counts, percents, samples). */
export function formatMapResult(format: ResultFormat, counts: MapCounts, samples: MapSamples): ExpectationResultDetail {
  if (format.format === 'BOOLEAN_ONLY') return {};
  const { elementCount, nonnullCount, unexpectedCount } = counts;
  const result: ExpectationResultDetail = { element_count: elementCount, unexpected_count: unexpectedCount };
  let unexpectedPercentTotal: number | null = null;
  let unexpectedPercentNonmissing: number | null = null;
  let missingPercent: number | null = null;
  const missingCount = nonnullCount === null ? null : elementCount - nonnullCount;
  if (elementCount > 0) {
    unexpectedPercentTotal = (unexpectedCount / elementCount) * 100;
    if (nonnullCount !== null && missingCount !== null) {
      missingPercent = (missingCount / elementCount) * 100;
      unexpectedPercentNonmissing = nonnullCount > 0 ? (unexpectedCount / nonnullCount) * 100 : null;
    } else {
      unexpectedPercentNonmissing = unexpectedPercentTotal;
    }
  }
  result.unexpected_percent = unexpectedPercentNonmissing;
  const values = format.excludeUnexpectedValues ? null : samples.values ?? [];
  if (values !== null) result.partial_unexpected_list = values.slice(0, format.partialCount);
  if (format.indexColumns.length > 0) result['unexpected_index_column_names'] = [...format.indexColumns];
  if (nonnullCount !== null) {
    result.missing_count = missingCount ?? 0;
    result.missing_percent = missingPercent;
    result.unexpected_percent_total = unexpectedPercentTotal;
    result.unexpected_percent_nonmissing = unexpectedPercentNonmissing;
  }
  if (format.includeUnexpectedRows) result['unexpected_rows'] = samples.rows ?? [];
  if (format.format === 'BASIC') return result;
  if (values !== null && format.partialCount > 0) {
    const counted = countValues(values, format.partialCount);
    if (counted === null) result.details = { partial_unexpected_counts_error: 'partial_unexpected_counts requested, but requires a hashable type' };
    else result.partial_unexpected_counts = counted;
  }
  if (samples.indexList !== null) result['partial_unexpected_index_list'] = samples.indexList.slice(0, format.partialCount);
  if (format.format === 'SUMMARY') return result;
  if (values !== null) result.unexpected_list = [...values];
  if (samples.indexList !== null) result['unexpected_index_list'] = [...samples.indexList];
  return result;
}

export interface AggregateCounts {
  readonly elementCount: number;
  readonly nullCount: number;
}

/**
 * The result of a column aggregate expectation: observed_value, element_count, and missing_count /
 * missing_percent (null when nothing is missing, as GX reports them), and the expectation's details.
 */
export function formatAggregateResult(
  format: ResultFormat,
  observed: unknown,
  counts: AggregateCounts | null,
  details?: Record<string, unknown>,
): ExpectationResultDetail {
  if (format.format === 'BOOLEAN_ONLY') return {};
  const result: ExpectationResultDetail = { observed_value: observed };
  if (counts !== null) {
    result.element_count = counts.elementCount;
    result.missing_count = counts.nullCount > 0 ? counts.nullCount : null;
    result.missing_percent = counts.nullCount > 0 && counts.elementCount > 0 ? (counts.nullCount / counts.elementCount) * 100 : null;
  }
  if (details !== undefined) result.details = details;
  return result;
}

/** The result of a table-level expectation: observed_value and the expectation's details. */
export function formatTableResult(format: ResultFormat, observed: unknown, details?: Record<string, unknown>): ExpectationResultDetail {
  if (format.format === 'BOOLEAN_ONLY') return {};
  const result: ExpectationResultDetail = { observed_value: observed };
  if (details !== undefined) result.details = details;
  return result;
}
