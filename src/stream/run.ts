// Running a stream job over a sequence of raw events (NDJSON lines from a file or stdin, in embedded use):
// events are processed in order; every `flushEvents` events or `flushMs` the changed values are written to the
// online store (batched per view), rejected events (invalid, late) go to the dead-letter store, and then the source position
// and the whole state are checkpointed together in the catalog. A restarted job loads the checkpoint, skips
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
import { StreamProcessor, type ProcessorCounts, type ProcessorSnapshot } from './processor.ts';

export interface StreamRunOptions {
  /** Checkpoint name (default: the stream's name). */
  readonly job?: string;
  /** Partition of the job this process owns (default `all`). */
  readonly partition?: string;
  readonly flushEvents?: number;
  readonly flushMs?: number;
  /** Stop after this many new events (for tests and batch-style replays). */
  readonly limit?: number;
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

export async function runStreamLines(ws: Workspace, store: OnlineStore, stream: EventStream, lines: AsyncIterable<string>, options: StreamRunOptions = {}): Promise<StreamRunSummary> {
  const job = options.job ?? stream.name;
  const partition = options.partition ?? 'all';
  const flushEvents = options.flushEvents ?? 1000;
  const flushMs = options.flushMs ?? 200;
  const views = viewsOfStream(ws, stream);
  const checkpoint = await ws.catalog.loadCheckpoint(job, partition);
  const resumedFrom = checkpoint?.sequence ?? 0;
  const processor = new StreamProcessor(stream, views, checkpoint?.state as ProcessorSnapshot | undefined);
  const deadFile = path.join(deadLetterDir(ws.stateDir, stream.name), `${job}-${partition}.ndjson`);
  let dead: string[] = [];
  let deadLetters = 0;
  let written = 0;
  let flushes = 0;
  let position = 0;
  let processed = 0;
  let sinceFlush = 0;
  let lastFlush = performance.now();

  const flush = async (): Promise<void> => {
    for (const { view, records } of processor.drain()) {
      if (records.length > 0) written += (await store.write(view.name, records, { ttlMs: view.ttlMs })).written;
    }
    if (dead.length > 0) {
      await fs.mkdir(path.dirname(deadFile), { recursive: true });
      await fs.appendFile(deadFile, dead.join(''));
      deadLetters += dead.length;
      dead = [];
    }
    await ws.catalog.saveCheckpoint({ job, partition, sequence: position, state: processor.snapshot() });
    flushes += 1;
    sinceFlush = 0;
    lastFlush = performance.now();
  };

  for await (const line of lines) {
    position += 1;
    if (position <= resumedFrom) continue;
    if (options.limit !== undefined && processed >= options.limit) {
      position -= 1;
      break;
    }
    processed += 1;
    if (line.trim() === '') continue;
    const result = processor.process(line);
    // Redeliveries are counted, not dead-lettered: they are expected, and the first copy was applied.
    if (result.status !== 'applied' && result.status !== 'duplicate') {
      dead.push(`${JSON.stringify({ source: stream.name, sequence: position, status: result.status, field: result.field, reason: result.reason, raw: line })}\n`);
    }
    sinceFlush += 1;
    if (sinceFlush >= flushEvents || performance.now() - lastFlush >= flushMs) await flush();
  }
  await flush();
  return { job, partition, resumedFrom, position, counts: { ...processor.counts }, written, flushes, deadLetters };
}
