// Test helpers: temp directories that are removed afterwards, the CLI as a child process, Parquet from SQL.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { quoteLiteral } from '../../src/sql/identifiers.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function makeTempDir(prefix = 'sluice-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A fresh project directory for each test, holding `files` (paths relative to it), given to `onDir`; what the test
 * pushed on `open` (workspaces) is closed after it, then the directory is removed.
 */
export function tempProjectEachTest(prefix: string, files: Readonly<Record<string, string>>, onDir: (dir: string) => void, open: { close(): Promise<void> }[]): void {
  let cleanup = (): void => undefined;
  beforeEach(() => {
    const temp = makeTempDir(prefix);
    cleanup = temp.cleanup;
    for (const [file, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(temp.dir, file)), { recursive: true });
      fs.writeFileSync(path.join(temp.dir, file), text);
    }
    onDir(temp.dir);
  });
  afterEach(async () => {
    for (const ws of open.splice(0)) await ws.close();
    cleanup();
  });
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `sluice <args>` as a real child process. */
export function runCli(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'bin/sluice.mjs'), ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, SLUICE_LOG_LEVEL: 'error', ...options.env },
      maxBuffer: 64 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Write the result of a DuckDB query to a Parquet file (creating folders). */
export async function writeParquet(file: string, sql: string): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const engine = await Engine.open();
  try {
    await engine.withSession((s) => s.run(`COPY (${sql}) TO ${quoteLiteral(file)} (FORMAT parquet)`));
  } finally {
    engine.close();
  }
}

/** Query with a throwaway engine: for reading back what a run wrote. */
export async function duck<T extends Record<string, unknown>>(sql: string): Promise<T[]> {
  const engine = await Engine.open();
  try {
    return await engine.withSession((s) => s.query<T>(sql));
  } finally {
    engine.close();
  }
}
