// The runner's hand on OpenLineage: one object per run that builds each event (batch/openlineage.ts) and queues
// it on the workspace's sink. Nothing here waits on the network or throws into the run.
import { errorMessage } from '../errors.ts';
import type { LineageRunEvent, ParentRef } from '../connectors/openlineage-event.ts';
import type { Workspace } from '../workspace.ts';
import { runEndEvent, runLineage, runStartEvent, stepEndEvent, stepStartEvent, type JobRunDetails, type LineageScope, type RunLineage, type StepLineage, type StepResult } from './openlineage.ts';

export function lineageScope(ws: Pick<Workspace, 'project' | 'settings' | 'stateDir' | 'projectDir'>): LineageScope {
  return { project: ws.project, namespace: ws.settings.openLineage?.namespace ?? ws.project.name, stateDir: ws.stateDir, projectDir: ws.projectDir };
}

export class RunLineageEmitter {
  readonly #ws: Workspace;
  readonly #scope: LineageScope;
  readonly #run: RunLineage | undefined;
  #ended = false;
  #details: JobRunDetails = {};

  /** A run of `runAssets`. */
  static forRun(ws: Workspace, runId: string, args: Readonly<Record<string, unknown>>, partitions: readonly string[], parent: ParentRef | undefined): RunLineageEmitter {
    return new RunLineageEmitter(ws, (scope) => runLineage(scope, runId, args, partitions, parent));
  }

  constructor(ws: Workspace, describe: (scope: LineageScope) => RunLineage) {
    this.#ws = ws;
    this.#scope = lineageScope(ws);
    this.#run = ws.openLineage.enabled ? this.#safe(() => describe(this.#scope)) : undefined;
  }

  /** This run as a parent (of its steps, or of a backfill's partition runs). */
  get run(): RunLineage | undefined {
    return this.#run;
  }

  /** `details` (the job's kind, its datasets) hold for the run's end too, unless it gives its own. */
  runStart(details: JobRunDetails = {}): void {
    this.#details = details;
    this.#emit((run) => runStartEvent(run, details));
  }

  /** Once: a run that throws after it ended (sending alerts) keeps its COMPLETE or FAIL. */
  runEnd(status: 'success' | 'failed', error: string | null, details?: () => JobRunDetails): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#emit((run) => runEndEvent(run, status, error, { ...this.#details, ...details?.() }));
  }

  stepStart(step: StepLineage): void {
    this.#emit((run) => stepStartEvent(this.#scope, run, step));
  }

  stepEnd(step: StepLineage, result: StepResult): void {
    this.#emit((run) => stepEndEvent(this.#scope, run, step, result));
  }

  /** Up to date or not run: its START and its end at once. */
  stepSettled(step: StepLineage, result: StepResult): void {
    this.stepStart(step);
    this.stepEnd(step, result);
  }

  /** Wait, a bounded time, until this run's events are sent (or in the outbox). */
  flush(): Promise<void> {
    return this.#run === undefined ? Promise.resolve() : this.#ws.openLineage.flush();
  }

  #emit(build: (run: RunLineage) => LineageRunEvent): void {
    const run = this.#run;
    if (run === undefined) return;
    const event = this.#safe(() => build(run));
    if (event !== undefined) this.#ws.openLineage.emit(event);
  }

  #safe<T>(build: () => T): T | undefined {
    try {
      return build();
    } catch (error) {
      this.#ws.logger.warn({ err: errorMessage(error) }, 'OpenLineage event not built');
      return undefined;
    }
  }
}
