// One error hierarchy for everything a user can cause: a stable code, a message that says what to do,
// and the context (asset, source, file, row, column) that locates the problem.

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'DEFINITION_INVALID'
  | 'UNKNOWN_REFERENCE'
  | 'DEPENDENCY_CYCLE'
  | 'INVALID_IDENTIFIER'
  | 'INVALID_PARTITION'
  | 'SOURCE_NOT_FOUND'
  | 'SOURCE_READ'
  | 'SOURCE_SCHEMA'
  | 'SOURCE_CORRUPT'
  | 'BAD_RECORD'
  | 'ASSET_SQL'
  | 'ASSET_NOT_FOUND'
  | 'JOB_NOT_FOUND'
  | 'RUN_NOT_FOUND'
  | 'TRAINING_SET_NOT_FOUND'
  | 'LINEAGE_TARGET'
  | 'PII_FORBIDDEN'
  | 'ACCESS_DENIED'
  | 'LEASE_HELD'
  | 'TIMEOUT'
  | 'VERSION_NOT_FOUND'
  | 'COMMIT_CONFLICT'
  | 'SCHEMA_CHANGE'
  | 'COLUMN_CONFLICT'
  | 'EMPTY_DATA'
  | 'CATALOG'
  | 'STEP_FAILED'
  | 'CHECK_FAILED'
  | 'FEATURE_NOT_FOUND'
  | 'FEATURE_REQUEST'
  | 'ONLINE_STORE'
  | 'SKEW_EXCEEDED'
  | 'TRANSIENT';

export interface ErrorContext {
  readonly asset?: string | undefined;
  readonly source?: string | undefined;
  readonly partition?: string | undefined;
  readonly file?: string | undefined;
  readonly row?: number | undefined;
  readonly column?: string | undefined;
  readonly version?: number | undefined;
  readonly [key: string]: unknown;
}

export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;
  /** A transient error (network, lock, timeout) may succeed when retried. */
  readonly transient: boolean;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}, options: { cause?: unknown; transient?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.context = context;
    this.transient = options.transient ?? (code === 'TRANSIENT' || code === 'LEASE_HELD' || code === 'TIMEOUT');
  }
}

const TRANSIENT_PATTERNS = [
  /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|EBUSY/,
  /database is locked|SQLITE_BUSY/i,
  /could not serialize access|deadlock detected/i,
  /timed? ?out/i,
  /Could not set lock on file/i,
];

/** Network, lock and timeout failures are transient; everything else is a real error and is not retried. */
export function isTransient(error: unknown): boolean {
  if (error instanceof SluiceError) return error.transient;
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const text = `${code} ${error.message}`;
  return TRANSIENT_PATTERNS.some((pattern) => pattern.test(text));
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A URL without its password, for messages and error context. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
