// Statistical expectations beyond GX's set, as users declare them: drift against a reference version and
// anomalies in a metric's history. Their kwargs schemas (validated at load) and camelCase builders.
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import type { ExpectationConfig, Severity } from './checks.ts';

const reference = z.union([z.literal('previous'), z.number().int().positive()]).default('previous');
const column = z.string().min(1);
const anomalyOptions = { k: z.number().positive().default(3), window: z.number().int().positive().default(20), min_history: z.number().int().min(2).default(5) };

/**
 * | type | kwargs | passes when |
 * | --- | --- | --- |
 * | expect_column_drift_psi_to_be_less_than | column, threshold (0.2), bins (10), categorical (false), reference ('previous' or a version) | PSI against the reference < threshold |
 * | expect_column_drift_ks_statistic_to_be_less_than | column, threshold, reference | two-sample KS D < threshold (p-value reported) |
 * | expect_column_drift_chisquare_p_value_to_be_greater_than | column, threshold (0.05), reference | chi-square homogeneity p-value > threshold |
 * | expect_table_row_count_to_not_be_anomalous | k (3), window (20), min_history (5) | row count within mean ± k·std of the last runs' |
 * | expect_column_null_fraction_to_not_be_anomalous | column, k, window, min_history | null fraction within mean ± k·std |
 * | expect_column_mean_to_not_be_anomalous | column, k, window, min_history | mean within mean ± k·std |
 */
export const STATISTICAL_SCHEMAS = {
  expect_column_drift_psi_to_be_less_than: z.object({ column, threshold: z.number().positive().default(0.2), bins: z.number().int().min(2).max(1000).default(10), categorical: z.boolean().default(false), reference }).strict(),
  expect_column_drift_ks_statistic_to_be_less_than: z.object({ column, threshold: z.number().positive().max(1), reference }).strict(),
  expect_column_drift_chisquare_p_value_to_be_greater_than: z.object({ column, threshold: z.number().min(0).max(1).default(0.05), reference }).strict(),
  expect_table_row_count_to_not_be_anomalous: z.object(anomalyOptions).strict(),
  expect_column_null_fraction_to_not_be_anomalous: z.object({ column, ...anomalyOptions }).strict(),
  expect_column_mean_to_not_be_anomalous: z.object({ column, ...anomalyOptions }).strict(),
} as const;

export type StatisticalType = keyof typeof STATISTICAL_SCHEMAS;

export function isStatistical(type: string): type is StatisticalType {
  return Object.hasOwn(STATISTICAL_SCHEMAS, type);
}

/** Validate a statistical expectation's kwargs, naming the expectation and the argument. */
export function parseStatisticalKwargs(type: StatisticalType, kwargs: unknown, where: string): Record<string, unknown> {
  const parsed = STATISTICAL_SCHEMAS[type].safeParse(kwargs);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const argument = issue?.path.join('.') ?? '';
    throw new SluiceError('DEFINITION_INVALID', `${where} ${type}: argument ${argument === '' ? '(kwargs)' : `"${argument}"`}: ${issue?.message ?? 'invalid'}`, { expectation: type, argument });
  }
  return parsed.data;
}

interface Common { readonly severity?: Severity }
type Reference = 'previous' | number;
interface Anomaly extends Common { readonly k?: number; readonly window?: number; readonly minHistory?: number }

function make(type: StatisticalType, kwargs: Record<string, unknown>, severity: Severity | undefined): ExpectationConfig {
  const clean = Object.fromEntries(Object.entries(kwargs).filter(([, v]) => v !== undefined));
  parseStatisticalKwargs(type, clean, 'expectation');
  return Object.freeze({ type, kwargs: Object.freeze(clean), meta: Object.freeze({ severity: severity ?? 'error' }) });
}

export const statisticalExpect = Object.freeze({
  columnDriftPsiToBeLessThan: (col: string, o: Common & { threshold?: number; bins?: number; categorical?: boolean; reference?: Reference } = {}): ExpectationConfig =>
    make('expect_column_drift_psi_to_be_less_than', { column: col, threshold: o.threshold, bins: o.bins, categorical: o.categorical, reference: o.reference }, o.severity),
  columnDriftKsStatisticToBeLessThan: (col: string, o: Common & { threshold: number; reference?: Reference }): ExpectationConfig =>
    make('expect_column_drift_ks_statistic_to_be_less_than', { column: col, threshold: o.threshold, reference: o.reference }, o.severity),
  columnDriftChisquarePValueToBeGreaterThan: (col: string, o: Common & { threshold?: number; reference?: Reference } = {}): ExpectationConfig =>
    make('expect_column_drift_chisquare_p_value_to_be_greater_than', { column: col, threshold: o.threshold, reference: o.reference }, o.severity),
  tableRowCountToNotBeAnomalous: (o: Anomaly = {}): ExpectationConfig =>
    make('expect_table_row_count_to_not_be_anomalous', { k: o.k, window: o.window, min_history: o.minHistory }, o.severity),
  columnNullFractionToNotBeAnomalous: (col: string, o: Anomaly = {}): ExpectationConfig =>
    make('expect_column_null_fraction_to_not_be_anomalous', { column: col, k: o.k, window: o.window, min_history: o.minHistory }, o.severity),
  columnMeanToNotBeAnomalous: (col: string, o: Anomaly = {}): ExpectationConfig =>
    make('expect_column_mean_to_not_be_anomalous', { column: col, k: o.k, window: o.window, min_history: o.minHistory }, o.severity),
});
