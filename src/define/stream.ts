// Event streams: where real-time events come from (a NATS JetStream subject, or NDJSON for embedded use), their
// declared schema, the event-time and id fields, and how much disorder and lateness the stream tolerates.
// Pure data; the stream runtime (src/stream) reads it.
import { SluiceError } from '../errors.ts';
import { isValidName } from './names.ts';
import { parseDuration, type Duration } from './duration.ts';

/** Types of event fields; `timestamp` accepts ISO-8601 text or epoch milliseconds. */
export type EventFieldType = 'int' | 'float' | 'string' | 'bool' | 'timestamp';
const FIELD_TYPES: readonly EventFieldType[] = ['int', 'float', 'string', 'bool', 'timestamp'];

export interface EventStream<N extends string = string> {
  readonly kind: 'eventStream';
  readonly name: N;
  /** JetStream stream name (defaults to the stream's name) and subject prefix (`<subject>.<partition>`). */
  readonly jetStream: { readonly stream: string; readonly subject: string };
  readonly fields: Readonly<Record<string, EventFieldType>>;
  /** Required fields; others may be absent or null. */
  readonly required: readonly string[];
  /** The event-time field (type timestamp). */
  readonly timestamp: string;
  /** The field that identifies an event, for deduplication. */
  readonly id: string | undefined;
  /** The watermark trails the newest event time by this much. */
  readonly allowedDisorderMs: number;
  /** Events older than the watermark by more than this go to the dead-letter store. */
  readonly allowedLatenessMs: number;
  /** How long event ids are remembered for deduplication. */
  readonly dedupeHorizonMs: number;
  /**
   * Key partitions: events go to subject `<subject>.<i>`, i = hash(partitionBy) mod partitions, and each
   * `sluice stream --partition i/n` worker consumes one. 1 (the default): one subject, one worker.
   */
  readonly partitions: number;
  readonly partitionBy: string | undefined;
  readonly description: string | undefined;
}

export interface EventStreamOptions {
  readonly fields: Readonly<Record<string, EventFieldType>>;
  readonly required?: readonly string[];
  readonly timestamp: string;
  readonly id?: string;
  readonly subject?: string;
  readonly jetStream?: string;
  readonly allowedDisorder?: Duration;
  readonly allowedLateness?: Duration;
  readonly dedupeHorizon?: Duration;
  readonly partitions?: number;
  /** The field whose value picks the partition (an entity key of the views the stream feeds). */
  readonly partitionBy?: string;
  readonly description?: string;
}

export function eventStream<const N extends string>(name: N, options: EventStreamOptions): EventStream<N> {
  const where = `event stream "${name}"`;
  if (!isValidName(name)) throw new SluiceError('DEFINITION_INVALID', `event stream name ${JSON.stringify(name)} is not allowed: use letters, digits and underscores`);
  for (const [field, type] of Object.entries(options.fields)) {
    if (!isValidName(field)) throw new SluiceError('DEFINITION_INVALID', `${where}: field name ${JSON.stringify(field)} is not allowed`);
    if (!FIELD_TYPES.includes(type)) throw new SluiceError('DEFINITION_INVALID', `${where} field "${field}": type ${JSON.stringify(type)} is not one of ${FIELD_TYPES.join(', ')}`);
  }
  const known = (field: string, what: string): void => {
    if (options.fields[field] === undefined) throw new SluiceError('DEFINITION_INVALID', `${where}: ${what} "${field}" is not a declared field (${Object.keys(options.fields).join(', ')})`);
  };
  known(options.timestamp, 'timestamp field');
  if (options.fields[options.timestamp] !== 'timestamp') throw new SluiceError('DEFINITION_INVALID', `${where}: timestamp field "${options.timestamp}" must have type timestamp`);
  if (options.id !== undefined) known(options.id, 'id field');
  for (const field of options.required ?? []) known(field, 'required field');
  const subject = options.subject ?? name;
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(subject)) throw new SluiceError('DEFINITION_INVALID', `${where}: subject ${JSON.stringify(subject)} must be dot-separated tokens of letters, digits, - and _`);
  const partitions = options.partitions ?? 1;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) throw new SluiceError('DEFINITION_INVALID', `${where}: partitions must be a whole number from 1 to 1024`);
  if (partitions > 1 && options.partitionBy === undefined) throw new SluiceError('DEFINITION_INVALID', `${where}: ${partitions} partitions need partitionBy, the field that picks an event's partition`);
  if (options.partitionBy !== undefined) known(options.partitionBy, 'partitionBy field');
  const required = [...new Set([options.timestamp, ...(options.id === undefined ? [] : [options.id]), ...(options.required ?? [])])];
  return Object.freeze({
    kind: 'eventStream',
    name,
    jetStream: Object.freeze({ stream: options.jetStream ?? name, subject }),
    fields: Object.freeze({ ...options.fields }),
    required: Object.freeze(required),
    timestamp: options.timestamp,
    id: options.id,
    allowedDisorderMs: options.allowedDisorder === undefined ? 0 : parseDuration(options.allowedDisorder, `${where} allowedDisorder`),
    allowedLatenessMs: options.allowedLateness === undefined ? 0 : parseDuration(options.allowedLateness, `${where} allowedLateness`),
    dedupeHorizonMs: options.dedupeHorizon === undefined ? 3_600_000 : parseDuration(options.dedupeHorizon, `${where} dedupeHorizon`),
    partitions,
    partitionBy: options.partitionBy,
    description: options.description,
  });
}

/** The partition of an event: FNV-1a of its partitionBy value's text, modulo the partitions (stable everywhere). */
export function partitionOf(stream: EventStream, record: Readonly<Record<string, unknown>>): number {
  if (stream.partitions === 1 || stream.partitionBy === undefined) return 0;
  const text = String(record[stream.partitionBy]);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % stream.partitions;
}

/** The subject an event is published to. */
export function subjectOf(stream: EventStream, record: Readonly<Record<string, unknown>>): string {
  return stream.partitions === 1 ? stream.jetStream.subject : `${stream.jetStream.subject}.${partitionOf(stream, record)}`;
}
