// Point-in-time joins as SQL text: a spine joined to feature-view rows "as of" each spine row's time, with
// DuckDB's ASOF LEFT JOIN (one chain over every view), and the Feast-style ROW_NUMBER query that benchmarks
// and tests compare it with. Pure functions; the caller prepares the spine and describes the sources.
import type { FeatureView } from '../define/features.ts';
import { EVENT_TS, intervalSql, timestampSql, viewRowsSql, type ViewRowsOptions } from './features-sql.ts';
import { quoteIdent } from './identifiers.ts';

/** Spine column numbering the rows: unique, and the output order. */
export const PIT_ROW = '__pit_row';
/** Spine column holding the spine row's time as a TIMESTAMP (UTC). */
export const PIT_TS = '__pit_ts';

export interface PitSpineSql {
  /** A relation with the spine's rows: `__pit_row`, `__pit_ts`, the key columns and the columns to output. */
  readonly relation: string;
  /** Spine columns the result starts with, in order. */
  readonly columns: readonly string[];
}

export interface PitViewSql {
  readonly view: FeatureView;
  /** A SELECT over the view's source. */
  readonly source: string;
  /** Event-time bounds outside which no source row can be the answer for any spine row. */
  readonly range: ViewRowsOptions;
  /**
   * Per key column whose spine type differs from the view's, the view's type: the spine value is TRY_CAST to
   * it (a value that does not fit matches no row, as no entity can have it).
   */
  readonly keyCasts: Readonly<Record<string, string>>;
}

/** One output feature: `feature` of `views[view]`, named `as`. */
export interface PitSelect {
  readonly view: number;
  readonly feature: string;
  readonly as: string;
}

export interface PitJoinSql {
  readonly spine: PitSpineSql;
  readonly views: readonly PitViewSql[];
  /** The features, in output order. */
  readonly select: readonly PitSelect[];
  /** Start the output with `__pit_row` (to join more columns to the result later). */
  readonly keepRowId?: boolean;
}

const S = '__s';

function alias(index: number): string {
  return `__v${index}`;
}

/** The spine's key as the view types it. */
function spineKey(view: PitViewSql, key: string, spineAlias: string): string {
  const cast = view.keyCasts[key];
  const ref = `${spineAlias}.${quoteIdent(key)}`;
  return cast === undefined ? ref : `TRY_CAST(${ref} AS ${cast})`;
}

function keyMatch(view: PitViewSql, viewAlias: string, spineAlias: string): string {
  return view.view.entity.keys.map((k) => `${viewAlias}.${quoteIdent(k.name)} = ${spineKey(view, k.name, spineAlias)}`).join(' AND ');
}

/** True when the matched row is young enough: age (spine time - event time) at most the TTL, inclusive. */
function withinTtl(view: FeatureView, viewAlias: string, spineAlias: string): string | undefined {
  if (view.ttlMs === undefined) return undefined;
  return `${viewAlias}.${EVENT_TS} >= ${spineAlias}.${PIT_TS} - ${intervalSql(view.ttlMs * 1000)}`;
}

function whenFresh(view: FeatureView, viewAlias: string, spineAlias: string, value: string): string {
  const fresh = withinTtl(view, viewAlias, spineAlias);
  return fresh === undefined ? value : `CASE WHEN ${fresh} THEN ${value} END`;
}

function eventTime(view: FeatureView): string {
  return `CAST(${quoteIdent(view.timestamp)} AS TIMESTAMP)`;
}

/**
 * The source's rows for the entities the spine names. Every view value depends on its own entity's rows only
 * (windows are per entity too), so the rest can be dropped before any sorting or aggregation.
 */
function sourceForSpine(view: PitViewSql, spine: string): string {
  const keys = view.view.entity.keys.map((k) => quoteIdent(k.name));
  const spineKeys = `SELECT DISTINCT ${view.view.entity.keys.map((k) => `${spineKey(view, k.name, S)} AS ${quoteIdent(k.name)}`).join(', ')} FROM (${spine}) ${S}`;
  return `SELECT __src.* FROM (${view.source}) __src SEMI JOIN (${spineKeys}) __k ON ${keys.map((k) => `__src.${k} = __k.${k}`).join(' AND ')}`;
}

/** Every (key, event time) of a source in range, duplicates included: all ASOF needs to find the time. */
function eventTimesSql(view: PitViewSql, source: string): string {
  const keys = view.view.entity.keys.map((k) => quoteIdent(k.name));
  const filters = [`${quoteIdent(view.view.timestamp)} IS NOT NULL`, ...keys.map((k) => `${k} IS NOT NULL`)];
  if (view.range.fromMicros !== undefined) filters.push(`${eventTime(view.view)} >= ${timestampSql(view.range.fromMicros)}`);
  if (view.range.toMicros !== undefined) filters.push(`${eventTime(view.view)} <= ${timestampSql(view.range.toMicros)}`);
  return `SELECT ${keys.join(', ')}, ${eventTime(view.view)} AS ${EVENT_TS} FROM (${source}) WHERE ${filters.join(' AND ')}`;
}

function spineColumnList(spine: PitSpineSql, spineAlias: string, keepRowId: boolean): string[] {
  return [...(keepRowId ? [PIT_ROW] : []), ...spine.columns].map((c) => `${spineAlias}.${quoteIdent(c)}`);
}

/**
 * The training set with one chain of ASOF LEFT JOINs, one per view: each spine row takes its entity's greatest
 * event time at or before its own; past the view's TTL it takes none. ASOF returns at most one row per left
 * row, so the spine is never duplicated.
 *
 * Plain-column views join their source's (key, event time) pairs only, not deduplicated rows: every row at
 * the matched time has that time, so the answer is the same. The feature values are then read, with
 * viewRowsSql and its tie rule, from just the source rows at matched (key, time) pairs, and joined back on
 * (key, time), which is unique there: the whole source is never deduplicated (an aggregate over every row),
 * only the rows some spine row takes. Windowed views join their view rows, computed for the spine's entities.
 */
export function asofJoinSql(join: PitJoinSql): string {
  const isPlain = (i: number): boolean => join.views[i]?.view.type === 'columns';
  const asofs = join.views.map((view, i) => {
    const v = alias(i);
    const source = sourceForSpine(view, join.spine.relation);
    const right = isPlain(i) ? eventTimesSql(view, source) : viewRowsSql(view.view, source, view.range);
    return `ASOF LEFT JOIN (${right}) ${v} ON ${keyMatch(view, v, S)} AND ${S}.${PIT_TS} >= ${v}.${EVENT_TS}`;
  });
  // Per plain view its matched event time; per windowed view its selected features (both NULL past the TTL).
  const matched = join.views.flatMap((view, i) => {
    const v = alias(i);
    if (isPlain(i)) return [`${whenFresh(view.view, v, S, `${v}.${EVENT_TS}`)} AS __pit_t${i}`];
    return join.select.filter((sel) => sel.view === i).map((sel) => `${whenFresh(view.view, v, S, `${v}.${quoteIdent(sel.feature)}`)} AS ${quoteIdent(`__pit_w${i}:${sel.feature}`)}`);
  });
  const matchedCte = `__matched AS MATERIALIZED (
  SELECT ${S}.*${matched.map((m) => `, ${m}`).join('')}
  FROM (${join.spine.relation}) ${S}
  ${asofs.join('\n  ')}
)`;
  const valueCtes = join.views.flatMap((view, i) => {
    if (!isPlain(i)) return [];
    const keys = view.view.entity.keys;
    const pairs = `SELECT DISTINCT ${keys.map((k) => `${spineKey(view, k.name, S)} AS ${quoteIdent(k.name)}`).join(', ')}, __pit_t${i} AS __t FROM __matched ${S} WHERE __pit_t${i} IS NOT NULL`;
    const on = [...keys.map((k) => `__src.${quoteIdent(k.name)} = __p.${quoteIdent(k.name)}`), `CAST(__src.${quoteIdent(view.view.timestamp)} AS TIMESTAMP) = __p.__t`].join(' AND ');
    const rowsAtMatches = `SELECT __src.* FROM (${view.source}) __src SEMI JOIN (${pairs}) __p ON ${on}`;
    return [`__values${i} AS (${viewRowsSql(view.view, rowsAtMatches)})`];
  });
  const valueJoins = join.views.flatMap((view, i) => {
    if (!isPlain(i)) return [];
    const v = alias(i);
    return [`LEFT JOIN __values${i} ${v} ON ${keyMatch(view, v, S)} AND ${v}.${EVENT_TS} = ${S}.__pit_t${i}`];
  });
  const features = join.select.map((sel) => `${isPlain(sel.view) ? `${alias(sel.view)}.${quoteIdent(sel.feature)}` : `${S}.${quoteIdent(`__pit_w${sel.view}:${sel.feature}`)}`} AS ${quoteIdent(sel.as)}`);
  return `WITH ${[matchedCte, ...valueCtes].join(',\n')}
SELECT ${[...spineColumnList(join.spine, S, join.keepRowId === true), ...features].join(', ')}
FROM __matched ${S}
${valueJoins.join('\n')}
ORDER BY ${S}.${PIT_ROW}`;
}

/**
 * The same result the way Feast's offline stores compute it: per view, join every spine row to all of its
 * entity's rows (viewRowsSql) with event time at or before the spine time and within the TTL, keep the latest
 * with ROW_NUMBER() OVER (PARTITION BY spine row ORDER BY event time DESC) = 1, then join the views back to
 * the spine. Only the benchmark and tests use it.
 */
export function rowNumberJoinSql(join: PitJoinSql): string {
  const ctes = join.views.map((view, i) => {
    const v = alias(i);
    const selected = join.select.filter((sel) => sel.view === i).map((sel) => `, ${v}.${quoteIdent(sel.feature)} AS ${quoteIdent(`${i}:${sel.feature}`)}`);
    const conditions = [keyMatch(view, v, S), `${v}.${EVENT_TS} <= ${S}.${PIT_TS}`];
    const fresh = withinTtl(view.view, v, S);
    if (fresh !== undefined) conditions.push(fresh);
    return `__m${i} AS (
  SELECT ${S}.${PIT_ROW}${selected.join('')}
  FROM __spine ${S} JOIN (${viewRowsSql(view.view, view.source, view.range)}) ${v} ON ${conditions.join(' AND ')}
  QUALIFY row_number() OVER (PARTITION BY ${S}.${PIT_ROW} ORDER BY ${v}.${EVENT_TS} DESC) = 1
)`;
  });
  const features = join.select.map((sel) => `__m${sel.view}.${quoteIdent(`${sel.view}:${sel.feature}`)} AS ${quoteIdent(sel.as)}`);
  const joins = join.views.map((_, i) => `LEFT JOIN __m${i} ON __m${i}.${PIT_ROW} = ${S}.${PIT_ROW}`);
  return `WITH __spine AS (SELECT * FROM (${join.spine.relation})),
${ctes.join(',\n')}
SELECT ${[...spineColumnList(join.spine, S, join.keepRowId === true), ...features].join(', ')}
FROM __spine ${S}
${joins.join('\n')}
ORDER BY ${S}.${PIT_ROW}`;
}
