// Checking one raw event against its stream's declared schema: JSON, required fields, types, a parseable event
// time. A record that fails gets a reason naming the field, for the dead-letter store; nothing is dropped
// silently. This runs once per event, so it avoids allocations beyond the parsed record.
import type { EventFieldType, EventStream } from '../define/stream.ts';

export interface ValidEvent {
  readonly ok: true;
  /** The record with timestamps as epoch microseconds and ints as numbers. */
  readonly record: Record<string, unknown>;
  readonly eventTimeMicros: number;
  readonly id: string | undefined;
}

export interface InvalidEvent {
  readonly ok: false;
  readonly reason: string;
  readonly field: string | null;
}

const decoder = new TextDecoder();

export function parseEvent(stream: EventStream, raw: string | Uint8Array): ValidEvent | InvalidEvent {
  const text = typeof raw === 'string' ? raw : decoder.decode(raw);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}`, field: null };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not a JSON object', field: null };
  const record = value as Record<string, unknown>;
  for (const field of stream.required) {
    if (record[field] === undefined || record[field] === null) return { ok: false, reason: `required field "${field}" is missing`, field };
  }
  for (const field in stream.fields) {
    const v = record[field];
    if (v === undefined || v === null) continue;
    const checked = coerce(v, stream.fields[field] as EventFieldType);
    if (checked === INVALID) return { ok: false, reason: `field "${field}": expected ${stream.fields[field] as string}, got ${describe(v)}`, field };
    record[field] = checked;
  }
  const id = stream.id === undefined ? undefined : String(record[stream.id]);
  return { ok: true, record, eventTimeMicros: record[stream.timestamp] as number, id };
}

const INVALID = Symbol('invalid');

function coerce(value: unknown, type: EventFieldType): unknown {
  switch (type) {
    case 'string': return typeof value === 'string' ? value : INVALID;
    case 'bool': return typeof value === 'boolean' ? value : INVALID;
    case 'float': return typeof value === 'number' && Number.isFinite(value) ? value : INVALID;
    case 'int': return typeof value === 'number' && Number.isSafeInteger(value) ? value : INVALID;
    case 'timestamp': {
      if (typeof value === 'number' && Number.isFinite(value)) return Math.round(value * 1000);
      if (typeof value !== 'string') return INVALID;
      const iso = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(value) ? value : `${value}Z`;
      const ms = Date.parse(iso);
      return Number.isFinite(ms) ? ms * 1000 + subMillisecondMicros(value) : INVALID;
    }
  }
}

/** Date.parse keeps milliseconds; ISO text may carry microseconds (".123456"). */
function subMillisecondMicros(text: string): number {
  const match = /\.\d{3}(\d{1,3})/.exec(text);
  return match === null ? 0 : Number((match[1] as string).padEnd(3, '0'));
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
