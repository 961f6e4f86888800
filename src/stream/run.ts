// Running a stream job over a sequence of raw events (NDJSON lines from a file or stdin, in embedded use):
// events are processed in order; every `flushEvents` events or `flushMs` the changed values are written to the
// online store (batched per view), rejected events (invalid, late) go to the dead-letter store, and then the source position
// and the state changed since the last checkpoint are checkpointed together in the catalog. A restarted job loads the checkpoint, skips
// the events up to its position and goes on: no event is lost, none is counted twice, and writes repeated
// after a crash rewrite the same values (the store is guarded by event time).
import fs from 'node:fs/promises';
import path from 'node:path';
import { getFeatureView } from '../define/project.ts';
import type { WindowedFeatureView } from '../define/features.ts';
import type { EventStream } from '../define/stream.ts';
import { SluiceError } from '../errors.ts';
import { deadLetterDir } from '../store/dead-letter.ts';
import type { OnlineStore } from '../store/online/online-store.ts';
import type { Workspace } from '../workspace.ts';
import type { CheckpointSaver } from './checkpoint-thread.ts';
import { StreamProcessor, type ProcessorCounts } from './processor.ts';
import { withStreamLineage } from './lineage.ts';
import { streamDataset } from '../connectors/openlineage-event.ts';

export interface StreamRunOptions {
  /** Checkpoint name (default: the stream's name). */
  readonly job?: string;
  /** Partition of the job this process owns (default `all`). */
  readonly partition?: string;
  readonly flushEvents?: number;
  readonly flushMs?: number;
  /** Checkpoint at most this often (default 1000 ms), and at the end. */
  readonly checkpointMs?: number;
  /** Stop after this many new events (for tests and batch-style replays). */
  readonly limit?: number;
  /** The file the lines come from, naming the input of the job's OpenLineage events (`-`: stdin). */
  readonly file?: string;
}

export interface StreamRunSummary {
  readonly job: string;
  readonly partition: string;
  /** Position resumed from (0: the start). */
  readonly resumedFrom: number;
  /** Position reached (the last event processed). */
  readonly position: number;
  readonly counts: ProcessorCounts;
  readonly written: number;
  readonly flushes: number;
  readonly checkpoints: number;
  readonly deadLetters: number;
}

/** The windowed views an event stream feeds. */
export function viewsOfStream(ws: Workspace, stream: EventStream): WindowedFeatureView[] {
  const views = [...ws.project.featureViews.values()].filter((v): v is WindowedFeatureView => v.type === 'windowed' && v.stream?.name === stream.name);
  if (views.length === 0) throw new SluiceError('FEATURE_NOT_FOUND', `event stream "${stream.name}" feeds no feature view; give a windowed view \`stream: ${stream.name}\``);
  return views.map((v) => getFeatureView(ws.project, v.name) as WindowedFeatureView);
}

export function getEventStream(ws: Workspace, name: string): EventStream {
  const stream = ws.project.eventStreams.get(name);
  if (stream === undefined) {
    const known = [...ws.project.eventStreams.keys()];
    throw new SluiceError('FEATURE_NOT_FOUND', `no event stream named "${name}" in project "${ws.project.name}"; streams: ${known.join(', ') || '(none: give a windowed feature view a stream)'}`);
  }
  return stream;
}

/**
 * One job partition: a processor restored from the partition's checkpoint, the pending dead letters, and the
 * flush that writes values, then dead letters, then the checkpoint (position and state together).
 */
export class StreamJob {
  readonly job: string;
  readonly partition: string;
  /** Position of the checkpoint the job started from (0: none). */
  readonly resumedFrom: number;
  position: number;
  written = 0;
  flushes = 0;
  checkpoints = 0;
  deadLetters = 0;
  private dead: string[] = [];
  private readonly deadFile: string;
  /** The write loop running, the write it waits for, whether changes wait for another, the first failure. */
  private writing: Promise<void> | undefined;
  private inFlight: Promise<void> | undefined;
  private writeAgain = false;
  private writeError: Error | undefined;

  private constructor(
    private readonly ws: Workspace,
    private readonly store: OnlineStore,
    readonly stream: EventStream,
    private readonly processor: StreamProcessor,
    private readonly saver: CheckpointSaver,
    job: string,
    partition: string,
    resumedFrom: number,
  ) {
    this.job = job;
    this.partition = partition;
    this.resumedFrom = resumedFrom;
    this.position = resumedFrom;
    this.deadFile = path.join(deadLetterDir(ws.stateDir, stream.name), `${job}-${partition}.ndjson`);
  }

  /** `saver`: where checkpoints are saved (default the workspace's catalog; a CheckpointThread for SQLite). */
  static async open(ws: Workspace, store: OnlineStore, stream: EventStream, options: { job?: string | undefined; partition?: string | undefined; saver?: CheckpointSaver | undefined } = {}): Promise<StreamJob> {
    const job = options.job ?? stream.name;
    const partition = options.partition ?? 'all';
    const checkpoint = await ws.catalog.loadCheckpoint(job, partition);
    const processor = new StreamProcessor(stream, viewsOfStream(ws, stream), checkpoint);
    return new StreamJob(ws, store, stream, processor, options.saver ?? ws.catalog, job, partition, checkpoint?.sequence ?? 0);
  }

  get counts(): ProcessorCounts {
    return { ...this.processor.counts };
  }

  /** Process the event at `position` (positions increase); events already processed or covered by the checkpoint are skipped. */
  handle(raw: string | Uint8Array, position: number): void {
    if (position <= this.position) return;
    this.position = position;
    const result = this.processor.process(raw);
    // Redeliveries are counted, not dead-lettered: they are expected, and the first copy was applied.
    if (result.status !== 'applied' && result.status !== 'duplicate') {
      const text = typeof raw === 'string' ? raw : new TextDecoder().decode(raw);
      this.dead.push(`${JSON.stringify({ source: this.stream.name, sequence: position, status: result.status, field: result.field, reason: result.reason, raw: text })}\n`);
    }
  }

  /** Write the values changed since the last write to the online store (cheap: changed keys only). */
  async writeValues(): Promise<void> {
    for (const { view, records } of this.processor.drain()) {
      if (records.length > 0) this.written += (await this.store.write(view.name, records, { ttlMs: view.ttlMs })).written;
    }
    this.flushes += 1;
  }

  /**
   * Write the changed values without waiting, so that events keep being processed meanwhile: one write at a
   * time, and what changes during it goes in the next (larger) one. Writes of one connection apply in order.
   */
  scheduleWrite(): void {
    this.throwWriteError();
    if (this.writing !== undefined) {
      this.writeAgain = true;
      return;
    }
    // Started in a microtask, so that `writing` is set before the loop can end and clear it.
    this.writing = Promise.resolve().then(async () => {
      try {
        do {
          this.writeAgain = false;
          this.inFlight = this.writeValues();
          await this.inFlight;
        } while (this.writeAgain);
      } catch (error) {
        this.writeError ??= error instanceof Error ? error : new Error(String(error));
      } finally {
        this.writing = undefined;
        this.inFlight = undefined;
      }
    });
  }

  /** Wait for the scheduled writes; throws if one failed. */
  async settleWrites(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    this.throwWriteError();
  }

  private throwWriteError(): void {
    if (this.writeError !== undefined) throw this.writeError;
  }

  /**
   * Save the position with the state changed since the last saved checkpoint (one transaction), after the
   * pending dead letters. What it covers is taken at the call, synchronously; the caller may go on processing
   * events while it is written (one checkpoint at a time). Values drained before the call are written before
   * it is saved (a crash must not lose them); keys changed and not yet drained are saved as such and written
   * after a restart. Runners checkpoint on a timer, not per batch; values written after a checkpoint are
   * recomputed identically from it after a crash, and the store is guarded by event time. A checkpoint the
   * catalog refuses (another worker saved a later position) leaves its changes for the next one.
   */
  async checkpoint(): Promise<void> {
    const sequence = this.position;
    const { state, put, delete: deleted } = this.processor.checkpoint(sequence);
    const dead = this.dead;
    this.dead = [];
    const inFlight = this.inFlight;
    let saved = false;
    try {
      if (inFlight !== undefined) await inFlight.catch(() => undefined);
      this.throwWriteError();
      if (dead.length > 0) {
        await fs.mkdir(path.dirname(this.deadFile), { recursive: true });
        await fs.appendFile(this.deadFile, dead.join(''));
        this.deadLetters += dead.length;
      }
      saved = await this.saver.saveCheckpoint({ job: this.job, partition: this.partition, sequence, state, put, delete: deleted });
    } finally {
      if (saved) this.processor.checkpointSaved();
      else this.processor.checkpointRefused();
    }
    this.checkpoints += 1;
  }

  async flush(): Promise<void> {
    await this.settleWrites();
    await this.writeValues();
    await this.checkpoint();
  }

  summary(): StreamRunSummary {
    return { job: this.job, partition: this.partition, resumedFrom: this.resumedFrom, position: this.position, counts: this.counts, written: this.written, flushes: this.flushes, checkpoints: this.checkpoints, deadLetters: this.deadLetters };
  }
}

/** Run a job over NDJSON lines (position = line number), flushing every `flushEvents` events or `flushMs`. */
export async function runStreamLines(ws: Workspace, store: OnlineStore, stream: EventStream, lines: AsyncIterable<string>, options: StreamRunOptions = {}): Promise<StreamRunSummary> {
  const input = streamDataset({ file: options.file ?? '-' });
  const run = { job: options.job ?? stream.name, partition: options.partition ?? 'all', input };
  return withStreamLineage(ws, stream, viewsOfStream(ws, stream).map((v) => v.name), run, () => runLines(ws, store, stream, lines, options));
}

async function runLines(ws: Workspace, store: OnlineStore, stream: EventStream, lines: AsyncIterable<string>, options: StreamRunOptions): Promise<StreamRunSummary> {
  const job = await StreamJob.open(ws, store, stream, options);
  const flushEvents = options.flushEvents ?? 1000;
  const flushMs = options.flushMs ?? 200;
  let line = 0;
  let processed = 0;
  let sinceFlush = 0;
  let lastFlush = performance.now();
  const checkpointMs = options.checkpointMs ?? 1000;
  let lastCheckpoint = performance.now();
  for await (const text of lines) {
    line += 1;
    if (line <= job.resumedFrom) continue;
    if (options.limit !== undefined && processed >= options.limit) break;
    processed += 1;
    if (text.trim() === '') {
      job.position = line;
      continue;
    }
    job.handle(text, line);
    sinceFlush += 1;
    if (sinceFlush >= flushEvents || performance.now() - lastFlush >= flushMs) {
      await job.writeValues();
      if (performance.now() - lastCheckpoint >= checkpointMs) {
        await job.checkpoint();
        lastCheckpoint = performance.now();
      }
      sinceFlush = 0;
      lastFlush = performance.now();
    }
  }
  await job.flush();
  return job.summary();
}
