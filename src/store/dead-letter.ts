// The dead-letter store: records a source could not accept, with their reason, under
// `<state>/dead-letter/<source>/`. Files are named by the input fingerprint, so a rerun rewrites, never doubles.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Session } from '../engine/engine.ts';
import { assertName, quoteLiteral } from '../sql/identifiers.ts';

export interface DeadLetterWrite {
  readonly source: string;
  /** Partition key read, or '' when unpartitioned. */
  readonly partition: string;
  readonly fingerprint: string;
  /** A query returning the rejected records: file, line, column, reason, raw. */
  readonly query: string;
}

export function deadLetterDir(stateDir: string, source: string): string {
  return path.join(stateDir, 'dead-letter', assertName(source, 'source'));
}

/** Write the rejected records as NDJSON atomically; returns the file path. */
export async function writeDeadLetters(session: Session, stateDir: string, write: DeadLetterWrite): Promise<string> {
  const dir = deadLetterDir(stateDir, write.source);
  await fs.mkdir(dir, { recursive: true });
  const name = `${write.partition === '' ? 'all' : write.partition}-${write.fingerprint.slice(0, 16)}.ndjson`;
  const target = path.join(dir, name);
  const temp = path.join(dir, `.tmp-${process.pid}-${Date.now()}-${name}`);
  await session.run(`COPY (SELECT ${quoteLiteral(write.source)} AS source, * FROM (${write.query})) TO ${quoteLiteral(temp)} (FORMAT json)`);
  await fs.rename(temp, target);
  return target;
}
