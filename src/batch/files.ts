// Resolving a file source to the files a step reads: `{date}` (`{hour}`, `{<column>}`) templates expanded over the partition window,
// globs expanded by DuckDB, and a fingerprint (path, size, mtime) that changes when any input file does.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileSource } from '../define/source.ts';
import { expandTemplate, isTemplated } from '../define/source.ts';
import { describePartitions, upstreamKeys, type Partitions } from '../define/partitions.ts';
import type { Session } from '../engine/engine.ts';
import { SluiceError } from '../errors.ts';
import { quoteLiteral } from '../sql/identifiers.ts';

export interface ResolvedFiles {
  readonly files: readonly string[];
  /** Partition keys whose files were found (empty for an untemplated source). */
  readonly partitions: readonly string[];
  readonly fingerprint: string;
  readonly bytes: number;
}

const WILDCARD = /[*?[]/;

/** A file-name glob (`*`, `?`) as a regular expression; null when it uses more than those. */
function nameMatcher(name: string): RegExp | null {
  if (/[[\]{}]/.test(name)) return null;
  const source = name.replace(/[.+^$()|\\]/g, '\\$&').replaceAll('*', '[^/]*').replaceAll('?', '[^/]');
  return new RegExp(`^${source}$`);
}

/** Files matching a path or glob, sorted (hidden files left out when only the file name has wildcards). */
export async function glob(session: Session, pattern: string): Promise<string[]> {
  if (!WILDCARD.test(pattern)) {
    try {
      return (await fs.stat(pattern)).isFile() ? [pattern] : [];
    } catch {
      return [];
    }
  }
  // The common case, wildcards in the file name only (`logs/date=D/*.parquet`), is one readdir.
  const dir = path.dirname(pattern);
  const matcher = WILDCARD.test(dir) ? null : nameMatcher(path.basename(pattern));
  if (matcher !== null) {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return [];
    }
    return entries.filter((e) => e.isFile() && !e.name.startsWith('.') && matcher.test(e.name)).map((e) => path.join(dir, e.name)).sort();
  }
  const rows = await session.query<{ file: string }>(`SELECT file FROM glob(${quoteLiteral(pattern)}) ORDER BY file`);
  return rows.map((r) => r.file);
}

/**
 * Files of `source` for partition `anchor` widened by lookback/lookahead. The anchor partition must have
 * files; neighbours in the window may be missing (before the data starts, or not yet arrived).
 */
export async function resolveSourceFiles(
  session: Session,
  projectDir: string,
  source: FileSource,
  window: { anchor: string | null; lookback: number; lookahead: number; consumer?: Partitions | undefined },
): Promise<ResolvedFiles> {
  const template = path.resolve(projectDir, source.path);
  const files: string[] = [];
  const partitions: string[] = [];
  if (source.partitions !== undefined && (isTemplated(source) || source.partitionBy !== undefined)) {
    if (window.anchor === null) {
      throw new SluiceError('DEFINITION_INVALID', `source "${source.name}" is partitioned (${describePartitions(source.partitions)}) and can only be read by a partitioned asset`, { source: source.name });
    }
    const reader = window.consumer ?? source.partitions;
    const keys = upstreamKeys(reader, window.anchor, source.partitions, window.lookback, window.lookahead);
    if (keys === 'all') {
      throw new SluiceError('DEFINITION_INVALID', `source "${source.name}" (${describePartitions(source.partitions)}) cannot be read by an asset partitioned ${describePartitions(reader)}: give them partitions of the same kind, or a time kind for both`, { source: source.name });
    }
    if (source.partitionBy !== undefined) {
      // One set of files for every partition; the rows of the window are selected by the column when read.
      files.push(...await glob(session, template));
      if (files.length === 0) throw new SluiceError('SOURCE_NOT_FOUND', `source "${source.name}": no files match ${template}; check the source's path (relative to the project folder)`, { source: source.name, file: template });
      partitions.push(...keys);
    } else {
      const own = new Set(upstreamKeys(reader, window.anchor, source.partitions, 0, 0) as string[]);
      let ownFound = false;
      for (const key of keys) {
        const pattern = expandTemplate(template, source.partitions, key);
        const found = await glob(session, pattern);
        if (found.length > 0) {
          partitions.push(key);
          if (own.has(key)) ownFound = true;
        }
        files.push(...found);
      }
      if (!ownFound) {
        const key = [...own][0] ?? window.anchor;
        const pattern = expandTemplate(template, source.partitions, key);
        throw new SluiceError('SOURCE_NOT_FOUND', `source "${source.name}": ${await isDirectory(pattern) ? `${pattern} is a directory, not a file; point the path at its files, e.g. ${path.join(pattern, `*.${source.format}`)}` : `no files match ${pattern} for partition ${key}; that partition's data has not arrived, or the path template is wrong`}`, { source: source.name, partition: key, file: pattern });
      }
    }
  } else {
    files.push(...await glob(session, template));
    if (files.length === 0) {
      throw new SluiceError('SOURCE_NOT_FOUND', `source "${source.name}": ${await isDirectory(template) ? `${template} is a directory, not a file; point the path at its files, e.g. ${path.join(template, `*.${source.format}`)}` : `no files match ${template}; check the source's path (relative to the project folder)`}`, { source: source.name, file: template });
    }
  }
  const hash = createHash('sha256');
  // Column options enter only when set, so sources declared as before keep their fingerprints (no rebuild on upgrade).
  const evolving = { ...(source.optionalColumns.length > 0 ? { optional: source.optionalColumns } : {}), ...(source.extraColumns === 'ignore' ? {} : { extra: source.extraColumns }) };
  hash.update(JSON.stringify({ format: source.format, columns: source.columns ?? null, csv: source.csv, badRecords: source.badRecords, ...evolving }));
  let bytes = 0;
  for (const file of files) {
    const stat = await fs.stat(file);
    if (stat.size === 0 && !source.allowEmpty) {
      throw new SluiceError('SOURCE_READ', `source "${source.name}": ${file} is empty (0 bytes): reading it would publish an empty partition over good data. Fix or remove the file, or set allowEmpty: true on the source if empty input is expected`, { source: source.name, file });
    }
    bytes += stat.size;
    hash.update(`\n${file}\t${stat.size}\t${stat.mtimeMs}`);
  }
  return { files, partitions, fingerprint: hash.digest('hex'), bytes };
}

async function isDirectory(pattern: string): Promise<boolean> {
  if (WILDCARD.test(pattern)) return false;
  return fs.stat(pattern).then((s) => s.isDirectory(), () => false);
}
