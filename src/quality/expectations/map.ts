// Map (row-level) expectations: three counts on the one pass (rows, rows considered, violating rows), and an
// unexpected-sample query only when there are violations to show. Uniqueness folds into the pass as
// count(DISTINCT); z-scores and monotonicity need the pass's statistics or row order first, so they scan again.
import type { ExpectationType } from '../../define/expect.ts';
import { mapSuccess, formatMapResult, type MapCounts, type MapSamples } from '../result-format.ts';
import { parsedTimestamps, violationPredicate, rowRule, type RowRule } from '../row-rules.ts';
import { isStringType } from '../../sql/types.ts';
import { quoteIdent, sqlLiteral, toJsonValue, toNumber } from '../values.ts';
import type { Finish, Outcome, PlanInput } from '../plan.ts';
import { stdevSql } from './aggregate.ts';

const PREFIX = '__sluice_';

function countSql(rule: RowRule): string {
  const simple = /^("(?:[^"]|"")*") IS NOT NULL$/.exec(rule.domain);
  if (rule.domain === 'TRUE') return 'count(*)';
  return simple?.[1] !== undefined ? `count(${simple[1]})` : `count(*) FILTER (WHERE ${rule.domain})`;
}

/** Where a rule counts and samples from when not on the one pass: a relation and how to order its rows. */
interface Source {
  readonly relation: string;
  /** ORDER BY for samples; without one, DuckDB returns the first matches in insertion order. */
  readonly order?: string;
}

/** The unexpected values (and rows, index values) of a map expectation, fetched only when they will be shown. */
async function fetchSamples<T extends ExpectationType>(input: PlanInput<T>, where: string, rule: RowRule, unexpected: number, source: Source | undefined): Promise<MapSamples> {
  const { format, env } = input;
  const wantValues = !format.excludeUnexpectedValues;
  const wantIndex = format.indexColumns.length > 0 && (format.format === 'COMPLETE' || format.format === 'SUMMARY');
  const limit = format.format === 'COMPLETE' ? null : format.partialCount;
  if (format.format === 'BOOLEAN_ONLY' || unexpected === 0 || (limit === 0 && !format.includeUnexpectedRows) || (!wantValues && !wantIndex && !format.includeUnexpectedRows)) {
    return { values: [], indexList: wantIndex ? [] : null, rows: format.includeUnexpectedRows ? [] : null };
  }
  const reported = rule.report.kind === 'value' ? [rule.report.column] : rule.report.kind === 'row' ? [] : [...rule.report.columns];
  const select = [
    ...reported.map((c, i) => `${quoteIdent(c)} AS ${PREFIX}v${i}`),
    ...format.indexColumns.map((c, i) => `${env.columns.ident(c)} AS ${PREFIX}i${i}`),
  ];
  if (rule.report.kind === 'row' || format.includeUnexpectedRows || select.length === 0) select.push('*');
  // No ORDER BY: DuckDB keeps insertion order, and a LIMIT can then stop the scan at the first matches.
  const order = source?.order;
  const sql = `SELECT ${select.join(', ')} FROM ${source?.relation ?? env.relation} WHERE ${where}${order === undefined ? '' : ` ORDER BY ${order}`}${limit === null ? '' : ` LIMIT ${limit}`}`;
  const rows = await env.query(sql);
  const typeOf = (name: string): string | undefined => env.columns.get(name)?.type;
  const wholeRow = (row: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(
    Object.entries(row).filter(([k]) => !k.startsWith(PREFIX)).map(([k, v]) => [k, toJsonValue(v, typeOf(k))]),
  );
  const values = rows.map((row) => {
    const v = reported.map((c, i) => toJsonValue(row[`${PREFIX}v${i}`], typeOf(c)));
    switch (rule.report.kind) {
      case 'value': return v[0];
      case 'tuple': return v;
      case 'dict': return Object.fromEntries(reported.map((c, i) => [c, v[i]]));
      case 'row': return wholeRow(row);
    }
  });
  const indexList = wantIndex ? rows.map((row, r) => {
    const entry: Record<string, unknown> = {};
    format.indexColumns.forEach((c, i) => { entry[c] = toJsonValue(row[`${PREFIX}i${i}`], typeOf(c)); });
    if (rule.report.kind === 'value') entry[rule.report.column] = values[r];
    return entry;
  }) : null;
  return { values, indexList, rows: format.includeUnexpectedRows ? rows.map(wholeRow) : null };
}

interface Counters {
  readonly total: () => unknown;
  readonly considered: () => unknown;
}

/** Register a rule's row and domain counts on the one pass. */
function countRows<T extends ExpectationType>(input: PlanInput<T>, rule: RowRule): Counters {
  return { total: input.aggregate('count(*)'), considered: input.aggregate(countSql(rule)) };
}

/** The result of a rule once its unexpected count is known. */
async function complete<T extends ExpectationType>(input: PlanInput<T>, rule: RowRule, counters: Counters, unexpected: number, mostly: number, source?: Source): Promise<Outcome> {
  const counts: MapCounts = {
    elementCount: toNumber(counters.total()) ?? 0,
    nonnullCount: rule.reportsMissing ? toNumber(counters.considered()) ?? 0 : null,
    unexpectedCount: unexpected,
  };
  const samples = await fetchSamples(input, violationPredicate(rule), rule, unexpected, source);
  return { success: mapSuccess(counts, mostly), result: formatMapResult(input.format, counts, samples) };
}

/** Count violations on another source than the pass (z-scores against the pass's mean, monotonicity in row order). */
async function countOn<T extends ExpectationType>(input: PlanInput<T>, rule: RowRule, source: Source): Promise<number> {
  const [row] = await input.env.query(`SELECT count(*) AS n FROM ${source.relation} WHERE ${violationPredicate(rule)}`);
  return toNumber(row?.['n']) ?? 0;
}

/** Plan a row rule: all three counts on the one pass; samples only when there are violations to show. */
export function planRule<T extends ExpectationType>(input: PlanInput<T>, rule: RowRule, mostly: number): Finish {
  const counters = countRows(input, rule);
  // In a FILTER a NULL already counts as false: no coalesce needed on the pass.
  const unexpected = input.aggregate(rule.countSql ?? `count(*) FILTER (WHERE ${rule.domain === 'TRUE' ? '' : `${rule.domain} AND `}${rule.unexpected})`);
  return () => complete(input, rule, counters, toNumber(unexpected()) ?? 0, mostly);
}

/** Plan any expectation that has a row rule. */
export function planRowRule<T extends ExpectationType>(input: PlanInput<T>): Finish {
  const rule = rowRule(input.expectation as never, input.scope);
  if (rule === null) throw new Error(`internal: ${input.expectation.type} has no row rule`);
  return planRule(input, rule, (input.kwargs as { mostly?: number }).mostly ?? 1);
}

export function planUnique(input: PlanInput<'expect_column_values_to_be_unique'>): Finish {
  const x = input.env.columns.ident(input.kwargs.column);
  const rule = rowRule(input.expectation, input.scope);
  if (rule === null) throw new Error('internal: uniqueness needs the relation');
  const counters = countRows(input, rule);
  const distinct = input.aggregate(`count(DISTINCT ${x})`);
  return async () => {
    // As many distinct values as values means no duplicates: the passing case needs no second scan.
    let unexpected = 0;
    if (toNumber(counters.considered()) !== toNumber(distinct())) {
      const [row] = await input.env.query(`SELECT coalesce(sum(n), 0) AS n FROM (SELECT count(*) AS n FROM ${input.env.relation} WHERE ${x} IS NOT NULL GROUP BY ${x} HAVING count(*) > 1)`);
      unexpected = toNumber(row?.['n']) ?? 0;
    }
    return complete(input, rule, counters, unexpected, input.kwargs.mostly ?? 1);
  };
}

export function planCompoundUnique(input: PlanInput<'expect_compound_columns_to_be_unique'>): Finish {
  const rule = rowRule(input.expectation, input.scope);
  if (rule === null) throw new Error('internal: compound uniqueness needs the relation');
  const idents = input.kwargs.column_list.map((c) => input.env.columns.ident(c));
  const present = `(${rule.domain}) AND ${idents.map((c) => `${c} IS NOT NULL`).join(' AND ')}`;
  const counters = countRows(input, rule);
  const full = input.aggregate(`count(*) FILTER (WHERE ${present})`);
  const distinct = input.aggregate(`count(DISTINCT row(${idents.join(', ')})) FILTER (WHERE ${present})`);
  return async () => {
    let unexpected = 0;
    if (toNumber(full()) !== toNumber(distinct())) {
      const [row] = await input.env.query(`SELECT coalesce(sum(n), 0) AS n FROM (SELECT count(*) AS n FROM ${input.env.relation} WHERE ${present} GROUP BY ${idents.join(', ')} HAVING count(*) > 1)`);
      unexpected = toNumber(row?.['n']) ?? 0;
    }
    return complete(input, rule, counters, unexpected, input.kwargs.mostly ?? 1);
  };
}

export function planZScores(input: PlanInput<'expect_column_value_z_scores_to_be_less_than'>): Finish {
  const { column } = input.kwargs;
  const x = input.env.columns.ident(column);
  const domainOnly: RowRule = { domain: `${x} IS NOT NULL`, unexpected: 'FALSE', reportsMissing: true, report: { kind: 'value', column } };
  const counters = countRows(input, domainOnly);
  const mean = input.aggregate(`avg(${x})`);
  const stddev = input.aggregate(stdevSql(x, input.env.columns.type(column)));
  return async () => {
    if (toNumber(counters.considered()) === 0) return complete(input, domainOnly, counters, 0, 1);
    const m = toNumber(mean());
    const sd = toNumber(stddev());
    if (m === null || sd === null || sd === 0 || !Number.isFinite(sd)) {
      throw new Error(`z-scores of column "${column}" are undefined: its standard deviation is ${sd === null ? 'undefined (fewer than 2 values)' : String(sd)}`);
    }
    // The mean and deviation from the pass, as literals: one more scan, only for this expectation.
    const rule = rowRule(input.expectation, { ...input.scope, stats: { mean: sqlLiteral(m), stddev: sqlLiteral(sd) } });
    if (rule === null) throw new Error('internal: z-score rule');
    const source = { relation: input.env.relation };
    return complete(input, rule, counters, await countOn(input, rule, source), input.kwargs.mostly ?? 1, source);
  };
}

export function planMonotonic(input: PlanInput<'expect_column_values_to_be_increasing' | 'expect_column_values_to_be_decreasing'>): Finish {
  const { column } = input.kwargs;
  const x = input.env.columns.ident(column);
  const increasing = input.expectation.type === 'expect_column_values_to_be_increasing';
  const op = increasing ? (input.kwargs.strictly === true ? '>' : '>=') : (input.kwargs.strictly === true ? '<' : '<=');
  const previous = `${PREFIX}previous`;
  const orderColumn = `${PREFIX}order`;
  // Each non-null value against the previous non-null value in row order (GX: the diff of the non-null series).
  const value = input.kwargs.parse_strings_as_datetimes === true && isStringType(input.env.columns.type(column)) ? parsedTimestamps(x) : x;
  const rule: RowRule = {
    domain: `${x} IS NOT NULL`,
    unexpected: `${previous} IS NOT NULL AND NOT (${value} ${op} ${previous})`,
    reportsMissing: true,
    report: { kind: 'value', column: input.env.columns.require(column).name },
  };
  const counters = countRows(input, rule);
  return async () => {
    const order = (await input.env.rowOrder()) ?? 'row_number() OVER ()';
    const relation = `(SELECT *, lag(${value}) OVER (ORDER BY ${orderColumn}) AS ${previous} FROM (SELECT *, ${order} AS ${orderColumn} FROM ${input.env.relation} WHERE ${x} IS NOT NULL))`;
    const source = { relation, order: orderColumn };
    return complete(input, rule, counters, await countOn(input, rule, source), input.kwargs.mostly ?? 1, source);
  };
}
