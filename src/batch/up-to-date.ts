// Deciding before a run which of its steps are up to date, all at once: a step is up to date when every step
// it waits for is, and its fingerprint (its SQL and a cheap fingerprint of each input: file sizes and times, the
// content hashes a table's entries already record) equals the one its partition's current entry was built
// with. One DuckDB session for the whole plan and one lookup of each table's current version, so a skipped
// step costs microseconds; no lease, no per-step catalog write. Steps it cannot decide (an upstream step
// will run, an input is missing, an extract asset) run as usual and decide for themselves.
import { getAsset } from '../define/project.ts';
import type { Manifest } from '../store/tables/manifest.ts';
import { isExtractAsset } from './extract.ts';
import type { PlannedStep } from './plan.ts';
import { builtWith, resolveStep, type StepEnv, type StepOutcome } from './step.ts';

export interface UpToDateRequest {
  /** `--force`: the selected steps are rebuilt, whatever their fingerprint. */
  readonly force: boolean;
  /** Steps already settled (a resumed run's completed ones): their dependents may still be up to date. */
  readonly settled: ReadonlySet<string>;
}

/** The skipped outcome of every step of `steps` (in plan order: dependencies first) that is provably up to date. */
export async function upToDateSteps(env: StepEnv, steps: readonly PlannedStep[], request: UpToDateRequest): Promise<Map<string, StepOutcome>> {
  const skipped = new Map<string, StepOutcome>();
  const versions = new Map<string, Promise<Manifest | undefined>>();
  const latest = (asset: string): Promise<Manifest | undefined> => {
    let version = versions.get(asset);
    if (version === undefined) {
      version = env.tables.latest(asset);
      versions.set(asset, version);
    }
    return version;
  };
  const done = (key: string): boolean => skipped.has(key) || request.settled.has(key);
  await env.engine.withSession(async (session) => {
    for (const step of steps) {
      if (request.settled.has(step.key) || (request.force && step.selected) || !step.after.every(done)) continue;
      const asset = getAsset(env.project, step.asset);
      if (isExtractAsset(asset)) continue;
      try {
        // Never built: nothing to compare with (and its SQL is not rendered twice).
        const current = await latest(asset.name);
        if (current === undefined || builtWith(asset, current, step.partition) === undefined) continue;
        const { upToDate } = await resolveStep(session, env, asset, step.partition, latest);
        if (upToDate !== undefined) skipped.set(step.key, upToDate);
      } catch {
        // Left to the step itself, which reports the problem where it belongs (in its run, with its retries).
      }
    }
  });
  return skipped;
}
