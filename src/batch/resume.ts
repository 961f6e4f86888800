// Resuming a run: plan it again from its stored arguments and run only what did not complete (failed,
// upstream_failed, pending or interrupted steps); steps that succeeded or were skipped keep their outputs.
import { rangeKeys } from '../define/partitions.ts';
import { SluiceError } from '../errors.ts';
import type { RunRecord } from '../store/catalog/catalog.ts';
import type { Workspace } from '../workspace.ts';
import { stepKey } from './plan.ts';
import { runAssets, type RunRequest, type RunSummary } from './runner.ts';

const strings = (value: unknown): string[] | undefined =>
  Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;

/** Partitions as `sluice run` records them: a list, or `[first, '..', last]` for a range. */
function storedPartitions(value: string[]): string[] {
  const [first, middle, last] = value;
  return value.length === 3 && middle === '..' && first !== undefined && last !== undefined ? rangeKeys(first, last) : value;
}

export async function resumeRun(ws: Workspace, runId: string, request: Omit<RunRequest, 'assets' | 'partitions' | 'force' | 'reuse' | 'args'> = {}): Promise<RunSummary> {
  const run: RunRecord | undefined = await ws.catalog.getRun(runId);
  if (run === undefined || run.project !== ws.project.name) {
    throw new SluiceError('RUN_NOT_FOUND', `run ${runId} is not in the ${ws.catalog.dialect} catalog of project "${ws.project.name}"; \`sluice runs\` lists the runs`, { runId });
  }
  const steps = await ws.catalog.listSteps(runId);
  // Runs started by `sluice run` or the API store their selection; for others, the recorded steps are the plan.
  const assets = strings(run.args['assets']) ?? [...new Set(steps.map((s) => s.asset))];
  const partitions = storedPartitions(strings(run.args['partitions']) ?? [...new Set(steps.map((s) => s.partition).filter((p) => p !== ''))]);
  const reuse = new Map(steps.filter((s) => s.status === 'success' || s.status === 'skipped').map((s) => [stepKey(s.asset, s.partition), s]));
  return runAssets(ws, {
    ...request,
    assets,
    partitions,
    force: run.args['force'] === true,
    reuse,
    args: { ...run.args, resumeOf: runId },
  });
}
