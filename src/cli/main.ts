// The `sluice` command line: global options, one file per command, errors printed without a stack
// trace unless --debug. Returns the exit code.
import { Command, CommanderError } from 'commander';
import { registerAccess } from './commands/access.ts';
import { registerAudit } from './commands/audit.ts';
import { registerBackfill } from './commands/backfill.ts';
import { registerFeatures } from './commands/features.ts';
import { registerGenerate } from './commands/generate.ts';
import { registerInit } from './commands/init.ts';
import { registerInspect } from './commands/inspect.ts';
import { registerLineage } from './commands/lineage.ts';
import { registerReport } from './commands/report.ts';
import { registerRun } from './commands/run.ts';
import { registerPii } from './commands/pii.ts';
import { registerRuns } from './commands/runs.ts';
import { registerScheduler } from './commands/scheduler.ts';
import { registerServe } from './commands/serve.ts';
import { registerStream } from './commands/stream.ts';
import { registerTables } from './commands/tables.ts';
import { registerTrainingSets } from './commands/training-sets.ts';
import { registerUi } from './commands/ui.ts';
import { registerShow } from './commands/show.ts';
import { registerValidate } from './commands/validate.ts';
import { registerWorker } from './commands/worker.ts';
import { reportError } from './context.ts';

export function buildProgram(): Command {
  const program = new Command('sluice')
    .description('data pipelines, quality and features for machine learning, on DuckDB')
    .option('-p, --project <dir>', 'project directory (holding sluice.config.ts)', '.')
    .option('--json', 'machine-readable output')
    .option('--debug', 'print stack traces')
    .showHelpAfterError()
    .exitOverride();
  registerInit(program);
  registerInspect(program);
  registerRun(program);
  registerRuns(program);
  registerBackfill(program);
  registerScheduler(program);
  registerShow(program);
  registerTables(program);
  registerValidate(program);
  registerReport(program);
  registerFeatures(program);
  registerTrainingSets(program);
  registerPii(program);
  registerLineage(program);
  registerServe(program);
  registerUi(program);
  registerAccess(program);
  registerAudit(program);
  registerStream(program);
  registerGenerate(program);
  registerWorker(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    reportError(error, argv.includes('--debug'));
    return 1;
  }
}
