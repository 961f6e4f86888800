// The stream checkpoint thread's side: its own catalog connection, saving each checkpoint it is sent in order
// with the catalog's saveCheckpoint and replying whether it was saved; 'close' closes the catalog and ends it.
import { parentPort, workerData } from 'node:worker_threads';
import { SluiceError } from '../errors.ts';
import { openCatalog } from '../store/catalog/open-catalog.ts';
import { decodeEntries, type CheckpointMessage, type CheckpointReply } from './checkpoint-thread.ts';

const port = parentPort;
if (port === null) throw new Error('checkpoint-thread-worker runs in a worker thread');
const { catalogUrl } = workerData as { catalogUrl: string };
const catalog = await openCatalog(catalogUrl);
// One at a time, in the order sent: a later checkpoint must not be saved before an earlier one.
let queue: Promise<void> = Promise.resolve();
port.on('message', (message: CheckpointMessage | 'close') => {
  queue = queue.then(async () => {
    if (message === 'close') {
      await catalog.close();
      port.close();
      return;
    }
    let reply: CheckpointReply;
    try {
      const saved = await catalog.saveCheckpoint({ job: message.job, partition: message.partition, sequence: message.sequence, state: message.state, put: decodeEntries(message.put), delete: message.delete });
      reply = { id: message.id, saved };
    } catch (error) {
      const failure = error instanceof SluiceError ? error : new SluiceError('CATALOG', error instanceof Error ? error.message : String(error));
      reply = { id: message.id, error: { code: failure.code, message: failure.message, transient: failure.transient } };
    }
    port.postMessage(reply);
  });
});
