// Statistical expectations beyond GX's set: drift against a reference version (PSI, KS, chi-square) and
// anomalies in a metric's history (row count, null fraction, mean: outside mean ± k·std of the last runs).
// Each needs its own query against the reference or the catalog's history, so they run beside the one-pass suite.
import type { ExpectationConfig } from '../define/checks.ts';
import type { Session } from '../engine/engine.ts';
import { parseStatisticalKwargs, type StatisticalType } from '../define/expect-statistical.ts';
import { errorMessage } from '../errors.ts';
import { quoteIdent } from '../sql/identifiers.ts';
import { zScoreAnomaly } from './anomaly.ts';
import { chiSquare, ksStatistic, psi, psiCategorical } from './drift.ts';
import type { ExpectationResult, QualityContext } from './types.ts';

export { isStatistical, parseStatisticalKwargs, STATISTICAL_SCHEMAS, type StatisticalType } from '../define/expect-statistical.ts';

/** The history key of an anomaly expectation's metric: past results of the same type and column. */
export function metricKey(type: string, columnName: string | null): string {
  return `${type}:${columnName ?? ''}`;
}

function result(config: ExpectationConfig, success: boolean, observed: unknown, details: Record<string, unknown>): ExpectationResult {
  return { success, expectation_config: config, result: { observed_value: observed, details }, exception_info: { raised_exception: false, exception_message: null } };
}

function failedToEvaluate(config: ExpectationConfig, message: string): ExpectationResult {
  return { success: false, expectation_config: config, result: {}, exception_info: { raised_exception: true, exception_message: message } };
}

function referenceRelation(which: 'previous' | number, context: QualityContext): string | undefined {
  return which === 'previous' ? context.previous : context.pinned?.get(which);
}

export async function evaluateStatistical(session: Session, relation: string, config: ExpectationConfig, context: QualityContext, columns: readonly string[]): Promise<ExpectationResult> {
  const type = config.type as StatisticalType;
  let kwargs: Record<string, unknown>;
  try {
    kwargs = parseStatisticalKwargs(type, config.kwargs, 'expectation');
  } catch (error) {
    return failedToEvaluate(config, errorMessage(error));
  }
  const col = typeof kwargs['column'] === 'string' ? kwargs['column'] : null;
  if (col !== null && !columns.includes(col)) {
    return failedToEvaluate(config, `column "${col}" does not exist; the table has ${columns.join(', ')}`);
  }
  try {
    if (type.startsWith('expect_column_drift_')) {
      const which = kwargs['reference'] as 'previous' | number;
      const ref = referenceRelation(which, context);
      if (ref === undefined) {
        // Nothing to compare with yet (a first run): the check passes and says so.
        return result(config, true, null, { reference: which, note: `no ${which === 'previous' ? 'previous version' : `version ${which}`} to compare with` });
      }
      const threshold = kwargs['threshold'] as number;
      const c = col ?? '';
      if (type === 'expect_column_drift_psi_to_be_less_than') {
        const r = kwargs['categorical'] === true ? await psiCategorical(session, relation, ref, c) : await psi(session, relation, ref, c, { bins: kwargs['bins'] as number });
        return result(config, r.psi < threshold, r.psi, { reference: which, threshold, bins: r.bins });
      }
      if (type === 'expect_column_drift_ks_statistic_to_be_less_than') {
        const r = await ksStatistic(session, relation, ref, c);
        return result(config, r.statistic < threshold, r.statistic, { reference: which, threshold, p_value: r.pValue, n: r.n, m: r.m });
      }
      const r = await chiSquare(session, relation, ref, c);
      return result(config, r.pValue > threshold, r.pValue, { reference: which, threshold, statistic: r.statistic, degrees_of_freedom: r.degreesOfFreedom });
    }
    const metric = type === 'expect_table_row_count_to_not_be_anomalous'
      ? 'count(*)::DOUBLE'
      : type === 'expect_column_null_fraction_to_not_be_anomalous'
        ? `CASE WHEN count(*) = 0 THEN 0 ELSE count(*) FILTER (WHERE ${quoteIdent(col ?? '')} IS NULL)::DOUBLE / count(*) END`
        : `avg(${quoteIdent(col ?? '')})::DOUBLE`;
    const [row] = await session.query<{ v: number | null }>(`SELECT ${metric} AS v FROM ${relation}`);
    const value = row?.v ?? NaN;
    const history = context.history?.(metricKey(type, col)) ?? [];
    const z = zScoreAnomaly(history, value, { k: kwargs['k'] as number, window: kwargs['window'] as number, minHistory: kwargs['min_history'] as number });
    return result(config, !z.anomalous, value, { value, history_points: Math.min(history.length, kwargs['window'] as number), mean: z.mean, std: z.std, z: z.z, lower: z.lower, upper: z.upper, reason: z.reason });
  } catch (error) {
    return failedToEvaluate(config, errorMessage(error));
  }
}
