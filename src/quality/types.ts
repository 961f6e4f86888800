// The shapes of data-quality checks and their results, following Great Expectations' names and semantics
// (ExpectationConfiguration, ExpectationValidationResult, ExpectationSuiteValidationResult).

import type { ExpectationConfig } from '../define/checks.ts';

export type { ExpectationConfig, Severity, Suite } from '../define/checks.ts';
export type ResultFormat = 'BOOLEAN_ONLY' | 'BASIC' | 'SUMMARY' | 'COMPLETE';

/** GX's `result` object; which keys are present depends on the expectation and the result_format. */
export interface ExpectationResultDetail {
  observed_value?: unknown;
  element_count?: number;
  missing_count?: number | null;
  missing_percent?: number | null;
  unexpected_count?: number;
  unexpected_percent?: number | null;
  unexpected_percent_total?: number | null;
  unexpected_percent_nonmissing?: number | null;
  partial_unexpected_list?: unknown[];
  partial_unexpected_counts?: { value: unknown; count: number }[];
  unexpected_list?: unknown[];
  details?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ExpectationResult {
  readonly success: boolean;
  readonly expectation_config: ExpectationConfig;
  readonly result: ExpectationResultDetail;
  /** Set when the expectation could not be evaluated (e.g. a missing column): it then counts as failed. */
  readonly exception_info: { raised_exception: boolean; exception_message: string | null };
}

export interface ValidationStatistics {
  readonly evaluated_expectations: number;
  readonly successful_expectations: number;
  readonly unsuccessful_expectations: number;
  readonly success_percent: number | null;
}

/** GX's ExpectationSuiteValidationResult. */
export interface ValidationResult {
  readonly success: boolean;
  readonly statistics: ValidationStatistics;
  readonly results: readonly ExpectationResult[];
  readonly suite_name: string;
  readonly meta: Readonly<Record<string, unknown>>;
}

/** What some expectations need beyond the table under test. Relations are SQL relation text (a view name or subquery). */
export interface QualityContext {
  /** The previous version of the same table (row count change, drift against the previous version). */
  readonly previous?: string | undefined;
  /** Other tables by name (referential integrity, row count equal to another table). */
  readonly tables?: ReadonlyMap<string, string> | undefined;
  /** "Now" for freshness, default the wall clock. */
  readonly now?: Date | undefined;
  /** The end of the partition being validated (freshness relative to the partition). */
  readonly partitionEnd?: Date | undefined;
  /** Past values of a metric for anomaly detection, oldest first, keyed by metric name. */
  readonly history?: ((metric: string) => readonly number[]) | undefined;
  /** Pinned versions of the same table by version number (drift against a fixed reference). */
  readonly pinned?: ReadonlyMap<number, string> | undefined;
}
