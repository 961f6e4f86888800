// `sluice validate <file | asset> --suite <suite.json | suite.ts>`: run a suite outside a pipeline.
// Exit code 0 when every `error` check passes, 1 otherwise; --json prints GX's validation result.
import fs from 'node:fs';
import type { Command } from 'commander';
import type { ValidationResult } from '../../quality/types.ts';
import { globals, parseInteger, withWorkspace } from '../context.ts';
import { printJson, renderTable } from '../render.ts';

function render(target: string, result: ValidationResult, { columnOf, describeFailure, severityOf }: typeof import('../../batch/checks.ts')): string {
  const rows = result.results.map((r) => ({
    status: r.success ? 'pass' : severityOf(r.expectation_config) === 'warn' ? 'WARN' : 'FAIL',
    expectation: r.expectation_config.type,
    column: columnOf(r.expectation_config) ?? '',
    detail: r.success ? (r.result.observed_value === undefined ? '' : `observed ${JSON.stringify(r.result.observed_value)}`) : describeFailure(r).replace(/^[^:]*: /, ''),
  }));
  const s = result.statistics;
  return `${renderTable(rows)}\n\n${target}: ${s.successful_expectations}/${s.evaluated_expectations} expectations passed\n`;
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('validate a Parquet/CSV/NDJSON file or an asset against a suite (exit 1 when an error check fails)')
    .argument('<target>', 'a data file, or an asset of the project')
    .requiredOption('--suite <file>', 'GX JSON suite (.json) or a TypeScript module exporting a suite (.ts)')
    .option('--partition <key>', 'an asset partition')
    .option('--version <n>', 'an asset version (default: the latest)', parseInteger('--version'))
    .action(async (target: string, options: { suite: string; partition?: string; version?: number }, command: Command) => {
      const g = globals(command);
      // Loaded here, not at start-up: `sluice --help` need not load DuckDB.
      const [checks, { AD_HOC_RUN_PREFIX }, { manifestFor, relationFor }, { newRunId }, { Engine }, { loadSuiteFile }, { fileRelation, severityFailures, validateRelation }] = await Promise.all([
        import('../../batch/checks.ts'), import('../../store/catalog/catalog.ts'), import('../../batch/inspect.ts'), import('../../batch/runner.ts'),
        import('../../engine/engine.ts'), import('../../quality/suite-file.ts'), import('../../quality/validate-target.ts'),
      ]);
      const suite = await loadSuiteFile(options.suite);
      let result: ValidationResult;
      if (fs.existsSync(target)) {
        const engine = await Engine.open();
        try {
          result = await validateRelation(engine, fileRelation(target), suite);
        } finally {
          engine.close();
        }
      } else {
        result = await withWorkspace(g, async (ws) => {
          const { manifest } = await manifestFor(ws, target, options.version);
          const relation = `(${relationFor(ws, manifest, options.partition)})`;
          const validation = await validateRelation(ws.engine, relation, suite);
          await ws.catalog.recordChecks(checks.toCheckRecords(validation.results, { runId: `${AD_HOC_RUN_PREFIX}${newRunId()}`, stepId: null, target, partition: options.partition ?? '' }));
          return validation;
        });
      }
      if (g.json) printJson(result);
      else process.stdout.write(render(target, result, checks));
      if (severityFailures(result).errors > 0) process.exitCode = 1;
    });
}
