// Saving stream checkpoints from a worker thread with its own catalog connection, for SQLite catalogs: the
// driver is synchronous, so on the stream job's thread each checkpoint's key rows, commit and WAL checkpoint
// stalled event processing (a fifth of the worker's busy time at 5,000 events/s). The thread runs the
// catalog's own saveCheckpoint, so the transaction, its stale guard and what it saves are unchanged.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { SluiceError, type ErrorCode } from '../errors.ts';
import type { StreamCheckpointSave, StreamStateEntry } from '../store/catalog/catalog.ts';

/** Where a stream job saves its checkpoints: the workspace's catalog, or a CheckpointThread. */
export interface CheckpointSaver {
  saveCheckpoint(checkpoint: StreamCheckpointSave): Promise<boolean>;
}

/** A checkpoint as sent to the thread: its keyed entries encoded as JSON arrays of `StreamStateEntry`. */
export interface CheckpointMessage {
  readonly id: number;
  readonly job: string;
  readonly partition: string;
  readonly sequence: number;
  readonly state: unknown;
  readonly put: readonly string[];
  readonly delete: readonly string[];
}

export type CheckpointReply =
  | { readonly id: number; readonly saved: boolean }
  | { readonly id: number; readonly error: { readonly code: ErrorCode; readonly message: string; readonly transient: boolean } };

/** Entries encoded per slice; the stream job's events are processed between slices. */
const ENCODE_SLICE = 250;

export class CheckpointThread implements CheckpointSaver {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (saved: boolean) => void; reject: (error: Error) => void }>();
  readonly #exited: Promise<void>;
  #next = 0;
  #failure: Error | undefined;

  /** Start a thread that opens the catalog at `catalogUrl` (a SQLite file the caller's catalog also uses). */
  constructor(catalogUrl: string) {
    // The entry registers tsx, as bin/sluice.mjs does, so that the thread runs the catalog's TypeScript.
    this.#worker = new Worker(new URL('./checkpoint-thread-entry.mjs', import.meta.url), { workerData: { catalogUrl } });
    // Not events.once: it would reject on the thread's 'error', which `fail` reports to the saves instead.
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.on('message', (reply: CheckpointReply) => {
      const waiting = this.#waiting.get(reply.id);
      if (waiting === undefined) return;
      this.#waiting.delete(reply.id);
      if ('saved' in reply) waiting.resolve(reply.saved);
      else waiting.reject(new SluiceError(reply.error.code, reply.error.message, {}, { transient: reply.error.transient }));
    });
    const fail = (error: Error): void => {
      this.#failure ??= new SluiceError('CATALOG', `the stream checkpoint thread failed: ${error.message}`, {}, { cause: error });
      for (const waiting of this.#waiting.values()) waiting.reject(this.#failure);
      this.#waiting.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`it exited with code ${code}`)));
  }

  /** Encode the entries here (a slice at a time, between events), then save in the thread. */
  async saveCheckpoint(checkpoint: StreamCheckpointSave): Promise<boolean> {
    const entries = checkpoint.put ?? [];
    const put: string[] = [];
    for (let start = 0; start < entries.length; start += ENCODE_SLICE) {
      if (start > 0) await yieldToEventLoop();
      put.push(JSON.stringify(entries.slice(start, start + ENCODE_SLICE)));
    }
    if (this.#failure !== undefined) throw this.#failure;
    const id = this.#next++;
    const message: CheckpointMessage = { id, job: checkpoint.job, partition: checkpoint.partition, sequence: checkpoint.sequence, state: checkpoint.state, put, delete: checkpoint.delete ?? [] };
    return new Promise<boolean>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker.postMessage(message);
    });
  }

  /** Let the thread finish what it was sent, close its catalog and exit. */
  async close(): Promise<void> {
    if (this.#worker.threadId === -1) return;
    this.#worker.postMessage('close');
    await this.#exited;
  }
}

/** The entries of a message, decoded in the thread. */
export function decodeEntries(put: readonly string[]): StreamStateEntry[] {
  return put.flatMap((slice) => JSON.parse(slice) as StreamStateEntry[]);
}
