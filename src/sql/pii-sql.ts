// The SQL of personal-data policies: one expression per protected column, applied in a projection
// (`SELECT * EXCLUDE (dropped) REPLACE (policy(col) AS col)`) before anything is written.
//
// DuckDB has sha256 and md5 but no HMAC, so the keyed hash is HMAC-SHA256 built from sha256 by its definition
// (RFC 2104): sha256((K xor opad) || unhex(sha256((K xor ipad) || message))). The padded keys are BLOBs held in
// the session's variables (set from parameters by batch/protect.ts), so no key ever appears in SQL text,
// error messages or logs. Tokens are the same construction under a second key.
import type { ColumnProtection, PiiPolicy } from '../define/pii.ts';
import { quoteIdent } from './identifiers.ts';

export type KeyPurpose = 'hash' | 'token';

/** The session variables holding a purpose's padded keys. */
export function keyVariables(purpose: KeyPurpose): { ipad: string; opad: string } {
  return { ipad: `sluice_pii_${purpose}_ipad`, opad: `sluice_pii_${purpose}_opad` };
}

/** HMAC-SHA256 (hex) of an expression's text under a purpose's key; NULL stays NULL. */
export function hmacSql(expression: string, purpose: KeyPurpose): string {
  const v = keyVariables(purpose);
  return `sha256(getvariable('${v.opad}') || unhex(sha256(getvariable('${v.ipad}') || encode(CAST(${expression} AS VARCHAR)))))`;
}

/** A token: `tok_` and 32 hex digits (128 bits) of the token key's HMAC, deterministic so joins still match. */
export function tokenSql(expression: string): string {
  return `CASE WHEN ${expression} IS NULL THEN NULL ELSE 'tok_' || left(${hmacSql(expression, 'token')}, 32) END`;
}

const DATE_TYPES = /^(DATE|TIMESTAMP(_S|_MS|_NS)?|TIMESTAMP WITH TIME ZONE|TIMESTAMPTZ|DATETIME)$/i;
const NUMBER_TYPES = /^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|REAL|DOUBLE|DECIMAL(\(\d+,\s*\d+\))?)$/i;

/**
 * The expression that replaces column `column` (of DuckDB type `type`) under `policy`; undefined for 'keep'
 * and 'drop' (the projection leaves the column as it is, or out). Throws a plain Error when the policy does not
 * fit the type; the caller names the asset.
 */
export function policySql(column: string, type: string, policy: PiiPolicy, pii: string): string | undefined {
  const c = quoteIdent(column);
  const text = `CAST(${c} AS VARCHAR)`;
  switch (policy.kind) {
    case 'keep':
    case 'drop':
      return undefined;
    case 'hash':
      return hmacSql(c, 'hash');
    case 'tokenize':
      return tokenSql(c);
    case 'mask': {
      if (policy.keep === 'none') return `CASE WHEN ${c} IS NULL THEN NULL ELSE '***' END`;
      if (policy.keep === 'domain') return `CASE WHEN ${c} IS NULL THEN NULL WHEN contains(${text}, '@') THEN '***@' || regexp_extract(${text}, '@([^@]*)$', 1) ELSE '***' END`;
      if (policy.keep === 'first1') return `CASE WHEN ${c} IS NULL THEN NULL ELSE left(${text}, 1) || '***' END`;
      // last4: the last four digits of a phone number (its other digits starred), the last four characters otherwise.
      const kept = pii === 'phone' ? `regexp_replace(${text}, '[^0-9]', '', 'g')` : text;
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE repeat('*', greatest(length(${kept}) - 4, 0)) || right(${kept}, 4) END`;
    }
    case 'generalize': {
      if ('bin' in policy) {
        if (!NUMBER_TYPES.test(type)) throw new Error(`generalize { bin: ${policy.bin} } needs a number, but the column is ${type}`);
        return `CAST(floor(${c} / ${policy.bin}) * ${policy.bin} AS ${type})`;
      }
      if ('prefix' in policy) return `left(${text}, ${policy.prefix})`;
      if (policy.to === 'ip') return `regexp_replace(${text}, '^(\\d+\\.\\d+\\.\\d+)\\.\\d+$', '\\1.0')`;
      if (!DATE_TYPES.test(type)) {
        throw new Error(policy.to === 'auto'
          ? `generalize needs to know how: a date or timestamp truncates to a month by default, but the column is ${type}; use { generalize: { bin: N } } for numbers or { generalize: { prefix: N } } for text`
          : `generalize '${policy.to}' needs a date or timestamp, but the column is ${type}`);
      }
      return `CAST(date_trunc('${policy.to === 'auto' ? 'month' : policy.to}', ${c}) AS ${type})`;
    }
  }
}

/** The projection of `relation` with each protection applied; columns keep their order. */
export function protectSql(relation: string, columns: readonly { readonly name: string; readonly type: string }[], protections: Readonly<Record<string, ColumnProtection>>): string {
  const dropped: string[] = [];
  const replaced: string[] = [];
  for (const column of columns) {
    const protection = protections[column.name];
    if (protection?.policy === undefined) continue;
    if (protection.policy.kind === 'drop') dropped.push(quoteIdent(column.name));
    const expression = policySql(column.name, column.type, protection.policy, protection.pii);
    if (expression !== undefined) replaced.push(`${expression} AS ${quoteIdent(column.name)}`);
  }
  return `SELECT * ${dropped.length > 0 ? `EXCLUDE (${dropped.join(', ')}) ` : ''}${replaced.length > 0 ? `REPLACE (${replaced.join(', ')}) ` : ''}FROM ${relation}`;
}
