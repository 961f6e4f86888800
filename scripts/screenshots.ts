// Regenerates docs/screenshots/*.png for the README: the churn example in a temporary folder (generated data, a
// backfill, one partition blocked by a failing check), `sluice ui` on a free port, each page in Debian's Chromium.
// Usage: npm run screenshots
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Engine } from '../src/engine/engine.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'sluice.mjs');
const out = path.join(root, 'docs', 'screenshots');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-screenshots-'));

const sluice = (args: readonly string[]): void => {
  try {
    execFileSync(process.execPath, [bin, ...args], { cwd: dir, stdio: 'ignore', env: { ...process.env, SLUICE_LOG_LEVEL: 'error' } });
  } catch {
    // A run blocked by its checks exits 1: that is the point of the last one.
  }
};

try {
  fs.copyFileSync(path.join(root, 'examples/churn/sluice.config.ts'), path.join(dir, 'sluice.config.ts'));
  sluice(['generate', 'churn', '--users', '2000', '--days', '45', '--seed', '42', '--end-date', '2026-11-30', '--out', 'data']);
  sluice(['backfill', 'churn_daily', '--from', '2026-11-16', '--to', '2026-11-30', '--max-parallel', '2']);
  const engine = await Engine.open();
  try {
    const file = path.join(dir, 'data/logs/date=2026-11-30/zz-bad.parquet');
    await engine.withSession((s) => s.run(`COPY (SELECT 'bad-1' AS event_id, 1::BIGINT AS user_id, TIMESTAMP '2026-11-30 12:00:00' AS event_ts, 'session_end' AS event_type, 100000::INTEGER AS session_seconds) TO '${file}' (FORMAT parquet)`));
  } finally {
    engine.close();
  }
  sluice(['run', 'user_activity_daily', '--partition', '2026-11-30']);

  const ui = spawn(process.execPath, [bin, 'ui', '--port', '0'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SLUICE_LOG_LEVEL: 'error' } });
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    ui.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /ui on (http:\/\/\S+)/.exec(seen);
      if (match !== null) resolve(match[1] as string);
    });
    ui.on('exit', (code) => reject(new Error(`sluice ui exited with ${String(code)}`)));
  });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    fs.mkdirSync(out, { recursive: true });
    const shot = async (hash: string, name: string, ready: string): Promise<void> => {
      await page.goto(`${url}/#${hash}`);
      await page.locator(ready).first().waitFor();
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(out, `${name}.png`) });
      process.stdout.write(`docs/screenshots/${name}.png\n`);
    };
    await shot('/graph/asset%3Auser_activity_daily', 'graph', '[data-testid="asset-checks"]');
    await page.goto(`${url}/#/runs?status=failed`);
    await page.getByTestId('runs').locator('a').first().waitFor();
    const failed = await page.getByTestId('runs').locator('a').first().textContent();
    await shot('/runs', 'runs', '[data-testid="runs"]');
    await shot(`/runs/${failed ?? ''}`, 'run-timeline', '[data-testid="gantt"]');
    await shot('/partitions/user_features', 'partitions', '[data-testid="partition-grid"]');
    await shot('/checks/user_activity_daily', 'checks', '[data-testid="check-chart"]');
    await shot('/features', 'features', '[data-testid="views"]');
    await shot('/schedules', 'schedules', '[data-testid="backfills"]');
  } finally {
    await browser.close();
    ui.kill('SIGTERM');
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
