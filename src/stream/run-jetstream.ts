// Running a stream job from NATS JetStream: a durable pull consumer per job partition, each batch processed in
// order (position = stream sequence), flushed to the online store, checkpointed, and only then acked. After a
// crash JetStream redelivers what was not acked, and the job skips what its checkpoint already covers, so
// effects happen once.
import type { EventStream } from '../define/stream.ts';
import { SluiceError } from '../errors.ts';
import { ensureStream } from '../connectors/jetstream-stream.ts';
import type { JetStreamHandle } from '../connectors/nats-connection.ts';
import { deleteConsumer, JetStreamSource } from '../connectors/jetstream-source.ts';
import type { OnlineStore } from '../store/online/online-store.ts';
import type { Workspace } from '../workspace.ts';
import { CheckpointThread } from './checkpoint-thread.ts';
import { StreamJob, type StreamRunSummary } from './run.ts';

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
    return await runOnSource(ws, store, stream, handle, options, partition, thread);
  } finally {
    await thread?.close();
  }
}

async function runOnSource(ws: Workspace, store: OnlineStore, stream: EventStream, handle: JetStreamHandle, options: JetStreamRunOptions, partition: string, thread: CheckpointThread | undefined): Promise<StreamRunSummary> {
  const job = await StreamJob.open(ws, store, stream, { job: options.job, partition, saver: thread });
  await ensureStream(handle, { stream: stream.jetStream.stream, subjects: streamSubjects(stream) });
  // The checkpoint, not the consumer, is where the job is: start the durable afresh from it, so messages a
  // crashed run had in flight (unacked) come first and in order, not after the ack wait behind newer ones.
  await deleteConsumer(handle, stream.jetStream.stream, `${job.job}-${partition}`);
  const source = await JetStreamSource.open(handle, {
    stream: stream.jetStream.stream,
    durable: `${job.job}-${partition}`,
    ...(options.partition === undefined ? {} : { filterSubject: `${stream.jetStream.subject}.${options.partition.index}` }),
    startSequence: job.resumedFrom + 1,
    // Batches stay unacked until a checkpoint covers them (every checkpointMs): room for that many seconds.
    maxAckPending: 200_000,
    // Processed in order, so one ack of the last batch a checkpoint covers acks them all.
    ackAll: true,
  });
  const stop = (): void => {
    void source.stop();
  };
  options.signal?.addEventListener('abort', stop, { once: true });
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
        if (last !== undefined) acking = Promise.all([acking, last.ack()]).then(() => undefined, failed);
      },
      failed,
    ).finally(() => {
      saving = undefined;
    });
  };
  const checkpointDue = (): boolean => saving === undefined && performance.now() - lastCheckpoint >= checkpointMs;
  try {
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
  }
  return job.summary();
}
