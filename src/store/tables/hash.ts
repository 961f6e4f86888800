// Streaming sha256 of a file: data files are content-addressed by this hash and manifests record it,
// so readers (and tests) can verify a file is exactly the one a version committed.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

export interface FileDigest {
  /** Lower-case hex. */
  readonly sha256: string;
  readonly bytes: number;
}

const CHUNK = 1 << 20;

/** Hash an open file from its start in 1 MiB reads; the caller owns (and closes) the handle. */
export async function sha256Handle(handle: FileHandle): Promise<FileDigest> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(CHUNK);
  let bytes = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, CHUNK, bytes);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    bytes += bytesRead;
  }
  return { sha256: hash.digest('hex'), bytes };
}

export async function sha256File(path: string): Promise<FileDigest> {
  const handle = await open(path, 'r');
  try {
    return await sha256Handle(handle);
  } finally {
    await handle.close();
  }
}
