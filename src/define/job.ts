// Jobs, schedules and sensors: which assets to build together, and when. A job is an asset selection; a
// schedule is a cron expression in a time zone; a sensor watches for new files, a new version of an upstream
// asset, or a freshness lapse. Plain frozen data: the scheduler (orchestrate/) interprets them.
import { SluiceError } from '../errors.ts';
import type { Asset } from './asset.ts';
import { parseDuration } from './duration.ts';

/** What to do with ticks missed while no scheduler ran: launch only the latest, or all of them (at most `max`). */
export type CatchUpPolicy = { readonly kind: 'latest' } | { readonly kind: 'all'; readonly max: number };

/**
 * Which partition a tick builds, for a job of daily-partitioned assets: `previous` (default) the day before the
 * tick's date in the schedule's time zone (the day that just ended), `current` the tick's own date.
 */
export type TickPartition = 'previous' | 'current';

export interface Schedule {
  readonly cron: string;
  /** IANA time zone the cron expression is read in, e.g. Europe/Paris; UTC by default. */
  readonly timezone: string;
  readonly catchUp: CatchUpPolicy;
  readonly partition: TickPartition;
}

export interface Job<N extends string = string> {
  readonly kind: 'job';
  readonly name: N;
  /** Asset names; the upstream steps they need are planned too (and skipped when unchanged), as in `sluice run`. */
  readonly assets: readonly string[];
  readonly schedule: Schedule | undefined;
  readonly description: string | undefined;
}

export interface ScheduleOptions {
  readonly cron: string;
  readonly timezone?: string;
  /** `'latest'` (default), or `{ all: N }` to launch every missed tick, at most the N most recent. */
  readonly catchUp?: 'latest' | { readonly all: number };
  readonly partition?: TickPartition;
}

export interface JobOptions {
  readonly assets: readonly (Asset | string)[];
  readonly schedule?: ScheduleOptions | string;
  readonly description?: string;
}

export function job<const N extends string>(name: N, options: JobOptions): Job<N> {
  const schedule = options.schedule === undefined ? undefined : typeof options.schedule === 'string' ? { cron: options.schedule } : options.schedule;
  const catchUp = schedule?.catchUp ?? 'latest';
  if (typeof catchUp !== 'string' && !(Number.isInteger(catchUp.all) && catchUp.all > 0)) {
    throw new SluiceError('DEFINITION_INVALID', `job "${name}" schedule catchUp.all must be a positive whole number of ticks, got ${String(catchUp.all)}`, { job: name });
  }
  return Object.freeze({
    kind: 'job',
    name,
    assets: Object.freeze(options.assets.map((a) => (typeof a === 'string' ? a : a.name))),
    schedule: schedule === undefined ? undefined : Object.freeze({
      cron: schedule.cron,
      timezone: schedule.timezone ?? 'UTC',
      catchUp: Object.freeze(catchUp === 'latest' ? { kind: 'latest' as const } : { kind: 'all' as const, max: catchUp.all }),
      partition: schedule.partition ?? 'previous',
    }),
    description: options.description,
  });
}

export type SensorTrigger =
  /** Files matching a glob (relative to the project) that were not seen before, or changed (size, mtime). */
  | { readonly type: 'files'; readonly glob: string }
  /** A new version of an asset was committed. */
  | { readonly type: 'asset-updated'; readonly asset: string }
  /** An asset's last successful build is older than `maxLag`. */
  | { readonly type: 'freshness'; readonly asset: string; readonly maxLag: string; readonly maxLagMs: number };

export interface Sensor<N extends string = string> {
  readonly kind: 'sensor';
  readonly name: N;
  readonly job: string;
  readonly trigger: SensorTrigger;
  /** How often the scheduler evaluates it. */
  readonly intervalMs: number;
}

export function newFiles(glob: string): SensorTrigger {
  return Object.freeze({ type: 'files', glob });
}

export function assetUpdated(asset: Asset | string): SensorTrigger {
  return Object.freeze({ type: 'asset-updated', asset: typeof asset === 'string' ? asset : asset.name });
}

export function freshnessLapse(asset: Asset | string, maxLag: string): SensorTrigger {
  const name = typeof asset === 'string' ? asset : asset.name;
  return Object.freeze({ type: 'freshness', asset: name, maxLag, maxLagMs: parseDuration(maxLag, `freshnessLapse(${name})`) });
}

export interface SensorOptions {
  readonly job: Job | string;
  readonly when: SensorTrigger;
  /** Evaluation interval, such as '30s' (default). */
  readonly every?: string;
}

export function sensor<const N extends string>(name: N, options: SensorOptions): Sensor<N> {
  return Object.freeze({
    kind: 'sensor',
    name,
    job: typeof options.job === 'string' ? options.job : options.job.name,
    trigger: options.when,
    intervalMs: parseDuration(options.every ?? '30s', `sensor "${name}" every`),
  });
}
