// `sluice serve` as a real child process: started, its URL read from the line it prints, stopped with SIGTERM.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './temp.ts';

export interface ServeProcess {
  /** http(s)://host:port, as the server printed it. */
  readonly url: string;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

/** `sluice <command> --port 0 <args>` (serve by default), ready when it prints `ready` (with the URL in group 1). */
export async function startServeProcess(args: readonly string[], env: Record<string, string | undefined>, options: { readonly command?: string; readonly ready?: RegExp } = {}): Promise<ServeProcess> {
  const command = options.command ?? 'serve';
  const ready = options.ready ?? /listening on (https?:\/\/\S+)/;
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/sluice.mjs'), command, '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let seen = '';
  child.stderr.on('data', (chunk: Buffer) => { seen += chunk.toString(); });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const match = ready.exec(seen);
        if (match !== null) resolve(match[1] as string);
      });
      child.on('exit', (code) => reject(new Error(`sluice ${command} exited with ${String(code)}: ${seen}`)));
    });
    return { url, output: () => seen, stop: () => { child.kill('SIGTERM'); return exited; } };
  } catch (error) {
    child.kill('SIGTERM');
    throw error;
  }
}
