// Publishes events to JetStream with acknowledgements, keeping a bounded window of publishes in flight so a
// batch is limited by throughput, not by one round trip per message.
import type { PubAck } from '@nats-io/jetstream';
import { SluiceError } from '../errors.ts';
import type { JetStreamHandle } from './nats-connection.ts';
import { natsError } from './nats-errors.ts';
import { checkSubject } from './nats-subjects.ts';

/** An event's bytes (or UTF-8 text), optionally with an id that JetStream deduplicates on (`Nats-Msg-Id`). */
export type EventRecord = Uint8Array | string | { readonly data: Uint8Array | string; readonly id?: string | undefined };

export interface PublishOptions {
  /** Publishes awaiting their ack at once; default 1024. */
  readonly maxInFlight?: number;
}

/**
 * Publish `records` to `subject` in order and return each one's stream sequence. A record whose id JetStream
 * has seen within the stream's duplicate window is not stored again; its sequence is the original's.
 */
export async function publishEvents(handle: JetStreamHandle, subject: string, records: readonly EventRecord[], options: PublishOptions = {}): Promise<number[]> {
  checkSubject(subject, false);
  const maxInFlight = Math.max(1, options.maxInFlight ?? 1024);
  const sequences = new Array<number>(records.length).fill(0);
  const window: Promise<void>[] = [];
  let failure: unknown;
  let acked = 0;
  const settle = (index: number, ack: Promise<PubAck>): Promise<void> =>
    ack.then(
      (pubAck) => {
        sequences[index] = pubAck.seq;
        acked++;
      },
      (error: unknown) => {
        failure ??= error;
      },
    );

  for (let i = 0; i < records.length && failure === undefined; i++) {
    const record = records[i] as EventRecord;
    const isPlain = typeof record === 'string' || record instanceof Uint8Array;
    const data = isPlain ? record : record.data;
    const id = isPlain ? undefined : record.id;
    window.push(settle(i, handle.js.publish(subject, data, id === undefined ? undefined : { msgID: id })));
    if (window.length >= maxInFlight) await window.shift();
  }
  await Promise.all(window);
  if (failure !== undefined) {
    const context = { subject, url: handle.url, published: acked, records: records.length };
    // The client reports "no responders" to a publish as JetStream not enabled; the handle has checked JetStream, so no stream listens.
    if (failure instanceof Error && failure.name === 'JetStreamNotEnabled') {
      throw new SluiceError('SOURCE_NOT_FOUND', `no JetStream stream captures subject '${subject}': declare one with ensureStream`, context, { cause: failure });
    }
    throw natsError(failure, `publishing to '${subject}' (${acked} of ${records.length} acknowledged; retrying with record ids is safe)`, context, 'TRANSIENT');
  }
  return sequences;
}
