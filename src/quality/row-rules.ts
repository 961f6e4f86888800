// Row-level (map) expectations as SQL: the rows an expectation considers (its domain: non-null values, rows not
// ignored) and, among them, the rows that violate it. The one-pass counts, the unexpected samples and the
// quarantine predicate are all built from these, so they cannot disagree.
import type { AnyValidExpectation } from '../define/expect.ts';
import { SluiceError } from '../errors.ts';
import type { ColumnLookup } from './columns.ts';
import { resolveParameter } from './evaluation-parameters.ts';
import { jsonSchemaPredicate } from './json-schema.ts';
import { isStringType, isTemporalType } from '../sql/types.ts';
import { inList, quoteIdent, quoteLiteral, sqlLiteral } from './values.ts';

/** What an unexpected row reports: a column's value, a pair as [a, b], several columns as a dict, or the whole row. */
export type RowReport =
  | { readonly kind: 'value'; readonly column: string }
  | { readonly kind: 'tuple'; readonly columns: readonly string[] }
  | { readonly kind: 'dict'; readonly columns: readonly string[] }
  | { readonly kind: 'row' };

export interface RowRule {
  /** Rows the expectation considers; the others count as missing. */
  readonly domain: string;
  /** Among the domain, the rows that violate the expectation (NULL counts as not violating). */
  readonly unexpected: string;
  /** GX reports missing_count for all map expectations except the null checks themselves. */
  readonly reportsMissing: boolean;
  readonly report: RowReport;
  /** An aggregate counting the violations more cheaply than a FILTER (the null checks: from count(*) and count(x)). */
  readonly countSql?: string;
}

export interface RuleScope {
  readonly columns: ColumnLookup;
  readonly now: Date;
  /** The relation under validation; rules that compare a row with other rows (uniqueness, z-scores) need it. */
  readonly relation?: string | undefined;
  /** Other tables by name (referential integrity). */
  readonly tables?: ReadonlyMap<string, string> | undefined;
  /** Column mean and standard deviation as SQL (literals after the main pass), for z-scores. */
  readonly stats?: { readonly mean: string; readonly stddev: string } | undefined;
}

/** `coalesce(domain AND unexpected, FALSE)`: TRUE exactly for the violating rows. */
export function violationPredicate(rule: RowRule): string {
  return `coalesce((${rule.domain}) AND (${rule.unexpected}), FALSE)`;
}

/** A date/time string read as dateutil would (ISO, 'Jan 01 2020 12:00:02', '1/2/2016', ...), as a TIMESTAMP; an error if unreadable. */
export function timestampFromText(text: string): string {
  if (/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?$/.test(text.trim())) return `TIMESTAMP ${quoteLiteral(text.trim().replace('T', ' '))}`;
  const literal = quoteLiteral(text);
  // A scalar subquery, so DuckDB reads the text once rather than on every row.
  return `(SELECT coalesce(try_cast(${literal} AS TIMESTAMP), try_strptime(${literal}, [${DATEUTIL_FORMATS.map(quoteLiteral).join(', ')}]), `
    + `error(${quoteLiteral(`cannot read ${JSON.stringify(text)} as a date/time`)})))`;
}

/** A string column's values read as date/times (GX's parse_strings_as_datetimes); NULL where unreadable. */
export function parsedTimestamps(x: string): string {
  return `coalesce(try_cast(${x} AS TIMESTAMP), try_strptime(${x}, [${DATEUTIL_FORMATS.map(quoteLiteral).join(', ')}]))`;
}

/** A bound as SQL: evaluation parameters resolved; strings compared with a date/time column read as date/times. */
function bound(value: unknown, scope: RuleScope, argument: string, columnType?: string): string | null {
  const resolved = resolveParameter(value ?? null, scope.now, argument);
  if (resolved === null) return null;
  if (typeof resolved === 'string' && columnType !== undefined && isTemporalType(columnType)) return timestampFromText(resolved);
  return sqlLiteral(resolved);
}

/** Set members as SQL: strings compared with a date/time column are read as date/times. */
export function setRenderer(columnType: string): (value: unknown) => string {
  return (value) => (typeof value === 'string' && isTemporalType(columnType) ? timestampFromText(value) : sqlLiteral(value));
}

function within(expression: string, lo: string | null, hi: string | null, strictMin: boolean, strictMax: boolean): string {
  const parts: string[] = [];
  if (lo !== null) parts.push(`${expression} ${strictMin ? '>' : '>='} ${lo}`);
  if (hi !== null) parts.push(`${expression} ${strictMax ? '<' : '<='} ${hi}`);
  return parts.length === 0 ? 'TRUE' : parts.join(' AND ');
}

function like(expression: string, pattern: string): string {
  // PostgreSQL's LIKE escapes with a backslash by default; DuckDB needs it spelled out (and is faster without).
  return `${expression} LIKE ${quoteLiteral(pattern)}${pattern.includes('\\') ? " ESCAPE '\\'" : ''}`;
}

function regex(expression: string, pattern: string): string {
  return `regexp_matches(${expression}, ${quoteLiteral(pattern)})`;
}

/** Formats python-dateutil reads that DuckDB's timestamp cast does not. */
const DATEUTIL_FORMATS = [
  '%m/%d/%Y', '%m/%d/%y', '%m-%d-%Y', '%d.%m.%Y', '%Y/%m/%d', '%Y%m%d', '%Y-%m', '%b %d %Y', '%B %d %Y', '%b %d, %Y', '%B %d, %Y',
  '%d %b %Y', '%d %B %Y', '%b %Y', '%B %Y', '%b %d %Y %H:%M:%S', '%m/%d/%Y %H:%M', '%m/%d/%Y %H:%M:%S', '%Y-%m-%dT%H:%M:%S%z',
  '%a %b %d %H:%M:%S %Y', '%H:%M', '%H:%M:%S', '%I:%M %p', '%I %p',
];

function dateutilParseable(expression: string): string {
  const text = `trim(CAST(${expression} AS VARCHAR))`;
  return `(try_cast(${text} AS TIMESTAMP) IS NOT NULL OR try_cast(${text} AS TIMESTAMPTZ) IS NOT NULL`
    + ` OR try_strptime(${text}, [${DATEUTIL_FORMATS.map(quoteLiteral).join(', ')}]) IS NOT NULL`
    + ` OR regexp_full_match(${text}, '[0-9]{1,2}|[0-9]{4}|[0-9]{6}|[0-9]{8}|[0-9]{12}|[0-9]{14}'))`;
}

function pairDomain(a: string, b: string, ignore: string | undefined): string {
  if (ignore === 'either_value_is_missing') return `${a} IS NOT NULL AND ${b} IS NOT NULL`;
  if (ignore === 'neither') return 'TRUE';
  return `NOT (${a} IS NULL AND ${b} IS NULL)`;
}

function multiDomain(columns: readonly string[], ignore: string | undefined): string {
  if (ignore === 'any_value_is_missing') return columns.map((c) => `${c} IS NOT NULL`).join(' AND ');
  if (ignore === 'never') return 'TRUE';
  return `NOT (${columns.map((c) => `${c} IS NULL`).join(' AND ')})`;
}

function otherTable(scope: RuleScope, name: string): string {
  const relation = scope.tables?.get(name);
  if (relation === undefined) {
    const known = [...(scope.tables?.keys() ?? [])];
    throw new SluiceError('DEFINITION_INVALID', `other table "${name}" is not available to this validation; known tables: ${known.join(', ') || '(none)'}`, { table: name });
  }
  return relation;
}

/**
 * The row rule of a map expectation, or null when the expectation is not row-level (aggregates, tables,
 * monotonicity, which depends on row order) or needs scope it was not given (a relation, other tables).
 */
export function rowRule(e: AnyValidExpectation, scope: RuleScope): RowRule | null {
  const cols = scope.columns;
  const columnRule = (column: string, unexpected: (x: string) => string): RowRule => {
    const x = cols.ident(column);
    return { domain: `${x} IS NOT NULL`, unexpected: unexpected(x), reportsMissing: true, report: { kind: 'value', column: cols.require(column).name } };
  };
  switch (e.type) {
    case 'expect_column_values_to_not_be_null': {
      const x = cols.ident(e.kwargs.column);
      return { domain: 'TRUE', unexpected: `${x} IS NULL`, reportsMissing: false, report: { kind: 'value', column: cols.require(e.kwargs.column).name }, countSql: `count(*) - count(${x})` };
    }
    case 'expect_column_values_to_be_null': {
      const x = cols.ident(e.kwargs.column);
      return { domain: 'TRUE', unexpected: `${x} IS NOT NULL`, reportsMissing: false, report: { kind: 'value', column: cols.require(e.kwargs.column).name }, countSql: `count(${x})` };
    }
    case 'expect_column_values_to_be_between': {
      const k = e.kwargs;
      const parse = k.parse_strings_as_datetimes === true && isStringType(cols.type(k.column));
      const type = parse ? 'TIMESTAMP' : cols.type(k.column);
      const lo = bound(k.min_value, scope, 'min_value', type);
      const hi = bound(k.max_value, scope, 'max_value', type);
      if (parse) return columnRule(k.column, (x) => `NOT coalesce(${within(parsedTimestamps(x), lo, hi, k.strict_min ?? false, k.strict_max ?? false)}, FALSE)`);
      if (k.allow_cross_type_comparisons === true && isStringType(type) && (typeof k.min_value === 'number' || typeof k.max_value === 'number')) {
        // Compared as numbers where the value reads as one; a value that does not is out of range.
        const numeric = (x: string): string => `try_cast(${x} AS DOUBLE)`;
        return columnRule(k.column, (x) => `NOT coalesce(${within(numeric(x), lo, hi, k.strict_min ?? false, k.strict_max ?? false)}, FALSE)`);
      }
      return columnRule(k.column, (x) => `NOT (${within(x, lo, hi, k.strict_min ?? false, k.strict_max ?? false)})`);
    }
    case 'expect_column_values_to_be_in_set':
      return columnRule(e.kwargs.column, (x) => (e.kwargs.value_set === null ? 'FALSE' : `NOT (${inList(x, e.kwargs.value_set, setRenderer(cols.type(e.kwargs.column)))})`));
    case 'expect_column_values_to_not_be_in_set':
      return columnRule(e.kwargs.column, (x) => inList(x, e.kwargs.value_set ?? [], setRenderer(cols.type(e.kwargs.column))));
    case 'expect_column_values_to_be_unique': {
      if (scope.relation === undefined) return null;
      const relation = scope.relation;
      return columnRule(e.kwargs.column, (x) => `${x} IN (SELECT ${x} FROM ${relation} WHERE ${x} IS NOT NULL GROUP BY ${x} HAVING count(*) > 1)`);
    }
    case 'expect_column_values_to_match_regex':
      return columnRule(e.kwargs.column, (x) => `NOT ${regex(x, e.kwargs.regex)}`);
    case 'expect_column_values_to_not_match_regex':
      return columnRule(e.kwargs.column, (x) => regex(x, e.kwargs.regex));
    case 'expect_column_values_to_match_regex_list': {
      const joiner = e.kwargs.match_on === 'all' ? ' AND ' : ' OR ';
      return columnRule(e.kwargs.column, (x) => `NOT (${e.kwargs.regex_list.map((r) => regex(x, r)).join(joiner)})`);
    }
    case 'expect_column_values_to_not_match_regex_list':
      return columnRule(e.kwargs.column, (x) => `(${e.kwargs.regex_list.map((r) => regex(x, r)).join(' OR ')})`);
    case 'expect_column_values_to_match_like_pattern':
      return columnRule(e.kwargs.column, (x) => `NOT (${like(x, e.kwargs.like_pattern)})`);
    case 'expect_column_values_to_not_match_like_pattern':
      return columnRule(e.kwargs.column, (x) => like(x, e.kwargs.like_pattern));
    case 'expect_column_values_to_match_like_pattern_list': {
      const joiner = e.kwargs.match_on === 'all' ? ' AND ' : ' OR ';
      return columnRule(e.kwargs.column, (x) => `NOT (${e.kwargs.like_pattern_list.map((p) => like(x, p)).join(joiner)})`);
    }
    case 'expect_column_values_to_not_match_like_pattern_list':
      return columnRule(e.kwargs.column, (x) => `(${e.kwargs.like_pattern_list.map((p) => like(x, p)).join(' OR ')})`);
    case 'expect_column_value_lengths_to_be_between': {
      const lo = bound(e.kwargs.min_value, scope, 'min_value');
      const hi = bound(e.kwargs.max_value, scope, 'max_value');
      return columnRule(e.kwargs.column, (x) => `NOT (${within(`length(${x})`, lo, hi, false, false)})`);
    }
    case 'expect_column_value_lengths_to_equal': {
      const value = bound(e.kwargs.value, scope, 'value');
      return columnRule(e.kwargs.column, (x) => `length(${x}) <> ${value ?? 'NULL'}`);
    }
    case 'expect_column_values_to_match_strftime_format':
      return columnRule(e.kwargs.column, (x) => `try_strptime(${x}, ${quoteLiteral(e.kwargs.strftime_format)}) IS NULL`);
    case 'expect_column_values_to_be_dateutil_parseable':
      return columnRule(e.kwargs.column, (x) => `NOT ${dateutilParseable(x)}`);
    case 'expect_column_values_to_match_json_schema':
      return columnRule(e.kwargs.column, (x) => `NOT (${jsonSchemaPredicate(x, e.kwargs.json_schema)})`);
    case 'expect_column_value_z_scores_to_be_less_than': {
      const x0 = cols.ident(e.kwargs.column);
      const stats = scope.stats ?? (scope.relation === undefined ? undefined : {
        mean: `(SELECT avg(${x0}) FROM ${scope.relation})`,
        stddev: `(SELECT stddev_samp(${x0}) FROM ${scope.relation})`,
      });
      if (stats === undefined) return null;
      const z = `((${x0} - ${stats.mean}) / ${stats.stddev})`;
      const threshold = sqlLiteral(e.kwargs.threshold);
      return columnRule(e.kwargs.column, () => (e.kwargs.double_sided === true ? `NOT (abs(${z}) < ${threshold})` : `NOT (${z} < ${threshold})`));
    }
    case 'expect_column_values_to_be_in_other_table': {
      if (scope.tables === undefined) return null;
      const other = otherTable(scope, e.kwargs.other_table);
      const otherColumn = quoteIdent(e.kwargs.other_column ?? e.kwargs.column);
      // Qualified, so that a column missing from the other table is an error, never the outer row's column.
      return columnRule(e.kwargs.column, (x) => `${x} NOT IN (SELECT o.${otherColumn} FROM ${other} AS o WHERE o.${otherColumn} IS NOT NULL)`);
    }
    case 'expect_row_condition_to_hold':
      // SQL CHECK semantics: a condition that is NULL for a row (e.g. `amount > 0` with amount NULL) holds.
      return { domain: 'TRUE', unexpected: `NOT coalesce((${e.kwargs.condition}), TRUE)`, reportsMissing: true, report: { kind: 'row' } };
    case 'expect_column_pair_values_to_be_equal':
    case 'expect_column_pair_values_a_to_be_greater_than_b':
    case 'expect_column_pair_values_to_be_in_set': {
      const a = cols.ident(e.kwargs.column_A);
      const b = cols.ident(e.kwargs.column_B);
      let holds: string;
      if (e.type === 'expect_column_pair_values_to_be_equal') holds = `${a} = ${b}`;
      else if (e.type === 'expect_column_pair_values_a_to_be_greater_than_b') holds = `${a} ${e.kwargs.or_equal === true ? '>=' : '>'} ${b}`;
      else holds = e.kwargs.value_pairs_set.map(([va, vb]) => `(${a} = ${sqlLiteral(va)} AND ${b} = ${sqlLiteral(vb)})`).join(' OR ') || 'FALSE';
      const names = [cols.require(e.kwargs.column_A).name, cols.require(e.kwargs.column_B).name];
      // GX's pair conditions are CASE WHEN ... THEN TRUE ELSE FALSE: a comparison with NULL is a violation.
      return { domain: pairDomain(a, b, e.kwargs.ignore_row_if), unexpected: `NOT coalesce(${holds}, FALSE)`, reportsMissing: true, report: { kind: 'tuple', columns: names } };
    }
    case 'expect_multicolumn_sum_to_equal':
    case 'expect_select_column_values_to_be_unique_within_record':
    case 'expect_compound_columns_to_be_unique': {
      const idents = e.kwargs.column_list.map((c) => cols.ident(c));
      const names = e.kwargs.column_list.map((c) => cols.require(c).name);
      const domain = multiDomain(idents, e.kwargs.ignore_row_if);
      let unexpected: string;
      if (e.type === 'expect_multicolumn_sum_to_equal') {
        unexpected = `NOT ((${idents.join(' + ')}) = ${sqlLiteral(e.kwargs.sum_total)})`;
      } else if (e.type === 'expect_select_column_values_to_be_unique_within_record') {
        const pairs = idents.flatMap((a, i) => idents.slice(i + 1).map((b) => `${a} <> ${b}`));
        unexpected = pairs.length === 0 ? 'FALSE' : `NOT (${pairs.join(' AND ')})`;
      } else {
        if (scope.relation === undefined) return null;
        // Equality, as GX's SQL join: a row with a NULL in any of the columns is never a duplicate.
        const row = `row(${idents.join(', ')})`;
        const present = idents.map((c) => `${c} IS NOT NULL`).join(' AND ');
        unexpected = `${present} AND ${row} IN (SELECT ${row} FROM ${scope.relation} WHERE (${domain}) AND ${present} GROUP BY ALL HAVING count(*) > 1)`;
      }
      return { domain, unexpected, reportsMissing: true, report: { kind: 'dict', columns: names } };
    }
    default:
      return null;
  }
}
