// SQL for feature views: a view's rows (one per entity and event time, deterministic under ties), windowed
// aggregations as RANGE window frames over event time, and the latest row per entity. Pure text.
import type { Aggregation, FeatureView, WindowedFeatureView } from '../define/features.ts';
import { quoteIdent } from './identifiers.ts';

/** The event-time column every view relation has, as TIMESTAMP (UTC). */
export const EVENT_TS = '__event_ts';

/** A SQL interval of exactly this many microseconds. */
export function intervalSql(microseconds: number): string {
  return `INTERVAL '${Math.round(microseconds)} microseconds'`;
}

/** A TIMESTAMP literal for epoch microseconds (UTC). */
export function timestampSql(epochMicros: number): string {
  return `make_timestamp(${Math.round(epochMicros)}::BIGINT)`;
}

export interface ViewRowsOptions {
  /** Only rows with event time at or after this (epoch microseconds); windows still see earlier events. */
  readonly fromMicros?: number | undefined;
  /** Only rows with event time at or before this (epoch microseconds). */
  readonly toMicros?: number | undefined;
}

/**
 * The rows of a feature view over `sourceRelation`: the entity key columns, `__event_ts` and the features,
 * exactly one row per entity and event time.
 */
export function viewRowsSql(view: FeatureView, sourceRelation: string, options: ViewRowsOptions = {}): string {
  return view.type === 'columns' ? columnRowsSql(view, sourceRelation, options) : windowedRowsSql(view, sourceRelation, options);
}

function keyList(view: FeatureView): string {
  return view.entity.keys.map((k) => quoteIdent(k.name)).join(', ');
}

function keysPresent(view: FeatureView): string {
  return view.entity.keys.map((k) => `${quoteIdent(k.name)} IS NOT NULL`).join(' AND ');
}

function timeFilter(column: string, from: number | undefined, to: number | undefined): string {
  const parts = ['TRUE'];
  if (from !== undefined) parts.push(`${column} >= ${timestampSql(from)}`);
  if (to !== undefined) parts.push(`${column} <= ${timestampSql(to)}`);
  return parts.join(' AND ');
}

function eventTimeSql(view: FeatureView): string {
  return `CAST(${quoteIdent(view.timestamp)} AS TIMESTAMP)`;
}

/**
 * Plain columns. Rows with the same entity and event time collapse to the one whose (tie-breaker, features)
 * sorts last, so every reader (training sets, materialisation, skew checks) picks the same row. A NULL
 * tie-breaker sorts first (it loses to any value): struct comparison would put it last, so a flag of
 * whether it is present leads the struct.
 */
function columnRowsSql(view: FeatureView & { type: 'columns' }, sourceRelation: string, options: ViewRowsOptions): string {
  const keys = keyList(view);
  const packed = [
    ...(view.tieBreaker === undefined ? [] : [`"__has_tie" := ${quoteIdent(view.tieBreaker)} IS NOT NULL`, `"__tie" := ${quoteIdent(view.tieBreaker)}`]),
    ...view.features.map((f) => `${quoteIdent(f)} := ${quoteIdent(f)}`),
  ].join(', ');
  const picked = view.features.map((f) => `__row.${quoteIdent(f)} AS ${quoteIdent(f)}`).join(', ');
  return `SELECT ${keys}, ${EVENT_TS}, ${picked} FROM (
  SELECT ${keys}, ${eventTimeSql(view)} AS ${EVENT_TS}, max(struct_pack(${packed})) AS __row
  FROM (${sourceRelation})
  WHERE ${quoteIdent(view.timestamp)} IS NOT NULL AND ${keysPresent(view)} AND ${timeFilter(eventTimeSql(view), options.fromMicros, options.toMicros)}
  GROUP BY ALL
)`;
}

function windowName(aggregation: Aggregation): string {
  return `__w_${aggregation.windowMs}`;
}

function windowedExpression(aggregation: Aggregation): string {
  const column = aggregation.column === undefined ? undefined : quoteIdent(aggregation.column);
  const over = `OVER ${windowName(aggregation)}`;
  switch (aggregation.function) {
    case 'count': return `count(${column ?? '*'}) ${over}`;
    case 'sum': return `sum(${column as string}) ${over}`;
    case 'avg': return `avg(${column as string}) ${over}`;
    case 'min': return `min(${column as string}) ${over}`;
    case 'max': return `max(${column as string}) ${over}`;
    case 'count_distinct': return `count(DISTINCT ${column as string}) ${over}`;
    // The latest event's value; resolved after grouping (see below), so nothing to compute per frame.
    case 'last': return `NULL`;
  }
}

/**
 * Windowed aggregations: per event, a RANGE frame over the entity's events in (e - window, e], or with a
 * tile over whole tiles [tileStart(e) - window + tile, e] (the frame
 * includes every event at time e, so events at the same time get the same values); then one row per entity
 * and event time. `last` is the value of the latest event, the greatest non-null one among events at that time.
 */
function windowedRowsSql(view: WindowedFeatureView, sourceRelation: string, options: ViewRowsOptions): string {
  const keys = keyList(view);
  const longest = Math.max(...view.aggregations.map((a) => a.windowMs));
  // Events older than `from` still count in the windows of rows at or after it.
  const readFrom = options.fromMicros === undefined ? undefined : options.fromMicros - longest * 1000;
  const windows = [...new Set(view.aggregations.map((a) => a.windowMs))].map((ms) => {
    if (view.tileMs === undefined) {
      return `__w_${ms} AS (PARTITION BY ${keys} ORDER BY ${EVENT_TS} RANGE BETWEEN ${intervalSql(ms * 1000 - 1)} PRECEDING AND CURRENT ROW)`;
    }
    // Whole tiles: from tileStart(e) - window + tile, a per-row offset of (e mod tile) + window - tile.
    const tileUs = view.tileMs * 1000;
    return `__w_${ms} AS (PARTITION BY ${keys} ORDER BY epoch_us(${EVENT_TS}) RANGE BETWEEN (epoch_us(${EVENT_TS}) % ${tileUs} + ${ms * 1000 - tileUs}) PRECEDING AND CURRENT ROW)`;
  });
  const columns = [...new Set(view.aggregations.flatMap((a) => (a.column === undefined ? [] : [a.column])))];
  const perEvent = view.aggregations.map((a) => `${windowedExpression(a)} AS ${quoteIdent(a.name)}`).join(',\n    ');
  const collapsed = view.aggregations.map((a) =>
    a.function === 'last' ? `max(${quoteIdent(`__last_${a.column as string}`)}) AS ${quoteIdent(a.name)}` : `any_value(${quoteIdent(a.name)}) AS ${quoteIdent(a.name)}`).join(', ');
  const lastColumns = [...new Set(view.aggregations.filter((a) => a.function === 'last').map((a) => a.column as string))]
    .map((c) => `, ${quoteIdent(c)} AS ${quoteIdent(`__last_${c}`)}`).join('');
  return `SELECT ${keys}, ${EVENT_TS}, ${collapsed} FROM (
  SELECT ${keys}, ${EVENT_TS}${lastColumns},
    ${perEvent}
  FROM (
    SELECT ${keys}, ${eventTimeSql(view)} AS ${EVENT_TS}${columns.map((c) => `, ${quoteIdent(c)}`).join('')}
    FROM (${sourceRelation})
    WHERE ${quoteIdent(view.timestamp)} IS NOT NULL AND ${keysPresent(view)} AND ${timeFilter(eventTimeSql(view), readFrom, options.toMicros)}
  )
  WINDOW ${windows.join(', ')}
)
WHERE ${timeFilter(EVENT_TS, options.fromMicros, options.toMicros)}
GROUP BY ALL`;
}

/** The latest row per entity of a view-rows relation (event times are unique per entity there). */
export function latestPerEntitySql(view: FeatureView, viewRows: string): string {
  return `SELECT * FROM (${viewRows}) QUALIFY ${EVENT_TS} = max(${EVENT_TS}) OVER (PARTITION BY ${keyList(view)})`;
}
