// Sensors: what each kind sees since its cursor, turned into launch requests (a run key and a partition each).
// Evaluation reads only: the scheduler claims the run keys, then moves the cursor, so a crash in between
// re-evaluates the same requests and finds their keys already claimed.
import { reconcileVersions } from '../batch/reconcile.ts';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Job, Sensor } from '../define/job.ts';
import { formatDateKey, formatHourKey, inPartitions, joinKey, requestedKeys, type Partitions } from '../define/partitions.ts';
import { getAsset } from '../define/project.ts';
import { glob as listFiles } from '../batch/files.ts';
import type { Workspace } from '../workspace.ts';

export interface LaunchRequest {
  /** Unique per launch: the same request evaluated twice claims the same key. */
  readonly runKey: string;
  readonly partition: string;
  readonly reason: string;
}

export interface SensorEvaluation {
  readonly requests: readonly LaunchRequest[];
  /** The cursor to store once the requests' keys are claimed; null when unchanged. */
  readonly cursor: string | null;
}

const DATE_IN_PATH = /(\d{4})-(\d{2})-(\d{2})/;

/** The partition a sensor launch builds when nothing names one: the day of `nowMs` (UTC), or '' when unpartitioned. */
/** The partitions of a job (its partitioned assets share one kind, checked at load), or undefined. */
export function jobPartitioning(ws: Workspace, job: Job): Partitions | undefined {
  for (const name of job.assets) {
    const partitions = getAsset(ws.project, name).partitions;
    if (partitions !== undefined) return partitions;
  }
  return undefined;
}

/** The partition of "now" (today, this hour), or '' for an unpartitioned job; undefined for static partitions, which have no now. */
export function defaultPartition(ws: Workspace, job: Job, nowMs: number): string | undefined {
  const partitions = jobPartitioning(ws, job);
  if (partitions === undefined) return '';
  if (partitions.kind === 'static' || partitions.kind === 'multi') return undefined;
  return partitions.kind === 'daily' ? formatDateKey(nowMs) : formatHourKey(nowMs);
}

const HOUR_IN_PATH = /(\d{4}-\d{2}-\d{2})(?:T|[ _/-]+(?:[a-z_]+=)?)(\d{2})(?!\d)/;

/** The partition a file's path names: a date (daily), a date and hour (hourly), a static key as a folder or `column=key`. */
export function partitionInPath(partitions: Partitions, file: string): string | undefined {
  if (partitions.kind === 'multi') {
    const time = partitionInPath(partitions.time, file);
    const key = partitionInPath(partitions.static, file);
    return time === undefined || key === undefined ? undefined : joinKey(time, key);
  }
  if (partitions.kind === 'static') {
    const segments = file.split(/[\\/]/).flatMap((segment) => [segment, segment.split('=').at(-1) ?? '', segment.replace(/\.[^.]*$/, '')]);
    return partitions.keys.find((key) => segments.includes(key));
  }
  if (partitions.kind === 'hourly') {
    const hour = HOUR_IN_PATH.exec(file);
    return hour === null ? undefined : `${hour[1]}T${hour[2]}`;
  }
  return DATE_IN_PATH.exec(file)?.[0];
}

export function isPartitioned(ws: Workspace, job: Job): boolean {
  return job.assets.some((name) => getAsset(ws.project, name).partitions !== undefined);
}

/** Whether any of the job's assets has this partition. */
export function jobHasPartition(ws: Workspace, job: Job, partition: string): boolean {
  if (partition === '') return !isPartitioned(ws, job);
  return job.assets.some((name) => {
    const definition = getAsset(ws.project, name).partitions;
    return definition !== undefined && inPartitions(definition, partition);
  });
}

export async function evaluateSensor(ws: Workspace, sensor: Sensor, job: Job, cursor: string | undefined, nowMs: number): Promise<SensorEvaluation> {
  const key = (rest: string): string => `${ws.project.name}:sensor:${sensor.name}:${rest}`;
  const trigger = sensor.trigger;
  switch (trigger.type) {
    case 'files':
      return evaluateFiles(ws, trigger.glob, job, cursor, nowMs, key);
    case 'asset-updated': {
      await reconcileVersions(ws, [trigger.asset]);
      // First evaluation: start from the current version; history does not launch runs.
      if (cursor === undefined) return { requests: [], cursor: String((await ws.catalog.listVersions(trigger.asset, { limit: 1 }))[0]?.version ?? 0) };
      const seen = Number(cursor);
      const fresh = await ws.catalog.listVersions(trigger.asset, { after: seen });
      const latest = fresh[0]?.version ?? seen;
      if (fresh.length === 0) return { requests: [], cursor: null };
      if (!isPartitioned(ws, job)) {
        return { requests: [{ runKey: key(`${trigger.asset}@v${latest}`), partition: '', reason: `asset ${trigger.asset} has new version ${latest}` }], cursor: String(latest) };
      }
      // A partitioned job rebuilds the partitions the new versions changed (or today's, for an unpartitioned upstream).
      const requests = new Map<string, LaunchRequest>();
      const partitions = jobPartitioning(ws, job) as Partitions;
      const now = defaultPartition(ws, job, nowMs);
      for (const version of [...fresh].reverse()) {
        // The changed partitions in the job's own kind (an hourly upstream's hours give their days to a daily job).
        const changed = requestedKeys(partitions, version.partitions.filter((p) => p !== ''));
        for (const partition of changed.length > 0 ? changed : now === undefined ? [] : [now]) {
          if (!jobHasPartition(ws, job, partition)) continue;
          requests.set(partition, { runKey: key(`${trigger.asset}@v${version.version}:${partition}`), partition, reason: `asset ${trigger.asset} version ${version.version} changed partition ${partition}` });
        }
      }
      return { requests: [...requests.values()], cursor: String(latest) };
    }
    case 'freshness': {
      await reconcileVersions(ws, [trigger.asset]);
      const latest = (await ws.catalog.listVersions(trigger.asset, { limit: 1 }))[0];
      const since = latest === undefined ? null : Date.parse(latest.createdAt);
      const lag = since === null ? Number.POSITIVE_INFINITY : nowMs - since;
      if (lag <= trigger.maxLagMs) return { requests: [], cursor: null };
      // One launch per lapse: the key names the version that went stale.
      const partition = defaultPartition(ws, job, nowMs);
      if (partition === undefined) return { requests: [], cursor: null };
      const what = latest === undefined ? 'has never been built' : `was last updated ${latest.createdAt} (version ${latest.version})`;
      return { requests: [{ runKey: key(`${trigger.asset}:stale-since:${latest?.createdAt ?? 'never'}`), partition, reason: `asset ${trigger.asset} ${what}, more than ${trigger.maxLag} ago` }], cursor: null };
    }
  }
}

async function evaluateFiles(ws: Workspace, glob: string, job: Job, cursor: string | undefined, nowMs: number, key: (rest: string) => string): Promise<SensorEvaluation> {
  const pattern = path.isAbsolute(glob) ? glob : path.join(ws.projectDir, glob);
  const files = await ws.engine.withSession((session) => listFiles(session, pattern));
  const current: Record<string, string> = {};
  for (const file of files) {
    try {
      const stat = await fs.stat(file);
      if (stat.isFile()) current[path.relative(ws.projectDir, file)] = `${stat.size}:${Math.floor(stat.mtimeMs)}`;
    } catch {
      // Deleted between the listing and the stat: it is not there.
    }
  }
  const seen = cursor === undefined ? {} : (JSON.parse(cursor) as Record<string, string>);
  const changed = Object.entries(current).filter(([file, signature]) => seen[file] !== signature);
  if (changed.length === 0) return { requests: [], cursor: Object.keys(seen).length === Object.keys(current).length ? null : JSON.stringify(current) };
  const byPartition = new Map<string, [string, string][]>();
  const partitions = jobPartitioning(ws, job);
  for (const entry of changed) {
    const partition = (partitions === undefined ? undefined : partitionInPath(partitions, entry[0])) ?? defaultPartition(ws, job, nowMs);
    if (partition === undefined) continue;
    byPartition.set(partition, [...(byPartition.get(partition) ?? []), entry]);
  }
  const requests: LaunchRequest[] = [];
  for (const [partition, entries] of byPartition) {
    if (!jobHasPartition(ws, job, partition)) continue;
    const digest = createHash('sha256').update(JSON.stringify(entries)).digest('hex').slice(0, 16);
    const names = entries.map(([file]) => file);
    requests.push({ runKey: key(`${partition === '' ? 'all' : partition}:${digest}`), partition, reason: `new or changed file(s): ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}` });
  }
  return { requests, cursor: JSON.stringify(current) };
}
