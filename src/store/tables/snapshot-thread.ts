// Snapshots are written by a worker thread, started when the first one is due: building and encoding the
// partition map of a large table (tens of milliseconds at 8,760 partitions) stays off the thread that
// commits. The thread rebuilds the version from the log itself, so nothing but a few names crosses over.
import { Worker } from 'node:worker_threads';

export interface SnapshotRequest {
  readonly id: number;
  readonly root: string;
  readonly asset: string;
  readonly version: number;
  readonly partitionColumn: string | null;
}

export type SnapshotReply = { readonly id: number; readonly ok: true } | { readonly id: number; readonly ok: false; readonly error: string };

export class SnapshotThread {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  #next = 0;

  constructor() {
    this.#worker = new Worker(new URL('./snapshot-thread-entry.mjs', import.meta.url));
    // An idle thread does not keep the process alive; close() ends it.
    this.#worker.unref();
    this.#worker.on('message', (reply: SnapshotReply) => {
      const waiting = this.#waiting.get(reply.id);
      if (waiting === undefined) return;
      this.#waiting.delete(reply.id);
      if (reply.ok) waiting.resolve();
      else waiting.reject(new Error(reply.error));
    });
    const fail = (error: Error): void => {
      for (const waiting of this.#waiting.values()) waiting.reject(error);
      this.#waiting.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`the snapshot thread exited with code ${code}`)));
  }

  write(request: Omit<SnapshotRequest, 'id'>): Promise<void> {
    const id = this.#next++;
    return new Promise<void>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker.ref();
      this.#worker.postMessage({ ...request, id } satisfies SnapshotRequest);
    }).finally(() => {
      if (this.#waiting.size === 0) this.#worker.unref();
    });
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
