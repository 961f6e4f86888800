// Publishing raw events to a stream's JetStream subjects: each event goes to its key partition's subject, with
// its id as `Nats-Msg-Id` so JetStream drops redeliveries within its duplicate window. Events that are not
// JSON objects are published to partition 0 as they are: the stream job dead-letters them with a reason.
import { partitionOf, type EventStream } from '../define/stream.ts';
import { publishEvents, type EventRecord } from '../connectors/jetstream-publish.ts';
import { ensureStream } from '../connectors/jetstream-stream.ts';
import type { JetStreamHandle } from '../connectors/nats-connection.ts';
import { streamSubjects } from './run-jetstream.ts';

export async function publishToStream(handle: JetStreamHandle, stream: EventStream, lines: readonly string[]): Promise<number> {
  await ensureStream(handle, { stream: stream.jetStream.stream, subjects: streamSubjects(stream) });
  const bySubject = new Map<string, EventRecord[]>();
  for (const line of lines) {
    let record: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) record = parsed as Record<string, unknown>;
    } catch {
      record = undefined;
    }
    const subject = stream.partitions === 1 ? stream.jetStream.subject : `${stream.jetStream.subject}.${record === undefined ? 0 : partitionOf(stream, record)}`;
    const id = record !== undefined && stream.id !== undefined && record[stream.id] !== undefined ? String(record[stream.id]) : undefined;
    const list = bySubject.get(subject) ?? [];
    list.push(id === undefined ? line : { data: line, id });
    bySubject.set(subject, list);
  }
  let published = 0;
  for (const [subject, records] of bySubject) published += (await publishEvents(handle, subject, records)).length;
  return published;
}
