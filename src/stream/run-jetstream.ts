// Running a stream job from NATS JetStream: a durable pull consumer per job partition, each batch processed in
// order (position = stream sequence), flushed to the online store, checkpointed, and only then acked. After a
// crash JetStream redelivers what was not acked, and the job skips what its checkpoint already covers, so
// effects happen once.
import type { EventStream } from '../define/stream.ts';
import { backoffDelay } from '../backoff.ts';
import { errorMessage, isTransient, SluiceError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { ensureStream } from '../connectors/jetstream-stream.ts';
import type { JetStreamHandle } from '../connectors/nats-connection.ts';
import { deleteConsumer, JetStreamSource } from '../connectors/jetstream-source.ts';
import type { OnlineStore } from '../store/online/online-store.ts';
import type { Workspace } from '../workspace.ts';
import { CheckpointThread } from './checkpoint-thread.ts';
import { StreamJob, viewsOfStream, type StreamRunSummary } from './run.ts';
import { withStreamLineage } from './lineage.ts';
import { streamDataset } from '../connectors/openlineage-event.ts';

export interface JetStreamRunOptions {
  readonly job?: string;
  /** This worker's partition, `i/n` (default: the whole stream as partition `all`). */
  readonly partition?: { readonly index: number; readonly count: number };
  /** Most events per batch (each batch's values are written at once); default 1000. */
  readonly flushEvents?: number;
  /** Checkpoint (and ack what it covers) at most this often; default 1000 ms. */
  readonly checkpointMs?: number;
  /** Stop when this signal aborts (SIGTERM), or after `idleStopMs` without messages. */
  readonly signal?: AbortSignal;
  readonly idleStopMs?: number;
  /** Called after every flush, with the job's progress. */
  readonly onFlush?: (summary: StreamRunSummary) => void;
}

/** The subjects of a stream: `<subject>` unpartitioned, `<subject>.<i>` for partition i. */
export function streamSubjects(stream: EventStream): string[] {
  return [stream.jetStream.subject, `${stream.jetStream.subject}.>`];
}

export async function runStreamJetStream(ws: Workspace, store: OnlineStore, stream: EventStream, handle: JetStreamHandle, options: JetStreamRunOptions = {}): Promise<StreamRunSummary> {
  if (options.partition !== undefined && options.partition.count !== stream.partitions) {
    throw new SluiceError('CONFIG_INVALID', `stream "${stream.name}" has ${stream.partitions} partition(s); --partition ${options.partition.index}/${options.partition.count} does not match`);
  }
  if (options.partition === undefined && stream.partitions > 1) {
    throw new SluiceError('CONFIG_INVALID', `stream "${stream.name}" has ${stream.partitions} partitions: start one worker per partition with --partition i/${stream.partitions}`);
  }
  const partition = options.partition === undefined ? 'all' : `${options.partition.index}of${options.partition.count}`;
  // A SQLite catalog's checkpoints are saved from a thread of their own, off the thread that processes events.
  const thread = ws.catalog.dialect === 'sqlite' ? new CheckpointThread(ws.settings.catalogUrl) : undefined;
  try {
    const input = streamDataset({ natsUrl: handle.url, stream: stream.jetStream.stream, subject: stream.jetStream.subject });
    const run = { job: options.job ?? stream.name, partition, input };
    return await withStreamLineage(ws, stream, viewsOfStream(ws, stream).map((v) => v.name), run, () => runOnSource(ws, store, stream, handle, options, partition, thread));
  } finally {
    await thread?.close();
  }
}

async function runOnSource(ws: Workspace, store: OnlineStore, stream: EventStream, handle: JetStreamHandle, options: JetStreamRunOptions, partition: string, thread: CheckpointThread | undefined): Promise<StreamRunSummary> {
  const job = await StreamJob.open(ws, store, stream, { job: options.job, partition, saver: thread });
  const durable = `${job.job}-${partition}`;
  const log = ws.logger.child({ stream: stream.name, consumer: durable, url: handle.url });
  await ensureStream(handle, { stream: stream.jetStream.stream, subjects: streamSubjects(stream) });
  // The job's position, not the consumer's, is where the job is: the durable is started afresh from it (at
  // start: the checkpoint), so messages a crashed run had in flight (unacked) come first and in order, not
  // after the ack wait behind newer ones. The same after a broker restart, from what was processed.
  const openSource = async (): Promise<JetStreamSource> => {
    await deleteConsumer(handle, stream.jetStream.stream, durable);
    return JetStreamSource.open(handle, {
      stream: stream.jetStream.stream,
      durable,
      ...(options.partition === undefined ? {} : { filterSubject: `${stream.jetStream.subject}.${options.partition.index}` }),
      startSequence: job.position + 1,
      // Batches stay unacked until a checkpoint covers them (every checkpointMs): room for that many seconds.
      maxAckPending: 200_000,
      // Processed in order, so one ack of the last batch a checkpoint covers acks them all.
      ackAll: true,
    });
  };
  let source = await openSource();
  let stopped = false;
  let wakeRetry = (): void => undefined;
  const stop = (): void => {
    stopped = true;
    wakeRetry();
    void source.stop();
  };
  options.signal?.addEventListener('abort', stop, { once: true });
  const watching = watchConnection(handle, log);
  let idleSince = performance.now();
  const checkpointMs = options.checkpointMs ?? 1000;
  let lastCheckpoint = performance.now();
  let unacked: { ack(): Promise<void> }[] = [];
  // Checkpoints are saved and acks sent while the next events are processed (each checkpoint covers what
  // was processed when it started); the next checkpoint, or the end, reports a failure. The consumer acks
  // cumulatively, so one ack covers a checkpoint's batches; a lost one only means redeliveries, which `handle` skips.
  let saving: Promise<void> | undefined;
  let acking: Promise<void> = Promise.resolve();
  let failure: Error | undefined;
  const failed = (error: unknown): void => {
    failure ??= error instanceof Error ? error : new Error(String(error));
  };
  // Ack only what a saved checkpoint covers: after a crash the rest is delivered again and replayed from it.
  const startCheckpoint = (): void => {
    if (failure !== undefined) throw failure;
    lastCheckpoint = performance.now();
    const covered = unacked;
    unacked = [];
    saving = job.checkpoint().then(
      () => {
        const last = covered.at(-1);
        if (last === undefined) return;
        acking = Promise.all([acking, last.ack()]).then(
          () => undefined,
          // An ack lost with the connection only means redeliveries, skipped by position.
          (error: unknown) => log.debug({ reason: errorMessage(error) }, 'an ack was lost; its messages may be delivered again'),
        );
      },
      failed,
    ).finally(() => {
      saving = undefined;
    });
  };
  const checkpointDue = (): boolean => saving === undefined && performance.now() - lastCheckpoint >= checkpointMs;
  const consume = async (): Promise<void> => {
    for await (const batch of source.batches({ maxMessages: options.flushEvents ?? 1000, expiresMs: 1000 })) {
      if (batch.messages.length === 0) {
        if (unacked.length > 0 && checkpointDue()) startCheckpoint();
        if (options.idleStopMs !== undefined && performance.now() - idleSince >= options.idleStopMs) break;
        continue;
      }
      idleSince = performance.now();
      for (const message of batch.messages) job.handle(message.data, message.streamSequence);
      job.scheduleWrite();
      unacked.push(batch);
      if (checkpointDue()) startCheckpoint();
      options.onFlush?.(job.summary());
    }
  };
  /** After the consumer was lost: a fresh one from the job's position, retried until the broker answers (or the job is stopped). */
  const reopen = async (): Promise<boolean> => {
    for (let attempt = 1; !stopped; attempt++) {
      try {
        source = await openSource();
        return true;
      } catch (error) {
        if (!isTransient(error)) throw error;
        const delay = backoffDelay(250, 5000, attempt);
        log.debug({ attempt, reason: errorMessage(error) }, `NATS not ready yet; retrying in ${delay} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          wakeRetry = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
    return false;
  };
  try {
    for (;;) {
      try {
        await consume();
        break;
      } catch (error) {
        if (stopped || !isTransient(error)) throw error;
        const from = job.position;
        const lostAt = performance.now();
        log.warn({ reason: errorMessage(error) }, `NATS consumer '${durable}' lost: re-creating it after event ${from} once the broker answers`);
        // The batches not yet acked belong to the lost consumer; the next checkpoint covers them by position.
        unacked = [];
        if (!(await reopen())) break;
        log.info(`resumed consuming '${durable}' after event ${from} (${Math.round(performance.now() - lostAt)} ms after the consumer was lost)`);
        idleSince = performance.now();
      }
    }
    await saving;
    await job.settleWrites();
    startCheckpoint();
    await saving;
    await acking;
    if (failure !== undefined) throw failure;
  } finally {
    options.signal?.removeEventListener('abort', stop);
    // Neither rejects (failures are recorded); a checkpoint in flight finishes before the caller closes the catalog.
    await saving;
    await acking;
    await source.stop();
    watching.stop();
  }
  return job.summary();
}

/** Log the connection's losses and recoveries (the client reconnects on its own), until stopped. */
function watchConnection(handle: JetStreamHandle, log: Logger): { stop(): void } {
  const statuses = handle.connection.status()[Symbol.asyncIterator]();
  let watching = true;
  void (async () => {
    while (watching) {
      const next = await statuses.next().catch(() => ({ done: true as const, value: undefined }));
      if (next.done === true || !watching) return;
      if (next.value.type === 'disconnect') log.warn(`lost the connection to NATS at ${handle.url}; reconnecting every second`);
      if (next.value.type === 'reconnect') log.info(`reconnected to NATS at ${handle.url}`);
    }
  })();
  return {
    stop() {
      watching = false;
      void statuses.return?.();
    },
  };
}
