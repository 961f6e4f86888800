// Table expectations: row counts on the one pass (other tables' counts as scalar subqueries in the same
// statement), column lists and the schema from the DESCRIBE done before compiling, unexpected-rows queries.
import { canonicalType } from '../../sql/types.ts';
import { resolveParameter } from '../evaluation-parameters.ts';
import { formatTableResult } from '../result-format.ts';
import { rowRule } from '../row-rules.ts';
import type { Finish, PlanInput } from '../plan.ts';
import { toJsonValue, toNumber } from '../values.ts';
import { planRule } from './map.ts';

function countWithin(value: number, min: unknown, max: unknown, strictMin = false, strictMax = false): boolean {
  if (typeof min === 'number' && (strictMin ? !(value > min) : !(value >= min))) return false;
  if (typeof max === 'number' && (strictMax ? !(value < max) : !(value <= max))) return false;
  return true;
}

export function planRowCount(input: PlanInput<'expect_table_row_count_to_be_between' | 'expect_table_row_count_to_equal'>): Finish {
  const rows = input.aggregate('count(*)');
  const now = input.env.now;
  return () => {
    const observed = toNumber(rows()) ?? 0;
    const k = input.kwargs as { min_value?: unknown; max_value?: unknown; strict_min?: boolean; strict_max?: boolean; value?: unknown };
    const success = input.expectation.type === 'expect_table_row_count_to_equal'
      ? observed === resolveParameter(k.value, now, 'value')
      : countWithin(observed, resolveParameter(k.min_value ?? null, now, 'min_value'), resolveParameter(k.max_value ?? null, now, 'max_value'), k.strict_min, k.strict_max);
    return Promise.resolve({ success, result: formatTableResult(input.format, observed) });
  };
}

function otherRelation<T extends 'expect_table_row_count_to_equal_other_table'>(input: PlanInput<T>, name: string): string {
  const relation = input.env.context.tables?.get(name);
  if (relation === undefined) {
    throw new Error(`other table "${name}" is not available to this validation; known tables: ${[...(input.env.context.tables?.keys() ?? [])].join(', ') || '(none)'}`);
  }
  return relation;
}

export function planRowCountOther(input: PlanInput<'expect_table_row_count_to_equal_other_table'>): Finish {
  const rows = input.aggregate('count(*)');
  const other = input.aggregate(`(SELECT count(*) FROM ${otherRelation(input, input.kwargs.other_table_name)})`);
  return () => {
    const self = toNumber(rows()) ?? 0;
    const count = toNumber(other()) ?? 0;
    return Promise.resolve({ success: self === count, result: formatTableResult(input.format, { self, other: count }) });
  };
}

export function planRowCountVsPrevious(input: PlanInput<'expect_table_row_count_to_be_within_percent_of_previous'>): Finish {
  const rows = input.aggregate('count(*)');
  const previous = input.env.context.previous;
  const before = previous === undefined ? undefined : input.aggregate(`(SELECT count(*) FROM ${previous})`);
  return () => {
    const current = toNumber(rows()) ?? 0;
    if (before === undefined) {
      return Promise.resolve({ success: true, result: formatTableResult(input.format, { current, previous: null, change_percent: null, note: 'no previous version to compare with' }) });
    }
    const prior = toNumber(before()) ?? 0;
    // From zero rows, any change is unbounded: it passes only if the table is still empty.
    const change = prior === 0 ? (current === 0 ? 0 : null) : ((current - prior) / prior) * 100;
    const success = change !== null && Math.abs(change) <= input.kwargs.percent;
    return Promise.resolve({ success, result: formatTableResult(input.format, { current, previous: prior, change_percent: change }) });
  };
}

export function planColumnCount(input: PlanInput<'expect_table_column_count_to_be_between' | 'expect_table_column_count_to_equal'>): Finish {
  const observed = input.env.columns.list.length;
  const k = input.kwargs as { min_value?: unknown; max_value?: unknown; strict_min?: boolean; strict_max?: boolean; value?: unknown };
  const now = input.env.now;
  const success = input.expectation.type === 'expect_table_column_count_to_equal'
    ? observed === resolveParameter(k.value, now, 'value')
    : countWithin(observed, resolveParameter(k.min_value ?? null, now, 'min_value'), resolveParameter(k.max_value ?? null, now, 'max_value'), k.strict_min, k.strict_max);
  return () => Promise.resolve({ success, result: formatTableResult(input.format, observed) });
}

export function planColumnsOrdered(input: PlanInput<'expect_table_columns_to_match_ordered_list'>): Finish {
  const actual = input.env.columns.list.map((c) => c.name);
  const expected = input.kwargs.column_list;
  if (expected === null) return () => Promise.resolve({ success: true, result: formatTableResult(input.format, actual) });
  const mismatched = Array.from({ length: Math.max(actual.length, expected.length) }, (_, i) => ({ 'Expected Column Position': i, Expected: expected[i] ?? null, Found: actual[i] ?? null }))
    .filter((m) => m.Expected !== m.Found);
  return () => Promise.resolve({ success: mismatched.length === 0, result: formatTableResult(input.format, actual, mismatched.length === 0 ? undefined : { mismatched }) });
}

export function planColumnsSet(input: PlanInput<'expect_table_columns_to_match_set'>): Finish {
  const actual = input.env.columns.list.map((c) => c.name);
  const exact = input.kwargs.exact_match ?? true;
  const set = input.kwargs.column_set;
  const observed = [...actual].sort();
  if (set === null && !exact) return () => Promise.resolve({ success: true, result: formatTableResult(input.format, observed) });
  const expected = new Set(set ?? []);
  const unexpected = observed.filter((c) => !expected.has(c));
  const missing = [...expected].filter((c) => !actual.includes(c)).sort();
  const mismatched: Record<string, string[]> = {};
  if (unexpected.length > 0) mismatched['unexpected'] = unexpected;
  if (missing.length > 0) mismatched['missing'] = missing;
  // With exact_match false, extra columns are fine; missing ones are not.
  const success = exact ? unexpected.length === 0 && missing.length === 0 : missing.length === 0;
  return () => Promise.resolve({ success, result: formatTableResult(input.format, observed, { mismatched }) });
}

export function planSchema(input: PlanInput<'expect_table_schema_to_match'>): Finish {
  const expected = Object.entries(input.kwargs.columns);
  const actual = input.env.columns;
  const removed = expected.filter(([name]) => actual.get(name) === undefined).map(([name, type]) => ({ column: name, type: canonicalType(type) }));
  const changed = expected.flatMap(([name, type]) => {
    const column = actual.get(name);
    return column !== undefined && canonicalType(column.type) !== canonicalType(type) ? [{ column: column.name, expected_type: canonicalType(type), actual_type: column.type }] : [];
  });
  const declared = new Set(expected.map(([name]) => actual.get(name)?.name ?? name));
  const added = actual.list.filter((c) => !declared.has(c.name)).map((c) => ({ column: c.name, type: c.type }));
  const success = removed.length === 0 && changed.length === 0 && (input.kwargs.allow_extra === true || added.length === 0);
  return () => Promise.resolve({ success, result: formatTableResult(input.format, { added, removed, changed }) });
}

export function planUnexpectedRows(input: PlanInput<'unexpected_rows_expectation'>): Finish {
  const query = input.kwargs.unexpected_rows_query.replaceAll('{batch}', input.env.relation).replaceAll('{active_batch}', input.env.relation);
  const count = input.aggregate(`(SELECT count(*) FROM (${query}))`);
  return async () => {
    const n = toNumber(count()) ?? 0;
    const observed = `${n} unexpected ${n === 1 ? 'row' : 'rows'}`;
    let rows: unknown[] = [];
    if (n > 0 && input.format.format !== 'BOOLEAN_ONLY') {
      const limit = input.format.format === 'COMPLETE' ? '' : ` LIMIT ${input.format.partialCount}`;
      rows = (await input.env.query(`SELECT * FROM (${query})${limit}`)).map((r) => toJsonValue(r));
    }
    return { success: n === 0, result: formatTableResult(input.format, observed, { unexpected_rows: rows }) };
  };
}

/** Row conditions are raw SQL: check that they bind against the relation and are boolean before the pass. */
export async function planRowCondition(input: PlanInput<'expect_row_condition_to_hold'>): Promise<Finish> {
  const { condition } = input.kwargs;
  let type: string | undefined;
  try {
    const [row] = await input.env.query(`DESCRIBE SELECT (${condition}) AS holds FROM ${input.env.relation} WHERE (${condition})`);
    type = String(row?.['column_type']);
  } catch (error) {
    throw new Error(`condition ${JSON.stringify(condition)} is not a valid SQL expression over this table's columns: ${(error as Error).message.split('\n')[0] ?? ''}`);
  }
  if (type !== 'BOOLEAN' && type !== '"NULL"' && type !== 'NULL') throw new Error(`condition ${JSON.stringify(condition)} is ${type}, not a boolean expression`);
  const rule = rowRule(input.expectation, input.scope);
  if (rule === null) throw new Error('internal: row condition rule');
  return planRule(input, rule, input.kwargs.mostly ?? 1);
}

/** Referential integrity: the other table and its column must exist (checked before the pass). */
export async function planOtherTable(input: PlanInput<'expect_column_values_to_be_in_other_table'>): Promise<Finish> {
  const { other_table: name, other_column: otherColumn = input.kwargs.column } = input.kwargs;
  const relation = input.env.context.tables?.get(name);
  if (relation === undefined) {
    throw new Error(`other table "${name}" is not available to this validation; known tables: ${[...(input.env.context.tables?.keys() ?? [])].join(', ') || '(none)'}`);
  }
  const columns = await input.env.describe(relation);
  if (!columns.some((c) => c.name === otherColumn || c.name.toLowerCase() === otherColumn.toLowerCase())) {
    throw new Error(`column "${otherColumn}" does not exist in other table "${name}"; its columns are: ${columns.map((c) => c.name).join(', ')}`);
  }
  const rule = rowRule(input.expectation, input.scope);
  if (rule === null) throw new Error('internal: referential integrity rule');
  return planRule(input, rule, input.kwargs.mostly ?? 1);
}
