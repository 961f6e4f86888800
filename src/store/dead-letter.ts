// The dead-letter store: records a source could not accept, with their reason, under
// `<state>/dead-letter/<source>/`, one NDJSON file per input file. Every read of an input file replaces its
// dead-letter file, so reruns and overlapping partition windows rewrite records, never double them.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { assertName } from '../sql/identifiers.ts';

export interface DeadLetterRecord {
  /** The input file the record came from. */
  readonly file: string;
  /** 1-based physical line of the file where the record starts, when known. */
  readonly line: number | null;
  /** Columns whose values failed, comma-separated, when known. */
  readonly column: string | null;
  readonly reason: string;
  /** The record's text as it appears in the file. */
  readonly raw: string | null;
}

export function deadLetterDir(stateDir: string, source: string): string {
  return path.join(stateDir, 'dead-letter', assertName(source, 'source'));
}

/** The dead-letter file of one input file: its base name (made path-safe) and a hash of its full path. */
export function deadLetterPath(stateDir: string, source: string, inputFile: string): string {
  const hash = createHash('sha256').update(path.resolve(inputFile)).digest('hex').slice(0, 16);
  const base = path.basename(inputFile).replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '').slice(0, 100);
  return path.join(deadLetterDir(stateDir, source), `${base === '' ? 'file' : base}-${hash}.ndjson`);
}

const FLUSH_BYTES = 1 << 16;

/**
 * Replace the dead-letter records of `inputFile` with `records`, atomically (temp file, then rename).
 * With no records the file is removed, so fixed input leaves no stale records. Returns the path written,
 * or null when there was nothing to write.
 */
export async function replaceDeadLetters(
  stateDir: string,
  source: string,
  inputFile: string,
  records: AsyncIterable<DeadLetterRecord> | Iterable<DeadLetterRecord>,
): Promise<string | null> {
  const target = deadLetterPath(stateDir, source, inputFile);
  const dir = path.dirname(target);
  // Unique per write: two steps of one run may read the same input file at the same time.
  const temp = path.join(dir, `.tmp-${process.pid}-${randomUUID()}.ndjson`);
  let handle: fs.FileHandle | undefined;
  try {
    let pending = '';
    for await (const record of records) {
      if (handle === undefined) {
        await fs.mkdir(dir, { recursive: true });
        handle = await fs.open(temp, 'wx');
      }
      const { file, line, column, reason, raw } = record;
      pending += `${JSON.stringify({ source, file, line, column, reason, raw })}\n`;
      if (pending.length >= FLUSH_BYTES) {
        await handle.write(pending);
        pending = '';
      }
    }
    if (handle !== undefined) {
      await handle.write(pending);
      await handle.sync();
    }
  } catch (error) {
    await handle?.close();
    await fs.rm(temp, { force: true });
    throw error;
  }
  if (handle === undefined) {
    await fs.rm(target, { force: true });
    return null;
  }
  await handle.close();
  await fs.rename(temp, target);
  return target;
}

/** A page of the dead letters of a source, asset or stream, across its files (by file name, then line). */
export async function readDeadLetters(stateDir: string, name: string, page: { readonly offset: number; readonly limit: number }): Promise<{ total: number; records: Record<string, unknown>[] }> {
  const dir = deadLetterDir(stateDir, name);
  let files: string[];
  try {
    files = (await fs.readdir(dir)).filter((f) => f.endsWith('.ndjson') && !f.startsWith('.tmp-')).sort();
  } catch {
    return { total: 0, records: [] };
  }
  let total = 0;
  const records: Record<string, unknown>[] = [];
  for (const file of files) {
    const text = await fs.readFile(path.join(dir, file), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      if (total >= page.offset && records.length < page.limit) {
        try {
          records.push({ deadLetterFile: file, ...(JSON.parse(line) as Record<string, unknown>) });
        } catch {
          records.push({ deadLetterFile: file, raw: line, reason: 'unreadable dead-letter line' });
        }
      }
      total++;
    }
  }
  return { total, records };
}
