// Partition definitions and the arithmetic on their keys. Three kinds:
// - daily: keys `YYYY-MM-DD` (UTC days), exposed to SQL as a DATE column (default `date`);
// - hourly: keys `YYYY-MM-DDTHH` (UTC hours), exposed as a TIMESTAMP column (default `hour`);
// - static: a declared list of keys (`eu`, `us`), exposed as a VARCHAR column (default `partition`);
// - multi: time x static, keys `2026-01-01|eu`, two columns, nested folders `date=2026-01-01/region=eu`.
// Daily and hourly are time partitions: windows (`lookback`, `lookahead`) count in the reader's own grain, and a
// reader of another grain reads the partitions that overlap its window (a day reads its 24 hours, an hour the
// day it falls in). Between a time and a static definition there is no mapping: the reader reads the other's
// existing partitions as they are, as an unpartitioned asset does.
import { SluiceError } from '../errors.ts';

export interface DailyPartitions {
  readonly kind: 'daily';
  /** First partition, YYYY-MM-DD. */
  readonly start: string;
  /** Last partition allowed, YYYY-MM-DD; open-ended when absent. */
  readonly end: string | undefined;
  /** Hive partition column written in folder names and exposed to SQL as a DATE. */
  readonly column: string;
}

export interface HourlyPartitions {
  readonly kind: 'hourly';
  /** First partition, YYYY-MM-DDTHH (UTC). */
  readonly start: string;
  /** Last partition allowed, YYYY-MM-DDTHH; open-ended when absent. */
  readonly end: string | undefined;
  /** Hive partition column, exposed to SQL as a TIMESTAMP (the hour's start, UTC). */
  readonly column: string;
}

export interface StaticPartitions {
  readonly kind: 'static';
  /** The partition keys, in order. */
  readonly keys: readonly string[];
  /** Hive partition column, exposed to SQL as a VARCHAR. */
  readonly column: string;
}

/**
 * Two dimensions, time x static: keys `2026-01-01|eu`, two partition columns (`date`, `region`), folders
 * `date=2026-01-01/region=eu`.
 */
export interface MultiPartitions {
  readonly kind: 'multi';
  readonly time: TimePartitions;
  readonly static: StaticPartitions;
  /** `<time column>/<static column>`: the Hive folder levels, outermost first. */
  readonly column: string;
}

export type TimePartitions = DailyPartitions | HourlyPartitions;
export type Partitions = TimePartitions | StaticPartitions | MultiPartitions;

/** The separator of a two-dimensional key's parts: `2026-01-01|eu`. */
export const KEY_SEPARATOR = '|';

const DATE_KEY = /^(\d{4})-(\d{2})-(\d{2})$/;
const HOUR_KEY = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})$/;
/** Static keys become folder names and SQL strings: letters, digits, `_`, `-` and `.`, not starting with `.`. */
const STATIC_KEY = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

/** Whether a value can be a static or dynamic partition key (it names a folder). */
export function isStaticKey(key: string): boolean {
  return STATIC_KEY.test(key);
}
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export function isDateKey(value: string): boolean {
  const match = DATE_KEY.exec(value);
  if (match === null) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

export function isHourKey(value: string): boolean {
  const match = HOUR_KEY.exec(value);
  if (match === null) return false;
  const date = new Date(`${value}:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 13) === value;
}

// Plans over years of partitions parse and format the same keys many times (windows overlap): valid keys and
// their instants are remembered, up to a bound.
const KEY_CACHE_LIMIT = 200_000;
const parsedKeys = new Map<string, number>();
const formattedKeys = new Map<number, string>();

function remember<K, V>(cache: Map<K, V>, key: K, value: V): V {
  if (cache.size >= KEY_CACHE_LIMIT) cache.clear();
  cache.set(key, value);
  return value;
}

export function parseDateKey(value: string, what = 'partition'): number {
  const known = parsedKeys.get(value);
  if (known !== undefined && value.length === 10) return known;
  if (!isDateKey(value)) {
    throw new SluiceError('INVALID_PARTITION', `${what} ${JSON.stringify(value)} is not a date: use YYYY-MM-DD`, { partition: value });
  }
  return remember(parsedKeys, value, Date.parse(`${value}T00:00:00Z`));
}

export function parseHourKey(value: string, what = 'partition'): number {
  const known = parsedKeys.get(value);
  if (known !== undefined && value.length === 13) return known;
  if (!isHourKey(value)) {
    throw new SluiceError('INVALID_PARTITION', `${what} ${JSON.stringify(value)} is not an hour: use YYYY-MM-DDTHH (UTC), e.g. 2026-01-01T05`, { partition: value });
  }
  return remember(parsedKeys, value, Date.parse(`${value}:00:00Z`));
}

/** `2026-01-01T05:00:00.000Z` for an instant; formatted once per instant. */
function isoOf(epochMs: number): string {
  return formattedKeys.get(epochMs) ?? remember(formattedKeys, epochMs, new Date(epochMs).toISOString());
}

export function formatDateKey(epochMs: number): string {
  return isoOf(epochMs).slice(0, 10);
}

export function formatHourKey(epochMs: number): string {
  return isoOf(epochMs).slice(0, 13);
}

export function addDays(key: string, days: number): string {
  return formatDateKey(parseDateKey(key) + days * DAY_MS);
}

/** Keys from `from` to `to`, both inclusive. */
export function dateRange(from: string, to: string): string[] {
  const start = parseDateKey(from, '--from');
  const end = parseDateKey(to, '--to');
  if (end < start) throw new SluiceError('INVALID_PARTITION', `--to ${to} is before --from ${from}`);
  const keys: string[] = [];
  for (let t = start; t <= end; t += DAY_MS) keys.push(formatDateKey(t));
  return keys;
}

export function dailyPartitions(options: { start: string; end?: string; column?: string }): DailyPartitions {
  parseDateKey(options.start, 'partitions start');
  if (options.end !== undefined && parseDateKey(options.end, 'partitions end') < parseDateKey(options.start)) {
    throw new SluiceError('DEFINITION_INVALID', `partitions end ${options.end} is before start ${options.start}`);
  }
  return Object.freeze({ kind: 'daily', start: options.start, end: options.end, column: options.column ?? 'date' });
}

/** Hourly partitions (UTC). `start` and `end` are hours `YYYY-MM-DDTHH`, or days (their first, or last, hour). */
export function hourlyPartitions(options: { start: string; end?: string; column?: string }): HourlyPartitions {
  const start = isDateKey(options.start) ? `${options.start}T00` : options.start;
  const end = options.end === undefined ? undefined : isDateKey(options.end) ? `${options.end}T23` : options.end;
  parseHourKey(start, 'partitions start');
  if (end !== undefined && parseHourKey(end, 'partitions end') < parseHourKey(start)) {
    throw new SluiceError('DEFINITION_INVALID', `partitions end ${end} is before start ${start}`);
  }
  return Object.freeze({ kind: 'hourly', start, end, column: options.column ?? 'hour' });
}

/** A fixed list of partitions, e.g. regions: `staticPartitions(['eu', 'us'], { column: 'region' })`. */
export function staticPartitions(keys: readonly string[], options: { column?: string } = {}): StaticPartitions {
  if (keys.length === 0) throw new SluiceError('DEFINITION_INVALID', 'staticPartitions needs at least one key');
  const seen = new Set<string>();
  for (const key of keys) {
    if (!STATIC_KEY.test(key)) {
      throw new SluiceError('DEFINITION_INVALID', `static partition key ${JSON.stringify(key)} must be letters, digits, _, - and . (not starting with .), at most 128 characters: it names a folder`, { partition: key });
    }
    if (seen.has(key)) throw new SluiceError('DEFINITION_INVALID', `static partition key ${JSON.stringify(key)} is listed twice`, { partition: key });
    seen.add(key);
  }
  return Object.freeze({ kind: 'static', keys: Object.freeze([...keys]), column: options.column ?? 'partition' });
}

/** Time x static partitions: `multiPartitions(dailyPartitions({ start }), staticPartitions(['eu', 'us'], { column: 'region' }))`. */
export function multiPartitions(time: TimePartitions, keys: StaticPartitions): MultiPartitions {
  if (time.column === keys.column) throw new SluiceError('DEFINITION_INVALID', `multiPartitions: both dimensions are named "${time.column}"; give the static one its own column`);
  return Object.freeze({ kind: 'multi', time, static: keys, column: `${time.column}/${keys.column}` });
}

export function isTimePartitions(partitions: Partitions): partitions is TimePartitions {
  return partitions.kind === 'daily' || partitions.kind === 'hourly';
}

/** The two parts of a two-dimensional key (undefined when it has not exactly two). */
export function splitKey(key: string): { readonly time: string; readonly static: string } | undefined {
  const parts = key.split(KEY_SEPARATOR);
  return parts.length === 2 ? { time: parts[0] as string, static: parts[1] as string } : undefined;
}

export function joinKey(time: string, key: string): string {
  return `${time}${KEY_SEPARATOR}${key}`;
}

/** The partition columns, outermost first, with their DuckDB types. */
export function partitionColumns(partitions: Partitions): { readonly name: string; readonly type: 'DATE' | 'TIMESTAMP' | 'VARCHAR' }[] {
  if (partitions.kind === 'multi') return [...partitionColumns(partitions.time), ...partitionColumns(partitions.static)];
  return [{ name: partitions.column, type: partitionColumnType(partitions) }];
}

/** Each partition column's value for `key`, as SQL literals. */
export function partitionValues(partitions: Partitions, key: string): { readonly name: string; readonly literal: string }[] {
  if (partitions.kind === 'multi') {
    checkKey(partitions, key);
    const parts = splitKey(key) as { time: string; static: string };
    return [...partitionValues(partitions.time, parts.time), ...partitionValues(partitions.static, parts.static)];
  }
  return [{ name: partitions.column, literal: partitionLiteral(partitions, key) }];
}

/** What a key of `partitions` looks like, for messages: `YYYY-MM-DD`, `YYYY-MM-DDTHH`, `one of eu, us`. */
export function keyFormat(partitions: Partitions): string {
  if (partitions.kind === 'daily') return 'YYYY-MM-DD';
  if (partitions.kind === 'hourly') return 'YYYY-MM-DDTHH (UTC)';
  if (partitions.kind === 'multi') return `${keyFormat(partitions.time)}${KEY_SEPARATOR}<${partitions.static.keys.join(', ')}>`;
  return `one of ${partitions.keys.join(', ')}`;
}

/** The definition for messages: `daily from 2026-01-01`, `hourly from ... to ...`, `static: eu, us`. */
export function describePartitions(partitions: Partitions): string {
  if (partitions.kind === 'static') return `static: ${partitions.keys.join(', ')}`;
  if (partitions.kind === 'multi') return `${describePartitions(partitions.time)} x ${describePartitions(partitions.static)}`;
  return `${partitions.kind} from ${partitions.start}${partitions.end === undefined ? ' onwards' : ` to ${partitions.end}`}`;
}

/** Whether `key` has the form of a key of `partitions` (not whether it is within their range). */
export function isKeyOf(partitions: Partitions, key: string): boolean {
  if (partitions.kind === 'daily') return isDateKey(key);
  if (partitions.kind === 'hourly') return isHourKey(key);
  if (partitions.kind === 'multi') {
    const parts = splitKey(key);
    return parts !== undefined && isKeyOf(partitions.time, parts.time) && isKeyOf(partitions.static, parts.static);
  }
  return partitions.keys.includes(key);
}

function startMs(partitions: TimePartitions, key: string): number {
  return partitions.kind === 'daily' ? parseDateKey(key) : parseHourKey(key);
}

function grainMs(partitions: TimePartitions): number {
  return partitions.kind === 'daily' ? DAY_MS : HOUR_MS;
}

function formatKey(partitions: TimePartitions, epochMs: number): string {
  return partitions.kind === 'daily' ? formatDateKey(epochMs) : formatHourKey(epochMs);
}

/** The first and last partition's start of a time definition, epoch ms (parsed once per definition: plans ask often). */
const boundsCache = new WeakMap<TimePartitions, { readonly first: number; readonly last: number }>();
function boundsMs(partitions: TimePartitions): { readonly first: number; readonly last: number } {
  let bounds = boundsCache.get(partitions);
  if (bounds === undefined) {
    bounds = { first: startMs(partitions, partitions.start), last: partitions.end === undefined ? Number.POSITIVE_INFINITY : startMs(partitions, partitions.end) };
    boundsCache.set(partitions, bounds);
  }
  return bounds;
}

/** Whether a key belongs to the partition set (well-formed, and within start and end, or listed). */
export function inPartitions(partitions: Partitions, key: string): boolean {
  if (!isKeyOf(partitions, key)) return false;
  if (partitions.kind === 'static') return true;
  if (partitions.kind === 'multi') return inPartitions(partitions.time, (splitKey(key) as { time: string }).time);
  const t = startMs(partitions, key);
  const { first, last } = boundsMs(partitions);
  return t >= first && t <= last;
}

/** Check that `key` is a well-formed key of `partitions`, with a message naming the expected form. */
export function checkKey(partitions: Partitions, key: string, what = 'partition'): void {
  if (isKeyOf(partitions, key)) return;
  throw new SluiceError('INVALID_PARTITION', `${what} ${JSON.stringify(key)} is not a ${partitions.kind} partition: use ${keyFormat(partitions)}`, { partition: key });
}

/** The key `offset` partitions after `key` (before, when negative); static keys have no neighbours. */
export function shiftKey(partitions: Partitions, key: string, offset: number): string | undefined {
  if (partitions.kind === 'static') return offset === 0 ? key : undefined;
  if (partitions.kind === 'multi') {
    const parts = splitKey(key) as { time: string; static: string };
    return joinKey(shiftKey(partitions.time, parts.time, offset) as string, parts.static);
  }
  return formatKey(partitions, startMs(partitions, key) + offset * grainMs(partitions));
}

/** The partition before `key`, for checks that compare with the previous one; none for static keys. */
export function previousKey(partitions: Partitions, key: string): string | undefined {
  return shiftKey(partitions, key, -1);
}

/** The instants a time partition covers, [start, end); undefined for a static key. */
export function timeRange(partitions: Partitions, key: string): { readonly start: number; readonly end: number } | undefined {
  if (partitions.kind === 'static') return undefined;
  if (partitions.kind === 'multi') return timeRange(partitions.time, (splitKey(key) as { time: string }).time);
  const start = startMs(partitions, key);
  return { start, end: start + grainMs(partitions) };
}

/**
 * Keys from `from` to `to`, both inclusive, within the definition. For hourly partitions a day stands for its
 * hours (`--from 2026-01-01 --to 2026-01-02`: 48 hours). Static partitions: every key from `from` to `to` in
 * their declared order.
 */
export function keysBetween(partitions: Partitions, from: string, to: string): string[] {
  if (partitions.kind === 'multi') {
    const times = keysBetween(partitions.time, splitKey(from)?.time ?? from, splitKey(to)?.time ?? to);
    return times.flatMap((time) => partitions.static.keys.map((key) => joinKey(time, key)));
  }
  if (partitions.kind === 'static') {
    const first = partitions.keys.indexOf(from);
    const last = partitions.keys.indexOf(to);
    if (first < 0 || last < 0) throw new SluiceError('INVALID_PARTITION', `--from ${from} --to ${to}: static partitions are ${partitions.keys.join(', ')}`);
    if (last < first) throw new SluiceError('INVALID_PARTITION', `--to ${to} comes before --from ${from} (keys: ${partitions.keys.join(', ')})`);
    return partitions.keys.slice(first, last + 1);
  }
  const fromKey = partitions.kind === 'hourly' && isDateKey(from) ? `${from}T00` : from;
  const toKey = partitions.kind === 'hourly' && isDateKey(to) ? `${to}T23` : to;
  checkKey(partitions, fromKey, '--from');
  checkKey(partitions, toKey, '--to');
  const start = startMs(partitions, fromKey);
  const end = startMs(partitions, toKey);
  if (end < start) throw new SluiceError('INVALID_PARTITION', `--to ${to} is before --from ${from}`);
  const keys: string[] = [];
  for (let t = start; t <= end; t += grainMs(partitions)) keys.push(formatKey(partitions, t));
  return keys;
}

/** The DuckDB type of the partition column. */
export function partitionColumnType(partitions: TimePartitions | StaticPartitions): 'DATE' | 'TIMESTAMP' | 'VARCHAR' {
  return partitions.kind === 'daily' ? 'DATE' : partitions.kind === 'hourly' ? 'TIMESTAMP' : 'VARCHAR';
}

/** An instant as a SQL TIMESTAMP literal (UTC, seconds): `TIMESTAMP '2026-01-01 05:00:00'`. */
export function timestampLiteral(epochMs: number): string {
  return `TIMESTAMP '${new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ')}'`;
}

/** The partition column's value for `key`, as a SQL literal: `DATE '2026-01-01'`, `TIMESTAMP '2026-01-01 05:00:00'`, `'eu'`. */
export function partitionLiteral(partitions: TimePartitions | StaticPartitions, key: string): string {
  checkKey(partitions, key);
  if (partitions.kind === 'daily') return `DATE '${key}'`;
  if (partitions.kind === 'hourly') return timestampLiteral(parseHourKey(key));
  return `'${key}'`;
}

/**
 * The keys of `upstream` that a reader partitioned by `downstream` reads for its partition `key`, its window
 * widened by `lookback` and `lookahead` (in the reader's grain); `'all'` when the two cannot be mapped (time
 * against static), meaning the upstream's existing partitions are read as they are.
 */
export function upstreamKeys(downstream: Partitions, key: string, upstream: Partitions, lookback: number, lookahead: number): string[] | 'all' {
  if (downstream.kind === 'multi' || upstream.kind === 'multi') return multiUpstreamKeys(downstream, key, upstream, lookback, lookahead);
  if (downstream.kind === 'static' || upstream.kind === 'static') {
    if (downstream.kind !== 'static' || upstream.kind !== 'static') return 'all';
    return inPartitions(upstream, key) ? [key] : [];
  }
  const first = shiftKey(downstream, key, -lookback) as string;
  const last = shiftKey(downstream, key, lookahead) as string;
  const from = startMs(downstream, first);
  const until = startMs(downstream, last) + grainMs(downstream);
  const grain = grainMs(upstream);
  const { first: lowest, last: highest } = boundsMs(upstream);
  const keys: string[] = [];
  // Upstream partitions overlapping [from, until): from the one containing `from`, within the upstream's range.
  for (let t = Math.floor(from / grain) * grain; t < until; t += grain) {
    if (t >= lowest && t <= highest) keys.push(formatKey(upstream, t));
  }
  return keys;
}

/**
 * upstreamKeys where either side is two-dimensional: the time parts map as time partitions do, the static
 * parts must be equal; a dimension the other side lacks is taken whole (a daily reader of daily x region reads
 * every region of its day) or dropped (a daily x region reader of a daily upstream reads its day).
 */
function multiUpstreamKeys(downstream: Partitions, key: string, upstream: Partitions, lookback: number, lookahead: number): string[] | 'all' {
  const down = downstream.kind === 'multi' ? { time: downstream.time, static: downstream.static, parts: splitKey(key) as { time: string; static: string } } : undefined;
  const timeOf = (p: Partitions): TimePartitions | undefined => (p.kind === 'multi' ? p.time : isTimePartitions(p) ? p : undefined);
  const staticOf = (p: Partitions): StaticPartitions | undefined => (p.kind === 'multi' ? p.static : p.kind === 'static' ? p : undefined);
  const downTime = timeOf(downstream);
  const upTime = timeOf(upstream);
  const downTimeKey = down?.parts.time ?? (downTime === undefined ? undefined : key);
  const downStaticKey = down?.parts.static ?? (downstream.kind === 'static' ? key : undefined);
  // The time keys of the upstream (or none, when it has no time dimension).
  let times: (string | undefined)[];
  if (upTime === undefined) times = [undefined];
  else if (downTime === undefined || downTimeKey === undefined) return 'all';
  else times = upstreamKeys(downTime, downTimeKey, upTime, lookback, lookahead) as string[];
  const upStatic = staticOf(upstream);
  let statics: (string | undefined)[];
  if (upStatic === undefined) statics = [undefined];
  else if (downStaticKey !== undefined) statics = upStatic.keys.includes(downStaticKey) ? [downStaticKey] : [];
  else statics = [...upStatic.keys];
  const keys: string[] = [];
  for (const time of times) for (const part of statics) keys.push(time !== undefined && part !== undefined ? joinKey(time, part) : (time ?? part ?? ''));
  return keys;
}

/**
 * Check a key given on the command line before any definition sees it: a date, an hour, or a static key
 * (something made only of digits, `-`, `T` and `:` must be a real date or hour).
 */
export function checkRequestedKey(key: string, what = '--partition'): void {
  const parts = splitKey(key);
  if (parts !== undefined) {
    checkRequestedKey(parts.time, what);
    checkRequestedKey(parts.static, what);
    return;
  }
  if (isDateKey(key) || isHourKey(key)) return;
  if (!/^[0-9T:-]*$/.test(key) && STATIC_KEY.test(key)) return;
  throw new SluiceError('INVALID_PARTITION', `${what} ${JSON.stringify(key)} is not a partition key: use a date YYYY-MM-DD, an hour YYYY-MM-DDTHH, or a static key (letters, digits, _ - .)`, { partition: key });
}

/**
 * The keys of a range given on the command line: dates `YYYY-MM-DD` (days) or hours `YYYY-MM-DDTHH`, both
 * ends inclusive. A run maps them onto each asset's own kind (a day stands for its hours).
 */
export function rangeKeys(from: string, to: string): string[] {
  if (isHourKey(from) && isHourKey(to)) return keysBetween(hourlyPartitions({ start: from }), from, to);
  if (isDateKey(from) && isDateKey(to)) return dateRange(from, to);
  throw new SluiceError('INVALID_PARTITION', `--from ${from} --to ${to}: give two dates (YYYY-MM-DD) or two hours (YYYY-MM-DDTHH); for static partitions list the keys: --partition eu,us`);
}

/**
 * The keys of `partitions` that requested keys stand for: a key of the same kind as itself, a day for its hours
 * (hourly), an hour for its day (daily); keys outside the definition are left out.
 */
export function requestedKeys(partitions: Partitions, requested: readonly string[]): string[] {
  if (partitions.kind === 'multi') {
    // A full key stands for itself; a date or an hour for every static key of the times it stands for.
    const full = requested.filter((key) => inPartitions(partitions, key));
    const times = requestedKeys(partitions.time, requested.filter((key) => splitKey(key) === undefined));
    return [...new Set([...full, ...times.flatMap((time) => partitions.static.keys.map((key) => joinKey(time, key)))])].sort();
  }
  const keys = new Set<string>();
  for (const key of requested) {
    if (isKeyOf(partitions, key)) {
      if (inPartitions(partitions, key)) keys.add(key);
    } else if (partitions.kind === 'hourly' && isDateKey(key)) {
      for (const hour of upstreamKeys(dailyPartitions({ start: key }), key, partitions, 0, 0) as string[]) keys.add(hour);
    } else if (partitions.kind === 'daily' && isHourKey(key)) {
      const day = key.slice(0, 10);
      if (inPartitions(partitions, day)) keys.add(day);
    }
  }
  return [...keys].sort();
}

/** The first key of a definition (its start, or its first listed key). */
export function firstKey(partitions: Partitions): string {
  if (partitions.kind === 'static') return partitions.keys[0] as string;
  if (partitions.kind === 'multi') return joinKey(partitions.time.start, partitions.static.keys[0] as string);
  return partitions.start;
}

/**
 * The keys due by `nowMs`: every static key, and the time partitions from the start whose window has ended
 * (clipped at the declared end). What a table should hold once every schedule tick so far has run.
 */
export function dueKeys(partitions: Partitions, nowMs: number): string[] {
  if (partitions.kind === 'static') return [...partitions.keys];
  if (partitions.kind === 'multi') return dueKeys(partitions.time, nowMs).flatMap((time) => partitions.static.keys.map((key) => joinKey(time, key)));
  const lastStart = Math.floor(nowMs / grainMs(partitions)) * grainMs(partitions) - grainMs(partitions);
  const end = partitions.end === undefined ? lastStart : Math.min(lastStart, startMs(partitions, partitions.end));
  if (end < startMs(partitions, partitions.start)) return [];
  return keysBetween(partitions, partitions.start, formatKey(partitions, end));
}
