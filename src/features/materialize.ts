// Materialisation: the latest value per entity of each feature view, for event times in [from, to], written
// to the online store. Writes are guarded by event time in the store, so reruns and overlapping ranges are
// idempotent and an older value never replaces a newer one. `incremental` starts at the latest event time
// that materialisations of the view into the same store have read (its state is in the catalog).
import { parseInstant } from '../define/duration.ts';
import type { FeatureView } from '../define/features.ts';
import { getFeatureService, getFeatureView } from '../define/project.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { quoteIdent } from '../sql/identifiers.ts';
import { EVENT_TS, latestPerEntitySql, viewRowsSql } from '../sql/features-sql.ts';
import type { OnlineRecord, OnlineStore } from '../store/online/online-store.ts';
import type { Workspace } from '../workspace.ts';
import { encodeKeyOf } from './keys.ts';
import { openViewSource, viewColumns, type ViewSource } from './view-source.ts';
import type { Session } from '../engine/engine.ts';
import { tableRelation } from '../store/tables/table-relation.ts';
import { checkPiiRules } from '../batch/pii-inventory.ts';

export interface MaterializeOptions {
  /** Views to materialise (default: every view of the project, or of `service`). */
  readonly views?: readonly string[];
  readonly service?: string;
  /** Epoch microseconds; default: the beginning (or, with `incremental`, the latest event time read so far). */
  readonly fromMicros?: number;
  /** Epoch microseconds; default: now. */
  readonly toMicros?: number;
  readonly incremental?: boolean;
  /**
   * With `incremental`, start this many milliseconds before where the last run ended, so rows that landed
   * late (with event times before that end) are picked up; rewrites are harmless.
   */
  readonly lookbackMs?: number;
  /** Records per store write (default 5000). */
  readonly batchSize?: number;
}

export interface ViewMaterialization {
  readonly view: string;
  readonly asset: string;
  readonly assetVersion: number;
  readonly fromMicros: number | null;
  readonly toMicros: number;
  /** Entities whose latest value in the range was written. */
  readonly written: number;
  /** Entities skipped because the store already held a newer value. */
  readonly stale: number;
  /** Set when `incremental` read again partitions rebuilt since the last materialisation. */
  readonly rewritten: RewriteReason | null;
  readonly seconds: number;
}

export function selectViews(ws: Workspace, options: { views?: readonly string[] | undefined; service?: string | undefined }): FeatureView[] {
  if (options.views !== undefined && options.views.length > 0) return options.views.map((name) => getFeatureView(ws.project, name));
  if (options.service !== undefined) return [...getFeatureService(ws.project, options.service).views];
  const views = [...ws.project.featureViews.values()];
  if (views.length === 0) throw new SluiceError('FEATURE_NOT_FOUND', `project "${ws.project.name}" defines no feature views (featureViews or featureServices in defineProject)`);
  return views;
}

export async function materialize(ws: Workspace, store: OnlineStore, options: MaterializeOptions = {}): Promise<ViewMaterialization[]> {
  // Values a service marked pii: 'forbidden' would serve are not written online when personal data reaches them.
  await checkPiiRules(ws);
  const views = selectViews(ws, options);
  const toMicros = options.toMicros ?? Date.now() * 1000;
  if (options.fromMicros !== undefined && options.fromMicros > toMicros) {
    throw new SluiceError('CONFIG_INVALID', `materialise: --from (${isoMicros(options.fromMicros)}) is after --to (${isoMicros(toMicros)})`);
  }
  const results: ViewMaterialization[] = [];
  for (const view of views) results.push(await materializeView(ws, store, view, toMicros, options));
  return results;
}

async function materializeView(ws: Workspace, store: OnlineStore, view: FeatureView, toMicros: number, options: MaterializeOptions): Promise<ViewMaterialization> {
  const started = new Date();
  const previous = await ws.catalog.lastMaterialization(view.name, store.location);
  // Incremental runs start at the latest event time read so far (minus the lookback), inclusive: rewrites are
  // harmless. Event times, not the previous run's wall-clock end, so history loaded later is still picked up.
  const resume = options.incremental === true ? previous?.resumeMicros ?? null : null;
  let fromMicros = resume === null ? options.fromMicros : resume - (options.lookbackMs ?? 0) * 1000;
  let latestMicros = previous?.resumeMicros ?? null;
  const batchSize = options.batchSize ?? 5000;
  let written = 0;
  let stale = 0;
  let rewritten: RewriteReason | null = null;
  const { asset, version } = await ws.engine.withSession(async (session) => {
    const source = await openViewSource(ws, session, view);
    // Partitions of the asset rebuilt since the last materialisation (a corrected day) are read again, whatever
    // their event times: from the earliest event time they hold (the writes' event-time guard keeps newer values).
    const since = previous?.assetVersion ?? null;
    if (resume !== null && fromMicros !== undefined && since !== null && source.version > since) {
      const change = await earliestChange(ws, session, view, source, since);
      if (change !== undefined && (change.fromMicros === null || change.fromMicros < fromMicros)) {
        fromMicros = change.fromMicros ?? undefined;
        rewritten = { sinceVersion: since, partitions: change.partitions };
      }
    }
    const rows = latestPerEntitySql(view, viewRowsSql(view, source.relation, { fromMicros, toMicros }));
    const keys = view.entity.keys.map((k) => quoteIdent(k.name)).join(', ');
    const values = view.features.map((f) => `${quoteIdent(f)} := ${quoteIdent(f)}`).join(', ');
    const sql = `SELECT ${keys}, epoch_us(${EVENT_TS}) AS __micros, to_json(struct_pack(${values}))::VARCHAR AS __values FROM (${rows})`;
    let batch: OnlineRecord[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const result = await store.write(view.name, batch, { ttlMs: view.ttlMs });
      written += result.written;
      stale += result.stale;
      batch = [];
    };
    for await (const chunk of session.stream(sql)) {
      for (const row of chunk) {
        const eventTimeMicros = Number(row['__micros']);
        if (latestMicros === null || eventTimeMicros > latestMicros) latestMicros = eventTimeMicros;
        batch.push({ key: encodeKeyOf(view.entity.keys, row), eventTimeMicros, values: parseValues(row['__values']) });
        if (batch.length >= batchSize) await flush();
      }
    }
    await flush();
    return source;
  });
  const ended = new Date();
  await ws.catalog.recordMaterialization({
    view: view.name,
    store: store.location,
    fromMicros: fromMicros ?? null,
    toMicros,
    resumeMicros: latestMicros,
    assetVersion: version,
    rowsWritten: written,
    rowsStale: stale,
    startedAt: started.toISOString(),
    endedAt: ended.toISOString(),
  });
  ws.logger.info({ view: view.name, written, stale, from: fromMicros === undefined ? null : isoMicros(fromMicros), to: isoMicros(toMicros), rewritten }, 'materialised feature view');
  return { view: view.name, asset, assetVersion: version, fromMicros: fromMicros ?? null, toMicros, written, stale, rewritten, seconds: (ended.getTime() - started.getTime()) / 1000 };
}

/** Why an incremental materialisation reached back before where the last one ended. */
export interface RewriteReason {
  /** The asset version the last materialisation read. */
  readonly sinceVersion: number;
  /** Partitions committed since then (sorted; a few thousand at most are listed). */
  readonly partitions: readonly string[];
}

/**
 * The partitions of the view's asset committed after version `since`, and the earliest event time among the rows
 * they changed: their rows now, less the same rows at version `since` (so a rebuilt partition whose only change is
 * a new day's rows reaches back no further than that day). `fromMicros` null: version `since` can no longer be read
 * (vacuumed), so everything is read again. Undefined when no row the view reads changed.
 */
async function earliestChange(ws: Workspace, session: Session, view: FeatureView, source: ViewSource, since: number): Promise<{ fromMicros: number | null; partitions: string[] } | undefined> {
  const log = ws.tables.log(source.asset);
  const changed = new Set<string>();
  for (let version = since + 1; version <= source.version; version++) {
    const entry = await log.read(version);
    if (entry === undefined) return { fromMicros: null, partitions: [] };
    for (const put of entry.put) changed.add(put.key);
  }
  const manifest = await ws.tables.read(source.asset, source.version);
  const keys = [...changed].filter((key) => manifest.partitions[key] !== undefined).sort();
  if (keys.length === 0) return undefined;
  const columns = viewColumns(view).map(quoteIdent).join(', ');
  const now = `SELECT ${columns} FROM (${tableRelation(ws.tables, manifest, keys)})`;
  let rows = now;
  try {
    const before = await ws.tables.read(source.asset, since);
    const kept = keys.filter((key) => before.partitions[key] !== undefined);
    if (kept.length > 0) rows = `${now} EXCEPT ALL SELECT ${columns} FROM (${tableRelation(ws.tables, before, kept)})`;
    const [row] = await session.query<{ micros: bigint | null }>(`SELECT epoch_us(min(CAST(${quoteIdent(view.timestamp)} AS TIMESTAMP))) AS micros FROM (${rows})`);
    if (row?.micros === null || row?.micros === undefined) return undefined;
    return { fromMicros: Number(row.micros), partitions: keys.slice(0, 5000) };
  } catch (error) {
    // The version read last is gone (vacuumed) or no longer has the view's columns: read everything again.
    ws.logger.warn({ view: view.name, asset: source.asset, since, err: errorMessage(error) }, 'cannot compare with the version materialised last: materialising the whole view again');
    return { fromMicros: null, partitions: keys.slice(0, 5000) };
  }
}

export function isoMicros(micros: number): string {
  return new Date(Math.floor(micros / 1000)).toISOString();
}

/** Parse a CLI time: an ISO date or timestamp (UTC unless it says otherwise), or `now`; epoch microseconds. */
export function parseTimeArg(text: string, flag: string): number {
  if (text === 'now') return Date.now() * 1000;
  const ms = parseInstant(text);
  if (ms === undefined) throw new SluiceError('CONFIG_INVALID', `${flag}: ${JSON.stringify(text)} is not a date or timestamp; use e.g. 2026-11-25 or 2026-11-25T13:00:00Z or now`);
  return ms * 1000;
}

function parseValues(json: unknown): Record<string, unknown> {
  return JSON.parse(String(json)) as Record<string, unknown>;
}
