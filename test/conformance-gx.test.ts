// Great Expectations' own test cases (../shared/conformance/gx, taken from GX's test definitions) run through
// sluice's expectations: every case must pass by the rule in that directory's README.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../conformance/gx.ts';
import { parsePythonJson, runConformance } from '../conformance/gx-harness.ts';
import { makeTempDir } from './helpers/temp.ts';

// A copy of the shared cases is committed (test/fixtures/gx-conformance, with its origin), so the test runs in
// any clone; the shared directory beside the checkout, or SLUICE_GX_CASES, is run too when present.
const VENDORED = path.resolve(import.meta.dirname, 'fixtures/gx-conformance');
const SHARED = process.env['SLUICE_GX_CASES'] ?? path.resolve(import.meta.dirname, '../../shared/conformance/gx');
const DIRECTORIES = [VENDORED, ...(fs.existsSync(path.join(SHARED, 'cases.jsonl')) ? [SHARED] : [])];

describe('GX conformance', () => {
  const temp = makeTempDir('sluice-gx-');
  afterAll(() => temp.cleanup());

  it('passes every case of the GX conformance directories', async () => {
    for (const dir of DIRECTORIES) {
      const report = await runConformance(dir);
      const failures = report.outcomes.filter((o) => !o.passed).map((o) => `${o.id}: ${o.reasons.join('; ')}`);
      expect(failures, dir).toEqual([]);
      expect(report.total).toBeGreaterThanOrEqual(338);
      expect(report.passed).toBe(report.total);
    }
  });

  it('prints the summary as JSON and writes one result line per case with --out', async () => {
    // A two-case directory in the same layout: one passing case, one whose expected output is wrong.
    fs.mkdirSync(path.join(temp.dir, 'datasets'));
    fs.writeFileSync(path.join(temp.dir, 'datasets', 'd.json'), JSON.stringify({ columns: { x: [1, 2, null], s: ['a', 'b', 'c'] }, schema: { x: 'INTEGER', s: 'TEXT' } }));
    const cases = [
      { id: 'ok', expectation_type: 'expect_column_values_to_not_be_null', dataset: 'd', kwargs: { column: 'x' }, expected: { success: false, unexpected_list: [null] }, exact_match_out: false, tolerance: null },
      { id: 'wrong', expectation_type: 'expect_column_max_to_be_between', dataset: 'd', kwargs: { column: 'x', max_value: 5 }, expected: { success: true, observed_value: 3 }, exact_match_out: false, tolerance: null },
    ];
    fs.writeFileSync(path.join(temp.dir, 'cases.jsonl'), cases.map((c) => JSON.stringify(c)).join('\n'));
    const out = path.join(temp.dir, 'results.jsonl');
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await main([temp.dir, '--out', out], { write: (t) => stdout.push(t) }, { write: (t) => stderr.push(t) });
    expect(code).toBe(0);
    expect(JSON.parse(stdout.join(''))).toEqual({ total: 2, passed: 1, failed: ['wrong'] });
    expect(stderr.join('')).toContain('FAIL wrong: observed_value: expected 3, got 2');
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; result: { success: boolean; result: Record<string, unknown> } });
    expect(lines.map((l) => l.id)).toEqual(['ok', 'wrong']);
    expect(lines[0]?.result.result['unexpected_list']).toEqual([null]);
    expect(lines[1]?.result.result['observed_value']).toBe(2);
  });

  it("reads Python's Infinity and NaN tokens, leaving strings alone", () => {
    expect(parsePythonJson('{"bins": [-Infinity, 0, Infinity], "s": "NaN -Infinity", "n": NaN}')).toEqual({ bins: [-Infinity, 0, Infinity], s: 'NaN -Infinity', n: NaN });
  });
});
