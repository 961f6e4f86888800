// Running a suite: GX-style expectations go through the one-pass compiler (validate.ts); the statistical
// ones (drift against a reference, anomalies against history) each need their own queries. Results keep
// the suite's order, with statistics over all of them.
import type { Suite } from '../define/checks.ts';
import type { Session } from '../engine/engine.ts';
import { evaluateStatistical, isStatistical } from './statistical.ts';
import type { ExpectationResult, QualityContext, ValidationResult } from './types.ts';
import { validateSuite, type ValidateOptions } from './validate.ts';

/** `columns`, when the caller already knows the relation's column names, saves describing it again. */
export async function runSuite(session: Session, relation: string, suite: Suite, context: QualityContext = {}, options: ValidateOptions = {}, columns?: readonly string[]): Promise<ValidationResult> {
  const statistical = suite.expectations.map((c, i) => [c, i] as const).filter(([c]) => isStatistical(c.type));
  if (statistical.length === 0) return validateSuite(session, relation, suite, context, options);
  const rest = suite.expectations.filter((c) => !isStatistical(c.type));
  const base = await validateSuite(session, relation, { name: suite.name, expectations: rest }, context, options);
  const names = columns ?? (await session.describe(`SELECT * FROM ${relation}`)).map((c) => c.name);
  const extra = new Map<number, ExpectationResult>();
  for (const [config, index] of statistical) extra.set(index, await evaluateStatistical(session, relation, config, context, names));
  const results: ExpectationResult[] = [];
  let next = 0;
  suite.expectations.forEach((_c, index) => {
    const r = extra.get(index) ?? base.results[next++];
    if (r !== undefined) results.push(r);
  });
  const successful = results.filter((r) => r.success).length;
  return {
    ...base,
    success: successful === results.length,
    statistics: {
      evaluated_expectations: results.length,
      successful_expectations: successful,
      unsuccessful_expectations: results.length - successful,
      success_percent: results.length === 0 ? null : (100 * successful) / results.length,
    },
    results,
  };
}
