// Progress of a run: a redrawn status line on a TTY (current steps, done, rows, elapsed), plain log
// lines otherwise, so CI logs and pipes stay readable.
import type { RunEvent } from '../batch/runner.ts';
import { formatMs } from './render.ts';

export function progressReporter(stream: NodeJS.WriteStream = process.stderr): (event: RunEvent) => void {
  const tty = stream.isTTY === true;
  const started = Date.now();
  const running = new Set<string>();
  let total = 0;
  let done = 0;
  let failed = 0;
  let rows = 0;
  /** Steps reported at once as up to date: no line of their own. */
  const quiet = new Set<string>();
  const redraw = (): void => {
    const current = [...running].slice(0, 3).join(', ') + (running.size > 3 ? ` +${running.size - 3}` : '');
    const line = `[${done}/${total}] ${failed > 0 ? `${failed} failed · ` : ''}${rows.toLocaleString('en-US')} rows · ${formatMs(Date.now() - started)} · ${current}`;
    stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 120) - 1)}`);
  };
  return (event) => {
    switch (event.type) {
      case 'run-start':
        total = event.steps;
        if (!tty) stream.write(`run ${event.runId}: ${event.steps} steps\n`);
        break;
      case 'up-to-date':
        for (const key of event.keys) quiet.add(key);
        if (!tty) stream.write(`skipped         ${event.keys.length} step(s) up to date (inputs and SQL unchanged)\n`);
        break;
      case 'step-start':
        running.add(event.key);
        break;
      case 'step-retry':
        if (tty) stream.write('\r\x1b[2K');
        stream.write(`retry ${event.key} (attempt ${event.attempt + 1} in ${formatMs(event.delayMs)}): ${event.error}\n`);
        break;
      case 'step-end':
        running.delete(event.key);
        done++;
        rows += event.rowsOut ?? 0;
        if (event.status === 'failed' || event.status === 'upstream_failed') failed++;
        if ((!tty && !quiet.has(event.key)) || event.status === 'failed') {
          if (tty) stream.write('\r\x1b[2K');
          const detail = event.error !== null ? ` ${event.error}` : ` rows=${event.rowsOut ?? 0}`;
          stream.write(`${event.status.padEnd(15)} ${event.key} ${formatMs(event.ms)}${detail}\n`);
        }
        break;
      case 'run-end':
        if (tty) stream.write('\r\x1b[2K');
        return;
    }
    if (tty) redraw();
  };
}
