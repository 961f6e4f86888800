// The table snapshot thread: writes `snapshots/<n>` of a table from its log, off the committing thread.
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../../errors.ts';
import { snapshotFromLog, TableLog } from './table-log.ts';
import type { SnapshotReply, SnapshotRequest } from './snapshot-thread.ts';

const port = parentPort;
if (port === null) throw new Error('snapshot-thread-worker.ts runs as a worker thread');
port.on('message', (request: SnapshotRequest) => {
  snapshotFromLog(new TableLog(request.root, request.asset), request.version, request.partitionColumn).then(
    () => port.postMessage({ id: request.id, ok: true } satisfies SnapshotReply),
    (error: unknown) => port.postMessage({ id: request.id, ok: false, error: errorMessage(error) } satisfies SnapshotReply),
  );
});
