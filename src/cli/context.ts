// What every command shares: global options, opening the project's workspace, and printing errors
// without a stack trace unless --debug.
import type { Command } from 'commander';
import { errorMessage, SluiceError } from '../errors.ts';
import type { Workspace } from '../workspace.ts';

export interface GlobalOptions {
  readonly project: string;
  readonly debug: boolean;
  readonly json: boolean;
}

export function globals(command: Command): GlobalOptions {
  const options = command.optsWithGlobals<{ project?: string; debug?: boolean; json?: boolean }>();
  return { project: options.project ?? '.', debug: options.debug ?? false, json: options.json ?? false };
}

export async function withWorkspace<T>(options: GlobalOptions, fn: (ws: Workspace) => Promise<T>): Promise<T> {
  // Loaded on first use: `sluice --help` and the commands that need no project never pay for them.
  const [{ loadProject }, { openWorkspace }] = await Promise.all([import('../load-project.ts'), import('../workspace.ts')]);
  const { project, projectDir } = await loadProject(options.project);
  const ws = await openWorkspace(project, projectDir, options.json ? { logFormat: 'json' } : {});
  try {
    return await fn(ws);
  } finally {
    await ws.close();
  }
}

export function reportError(error: unknown, debug: boolean): void {
  if (debug && error instanceof Error) {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    if (error.cause instanceof Error) process.stderr.write(`caused by: ${error.cause.stack ?? error.cause.message}\n`);
    return;
  }
  const code = error instanceof SluiceError ? ` [${error.code}]` : '';
  process.stderr.write(`error${code}: ${errorMessage(error)}\n`);
}

/** A repeatable option's values, in order (`--tag a=1 --tag b=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseInteger(name: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new SluiceError('CONFIG_INVALID', `${name} must be a whole number, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** Resolves on the first SIGINT or SIGTERM (long-running commands stop cleanly on either). */
export function waitForSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
