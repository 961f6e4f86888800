// Every identifier and literal that reaches SQL passes through these functions.
import { SluiceError } from '../errors.ts';

import { isValidName } from '../define/names.ts';

export { isValidName };

/** Reject a user-given name that is not a plain identifier, naming what it was for. */
export function assertName(name: string, what: string): string {
  if (!isValidName(name)) {
    throw new SluiceError(
      'INVALID_IDENTIFIER',
      `${what} name ${JSON.stringify(name)} is not allowed: use letters, digits and underscores, starting with a letter (at most 63 characters)`,
      { name },
    );
  }
  return name;
}

/** Quote an identifier for DuckDB (and PostgreSQL/SQLite): double quotes, embedded quotes doubled. */
export function quoteIdent(name: string): string {
  if (name.includes('\u0000')) throw new SluiceError('INVALID_IDENTIFIER', 'identifier contains a NUL character');
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quote a string literal: single quotes, embedded quotes doubled. */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new SluiceError('INVALID_IDENTIFIER', 'literal contains a NUL character');
  return `'${value.replaceAll("'", "''")}'`;
}

/** A list literal of strings, e.g. for read_parquet(['a', 'b']). */
export function quoteList(values: readonly string[]): string {
  return `[${values.map(quoteLiteral).join(', ')}]`;
}
