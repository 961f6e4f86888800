// The scheduler: a long-running loop that turns cron ticks and sensor events into runs. Every launch first
// claims a run key in the catalog (one per job partition and tick or event), so a tick never launches the same
// partition twice, even across restarts or with a second scheduler; only one scheduler per project is active at
// a time (a lease), the others wait in standby. Missed ticks are caught up by the job's policy.
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { Cron } from 'croner';
import { newRunId, runAssets, type RunSummary } from '../batch/runner.ts';
import type { Job, Sensor } from '../define/job.ts';
import { addDays, formatHourKey, joinKey, type Partitions } from '../define/partitions.ts';
import { errorMessage } from '../errors.ts';
import { sendAlert } from '../connectors/alerts.ts';
import type { RunKeyClaim } from '../store/catalog/catalog.ts';
import type { Workspace } from '../workspace.ts';
import { evaluateSensor, jobHasPartition, jobPartitioning, type LaunchRequest } from './sensors.ts';
import { assetStatuses } from './status.ts';

export interface Launch {
  readonly origin: 'schedule' | 'sensor';
  readonly job: string;
  readonly partition: string;
  readonly runKey: string;
  readonly runId: string;
  readonly reason: string;
  /** The sensor, for sensor launches. */
  readonly sensor?: string | undefined;
  /** The cron tick, for schedule launches. */
  readonly tick?: string | undefined;
}

export type SchedulerEvent =
  | { readonly type: 'launch'; readonly launch: Launch }
  | { readonly type: 'already-launched'; readonly runKey: string; readonly runId: string }
  | { readonly type: 'run-end'; readonly launch: Launch; readonly status: 'success' | 'failed'; readonly ms: number; readonly summary: RunSummary | null; readonly error: string | null }
  | { readonly type: 'missed-ticks'; readonly job: string; readonly missed: number; readonly launched: number }
  | { readonly type: 'sensor-error'; readonly sensor: string; readonly error: string }
  | { readonly type: 'freshness-breach'; readonly asset: string; readonly lagMs: number | null; readonly maxLagMs: number }
  | { readonly type: 'standby'; readonly holder: string | null }
  | { readonly type: 'active'; readonly holder: string };

export interface SchedulerOptions {
  /** Evaluation loop period (default 1000 ms). */
  readonly pollMs?: number;
  /** Runs at once; further launches wait (already claimed, so they are not lost). Default 2. */
  readonly maxConcurrentRuns?: number;
  /** The clock (epoch ms), for tests. */
  readonly now?: () => number;
  readonly onEvent?: (event: SchedulerEvent) => void;
  /** The leader lease's time to live (default 15 s), renewed every loop. */
  readonly leaseMs?: number;
}

const FRESHNESS_CHECK_MS = 30_000;

/** Ticks due after `afterMs` up to `nowMs` (inclusive), oldest first, at most `limit` (the most recent ones). */
export function dueTicks(cron: string, timezone: string, afterMs: number, nowMs: number, limit = 10_000): Date[] {
  const pattern = new Cron(cron, { timezone, paused: true });
  const due: Date[] = [];
  let previous = new Date(afterMs);
  for (;;) {
    const next = pattern.nextRun(previous);
    if (next === null || next.getTime() > nowMs) break;
    due.push(next);
    if (due.length > limit) due.shift();
    previous = next;
  }
  return due;
}

/** The calendar date (YYYY-MM-DD) of an instant in a time zone. */
/**
 * The partitions a tick builds: the day that just ended (or the current one) in the schedule's zone for daily
 * partitions, the hour that just ended (or the current one) for hourly ones, every key for static ones, and
 * every static key of that day or hour for two dimensions.
 */
export function tickPartitions(partitions: Partitions | undefined, tick: Date, timezone: string, which: 'previous' | 'current'): string[] {
  if (partitions === undefined) return [''];
  if (partitions.kind === 'static') return [...partitions.keys];
  if (partitions.kind === 'multi') return tickPartitions(partitions.time, tick, timezone, which).flatMap((time) => partitions.static.keys.map((key) => joinKey(time, key)));
  if (partitions.kind === 'hourly') return [formatHourKey(tick.getTime() - (which === 'previous' ? 3_600_000 : 0))];
  return [addDays(dateInZone(tick, timezone), which === 'previous' ? -1 : 0)];
}

export function dateInZone(at: Date, timezone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

export class Scheduler {
  readonly #ws: Workspace;
  readonly #options: SchedulerOptions;
  readonly #now: () => number;
  readonly #holder = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  readonly #waiting: { launch: Launch }[] = [];
  readonly #running = new Map<string, Promise<void>>();
  readonly #lastSensorRun = new Map<string, number>();
  #recovered = false;
  #lastFreshnessCheck = Number.NEGATIVE_INFINITY;

  constructor(ws: Workspace, options: SchedulerOptions = {}) {
    this.#ws = ws;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get holder(): string {
    return this.#holder;
  }

  /**
   * One pass: recover launches claimed by a scheduler that died before starting them, evaluate every schedule and
   * due sensor, alert on freshness breaches, and start what fits under the run limit. Returns the new launches.
   */
  async evaluate(): Promise<Launch[]> {
    const launches: Launch[] = [];
    if (!this.#recovered) {
      launches.push(...(await this.#recoverOrphans()));
      this.#recovered = true;
    }
    for (const job of this.#ws.project.jobs.values()) {
      if (job.schedule !== undefined) launches.push(...(await this.#evaluateSchedule(job)));
    }
    const nowMs = this.#now();
    for (const sensor of this.#ws.project.sensors.values()) {
      const last = this.#lastSensorRun.get(sensor.name);
      if (last !== undefined && nowMs - last < sensor.intervalMs) continue;
      this.#lastSensorRun.set(sensor.name, nowMs);
      try {
        launches.push(...(await this.#evaluateSensor(sensor)));
      } catch (error) {
        this.#emit({ type: 'sensor-error', sensor: sensor.name, error: errorMessage(error) });
        this.#ws.logger.warn({ sensor: sensor.name, err: errorMessage(error) }, 'sensor evaluation failed');
      }
    }
    // Freshness reads every asset's latest version and checks: every 30 s is enough for SLAs counted in hours.
    if (nowMs - this.#lastFreshnessCheck >= FRESHNESS_CHECK_MS) {
      this.#lastFreshnessCheck = nowMs;
      await this.#checkFreshness();
    }
    this.#pump();
    return launches;
  }

  /** Resolves when every launched run has finished. */
  async idle(): Promise<void> {
    while (this.#running.size > 0 || this.#waiting.length > 0) {
      this.#pump();
      await Promise.race(this.#running.values());
    }
  }

  /** Run until `signal` aborts: hold the leader lease (or wait for it), evaluate every pollMs, then drain. */
  async run(signal: AbortSignal): Promise<void> {
    const pollMs = this.#options.pollMs ?? 1000;
    const leaseMs = this.#options.leaseMs ?? 15_000;
    const resource = `scheduler:${this.#ws.project.name}`;
    let active: boolean | undefined;
    while (!signal.aborted) {
      const leader = await this.#ws.catalog.acquireLease(resource, this.#holder, leaseMs);
      if (leader !== active) {
        active = leader;
        if (leader) this.#emit({ type: 'active', holder: this.#holder });
        else this.#emit({ type: 'standby', holder: (await this.#ws.catalog.getLease(resource))?.holder ?? null });
      }
      if (leader) {
        try {
          await this.evaluate();
        } catch (error) {
          this.#ws.logger.error({ err: errorMessage(error) }, 'scheduler evaluation failed; retrying next tick');
        }
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        const timer = setTimeout(wake, pollMs);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
    // Claimed launches not yet started stay claimed without a run: the next scheduler recovers them.
    this.#waiting.length = 0;
    await Promise.all(this.#running.values());
    if (active === true) await this.#ws.catalog.releaseLease(resource, this.#holder);
  }

  async #evaluateSchedule(job: Job): Promise<Launch[]> {
    const schedule = job.schedule;
    if (schedule === undefined) return [];
    const name = `schedule:${this.#ws.project.name}:${job.name}`;
    const nowMs = this.#now();
    const cursor = await this.#ws.catalog.getCursor(name);
    // First sight of a schedule: it starts now; ticks before it was first seen are not launched.
    if (cursor === undefined) {
      await this.#ws.catalog.setCursor(name, new Date(nowMs).toISOString(), { expected: null });
      return [];
    }
    const due = dueTicks(schedule.cron, schedule.timezone, Date.parse(cursor.value), nowMs);
    if (due.length === 0) return [];
    const chosen = schedule.catchUp.kind === 'latest' ? due.slice(-1) : due.slice(-schedule.catchUp.max);
    if (due.length > 1) this.#emit({ type: 'missed-ticks', job: job.name, missed: due.length - 1, launched: chosen.length - 1 });
    const launches: Launch[] = [];
    const partitioning = jobPartitioning(this.#ws, job);
    for (const tick of chosen) {
      for (const partition of tickPartitions(partitioning, tick, schedule.timezone, schedule.partition)) {
        if (partition !== '' && !jobHasPartition(this.#ws, job, partition)) continue;
        // A static partition is rebuilt on every tick; a time partition once, whichever tick names it.
        const runKey = `${this.#ws.project.name}:schedule:${job.name}:${partition === '' ? tick.toISOString() : partitioning?.kind === 'static' ? `${tick.toISOString()}:${partition}` : partition}`;
        const launch = await this.#claim({ runKey, partition, reason: `tick ${tick.toISOString()} of ${schedule.cron} (${schedule.timezone})` }, job, 'schedule', { tick: tick.toISOString() });
        if (launch !== null) launches.push(launch);
      }
    }
    await this.#ws.catalog.setCursor(name, (due.at(-1) as Date).toISOString(), { expected: cursor.value });
    return launches;
  }

  async #evaluateSensor(sensor: Sensor): Promise<Launch[]> {
    const job = this.#ws.project.jobs.get(sensor.job) as Job;
    const name = `sensor:${this.#ws.project.name}:${sensor.name}`;
    const cursor = await this.#ws.catalog.getCursor(name);
    const evaluation = await evaluateSensor(this.#ws, sensor, job, cursor?.value, this.#now());
    const launches: Launch[] = [];
    for (const request of evaluation.requests) {
      const launch = await this.#claim(request, job, 'sensor', { sensor: sensor.name });
      if (launch !== null) launches.push(launch);
    }
    if (evaluation.cursor !== null) await this.#ws.catalog.setCursor(name, evaluation.cursor, { expected: cursor?.value ?? null });
    return launches;
  }

  async #claim(request: LaunchRequest, job: Job, origin: Launch['origin'], extra: { tick?: string; sensor?: string }): Promise<Launch | null> {
    const claim: RunKeyClaim = { key: request.runKey, runId: newRunId(new Date(this.#now())), job: job.name, partition: request.partition, origin };
    const result = await this.#ws.catalog.claimRunKey(claim);
    if (!result.claimed) {
      this.#emit({ type: 'already-launched', runKey: request.runKey, runId: result.runId });
      return null;
    }
    const launch: Launch = { origin, job: job.name, partition: request.partition, runKey: request.runKey, runId: claim.runId, reason: request.reason, ...extra };
    this.#waiting.push({ launch });
    this.#emit({ type: 'launch', launch });
    return launch;
  }

  /** Run keys claimed whose run never started (the claimant died in between): launch them with their run id. */
  async #recoverOrphans(): Promise<Launch[]> {
    const launches: Launch[] = [];
    for (const origin of ['schedule', 'sensor'] as const) {
      for (const key of await this.#ws.catalog.listRunKeys(`${this.#ws.project.name}:${origin}:`)) {
        if (await this.#ws.catalog.getRun(key.runId) !== undefined) continue;
        if (!this.#ws.project.jobs.has(key.job)) continue;
        const launch: Launch = { origin, job: key.job, partition: key.partition, runKey: key.key, runId: key.runId, reason: 'claimed by a scheduler that stopped before starting it' };
        this.#waiting.push({ launch });
        this.#emit({ type: 'launch', launch });
        launches.push(launch);
      }
    }
    return launches;
  }

  #pump(): void {
    const limit = Math.max(1, this.#options.maxConcurrentRuns ?? 2);
    while (this.#running.size < limit && this.#waiting.length > 0) {
      const { launch } = this.#waiting.shift() as { launch: Launch };
      this.#running.set(launch.runId, this.#start(launch).finally(() => {
        this.#running.delete(launch.runId);
        this.#pump();
      }));
    }
  }

  async #start(launch: Launch): Promise<void> {
    const t0 = Date.now();
    const job = this.#ws.project.jobs.get(launch.job) as Job;
    try {
      const summary = await runAssets(this.#ws, {
        assets: job.assets, partitions: launch.partition === '' ? [] : [launch.partition], runId: launch.runId,
        args: { command: launch.origin, job: launch.job, partition: launch.partition, runKey: launch.runKey, reason: launch.reason, ...(launch.tick === undefined ? {} : { tick: launch.tick }), ...(launch.sensor === undefined ? {} : { sensor: launch.sensor }) },
      });
      this.#emit({ type: 'run-end', launch, status: summary.status, ms: Date.now() - t0, summary, error: null });
    } catch (error) {
      this.#ws.logger.error({ run: launch.runId, err: errorMessage(error) }, 'scheduled run could not run');
      this.#emit({ type: 'run-end', launch, status: 'failed', ms: Date.now() - t0, summary: null, error: errorMessage(error) });
    }
  }

  /** One alert per breach: the cursor remembers which version was reported stale. */
  async #checkFreshness(): Promise<void> {
    const webhooks = [...new Set([...this.#ws.settings.alertWebhooks, ...(this.#ws.project.settings.alertWebhooks ?? [])])];
    for (const status of await assetStatuses(this.#ws, this.#now())) {
      if (status.freshness !== 'stale' && status.freshness !== 'never-built') continue;
      const name = `alert:freshness:${this.#ws.project.name}:${status.asset}`;
      const marker = status.updatedAt ?? 'never';
      const previous = await this.#ws.catalog.getCursor(name);
      if (previous?.value === marker) continue;
      if (!(await this.#ws.catalog.setCursor(name, marker, { expected: previous?.value ?? null }))) continue;
      const maxLagMs = status.maxLagMs as number;
      this.#emit({ type: 'freshness-breach', asset: status.asset, lagMs: status.lagMs, maxLagMs });
      if (webhooks.length === 0) continue;
      const lag = status.lagMs === null ? 'has never been built' : `was last updated ${status.updatedAt ?? ''} (version ${status.version ?? ''}), ${Math.round(status.lagMs / 60_000)} min ago`;
      const deliveries = await sendAlert(webhooks, {
        event: 'freshness_breach', project: this.#ws.project.name, runId: '', asset: status.asset, partition: null, severity: 'error', failures: [],
        message: `asset ${status.asset} ${lag}; its freshness SLA is ${Math.round(maxLagMs / 60_000)} min`,
      });
      for (const d of deliveries) if (!d.delivered) this.#ws.logger.warn({ url: d.url, err: d.error }, 'freshness alert not delivered');
    }
  }

  #emit(event: SchedulerEvent): void {
    this.#options.onEvent?.(event);
  }
}
