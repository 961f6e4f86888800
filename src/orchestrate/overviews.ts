// What the UI's features, streams and schedules pages show, read from the definitions and the catalog: feature
// views with their freshness, TTL and materialisation state; stream jobs' checkpoints and dead letters; schedules'
// and sensors' last and next ticks, run keys, and backfills with progress and an ETA.
import type { MaterializationRecord, RunKeyRecord } from '../store/catalog/catalog.ts';
import type { Workspace } from '../workspace.ts';
import { Cron } from 'croner';
import { assetStatuses, type FreshnessState } from './status.ts';

export interface FeatureViewOverview {
  readonly name: string;
  readonly type: 'columns' | 'windowed';
  readonly entity: string;
  readonly keys: readonly string[];
  readonly source: string;
  readonly features: readonly string[];
  readonly ttl: string | null;
  readonly stream: string | null;
  /** The source asset's latest version and freshness (null for a file source). */
  readonly sourceVersion: number | null;
  readonly sourceFreshness: FreshnessState | null;
  /** The latest materialisation into the online store; `behind`: it read an older version than the latest. */
  readonly materialized: (MaterializationRecord & { readonly behind: boolean }) | null;
}

export interface FeatureServiceOverview {
  readonly name: string;
  readonly description: string | null;
  readonly features: readonly string[];
  readonly views: readonly string[];
  /** Request fields the service's on-demand features need. */
  readonly request: Readonly<Record<string, string>>;
}

export async function featuresOverview(ws: Workspace, storeLocation: string, nowMs: number = Date.now()): Promise<{ views: FeatureViewOverview[]; services: FeatureServiceOverview[] }> {
  const statuses = new Map((await assetStatuses(ws, nowMs)).map((s) => [s.asset, s]));
  const views: FeatureViewOverview[] = [];
  for (const view of ws.project.featureViews.values()) {
    const status = statuses.get(view.source);
    const last = await ws.catalog.lastMaterialization(view.name, storeLocation);
    views.push({
      name: view.name, type: view.type, entity: view.entity.name, keys: view.entity.keys.map((k) => k.name), source: view.source,
      features: view.features, ttl: view.ttl ?? null, stream: view.type === 'windowed' ? view.stream?.name ?? null : null,
      sourceVersion: status?.version ?? null, sourceFreshness: status?.freshness ?? null,
      materialized: last === undefined ? null : { ...last, behind: last.assetVersion !== null && status?.version !== null && status !== undefined && last.assetVersion < (status.version ?? 0) },
    });
  }
  const services = [...ws.project.featureServices.values()].map((service): FeatureServiceOverview => ({
    name: service.name, description: service.description ?? null, features: service.features.map((f) => f.name),
    views: [...new Set(service.features.flatMap((f) => (f.kind === 'view' ? [f.view.name] : [])))],
    request: Object.fromEntries(service.onDemand.flatMap((o) => Object.entries(o.request))),
  }));
  return { views, services };
}

export interface StreamOverview {
  readonly name: string;
  readonly subject: string;
  readonly partitions: number;
  readonly views: readonly string[];
  readonly checkpoints: readonly { readonly partition: string; readonly sequence: number; readonly updatedAt: string; readonly ageMs: number }[];
}

/** Each event stream with the checkpoints of its job's partitions (`all`, or `<i>of<n>`, as `sluice stream` names them). */
export async function streamsOverview(ws: Workspace, nowMs: number = Date.now()): Promise<StreamOverview[]> {
  const out: StreamOverview[] = [];
  for (const stream of ws.project.eventStreams.values()) {
    const names = ['all', ...Array.from({ length: stream.partitions }, (_, i) => `${i}of${stream.partitions}`)];
    const checkpoints = [];
    for (const partition of names) {
      const checkpoint = await ws.catalog.loadCheckpoint(stream.name, partition);
      if (checkpoint !== undefined) checkpoints.push({ partition, sequence: checkpoint.sequence, updatedAt: checkpoint.updatedAt, ageMs: Math.max(0, nowMs - Date.parse(checkpoint.updatedAt)) });
    }
    const views = [...ws.project.featureViews.values()].filter((v) => v.type === 'windowed' && v.stream?.name === stream.name).map((v) => v.name);
    out.push({ name: stream.name, subject: stream.jetStream.subject, partitions: stream.partitions, views, checkpoints });
  }
  return out;
}

export interface ScheduleOverview {
  readonly jobs: readonly { readonly name: string; readonly assets: readonly string[]; readonly cron: string | null; readonly timezone: string | null; readonly lastTick: string | null; readonly nextTick: string | null; readonly runKeys: readonly RunKeyRecord[] }[];
  readonly sensors: readonly { readonly name: string; readonly job: string; readonly intervalMs: number; readonly cursor: string | null; readonly updatedAt: string | null }[];
  readonly backfills: readonly { readonly id: string; readonly job: string; readonly from: string; readonly to: string; readonly createdAt: string; readonly updatedAt: string; readonly total: number; readonly done: number; readonly failed: number; readonly running: number; readonly etaMs: number | null }[];
}

export async function schedulesOverview(ws: Workspace, nowMs: number = Date.now()): Promise<ScheduleOverview> {
  const project = ws.project.name;
  const jobs = [];
  for (const job of ws.project.jobs.values()) {
    const schedule = job.schedule;
    const cursor = schedule === undefined ? undefined : await ws.catalog.getCursor(`schedule:${project}:${job.name}`);
    const next = schedule === undefined ? undefined : new Cron(schedule.cron, { timezone: schedule.timezone, paused: true }).nextRun(new Date(nowMs)) ?? undefined;
    const runKeys = (await ws.catalog.listRunKeys(`${project}:schedule:${job.name}:`)).slice(-20).reverse();
    jobs.push({ name: job.name, assets: job.assets, cron: schedule?.cron ?? null, timezone: schedule?.timezone ?? null, lastTick: cursor?.value ?? null, nextTick: next?.toISOString() ?? null, runKeys });
  }
  const sensors = [];
  for (const sensor of ws.project.sensors.values()) {
    const cursor = await ws.catalog.getCursor(`sensor:${project}:${sensor.name}`);
    sensors.push({ name: sensor.name, job: sensor.job, intervalMs: sensor.intervalMs, cursor: cursor?.value ?? null, updatedAt: cursor?.updatedAt ?? null });
  }
  const backfills = (await ws.catalog.listBackfills({ limit: 50 })).map((b) => {
    const total = b.partitions.pending + b.partitions.running + b.partitions.success + b.partitions.failed;
    const done = b.partitions.success;
    const left = b.partitions.pending + b.partitions.running;
    const elapsed = Date.parse(b.updatedAt) - Date.parse(b.createdAt);
    // The pace so far: only meaningful while partitions are left and some finished.
    const etaMs = left === 0 || done + b.partitions.failed === 0 ? null : Math.round((elapsed / (done + b.partitions.failed)) * left);
    return { id: b.id, job: b.job, from: b.from, to: b.to, createdAt: b.createdAt, updatedAt: b.updatedAt, total, done, failed: b.partitions.failed, running: b.partitions.running, etaMs };
  });
  return { jobs, sensors, backfills };
}
