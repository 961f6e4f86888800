// Daily partitions: the partition definition and the calendar arithmetic on YYYY-MM-DD keys (UTC, no time zone drift).
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

export type Partitions = DailyPartitions;

const DATE_KEY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

export function isDateKey(value: string): boolean {
  const match = DATE_KEY.exec(value);
  if (match === null) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

export function parseDateKey(value: string, what = 'partition'): number {
  if (!isDateKey(value)) {
    throw new SluiceError('INVALID_PARTITION', `${what} ${JSON.stringify(value)} is not a date: use YYYY-MM-DD`, { partition: value });
  }
  return Date.parse(`${value}T00:00:00Z`);
}

export function formatDateKey(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
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

/** Whether a key belongs to the partition set (within start and end). */
export function inPartitions(partitions: DailyPartitions, key: string): boolean {
  const t = parseDateKey(key);
  if (t < parseDateKey(partitions.start)) return false;
  return partitions.end === undefined || t <= parseDateKey(partitions.end);
}
