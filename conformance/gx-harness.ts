// Great Expectations conformance: runs GX's own test cases (a directory laid out like
// ../shared/conformance/gx: cases.jsonl and datasets/*.json) through sluice and compares the results the
// way that directory's README says. Each dataset becomes a DuckDB table typed as GX created it; each case
// is a one-expectation suite run with validateSuite.
//
// What is compared (from `expected`, or from `expected.result` when GX compares the whole result):
//   success; observed_value, unexpected_count, unexpected_percent, element_count, missing_count (numbers
//   within `tolerance`, absolute, else 1e-9 relative); unexpected_list and partial_unexpected_list as
//   multisets; missing_percent, unexpected_percent_total, unexpected_percent_nonmissing; details (every key
//   GX gives must match); and the GX-test-only keys value_counts (each entry present in details.value_counts),
//   observed_partition / expected_partition (equal to those in details) and observed_cdf_x_0_lt /
//   observed_cdf_x_-1_gt (bounds on details.observed_cdf.x).
// What is ignored, and why:
//   unexpected_index_list, partial_unexpected_index_list, unexpected_index_query: row positions (pk_index)
//     of a pandas index; a SQL relation has no index (sluice gives them only for columns named in
//     result_format.unexpected_index_column_names, which these cases do not use);
//   traceback_substring: GX's Python exception text; sluice's messages differ, so only the fact that the
//     expectation raised (exception_info.raised_exception) is checked;
//   an `expected` of {} (GX only requires that the expectation does not crash the run): nothing to compare.
import fs from 'node:fs/promises';
import path from 'node:path';
import { Engine, type Session } from '../src/engine/engine.ts';
import { SluiceError } from '../src/errors.ts';
import { parseSuite } from '../src/define/expect.ts';
import { quoteIdent, quoteLiteral } from '../src/sql/identifiers.ts';
import type { ExpectationResult } from '../src/quality/types.ts';
import { validateSuite } from '../src/quality/validate.ts';

export interface GxCase {
  readonly id: string;
  readonly expectation_type: string;
  readonly dataset: string;
  readonly kwargs: Record<string, unknown>;
  readonly expected: Record<string, unknown>;
  readonly exact_match_out: boolean;
  readonly tolerance: number | null;
}

export interface CaseOutcome {
  readonly id: string;
  readonly passed: boolean;
  readonly reasons: readonly string[];
  /** sluice's GX-style result for the case's expectation. */
  readonly result: unknown;
}

export interface ConformanceReport {
  readonly total: number;
  readonly passed: number;
  readonly failed: readonly string[];
  readonly outcomes: readonly CaseOutcome[];
}

/** JSON with Python's Infinity, -Infinity and NaN tokens (GX's partition objects use them). */
export function parsePythonJson(text: string): unknown {
  const marker = '__sluice_number__:';
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (inString) {
      out += ch;
      if (ch === '\\') { out += text[i + 1] ?? ''; i += 1; } else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') { inString = true; out += ch; continue; }
    const rest = text.slice(i, i + 9);
    const token = rest.startsWith('-Infinity') ? '-Infinity' : rest.startsWith('Infinity') ? 'Infinity' : rest.startsWith('NaN') ? 'NaN' : null;
    if (token !== null) { out += JSON.stringify(marker + token); i += token.length - 1; continue; }
    out += ch;
  }
  return JSON.parse(out, (_key, value: unknown) => (typeof value === 'string' && value.startsWith(marker) ? Number(value.slice(marker.length)) : value));
}

// ---------------------------------------------------------------------------------------------------------
// Loading datasets as GX created them (PostgreSQL types mapped to DuckDB; pandas' inference when untyped)
// ---------------------------------------------------------------------------------------------------------

const PG_TYPES: Readonly<Record<string, string>> = {
  INTEGER: 'INTEGER', INT: 'INTEGER', INT4: 'INTEGER', BIGINT: 'BIGINT', INT8: 'BIGINT', SMALLINT: 'SMALLINT', INT2: 'SMALLINT',
  // PostgreSQL NUMERIC is arbitrary precision; DuckDB's DECIMAL defaults to 3 decimals, so DOUBLE keeps the values.
  NUMERIC: 'DOUBLE', DECIMAL: 'DOUBLE', DOUBLE_PRECISION: 'DOUBLE', 'DOUBLE PRECISION': 'DOUBLE', FLOAT: 'DOUBLE', FLOAT8: 'DOUBLE', REAL: 'FLOAT', FLOAT4: 'FLOAT',
  TEXT: 'VARCHAR', VARCHAR: 'VARCHAR', CHAR: 'VARCHAR', STRING: 'VARCHAR', BOOLEAN: 'BOOLEAN', BOOL: 'BOOLEAN',
  TIMESTAMP: 'TIMESTAMP', DATETIME: 'TIMESTAMP', DATE: 'DATE', TIME: 'TIME',
};

export function duckdbType(schemaType: string): string {
  const upper = schemaType.trim().toUpperCase();
  const parameters = /^(NUMERIC|DECIMAL)\s*\((\d+)\s*,\s*(\d+)\)$/.exec(upper);
  if (parameters !== null) return `DECIMAL(${parameters[2] ?? '18'},${parameters[3] ?? '3'})`;
  const base = upper.replace(/\s*\(.*\)$/, '');
  const mapped = PG_TYPES[base];
  if (mapped === undefined) throw new Error(`unknown dataset column type "${schemaType}"`);
  return mapped;
}

/**
 * pandas' dtype for a column, as to_sql creates it: int64 without nulls, float64 with them, object (TEXT)
 * otherwise. One difference cannot be reproduced: JSON.parse reads 2.0 as 2, so a number in a mixed (TEXT)
 * column is written '2' where pandas would write '2.0'.
 */
export function inferType(values: readonly unknown[]): string {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) return 'VARCHAR';
  if (present.every((v) => typeof v === 'boolean')) return 'BOOLEAN';
  if (present.every((v) => typeof v === 'number')) return present.length === values.length && present.every((v) => Number.isInteger(v)) ? 'BIGINT' : 'DOUBLE';
  return 'VARCHAR';
}

function pythonText(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'string') return value;
  return String(value);
}

const TIMESTAMP_FORMATS = ['%b %d %Y %H:%M:%S', '%m/%d/%Y', '%m/%d/%Y %H:%M:%S', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d'];

function valueSql(value: unknown, type: string): string {
  if (value === null || value === undefined) return 'NULL';
  const text = quoteLiteral(pythonText(value));
  if (type === 'TIMESTAMP') return `coalesce(try_cast(${text} AS TIMESTAMP), try_strptime(${text}, [${TIMESTAMP_FORMATS.map(quoteLiteral).join(', ')}]))`;
  if (type === 'DATE') return `coalesce(try_cast(${text} AS DATE), CAST(try_strptime(${text}, [${TIMESTAMP_FORMATS.map(quoteLiteral).join(', ')}]) AS DATE))`;
  return `CAST(${text} AS ${type})`;
}

async function loadTable(session: Session, name: string, columns: Record<string, unknown[]>, schema: Record<string, string> | null): Promise<void> {
  const names = Object.keys(columns);
  const types = names.map((c) => (schema?.[c] !== undefined ? duckdbType(schema[c]) : inferType(columns[c] ?? [])));
  const table = quoteIdent(name);
  await session.run(`CREATE OR REPLACE TABLE ${table} (${names.map((c, i) => `${quoteIdent(c)} ${types[i] ?? 'VARCHAR'}`).join(', ')})`);
  const rowCount = Math.max(0, ...names.map((c) => columns[c]?.length ?? 0));
  for (let start = 0; start < rowCount; start += 500) {
    const rows: string[] = [];
    for (let r = start; r < Math.min(rowCount, start + 500); r++) rows.push(`(${names.map((c, i) => valueSql(columns[c]?.[r], types[i] ?? 'VARCHAR')).join(', ')})`);
    await session.run(`INSERT INTO ${table} VALUES ${rows.join(', ')}`);
  }
}

interface DatasetFile {
  readonly columns: Record<string, unknown[]> | { dataset_name: string; data: Record<string, unknown[]> }[];
  readonly schema: Record<string, string> | null;
}

/** Load a dataset file; returns the table under test and every table it created (by name). */
async function loadDataset(session: Session, dir: string, dataset: string): Promise<{ table: string; tables: Map<string, string> }> {
  const file = parsePythonJson(await fs.readFile(path.join(dir, 'datasets', `${dataset}.json`), 'utf8')) as DatasetFile;
  const tables = new Map<string, string>();
  if (Array.isArray(file.columns)) {
    for (const part of file.columns) {
      await loadTable(session, part.dataset_name, part.data, file.schema);
      tables.set(part.dataset_name, quoteIdent(part.dataset_name));
    }
    const first = file.columns[0]?.dataset_name ?? dataset;
    return { table: first, tables };
  }
  await loadTable(session, dataset, file.columns, file.schema);
  tables.set(dataset, quoteIdent(dataset));
  return { table: dataset, tables };
}

// ---------------------------------------------------------------------------------------------------------
// Comparing a result with GX's expected output
// ---------------------------------------------------------------------------------------------------------

function numbersClose(a: number, b: number, tolerance: number | null): boolean {
  if (a === b) return true;
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  return tolerance !== null ? Math.abs(a - b) <= tolerance : Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

export function deepClose(actual: unknown, expected: unknown, tolerance: number | null): boolean {
  if (typeof expected === 'number' && typeof actual === 'number') return numbersClose(actual, expected, tolerance);
  if (expected === null || typeof expected !== 'object') return actual === expected;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => deepClose(actual[i], e, tolerance));
  }
  if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
  const a = actual as Record<string, unknown>;
  const e = expected as Record<string, unknown>;
  const keys = new Set([...Object.keys(a), ...Object.keys(e)]);
  return [...keys].every((k) => deepClose(a[k], e[k], tolerance));
}

/** Every key of `expected` present in `actual` with a close value (extra keys in `actual` are fine). */
function subsetClose(actual: unknown, expected: unknown, tolerance: number | null): boolean {
  if (expected === null || typeof expected !== 'object' || Array.isArray(expected)) return deepClose(actual, expected, tolerance);
  if (typeof actual !== 'object' || actual === null) return false;
  return Object.entries(expected).every(([k, v]) => subsetClose((actual as Record<string, unknown>)[k], v, tolerance));
}

function multisetEqual(actual: unknown, expected: unknown[]): boolean {
  if (!Array.isArray(actual) || actual.length !== expected.length) return false;
  const remaining: unknown[] = [...(actual as unknown[])];
  return expected.every((e) => {
    const at = remaining.findIndex((a) => deepClose(a, e, null));
    if (at < 0) return false;
    remaining.splice(at, 1);
    return true;
  });
}

type GxResult = ExpectationResult;

const NUMERIC_KEYS = ['observed_value', 'unexpected_count', 'unexpected_percent', 'element_count', 'missing_count', 'missing_percent', 'unexpected_percent_total', 'unexpected_percent_nonmissing'];
const IGNORED = new Set(['unexpected_index_list', 'partial_unexpected_index_list', 'unexpected_index_query', 'traceback_substring']);

export function compareCase(c: GxCase, actual: GxResult): string[] {
  const reasons: string[] = [];
  const expected = c.expected;
  const expectedResult = (c.exact_match_out && typeof expected['result'] === 'object' && expected['result'] !== null ? expected['result'] : {}) as Record<string, unknown>;
  const want = { ...expectedResult, ...Object.fromEntries(Object.entries(expected).filter(([k]) => k !== 'result' && k !== 'success')) };
  if ('success' in expected && actual.success !== expected['success']) reasons.push(`success: expected ${String(expected['success'])}, got ${String(actual.success)}`);
  if ('traceback_substring' in expected && !actual.exception_info.raised_exception) reasons.push(`expected an exception (${String(expected['traceback_substring'])}), none was raised`);
  const result = actual.result as Record<string, unknown>;
  const details = (result['details'] ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(want)) {
    if (IGNORED.has(key)) continue;
    if (NUMERIC_KEYS.includes(key)) {
      const tolerance = key === 'observed_value' ? c.tolerance : null;
      if (!deepClose(result[key], value, tolerance)) reasons.push(`${key}: expected ${JSON.stringify(value)}, got ${JSON.stringify(result[key])}`);
    } else if (key === 'unexpected_list' || key === 'partial_unexpected_list') {
      if (!multisetEqual(result[key], value as unknown[])) reasons.push(`${key}: expected ${JSON.stringify(value)}, got ${JSON.stringify(result[key])}`);
    } else if (key === 'details') {
      if (!subsetClose(result['details'], value, null)) reasons.push(`details: expected ${JSON.stringify(value)}, got ${JSON.stringify(result['details'])}`);
    } else if (key === 'value_counts') {
      const counts = (details['value_counts'] ?? []) as unknown[];
      for (const entry of value as unknown[]) if (!counts.some((x) => deepClose(x, entry, null))) reasons.push(`value_counts: missing ${JSON.stringify(entry)}`);
    } else if (key === 'observed_partition' || key === 'expected_partition') {
      if (!subsetClose(details[key], value, null)) reasons.push(`${key}: expected ${JSON.stringify(value)}, got ${JSON.stringify(details[key])}`);
    } else if (key.startsWith('observed_cdf')) {
      const xs = ((details['observed_cdf'] ?? {}) as { x?: number[] }).x ?? [];
      const at = key.includes('x_-1') ? xs[xs.length - 1] : xs[0];
      const bound = value as number;
      const ok = at !== undefined && (key.endsWith('_gt') ? at > bound : key.endsWith('_lt') ? at < bound : at === bound);
      if (!ok) reasons.push(`${key}: ${String(at)} vs ${bound}`);
    } else {
      reasons.push(`unhandled expected key "${key}"`);
    }
  }
  return reasons;
}

// ---------------------------------------------------------------------------------------------------------
// Running a directory of cases
// ---------------------------------------------------------------------------------------------------------

export async function readCases(dir: string): Promise<GxCase[]> {
  const text = await fs.readFile(path.join(dir, 'cases.jsonl'), 'utf8');
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => parsePythonJson(line) as GxCase);
}

async function runCase(session: Session, c: GxCase, table: string, tables: Map<string, string>): Promise<GxResult> {
  // GX's test runner asks for COMPLETE results unless the case sets its own result_format.
  const kwargs = 'result_format' in c.kwargs ? c.kwargs : { ...c.kwargs, result_format: 'COMPLETE' };
  try {
    const suite = parseSuite({ name: c.id, expectations: [{ type: c.expectation_type, kwargs }] }, c.id);
    const validation = await validateSuite(session, quoteIdent(table), suite, { tables });
    const [first] = validation.results;
    if (first === undefined) throw new Error('no result');
    return first;
  } catch (error) {
    // An invalid configuration is what GX raises (and, with catch_exceptions, reports) as an exception.
    if (!(error instanceof SluiceError) || error.code !== 'DEFINITION_INVALID') throw error;
    return {
      success: false,
      expectation_config: { type: c.expectation_type, kwargs },
      result: {},
      exception_info: { raised_exception: true, exception_message: error.message },
    };
  }
}

export async function runConformance(dir: string): Promise<ConformanceReport> {
  const cases = await readCases(dir);
  const engine = await Engine.open({ threads: 2 });
  try {
    return await engine.withSession(async (session) => {
      const loaded = new Map<string, { table: string; tables: Map<string, string> }>();
      const outcomes: CaseOutcome[] = [];
      for (const c of cases) {
        let data = loaded.get(c.dataset);
        if (data === undefined) {
          data = await loadDataset(session, dir, c.dataset);
          loaded.set(c.dataset, data);
        }
        const actual = await runCase(session, c, data.table, data.tables);
        const reasons = compareCase(c, actual);
        outcomes.push({ id: c.id, passed: reasons.length === 0, reasons, result: actual });
      }
      const failed = outcomes.filter((o) => !o.passed).map((o) => o.id);
      return { total: outcomes.length, passed: outcomes.length - failed.length, failed, outcomes };
    });
  } finally {
    engine.close();
  }
}
