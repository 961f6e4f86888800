// The configuration of data-quality checks as users declare them (GX's ExpectationConfiguration and
// suite), kept in the define layer so assets can carry their checks as plain data.

export type Severity = 'error' | 'warn';

/** One expectation as configured: GX's `type` and `kwargs`, plus `meta` (severity and free-form notes). */
export interface ExpectationConfig {
  readonly type: string;
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly meta?: Readonly<{ severity?: Severity; [key: string]: unknown }>;
}

export interface Suite {
  readonly name: string;
  readonly expectations: readonly ExpectationConfig[];
}
