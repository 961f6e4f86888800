// Benchmark: the web UI. API latency (p50/p99 of in-process requests) for the main pages with 10,000 runs (each
// with 3 steps) and 1,000 assets seeded into a SQLite catalog directly, and the time from navigation to the graph
// page's first render (nodes drawn) in Debian's Chromium for 100 and 1,000 nodes.
// Goals (issue 16): API p99 under 50 ms; graph rendered under 1 s at 1,000 nodes.
// Usage: npm run bench:ui -- [--requests 200]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { KeyRing } from '../src/access/key-ring.ts';
import { asset, defineProject, job, type Asset } from '../src/index.ts';
import { createLogger } from '../src/logger.ts';
import { listen } from '../src/server/server.ts';
import { buildUiServer } from '../src/server/ui-server.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const requests = arg('--requests', 200);

/** `count` assets in 10 chains that fan in every 10th asset: a layered graph with crossings. */
function project(count: number): ReturnType<typeof defineProject> {
  const assets: Asset[] = [];
  for (let i = 0; i < count; i++) {
    const deps = [i >= 10 ? assets[i - 10] : undefined, i % 10 === 0 && i >= 20 ? assets[i - 19] : undefined].filter((a): a is Asset => a !== undefined);
    assets.push(asset(`a${i}`, { sql: ({ ref }) => (deps.length === 0 ? 'SELECT 1 AS x' : deps.map((d) => `SELECT x FROM ${ref(d)}`).join(' UNION ALL ')) }));
  }
  return defineProject({ name: `bench${count}`, assets, jobs: [job('all', { assets: assets.slice(-10) })] });
}

async function seed(ws: Workspace, runs: number): Promise<void> {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const names = ws.project.order;
  for (let i = 0; i < runs; i++) {
    const id = `run-${String(i).padStart(6, '0')}`;
    const startedAt = new Date(t0 + i * 60_000).toISOString();
    await ws.catalog.createRun({ id, project: ws.project.name, startedAt, args: { command: 'schedule', job: 'all' } });
    await ws.catalog.createSteps([0, 1, 2].map((k) => ({ id: `${id}-${k}`, runId: id, asset: names[(i * 3 + k) % names.length] as string, partition: '', status: 'success' as const })));
    await ws.catalog.finishRun(id, i % 17 === 0 ? 'failed' : 'success', new Date(t0 + i * 60_000 + 5_000).toISOString(), i % 17 === 0 ? 'a step failed' : null);
  }
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

const loadBefore = os.loadavg();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-ui-'));
const api: { route: string; p50Ms: number; p99Ms: number }[] = [];
const render: { nodes: number; firstRenderMs: number; drawnNodes: number }[] = [];
try {
  const ws = await openWorkspace(project(1000), path.join(dir, 'p1000'));
  const ring = new KeyRing({});
  try {
    process.stdout.write('seeding 10,000 runs...\n');
    await seed(ws, 10_000);
    const app = await buildUiServer({ ws, access: ring, logger: createLogger('error') });
    for (const route of ['/api/runs', '/api/runs?offset=5000', '/api/runs?status=failed', '/api/runs?asset=a500', '/api/runs/run-005000', '/api/graph', '/api/status', '/api/assets/a999', '/api/schedules']) {
      const times: number[] = [];
      for (let i = 0; i < requests; i++) {
        const started = performance.now();
        const response = await app.inject({ method: 'GET', url: route });
        times.push(performance.now() - started);
        if (response.statusCode !== 200) throw new Error(`${route}: ${response.statusCode} ${response.body}`);
      }
      times.sort((a, b) => a - b);
      api.push({ route, p50Ms: quantile(times, 0.5), p99Ms: quantile(times, 0.99) });
      process.stdout.write(`${route}: p50 ${quantile(times, 0.5).toFixed(1)} ms, p99 ${quantile(times, 0.99).toFixed(1)} ms\n`);
    }
    await app.close();
  } finally {
    ring.close();
    await ws.close();
  }

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    for (const nodes of [100, 1000]) {
      const small = await openWorkspace(project(nodes), path.join(dir, `g${nodes}`));
      const open = new KeyRing({});
      try {
        const server = await listen(await buildUiServer({ ws: small, access: open, logger: createLogger('error') }), '127.0.0.1', 0);
        const times: number[] = [];
        let drawn = 0;
        for (let i = 0; i < 5; i++) {
          const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
          const started = performance.now();
          await page.goto(`${server.url}/#/graph`);
          await page.locator('[data-node]').first().waitFor();
          times.push(performance.now() - started);
          drawn = await page.locator('[data-node]').count();
          await page.close();
        }
        times.sort((a, b) => a - b);
        render.push({ nodes, firstRenderMs: quantile(times, 0.5), drawnNodes: drawn });
        process.stdout.write(`graph page, ${nodes} nodes: first render ${quantile(times, 0.5).toFixed(0)} ms (median of 5), ${drawn} nodes drawn (the rest are outside the view)\n`);
        await server.close();
      } finally {
        open.close();
        await small.close();
      }
    }
  } finally {
    await browser.close();
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

const result = {
  benchmark: 'ui', requests, runs: 10_000, assets: 1_000,
  machine: { cpus: os.cpus().length, node: process.version, loadAverage: loadBefore, loadAverageAfter: os.loadavg() },
  goals: { apiP99Ms: 50, graphRenderMs: 1000 },
  api, render,
};
fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench', 'results', 'ui.json'), `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} -> ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; wrote bench/results/ui.json\n`);
