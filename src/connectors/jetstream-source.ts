// A durable JetStream pull consumer read as batches. Delivery is at least once: the caller checkpoints, then
// acks the batch; whatever was delivered and not acked comes back (immediately after a clean stop, after the
// ack wait after a crash), and the caller drops duplicates by stream sequence.
import { AckPolicy, DeliverPolicy, ReplayPolicy, type Consumer, type ConsumerConfig, type ConsumerInfo, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { SluiceError } from '../errors.ts';
import type { JetStreamHandle } from './nats-connection.ts';
import { isApiError, JS_CONSUMER_NOT_FOUND, JS_STREAM_NOT_FOUND, natsError } from './nats-errors.ts';
import { checkName, checkSubject } from './nats-subjects.ts';

export interface JetStreamSourceOptions {
  readonly stream: string;
  /** The durable consumer's name: its position survives restarts; one name per worker (or per filter). */
  readonly durable: string;
  /** Only messages on this subject (wildcards allowed), e.g. `events.3` for the worker of partition 3. */
  readonly filterSubject?: string;
  /**
   * First stream sequence to deliver, used only when the durable is created. To resume from a checkpoint
   * holding the last processed sequence `s`, pass `s + 1`: a fresh durable starts there, and an existing one
   * keeps its own position (its acks never run ahead of the checkpoint, since the caller acks after it).
   * Default: the start of the stream.
   */
  readonly startSequence?: number;
  /** How long a delivered message may stay unacked before JetStream redelivers it; default 30 s. */
  readonly ackWaitMs?: number;
  /** Delivered but unacked messages allowed at once (the prefetch bound); default 10 000. */
  readonly maxAckPending?: number;
  /**
   * Cumulative acks (JetStream's AckAll policy): acking a batch acks it and every batch before it with one
   * message, for a consumer that processes in order. Fixed when the durable is created. Default false.
   */
  readonly ackAll?: boolean;
}

export interface BatchOptions {
  /** Most messages in one batch; default 1000. */
  readonly maxMessages?: number;
  /** An idle stream yields an empty batch after this long (at least 1000 ms), so the caller can act on time; default 2000. It also bounds how long `stop()` waits. */
  readonly expiresMs?: number;
}

export interface StreamMessage {
  readonly data: Uint8Array;
  readonly subject: string;
  readonly streamSequence: number;
  /** True when JetStream delivered this message before (not acked in time, or returned by a stop). */
  readonly redelivered: boolean;
}

export interface JetStreamBatch {
  readonly messages: readonly StreamMessage[];
  /** Acknowledge every message of the batch (with `ackAll`, of every earlier batch too); resolves once JetStream has recorded the acks. */
  ack(): Promise<void>;
}

export interface ConsumerLag {
  /** Messages (matching the filter) not yet delivered to this consumer. */
  readonly pending: number;
  /** Delivered and not yet acked. */
  readonly ackPending: number;
  /** Messages delivered more than once so far that are still unacked. */
  readonly redelivered: number;
  /** Stream sequence of the last delivered message. */
  readonly deliveredSequence: number;
  /** Every message up to this stream sequence is acked. */
  readonly ackFloorSequence: number;
}

/** How long past its expiry a pull may stay open before the source ends it (cumulative acks only). */
const PULL_GRACE_MS = 250;

function noop(): void {
  // nobody is waiting
}

class Batch implements JetStreamBatch {
  readonly messages: readonly StreamMessage[];
  private state: 'open' | 'acked' | 'released' = 'open';

  constructor(
    private readonly raw: readonly JsMsg[],
    private readonly onSettled: (batch: Batch) => void,
    private readonly context: Record<string, unknown>,
    private readonly cumulative: boolean,
  ) {
    this.messages = raw.map((m) => ({ data: m.data, subject: m.subject, streamSequence: m.seq, redelivered: m.redelivered }));
  }

  async ack(): Promise<void> {
    if (this.state !== 'open') return;
    this.markAcked();
    this.onSettled(this);
    const last = this.raw.at(-1);
    if (last === undefined) return;
    // With AckAll the last message's ack covers the rest; otherwise each is acked.
    if (!this.cumulative) for (let i = 0; i < this.raw.length - 1; i++) (this.raw[i] as JsMsg).ack();
    // Acks of one connection are processed in order, so the confirmation of the last covers the whole batch.
    try {
      await last.ackAck();
    } catch (error) {
      throw natsError(error, `acking ${this.raw.length} messages`, this.context, 'TRANSIENT');
    }
  }

  /** Acked, by this batch's ack or (with AckAll) a later one's. */
  markAcked(): void {
    this.state = 'acked';
  }

  /** Hand the messages back for immediate redelivery (the iteration ended before the caller acked). */
  release(): void {
    if (this.state !== 'open') return;
    this.state = 'released';
    for (const m of this.raw) m.nak();
  }
}

export class JetStreamSource {
  private stopped = false;
  private iterating = false;
  /** Fetched, not yet handed to the caller; at most `maxMessages` (the fetch loop waits for room). */
  private readonly buffer: JsMsg[] = [];
  private reader: Promise<void> | undefined;
  private failure: unknown;
  private readonly wake = { batch: noop, room: noop };
  /** Consumer delivery sequence of the last message fetched (checked with cumulative acks). */
  private lastDelivery: number | undefined;

  private constructor(
    private readonly handle: JetStreamHandle,
    private readonly consumer: Consumer,
    readonly stream: string,
    readonly durable: string,
    private readonly ackAll: boolean,
  ) {}

  /** Bind to the durable consumer, creating it (from `startSequence`) when it does not exist. */
  static async open(handle: JetStreamHandle, options: JetStreamSourceOptions): Promise<JetStreamSource> {
    checkName('stream', options.stream);
    checkName('durable consumer', options.durable);
    if (options.filterSubject !== undefined) checkSubject(options.filterSubject, true);
    if (options.startSequence !== undefined && (!Number.isInteger(options.startSequence) || options.startSequence < 1)) {
      throw new SluiceError('CONFIG_INVALID', `startSequence must be a positive integer, got ${options.startSequence}`, { source: options.stream });
    }
    const context = { source: options.stream, consumer: options.durable, url: handle.url };
    try {
      await declareConsumer(handle, options);
      const consumer = await handle.js.consumers.get(options.stream, options.durable);
      return new JetStreamSource(handle, consumer, options.stream, options.durable, options.ackAll ?? false);
    } catch (error) {
      if (isApiError(error, JS_STREAM_NOT_FOUND)) {
        throw new SluiceError('SOURCE_NOT_FOUND', `JetStream stream '${options.stream}' does not exist at ${handle.url}: declare it with ensureStream`, context, { cause: error });
      }
      throw natsError(error, `opening consumer '${options.durable}' on stream '${options.stream}'`, context);
    }
  }

  /**
   * Batches in stream order. A batch holds what has arrived (up to `maxMessages`) as soon as anything has; an
   * idle stream gives an empty batch every `expiresMs`. Ends after `stop()` (or on `break`); batches not acked
   * by then are handed back for immediate redelivery, and acking them later does nothing.
   */
  async *batches(options: BatchOptions = {}): AsyncGenerator<JetStreamBatch, void, undefined> {
    if (this.iterating) throw new SluiceError('CONFIG_INVALID', `consumer '${this.durable}' is already being iterated`, this.context());
    if (this.stopped) return;
    this.iterating = true;
    const maxMessages = Math.max(1, options.maxMessages ?? 1000);
    const expiresMs = Math.max(1000, options.expiresMs ?? 2000);
    const open = new Set<Batch>();
    const settled = (batch: Batch): void => {
      if (!this.ackAll) {
        open.delete(batch);
        return;
      }
      // A cumulative ack settles the batches before it as well (the set keeps delivery order).
      for (const earlier of open) {
        open.delete(earlier);
        if (earlier === batch) break;
        earlier.markAcked();
      }
    };
    this.reader = this.fetchLoop(maxMessages, expiresMs).catch((error: unknown) => {
      this.failure = error;
      this.wake.batch();
    });
    try {
      while (!this.stopped && this.failure === undefined) {
        if (this.buffer.length === 0) await this.sleep('batch', expiresMs);
        // Let the rest of what the socket delivered reach the buffer: fewer, fuller batches, no added wait.
        if (this.buffer.length > 0 && this.buffer.length < maxMessages) await new Promise((resolve) => setImmediate(resolve));
        if (this.stopped || this.failure !== undefined) break;
        const batch = new Batch(this.buffer.splice(0, maxMessages), settled, this.context(), this.ackAll);
        this.wake.room();
        if (batch.messages.length > 0) open.add(batch);
        yield batch;
      }
      if (this.failure !== undefined) throw natsError(this.failure, `consuming '${this.durable}' on stream '${this.stream}'`, this.context(), 'TRANSIENT');
    } finally {
      this.stopped = true;
      this.wake.room();
      await this.reader;
      this.iterating = false;
      // Earlier batches first, then the prefetched rest: JetStream redelivers in the order it gets the naks.
      for (const batch of open) batch.release();
      for (const m of this.buffer.splice(0)) m.nak();
      await this.flush();
    }
  }

  /**
   * Stop fetching; the iteration ends after the batch being processed. Resolves once the pull in flight has
   * finished (at most `expiresMs`), so no message is left travelling to a closed subscription.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.batch();
    this.wake.room();
    await this.reader;
  }

  /** The consumer's backlog, for monitoring and autoscaling. */
  async lag(): Promise<ConsumerLag> {
    let info: ConsumerInfo;
    try {
      info = await this.consumer.info(false);
    } catch (error) {
      throw natsError(error, `reading consumer '${this.durable}'`, this.context(), 'TRANSIENT');
    }
    return {
      pending: info.num_pending,
      ackPending: info.num_ack_pending,
      redelivered: info.num_redelivered,
      deliveredSequence: info.delivered.stream_seq,
      ackFloorSequence: info.ack_floor.stream_seq,
    };
  }

  /**
   * One pull at a time, each for the room left in the buffer. A pull ends when it is full or expires, and the
   * loop only stops between pulls: closing a pull early would strand the messages already on their way.
   */
  private async fetchLoop(maxMessages: number, expiresMs: number): Promise<void> {
    while (!this.stopped) {
      const room = maxMessages - this.buffer.length;
      if (room <= 0) {
        await this.sleep('room', expiresMs);
        continue;
      }
      const started = performance.now();
      const pulled = await this.consumer.fetch({ max_messages: room, expires: expiresMs });
      // nats-server 2.9 may expire a pull that got some messages without saying so (no 408), and the client
      // waits for two missed heartbeats (a second) before it gives up. With cumulative acks the source checks
      // that deliveries are contiguous, so it can end such a pull itself just past its expiry: a message that
      // still arrived for it would be a gap, reported, not acked by a later ack and lost.
      const overdue = this.ackAll ? setTimeout(() => void pulled.close(), expiresMs + PULL_GRACE_MS) : undefined;
      try {
        for await (const m of pulled) {
          if (this.ackAll) this.checkContiguous(m);
          this.buffer.push(m);
          this.wake.batch();
        }
      } catch (error) {
        // Past its expiry the pull is over at the server: nothing more can come for it.
        if (!(isHeartbeatsMissed(error) && performance.now() - started >= expiresMs)) throw error;
      } finally {
        clearTimeout(overdue);
      }
    }
  }

  /**
   * With cumulative acks, a delivery missing before `m` (lost in transit) must fail the consumer, not be acked
   * by a later ack. A delivery sequence that goes back means the consumer started over (the server restarted
   * and redelivers what was not acked): nothing is missing, but the messages fetched before may come again, so
   * the consumer is ended as well, for its caller to re-create from where it is.
   */
  private checkContiguous(m: JsMsg): void {
    const delivery = m.info.deliverySequence;
    if (this.lastDelivery !== undefined && delivery <= this.lastDelivery) {
      throw new SluiceError('TRANSIENT', `consumer '${this.durable}' on stream '${this.stream}' started its deliveries over (delivery ${delivery} after ${this.lastDelivery}; the server restarted): nothing was lost; re-create it from the checkpoint`, this.context());
    }
    if (this.lastDelivery !== undefined && delivery > this.lastDelivery + 1) {
      const gap = delivery - 1 === this.lastDelivery + 1 ? `delivery ${delivery - 1}` : `deliveries ${this.lastDelivery + 1}..${delivery - 1}`;
      throw new SluiceError('TRANSIENT', `consumer '${this.durable}' on stream '${this.stream}' skipped ${gap} (lost in transit): re-create it from the checkpoint`, this.context());
    }
    this.lastDelivery = delivery;
  }

  /** Wait until `wake[slot]` is called or `timeoutMs` passes. */
  private sleep(slot: keyof JetStreamSource['wake'], timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake[slot] = done;
    }).finally(() => {
      this.wake[slot] = noop;
    });
  }

  private async flush(): Promise<void> {
    if (this.handle.connection.isClosed()) return;
    try {
      await this.handle.connection.flush();
    } catch {
      // The connection is going away: unacked messages come back after the ack wait instead.
    }
  }

  private context(): Record<string, unknown> {
    return { source: this.stream, consumer: this.durable, url: this.handle.url };
  }
}

async function declareConsumer(handle: JetStreamHandle, options: JetStreamSourceOptions): Promise<void> {
  const ackWait = nanos(options.ackWaitMs ?? 30_000);
  const maxAckPending = options.maxAckPending ?? 10_000;
  let existing: ConsumerInfo | undefined;
  try {
    existing = await handle.jsm.consumers.info(options.stream, options.durable);
  } catch (error) {
    if (!isApiError(error, JS_CONSUMER_NOT_FOUND)) throw error;
  }
  if (existing === undefined) {
    const config: Partial<ConsumerConfig> = {
      durable_name: options.durable,
      ack_policy: options.ackAll === true ? AckPolicy.All : AckPolicy.Explicit,
      ack_wait: ackWait,
      max_ack_pending: maxAckPending,
      replay_policy: ReplayPolicy.Instant,
      ...(options.startSequence === undefined
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.startSequence }),
      ...(options.filterSubject === undefined ? {} : { filter_subject: options.filterSubject }),
    };
    await handle.jsm.consumers.add(options.stream, config);
    return;
  }
  const currentFilter = existing.config.filter_subject ?? '';
  if (currentFilter !== (options.filterSubject ?? '')) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `durable consumer '${options.durable}' on stream '${options.stream}' filters '${currentFilter || '(all subjects)'}', not '${options.filterSubject ?? '(all subjects)'}': use another durable name, or delete the consumer to start over`,
      { source: options.stream, consumer: options.durable },
    );
  }
  const ackPolicy = options.ackAll === true ? AckPolicy.All : AckPolicy.Explicit;
  if (existing.config.ack_policy !== ackPolicy) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `durable consumer '${options.durable}' on stream '${options.stream}' acks ${existing.config.ack_policy === AckPolicy.All ? 'cumulatively (AckAll)' : 'each message'}, not as asked: use another durable name, or delete the consumer to start over`,
      { source: options.stream, consumer: options.durable },
    );
  }
  if (existing.config.ack_wait !== ackWait || existing.config.max_ack_pending !== maxAckPending) {
    await handle.jsm.consumers.update(options.stream, options.durable, { ack_wait: ackWait, max_ack_pending: maxAckPending });
  }
}

function isHeartbeatsMissed(error: unknown): boolean {
  return error instanceof Error && error.message === 'heartbeats missed';
}

/** Remove a durable consumer and its position; false when it did not exist. */
export async function deleteConsumer(handle: JetStreamHandle, stream: string, durable: string): Promise<boolean> {
  try {
    return await handle.jsm.consumers.delete(stream, durable);
  } catch (error) {
    if (isApiError(error, JS_CONSUMER_NOT_FOUND) || isApiError(error, JS_STREAM_NOT_FOUND)) return false;
    throw natsError(error, `deleting consumer '${durable}' on stream '${stream}'`, { source: stream, consumer: durable, url: handle.url });
  }
}
