// Expectations: builders and GX's JSON suite form, load-time validation, result formats, sluice's own types
// (freshness, referential integrity, row count vs previous, row conditions, schema), and the one-pass property.
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { Engine, type Session } from '../src/engine/engine.ts';
import { SluiceError } from '../src/errors.ts';
import { expect as ex, parseDuration, parseSuite, suite, type ExpectationConfig, type ResultFormatSpec, type Suite } from '../src/define/expect.ts';
import type { QuerySession } from '../src/quality/aggregate-pass.ts';
import type { ExpectationResult, QualityContext } from '../src/quality/types.ts';
import { unexpectedRowPredicate, validateSuite } from '../src/quality/validate.ts';
import { thrownSluiceError } from './helpers/errors.ts';

const error = thrownSluiceError;

let engine: Engine;
let session: Session;

// 100 orders generated in SQL (deterministic): every 10th user_id is NULL, amounts 0.5..49.5, one order
// (id 100) for a customer missing from `customers`, one (id 50) whose end_date is before its start_date.
const SETUP = `
  CREATE TABLE orders AS
  SELECT i AS id,
         CASE WHEN i % 10 = 0 THEN NULL ELSE 'u' || (i % 7) END AS user_id,
         ((i % 50) + 0.5)::DOUBLE AS amount,
         CASE WHEN i = 100 THEN 'c999' ELSE 'c' || (i % 20) END AS customer_id,
         DATE '2024-01-01' + INTERVAL (i % 30) DAY AS start_date,
         DATE '2024-01-01' + INTERVAL (i % 30 + CASE WHEN i = 50 THEN -1 ELSE 1 END) DAY AS end_date,
         TIMESTAMP '2024-03-01 00:00:00' + INTERVAL (i) MINUTE AS updated_at,
         CASE i % 3 WHEN 0 THEN 'web' WHEN 1 THEN 'app' ELSE 'store' END AS channel,
         '{"sku": "A' || i || '", "qty": ' || (i % 4) || '}' AS payload
  FROM range(1, 101) t(i);
  CREATE TABLE customers AS SELECT 'c' || i AS customer_id FROM range(0, 20) t(i);
  CREATE TABLE orders_previous AS SELECT * FROM orders WHERE id <= 95;
`;

beforeAll(async () => {
  engine = await Engine.open({ threads: 2 });
  session = await engine.session();
  await session.run(SETUP);
});

afterAll(() => {
  session.close();
  engine.close();
});

async function run(s: Suite, context: QualityContext = {}, relation = '"orders"'): Promise<readonly ExpectationResult[]> {
  return (await validateSuite(session, relation, s, context)).results;
}

async function one(config: ExpectationConfig, context: QualityContext = {}): Promise<ExpectationResult> {
  const [result] = await run(suite('one', [config]), context);
  if (result === undefined) throw new Error('no result');
  return result;
}

describe('builders and JSON suites', () => {
  it('name the closest builder for a misspelt one, and list the valid options for an unknown option', () => {
    const typo = thrownSluiceError(() => (ex as unknown as Record<string, () => unknown>)['columnMeanBetween']?.());
    expect(typo.code).toBe('DEFINITION_INVALID');
    expect(typo.message).toContain('expect.columnMeanBetween is not an expectation (did you mean "columnMeanToBeBetween"?)');
    const option = thrownSluiceError(() => ex.columnMeanToBeBetween('x', { min: 1 } as never));
    expect(option.message).toContain('expect.columnMeanToBeBetween: unknown option "min"; its options: minValue, maxValue, strictMin, strictMax');
  });

  it('build the same frozen configuration as GX JSON, camelCase options mapped to snake_case kwargs', () => {
    const built = suite('orders', [
      ex.columnValuesToNotBeNull('user_id', { mostly: 0.99 }),
      ex.columnValuesToBeBetween('amount', { minValue: 0, maxValue: 120, strictMin: true }),
      ex.tableRowCountToBeBetween({ minValue: 1, severity: 'warn' }),
      ex.columnPairValuesAToBeGreaterThanB('end_date', 'start_date', { orEqual: true }),
      ex.compoundColumnsToBeUnique(['id', 'channel']),
      ex.columnValuesToBeOfType('id', { type: 'BIGINT' }),
      ex.unexpectedRows({ unexpectedRowsQuery: 'SELECT * FROM {batch} WHERE amount < 0' }),
    ]);
    const json = parseSuite(JSON.stringify({
      name: 'orders',
      expectations: [
        { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'user_id', mostly: 0.99 } },
        { type: 'expect_column_values_to_be_between', kwargs: { column: 'amount', min_value: 0, max_value: 120, strict_min: true }, meta: { severity: 'error' } },
        { type: 'expect_table_row_count_to_be_between', kwargs: { min_value: 1 }, meta: { severity: 'warn' } },
        { type: 'expect_column_pair_values_a_to_be_greater_than_b', kwargs: { column_A: 'end_date', column_B: 'start_date', or_equal: true } },
        { type: 'expect_compound_columns_to_be_unique', kwargs: { column_list: ['id', 'channel'] } },
        { type: 'expect_column_values_to_be_of_type', kwargs: { column: 'id', type_: 'BIGINT' } },
        { type: 'unexpected_rows_expectation', kwargs: { unexpected_rows_query: 'SELECT * FROM {batch} WHERE amount < 0' } },
      ],
    }), 'suites/orders.json');
    expect(built).toEqual(json);
    expect(built.expectations[0]).toEqual({ type: 'expect_column_values_to_not_be_null', kwargs: { column: 'user_id', mostly: 0.99 }, meta: { severity: 'error' } });
    expect(built.expectations[2]?.meta?.severity).toBe('warn');
    expect(Object.isFrozen(built)).toBe(true);
    expect(Object.isFrozen(built.expectations[1])).toBe(true);
    expect(Object.isFrozen(built.expectations[1]?.kwargs)).toBe(true);
  });

  it('accept GX\'s older keys (expectation_suite_name, expectation_type)', () => {
    const s = parseSuite({ expectation_suite_name: 'old', expectations: [{ expectation_type: 'expect_table_row_count_to_equal', kwargs: { value: 3 } }] });
    expect(s.name).toBe('old');
    expect(s.expectations[0]?.type).toBe('expect_table_row_count_to_equal');
  });

  it('type their arguments', () => {
    // Two call forms (columns positionally, or all in one object), so the parameters are a union of both.
    expectTypeOf(ex.columnValuesToBeBetween).toBeCallableWith('a', { minValue: 1 });
    expectTypeOf(ex.columnValuesToBeBetween).toBeCallableWith({ column: 'a', minValue: 1 });
    expectTypeOf<Parameters<typeof ex.columnPairValuesToBeEqual>[1]>().toEqualTypeOf<string>();
    // @ts-expect-error a column is a string
    expectTypeOf(ex.columnPairValuesToBeEqual).toBeCallableWith('a', 2);
    // @ts-expect-error minValue is not a string option of this builder: tsc (part of the test command) fails if this compiles.
    expect(() => ex.tableRowCountToBeBetween({ minValue: 'many' })).toThrow(SluiceError);
  });
});

describe('builders with columns: positional or one options object', () => {
  it('take the columns in an options object, camelCase of their GX names, as well as positionally', () => {
    const same = (objectForm: ExpectationConfig, positional: ExpectationConfig): void => expect(objectForm).toEqual(positional);
    same(ex.columnPairValuesAToBeGreaterThanB({ columnA: 'end_date', columnB: 'start_date', orEqual: true }),
      ex.columnPairValuesAToBeGreaterThanB('end_date', 'start_date', { orEqual: true }));
    same(ex.columnPairValuesToBeEqual({ columnA: 'a', columnB: 'b', ignoreRowIf: 'either_value_is_missing', severity: 'warn' }),
      ex.columnPairValuesToBeEqual('a', 'b', { ignoreRowIf: 'either_value_is_missing', severity: 'warn' }));
    same(ex.columnPairValuesToBeInSet({ columnA: 'a', columnB: 'b', valuePairsSet: [[1, 2]] }), ex.columnPairValuesToBeInSet('a', 'b', { valuePairsSet: [[1, 2]] }));
    same(ex.compoundColumnsToBeUnique({ columnList: ['id', 'channel'], mostly: 0.9 }), ex.compoundColumnsToBeUnique(['id', 'channel'], { mostly: 0.9 }));
    same(ex.multicolumnSumToEqual({ columnList: ['a', 'c'], sumTotal: 4 }), ex.multicolumnSumToEqual(['a', 'c'], { sumTotal: 4 }));
    same(ex.selectColumnValuesToBeUniqueWithinRecord({ columnList: ['a', 'b'] }), ex.selectColumnValuesToBeUniqueWithinRecord(['a', 'b']));
    // Single-column builders take the same form (one rule for every builder with columns).
    same(ex.columnValuesToBeBetween({ column: 'amount', minValue: 0 }), ex.columnValuesToBeBetween('amount', { minValue: 0 }));
    expect(ex.columnPairValuesAToBeGreaterThanB({ columnA: 'end_date', columnB: 'start_date', orEqual: true }).kwargs)
      .toEqual({ column_A: 'end_date', column_B: 'start_date', or_equal: true });
    expectTypeOf(ex.columnPairValuesAToBeGreaterThanB).toBeCallableWith({ columnA: 'a', columnB: 'b', orEqual: true });
    expectTypeOf(ex.multicolumnSumToEqual).toBeCallableWith({ columnList: ['a'], sumTotal: 1 });
  });

  it('run the same in a suite: the object form checks what the positional form checks', async () => {
    const [objectForm, positional] = await run(suite('pair', [
      ex.columnPairValuesAToBeGreaterThanB({ columnA: 'end_date', columnB: 'start_date' }),
      ex.columnPairValuesAToBeGreaterThanB('end_date', 'start_date'),
    ]));
    expect(objectForm?.success).toBe(false);
    expect(objectForm?.result).toEqual(positional?.result);
  });

  it('name the signature on a wrong call, for every pair and multi-column builder', () => {
    const signature = 'expect.columnPairValuesAToBeGreaterThanB(columnA, columnB, options?) or ({ columnA, columnB, ... })';
    const cases: (() => unknown)[] = [
      () => ex.columnPairValuesAToBeGreaterThanB({ columnA: 'a', orEqual: true } as never), // columnB missing
      () => ex.columnPairValuesAToBeGreaterThanB('a', 2 as never),
      () => ex.columnPairValuesAToBeGreaterThanB({ columnA: 'a', columnB: 'b' } as never, { orEqual: true } as never), // both forms at once
      () => ex.columnPairValuesAToBeGreaterThanB('a', 'b', { columnA: 'c' } as never),
      () => ex.columnPairValuesAToBeGreaterThanB({ columA: 'a', columnB: 'b' } as never),
    ];
    for (const call of cases) {
      const e = error(call);
      expect(e.code).toBe('DEFINITION_INVALID');
      expect(e.message).toContain(signature);
      expect(e.context['expectation']).toBe('expect_column_pair_values_a_to_be_greater_than_b');
    }
    expect(error(cases[0] as () => unknown).message).toContain('missing required argument "column_B"');
    expect(error(cases[4] as () => unknown).message).toContain('unknown option "columA" (did you mean "columnA"?)');
    // A required option shows in the signature.
    expect(error(() => ex.multicolumnSumToEqual({ columnList: ['a'] } as never)).message)
      .toContain('expect.multicolumnSumToEqual(columnList, { sumTotal, ... }) or ({ columnList, sumTotal, ... })');
    const builders = ex as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of ['columnPairValuesToBeEqual', 'columnPairValuesAToBeGreaterThanB', 'columnPairValuesToBeInSet']) {
      expect(error(() => builders[name]?.({ columnB: 'b' })).message).toMatch(new RegExp(`expect\\.${name}\\(columnA, columnB, .*\\) or \\(\\{ columnA, columnB, .*\\.\\.\\. \\}\\)`));
    }
    for (const name of ['compoundColumnsToBeUnique', 'multicolumnSumToEqual', 'selectColumnValuesToBeUniqueWithinRecord']) {
      expect(error(() => builders[name]?.('a')).message).toMatch(new RegExp(`expect\\.${name}\\(columnList, .*\\) or \\(\\{ columnList, .*\\.\\.\\. \\}\\)`));
    }
  });
});

describe('load-time errors', () => {
  it('name an unknown expectation type, its index, and the close name', () => {
    const e = error(() => parseSuite({ name: 's', expectations: [{ type: 'expect_table_row_count_to_equal', kwargs: { value: 1 } }, { type: 'expect_column_values_to_be_betwen', kwargs: { column: 'a' } }] }, 'checks.json'));
    expect(e.code).toBe('DEFINITION_INVALID');
    expect(e.message).toContain('suite "s" (checks.json): expectations[1]');
    expect(e.message).toContain('unknown expectation type "expect_column_values_to_be_betwen" (did you mean "expect_column_values_to_be_between"?)');
  });

  it('name a wrong argument type, an unknown argument and a missing one', () => {
    const wrongType = error(() => parseSuite({ name: 's', expectations: [{ type: 'expect_column_values_to_not_be_null', kwargs: { column: 'a', mostly: 'most' } }] }));
    expect(wrongType.message).toContain('expectations[0] (expect_column_values_to_not_be_null): argument "mostly"');
    expect(wrongType.context['argument']).toBe('mostly');
    const outOfRange = error(() => parseSuite({ name: 's', expectations: [{ type: 'expect_column_values_to_not_be_null', kwargs: { column: 'a', mostly: 1.5 } }] }));
    expect(outOfRange.message).toContain('less than or equal to 1');
    const unknown = error(() => parseSuite({ name: 's', expectations: [{ type: 'expect_column_values_to_be_between', kwargs: { column: 'a', min_val: 1 } }] }));
    expect(unknown.message).toContain('unknown argument "min_val" (did you mean "min_value"?)');
    const missing = error(() => parseSuite({ name: 's', expectations: [{ type: 'expect_column_values_to_be_between', kwargs: { min_value: 1 } }] }));
    expect(missing.message).toContain('missing required argument "column"');
    const bounds = error(() => ex.columnValuesToBeBetween('a', { minValue: 10, maxValue: 1 }));
    expect(bounds.message).toContain('min_value (10) is greater than max_value (1)');
  });

  it('reject a misspelled builder option with a suggestion, and invalid JSON', () => {
    const e = error(() => ex.columnValuesToBeBetween('a', { minVal: 1 } as never));
    expect(e.message).toContain('expect.columnValuesToBeBetween: unknown option "minVal" (did you mean "minValue"?)');
    expect(error(() => parseSuite('{"name": ', 'broken.json')).message).toContain('suite (broken.json) is not valid JSON');
  });

  it('read durations for freshness and reject unreadable ones', () => {
    expect(parseDuration('26h')).toBe(26 * 3600);
    expect(parseDuration('2d')).toBe(2 * 86400);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('PT1H30M')).toBe(5400);
    expect(parseDuration('P1DT2H')).toBe(93600);
    expect(parseDuration('soon')).toBeUndefined();
    expect(error(() => ex.columnMaxToBeWithinDurationOfNow('updated_at', { maxAge: '2 fortnights' })).message).toContain('"2 fortnights" is not a duration');
  });
});

describe('validation', () => {
  it('makes a missing column an exception for that expectation only, naming the columns that exist', async () => {
    const results = await run(suite('s', [ex.columnValuesToNotBeNull('usr_id'), ex.tableRowCountToEqual({ value: 100 })]));
    expect(results[0]?.success).toBe(false);
    expect(results[0]?.exception_info.raised_exception).toBe(true);
    expect(results[0]?.exception_info.exception_message).toContain('column "usr_id" does not exist; the columns are: id, user_id, amount');
    expect(results[1]?.success).toBe(true);
    expect(results[1]?.result.observed_value).toBe(100);
  });

  it('isolates an expression that fails in the one pass (a type mismatch) to its own expectation', async () => {
    const results = await run(suite('s', [ex.columnMeanToBeBetween('amount', { minValue: 0 }), ex.columnValuesToMatchRegex('id', { regex: '^1' }), ex.columnValuesToNotBeNull('id')]));
    expect(results.map((r) => r.exception_info.raised_exception)).toEqual([false, true, false]);
    expect(results[1]?.exception_info.exception_message).toContain('regexp_matches');
    expect(results[0]?.result.observed_value).toBe(25);
  });

  it('applies mostly to the non-null values', async () => {
    // 10 of 100 user_ids are NULL; of the 90 others, 13 are 'u0'.
    expect((await one(ex.columnValuesToNotBeNull('user_id', { mostly: 0.9 }))).success).toBe(true);
    expect((await one(ex.columnValuesToNotBeNull('user_id', { mostly: 0.91 }))).success).toBe(false);
    const notU0 = await one(ex.columnValuesToNotBeInSet('user_id', { valueSet: ['u0'], mostly: 0.85 }));
    expect(notU0.result.unexpected_count).toBe(13);
    expect(notU0.result.missing_count).toBe(10);
    expect(notU0.result.unexpected_percent).toBeCloseTo((13 / 90) * 100, 10);
    expect(notU0.success).toBe(true);
  });

  it('gives the keys of each result_format', async () => {
    const make = (resultFormat: ResultFormatSpec) => one(ex.columnValuesToBeInSet('channel', { valueSet: ['web', 'app'], resultFormat }));
    expect((await make('BOOLEAN_ONLY')).result).toEqual({});
    const basic = await make('BASIC');
    expect(Object.keys(basic.result).sort()).toEqual(['element_count', 'missing_count', 'missing_percent', 'partial_unexpected_list', 'unexpected_count', 'unexpected_percent', 'unexpected_percent_nonmissing', 'unexpected_percent_total']);
    expect(basic.result.partial_unexpected_list).toHaveLength(20);
    const summary = await make('SUMMARY');
    expect(summary.result.partial_unexpected_counts).toEqual([{ value: 'store', count: 20 }]);
    expect(summary.result.unexpected_list).toBeUndefined();
    const complete = await make('COMPLETE');
    expect(complete.result.unexpected_list).toHaveLength(33);
    // As GX: SUMMARY counts the partial list, COMPLETE the whole one.
    expect(complete.result.partial_unexpected_counts).toEqual([{ value: 'store', count: 33 }]);
    const dict = await make({ result_format: 'COMPLETE', partial_unexpected_count: 3 });
    expect(dict.result.partial_unexpected_list).toEqual(['store', 'store', 'store']);
    expect(dict.result.unexpected_list).toHaveLength(33);
    const aggregate = await one(ex.columnMaxToBeBetween('amount', { maxValue: 10, resultFormat: 'SUMMARY' }));
    expect(aggregate.result).toEqual({ observed_value: 49.5, element_count: 100, missing_count: null, missing_percent: null });
  });

  it('takes the default result_format from the options, and GX JSON results survive a round trip', async () => {
    const validation = await validateSuite(session, '"orders"', suite('s', [ex.columnValuesToBeInSet('channel', { valueSet: ['web'] })]), {}, { resultFormat: 'COMPLETE' });
    expect(validation.results[0]?.result.unexpected_list).toHaveLength(67);
    expect(validation.statistics).toEqual({ evaluated_expectations: 1, successful_expectations: 0, unsuccessful_expectations: 1, success_percent: 0 });
    expect(JSON.parse(JSON.stringify(validation))).toMatchObject({ success: false, suite_name: 's' });
  });

  it("applies GX's row_condition (its col() syntax, or SQL) to the rows an expectation sees", async () => {
    // Web orders among ids 1..30 are ids 3, 6, ..., 30: ten rows, amounts 3.5 .. 30.5.
    const web = ex.columnValuesToBeBetween('amount', { maxValue: 10, rowCondition: 'col("channel") == "web" & col("id") <= 30' });
    const result = await one(web);
    expect(result.result.element_count).toBe(10);
    expect(result.result.unexpected_count).toBe(7);
    const sql = await one(ex.tableRowCountToEqual({ value: 9, rowCondition: 'id <= 9', conditionParser: 'sql' }));
    expect(sql.success).toBe(true);
    const columns = await session.describe('SELECT * FROM orders');
    const predicate = unexpectedRowPredicate(web, columns);
    const [row] = await session.query<{ n: bigint }>(`SELECT count(*) AS n FROM orders WHERE ${predicate ?? 'FALSE'}`);
    expect(Number(row?.n)).toBe(7);
    expect(error(() => ex.tableRowCountToEqual({ value: 1, rowCondition: 'channel == "web"' })).message).toContain('expected col("name")');
    expect(error(() => ex.tableRowCountToEqual({ value: 1, rowCondition: 'id > 1; DROP TABLE orders', conditionParser: 'sql' })).message).toContain('must not contain ";"');
  });

  it('gives the quarantine predicate of row-level expectations, null for aggregates', async () => {
    const columns = await session.describe('SELECT * FROM orders');
    const between = ex.columnValuesToBeBetween('amount', { maxValue: 40 });
    const predicate = unexpectedRowPredicate(between, columns);
    expect(predicate).not.toBeNull();
    const [row] = await session.query<{ n: bigint }>(`SELECT count(*) AS n FROM orders WHERE ${predicate ?? 'FALSE'}`);
    expect(Number(row?.n)).toBe((await one(between)).result.unexpected_count);
    expect(unexpectedRowPredicate(ex.columnMeanToBeBetween('amount', { maxValue: 1 }), columns)).toBeNull();
    expect(unexpectedRowPredicate(ex.columnValuesToBeIncreasing('id'), columns)).toBeNull();
    expect(unexpectedRowPredicate(ex.columnValuesToBeUnique('channel'), columns)).toBeNull();
    const unique = unexpectedRowPredicate(ex.columnValuesToBeUnique('channel'), columns, { relation: 'orders' });
    const [dups] = await session.query<{ n: bigint }>(`SELECT count(*) AS n FROM orders WHERE ${unique ?? 'FALSE'}`);
    expect(Number(dups?.n)).toBe(100);
    expect(() => unexpectedRowPredicate(ex.columnValuesToNotBeNull('nope'), columns)).toThrow('column "nope" does not exist');
  });
});

describe("sluice's own expectation types", () => {
  const now = new Date('2024-03-01T03:00:00Z');

  it('checks freshness against a fixed now or the partition end', async () => {
    // The newest updated_at is 2024-03-01 01:40, so at 03:00 the data is 1h20m old.
    const fresh = await one(ex.columnMaxToBeWithinDurationOfNow('updated_at', { maxAge: '1h30m' }), { now });
    expect(fresh.success).toBe(true);
    expect(fresh.result.observed_value).toBe('2024-03-01T01:40:00');
    expect(fresh.result.details).toMatchObject({ age_seconds: 4800, age: '1h20m', max_age_seconds: 5400 });
    expect((await one(ex.columnMaxToBeWithinDurationOfNow('updated_at', { maxAge: '1h' }), { now })).success).toBe(false);
    expect((await one(ex.columnMaxToBeWithinDurationOfNow('updated_at', { maxAge: 3600 * 24, relativeTo: 'partition_end' }), { now, partitionEnd: new Date('2024-03-02T00:00:00Z') })).success).toBe(true);
    const noEnd = await one(ex.columnMaxToBeWithinDurationOfNow('updated_at', { maxAge: '1d', relativeTo: 'partition_end' }), { now });
    expect(noEnd.exception_info.exception_message).toContain('QualityContext.partitionEnd');
  });

  it('finds orphans for referential integrity', async () => {
    const tables = new Map([['customers', '"customers"']]);
    const result = await one(ex.columnValuesToBeInOtherTable('customer_id', { otherTable: 'customers', resultFormat: 'COMPLETE' }), { tables });
    expect(result.success).toBe(false);
    expect(result.result.unexpected_count).toBe(1);
    expect(result.result.unexpected_list).toEqual(['c999']);
    expect((await one(ex.columnValuesToBeInOtherTable('customer_id', { otherTable: 'customers', mostly: 0.99 }), { tables })).success).toBe(true);
    const predicate = unexpectedRowPredicate(ex.columnValuesToBeInOtherTable('customer_id', { otherTable: 'customers' }), ['customer_id'], { context: { tables } });
    expect(await session.query(`SELECT id::INTEGER AS id FROM orders WHERE ${predicate ?? 'FALSE'}`)).toEqual([{ id: 100 }]);
    const unknown = await one(ex.columnValuesToBeInOtherTable('customer_id', { otherTable: 'clients' }), { tables });
    expect(unknown.exception_info.exception_message).toContain('other table "clients" is not available to this validation; known tables: customers');
    const badColumn = await one(ex.columnValuesToBeInOtherTable('customer_id', { otherTable: 'customers', otherColumn: 'id' }), { tables });
    expect(badColumn.exception_info.exception_message).toContain('column "id" does not exist in other table "customers"');
  });

  it('compares the row count with the previous version, and passes with a note without one', async () => {
    const first = await one(ex.tableRowCountToBeWithinPercentOfPrevious({ percent: 10 }));
    expect(first.success).toBe(true);
    expect(first.result.observed_value).toEqual({ current: 100, previous: null, change_percent: null, note: 'no previous version to compare with' });
    const within = await one(ex.tableRowCountToBeWithinPercentOfPrevious({ percent: 10 }), { previous: '"orders_previous"' });
    expect(within.success).toBe(true);
    expect((within.result.observed_value as { change_percent: number }).change_percent).toBeCloseTo(5.263, 3);
    expect((await one(ex.tableRowCountToBeWithinPercentOfPrevious({ percent: 5 }), { previous: '"orders_previous"' })).success).toBe(false);
  });

  it('checks business rules over a row, NULL holding as in SQL CHECK', async () => {
    const rule = await one(ex.rowConditionToHold({ condition: 'start_date < end_date', resultFormat: 'COMPLETE' }));
    expect(rule.success).toBe(false);
    expect(rule.result.unexpected_count).toBe(1);
    expect((rule.result.unexpected_list as { id: number }[])[0]?.id).toBe(50);
    // user_id IS NULL on 10 rows: the condition is NULL there, which holds.
    expect((await one(ex.rowConditionToHold({ condition: "user_id <> 'u0'", mostly: 0.85 }))).result.unexpected_count).toBe(13);
    expect((await one(ex.rowConditionToHold({ condition: 'amount > 0' }))).success).toBe(true);
  });

  it('rejects statement separators and comments in conditions at load, and bad SQL when compiling', async () => {
    expect(error(() => ex.rowConditionToHold({ condition: 'amount > 0; DROP TABLE orders' })).message).toContain('must not contain ";"');
    expect(error(() => ex.rowConditionToHold({ condition: 'amount > 0 -- always' })).message).toContain('must not contain "--"');
    expect(error(() => parseSuite({ name: 's', expectations: [{ type: 'expect_row_condition_to_hold', kwargs: { condition: 'amount /* x */ > 0' } }] })).message).toContain('must not contain "/*"');
    const unknownColumn = await one(ex.rowConditionToHold({ condition: 'amout > 0' }));
    expect(unknownColumn.exception_info.exception_message).toContain('condition "amout > 0" is not a valid SQL expression over this table\'s columns');
    const notBoolean = await one(ex.rowConditionToHold({ condition: 'amount + 1' }));
    expect(notBoolean.exception_info.exception_message).toContain('is DOUBLE, not a boolean expression');
    const aggregate = await one(ex.rowConditionToHold({ condition: 'sum(amount) > 0' }));
    expect(aggregate.exception_info.raised_exception).toBe(true);
  });

  it('reports added, removed and changed columns against a declared schema', async () => {
    const result = await one(ex.tableSchemaToMatch({ columns: { id: 'BIGINT', user_id: 'TEXT', amount: 'INTEGER', discount: 'DOUBLE' }, allowExtra: true }));
    expect(result.success).toBe(false);
    expect(result.result.observed_value).toEqual({
      added: [
        { column: 'customer_id', type: 'VARCHAR' }, { column: 'start_date', type: 'TIMESTAMP' }, { column: 'end_date', type: 'TIMESTAMP' },
        { column: 'updated_at', type: 'TIMESTAMP' }, { column: 'channel', type: 'VARCHAR' }, { column: 'payload', type: 'VARCHAR' },
      ],
      removed: [{ column: 'discount', type: 'DOUBLE' }],
      changed: [{ column: 'amount', expected_type: 'INTEGER', actual_type: 'DOUBLE' }],
    });
    const exact = await one(ex.tableSchemaToMatch({ columns: { id: 'int8', user_id: 'varchar', amount: 'double', customer_id: 'string', start_date: 'timestamp', end_date: 'datetime', updated_at: 'TIMESTAMP', channel: 'text', payload: 'VARCHAR' } }));
    expect(exact.success).toBe(true);
    expect((await one(ex.tableSchemaToMatch({ columns: { id: 'BIGINT' } }))).success).toBe(false);
    expect((await one(ex.tableSchemaToMatch({ columns: { id: 'BIGINT' }, allowExtra: true }))).success).toBe(true);
  });

  it('checks a null-rate threshold', async () => {
    const result = await one(ex.columnNullFractionToBeAtMost('user_id', { maxValue: 0.05 }));
    expect(result.success).toBe(false);
    expect(result.result.observed_value).toBe(0.1);
    expect((await one(ex.columnNullFractionToBeAtMost('user_id', { maxValue: 0.1 }))).success).toBe(true);
  });
});

describe('the one pass', () => {
  function counting(inner: Session): { session: QuerySession; queries: string[] } {
    const queries: string[] = [];
    return { queries, session: { query: (sql, params) => { queries.push(sql); return inner.query(sql, params); } } };
  }

  it('runs 30 passing map, aggregate and table expectations in one scan after one DESCRIBE', async () => {
    const expectations = [
      ex.columnValuesToNotBeNull('id'), ex.columnValuesToNotBeNull('amount'), ex.columnValuesToNotBeNull('customer_id', { mostly: 0.9 }),
      ex.columnValuesToBeBetween('amount', { minValue: 0, maxValue: 50 }), ex.columnValuesToBeBetween('id', { minValue: 1, maxValue: 100 }),
      ex.columnValuesToBeInSet('channel', { valueSet: ['web', 'app', 'store'] }), ex.columnValuesToNotBeInSet('channel', { valueSet: ['fax'] }),
      ex.columnValuesToBeUnique('id'), ex.columnValuesToMatchRegex('user_id', { regex: '^u[0-9]$' }), ex.columnValuesToNotMatchRegex('channel', { regex: '\\s' }),
      ex.columnValuesToMatchLikePattern('customer_id', { likePattern: 'c%' }), ex.columnValueLengthsToBeBetween('channel', { minValue: 3, maxValue: 5 }),
      ex.columnValuesToMatchJsonSchema('payload', { jsonSchema: { type: 'object', required: ['sku', 'qty'], properties: { qty: { type: 'integer', minimum: 0 } } } }),
      ex.columnPairValuesAToBeGreaterThanB('updated_at', 'start_date'), ex.compoundColumnsToBeUnique(['id', 'channel']),
      ex.columnMeanToBeBetween('amount', { minValue: 20, maxValue: 30 }), ex.columnMinToBeBetween('amount', { minValue: 0 }), ex.columnMaxToBeBetween('amount', { maxValue: 50 }),
      ex.columnSumToBeBetween('id', { minValue: 5050, maxValue: 5050 }), ex.columnStdevToBeBetween('amount', { minValue: 10, maxValue: 20 }),
      ex.columnMedianToBeBetween('amount', { minValue: 20, maxValue: 30 }), ex.columnQuantileValuesToBeBetween('amount', { quantileRanges: { quantiles: [0.1, 0.9], value_ranges: [[0, 10], [40, 50]] } }),
      ex.columnUniqueValueCountToBeBetween('channel', { minValue: 3, maxValue: 3 }), ex.columnProportionOfUniqueValuesToBeBetween('id', { minValue: 1 }),
      ex.columnDistinctValuesToBeInSet('channel', { valueSet: ['web', 'app', 'store'] }), ex.columnMostCommonValueToBeInSet('channel', { valueSet: ['app', 'store', 'web'], tiesOkay: true }),
      ex.tableRowCountToBeBetween({ minValue: 10 }), ex.tableColumnCountToEqual({ value: 9 }), ex.columnNullFractionToBeAtMost('user_id', { maxValue: 0.2 }),
      ex.columnValuesToBeOfType('id', { type: 'BIGINT' }),
    ];
    expect(expectations).toHaveLength(30);
    const { session: wrapped, queries } = counting(session);
    const validation = await validateSuite(wrapped, '"orders"', suite('thirty', expectations));
    const failed = validation.results.filter((r) => !r.success).map((r) => `${r.expectation_config.type}: ${JSON.stringify(r.result)} ${r.exception_info.exception_message ?? ''}`);
    expect(failed).toEqual([]);
    // Passing with no violation at all: nothing to sample, so DESCRIBE and the pass are all.
    expect(queries).toHaveLength(2);
    expect(queries[0]).toMatch(/^DESCRIBE/);
    expect(validation.meta['queries']).toBe(2);
  });

  it('fetches unexpected samples only for the expectations that have violations', async () => {
    const { session: wrapped, queries } = counting(session);
    await validateSuite(wrapped, '"orders"', suite('s', [
      ex.columnValuesToNotBeNull('id'), ex.columnValuesToBeBetween('amount', { maxValue: 40 }), ex.columnMeanToBeBetween('amount', { maxValue: 1 }),
      ex.columnValuesToBeBetween('amount', { maxValue: 40, resultFormat: 'BOOLEAN_ONLY' }),
    ]));
    // DESCRIBE, the pass, and one sample query: the failing BASIC between (not the passing one, not BOOLEAN_ONLY).
    expect(queries.filter((q) => q.includes('LIMIT 20'))).toHaveLength(1);
    expect(queries).toHaveLength(3);
  });
});
