// The web UI's JSON API under /api: thin routes over the runtime layers (status, graph, runs, partitions, checks,
// features, streams, schedules) and the three write actions (launch a backfill, resume a run, look up features).
// Reads need any valid key when keys are configured; actions need operator on the asset (access/principals.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { lineage } from '../batch/lineage.ts';
import { resumeRun } from '../batch/resume.ts';
import { runAssets } from '../batch/runner.ts';
import { keysBetween } from '../define/partitions.ts';
import { getAsset, getJob } from '../define/project.ts';
import { SluiceError } from '../errors.ts';
import { readOnlineFeaturesCounted, type OnlineFeaturesRequest } from '../features/online-read.ts';
import { assetDetail, assetGraph } from '../orchestrate/asset-graph.ts';
import { backfill } from '../orchestrate/backfill.ts';
import { featuresOverview, schedulesOverview, streamsOverview } from '../orchestrate/overviews.ts';
import { jobsBuilding, partitionGrid } from '../orchestrate/partition-grid.ts';
import { assetStatuses } from '../orchestrate/status.ts';
import { checkSeries, quarantineSamples } from '../quality/check-series.ts';
import type { RunStatus } from '../store/catalog/catalog.ts';
import { readDeadLetters } from '../store/dead-letter.ts';
import type { OnlineStore } from '../store/online/online-store.ts';
import type { Workspace } from '../workspace.ts';
import type { AccessRequest } from '../access/principals.ts';
import { HttpError } from './server.ts';

export interface UiApiContext {
  readonly ws: Workspace;
  /** The online store for feature lookups and materialisation state; none: lookups answer 503. */
  readonly store: OnlineStore | undefined;
  /** 403 unless the request's principal may do `wanted` (a no-op when the API is open). */
  readonly allow: (request: FastifyRequest, wanted: AccessRequest, what: string) => void;
  /** Actions run in the background; the server awaits them on close. */
  readonly background: (name: string, work: () => Promise<unknown>) => void;
  /** How often a run's live updates poll the catalog (default 500 ms). */
  readonly pollMs?: number;
}

const RUN_STATUSES: readonly RunStatus[] = ['running', 'success', 'failed', 'partial'];
const MAX_PAGE = 500;

type Query = Record<string, string | undefined>;

function page(query: Query, fallback = 50): { offset: number; limit: number } {
  const number = (name: string, value: string | undefined, def: number): number => {
    if (value === undefined || value === '') return def;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new HttpError(400, 'BAD_REQUEST', `?${name}= must be a whole number, got ${JSON.stringify(value)}`);
    return n;
  };
  return { offset: number('offset', query['offset'], 0), limit: Math.min(MAX_PAGE, number('limit', query['limit'], fallback)) };
}

export function registerUiApi(app: FastifyInstance, ctx: UiApiContext): void {
  const { ws } = ctx;
  const project = ws.project;

  app.get('/api/project', () => Promise.resolve({
    name: project.name, assets: project.order, jobs: [...project.jobs.keys()], services: [...project.featureServices.keys()],
    streams: [...project.eventStreams.keys()], onlineStore: ctx.store?.location ?? null,
  }));
  // The same shape as `sluice status --json`.
  app.get('/api/status', async () => assetStatuses(ws));
  app.get('/api/graph', async () => assetGraph(ws));
  app.get<{ Params: { name: string } }>('/api/assets/:name', async (request) => assetDetail(ws, request.params.name));
  app.get<{ Params: { name: string }; Querystring: Query }>('/api/assets/:name/partitions', async (request) => partitionGrid(ws, request.params.name, page(request.query, 1_000)));
  app.get<{ Params: { name: string }; Querystring: Query }>('/api/assets/:name/checks', async (request) => {
    getAsset(project, request.params.name);
    const limit = Math.min(20_000, Number(request.query['limit'] ?? 5_000) || 5_000);
    return { series: await checkSeries(ws, request.params.name, { limit }), quarantine: await quarantineSamples(ws, request.params.name) };
  });
  // The same shape as `sluice lineage <target> --json`.
  app.get<{ Querystring: Query }>('/api/lineage', async (request) => {
    const target = request.query['target'];
    if (target === undefined || target === '') throw new HttpError(400, 'BAD_REQUEST', '?target=<name> or <name>.<column> is required');
    return lineage(ws, { target, direction: request.query['direction'] === 'downstream' ? 'downstream' : 'upstream' });
  });

  // Runs, newest first, a page at a time: the same records as `sluice runs --json`.
  app.get<{ Querystring: Query }>('/api/runs', async (request) => {
    const q = request.query;
    const status = q['status'];
    if (status !== undefined && status !== '' && !RUN_STATUSES.includes(status as RunStatus)) {
      throw new HttpError(400, 'BAD_REQUEST', `?status= must be one of ${RUN_STATUSES.join(', ')}, got "${status}"`);
    }
    const since = q['since'];
    if (since !== undefined && since !== '' && Number.isNaN(Date.parse(since))) throw new HttpError(400, 'BAD_REQUEST', `?since= must be an ISO date or time, got "${since}"`);
    const { offset, limit } = page(q);
    const filter = {
      offset, limit: limit + 1,
      ...(status === undefined || status === '' ? {} : { status: status as RunStatus }),
      ...(q['asset'] === undefined || q['asset'] === '' ? {} : { asset: q['asset'] }),
      ...(q['job'] === undefined || q['job'] === '' ? {} : { job: q['job'] }),
      ...(since === undefined || since === '' ? {} : { since: new Date(since).toISOString() }),
    };
    const runs = await ws.catalog.listRuns(filter);
    return { runs: runs.slice(0, limit), offset, limit, more: runs.length > limit };
  });
  // One run: the same shape as `sluice runs <id> --json`.
  app.get<{ Params: { id: string } }>('/api/runs/:id', async (request) => runDetail(ws, request.params.id));
  app.get<{ Params: { id: string } }>('/api/runs/:id/events', async (request, reply) => streamRun(ctx, request.params.id, request, reply));

  app.get('/api/features', async () => featuresOverview(ws, ctx.store?.location ?? ''));
  app.post<{ Body: OnlineFeaturesRequest }>('/api/features/lookup', async (request) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || typeof body.service !== 'string') throw new HttpError(400, 'FEATURE_REQUEST', 'send { "service": "<name>", "entities": [{ <keys> }], "request"?: { ... } }');
    ctx.allow(request, { action: 'read', service: body.service }, `read feature service "${body.service}"`);
    if (ctx.store === undefined) throw new HttpError(503, 'ONLINE_STORE', 'no online store is open in this process: start `sluice ui` or `sluice dev` where SLUICE_ONLINE_URL (or the default online.db) is readable');
    return (await readOnlineFeaturesCounted(project, ctx.store, body, {})).response;
  });
  app.get('/api/streams', async () => streamsOverview(ws));
  app.get<{ Params: { name: string }; Querystring: Query }>('/api/dead-letters/:name', async (request) => {
    const name = request.params.name;
    if (!project.datasets.has(name) && !project.eventStreams.has(name)) throw new HttpError(404, 'NOT_FOUND', `no source, asset or stream "${name}" in project "${project.name}"`);
    return readDeadLetters(ws.stateDir, name, page(request.query));
  });
  app.get('/api/schedules', async () => schedulesOverview(ws));
  app.get<{ Params: { id: string } }>('/api/backfills/:id', async (request) => ({ id: request.params.id, partitions: await ws.catalog.listBackfillPartitions(request.params.id) }));

  // Launch a backfill of a range of an asset's partitions: through the job that builds it when there is one
  // (recorded as a backfill, continued by the same command), else one run of the asset over the range.
  app.post<{ Body: { asset?: unknown; from?: unknown; to?: unknown; job?: unknown; force?: unknown } }>('/api/backfills', async (request, reply) => {
    const body = request.body ?? {};
    if (typeof body.asset !== 'string' || typeof body.from !== 'string' || typeof body.to !== 'string') {
      throw new HttpError(400, 'BAD_REQUEST', 'send { "asset": "<name>", "from": "<first key>", "to": "<last key>" }');
    }
    const asset = getAsset(project, body.asset);
    if (asset.partitions === undefined) throw new HttpError(400, 'BAD_REQUEST', `asset "${asset.name}" is not partitioned; run it with \`sluice run ${asset.name}\``);
    ctx.allow(request, { action: 'backfill', asset: asset.name }, `backfill asset "${asset.name}"`);
    const [from, to] = body.from <= body.to ? [body.from, body.to] : [body.to, body.from];
    const force = body.force === true;
    const jobs = jobsBuilding(ws, asset.name);
    const jobName = typeof body.job === 'string' ? getJob(project, body.job).name : jobs[0];
    if (jobName !== undefined) {
      const id = `${jobName}:${from}:${to}`;
      ctx.background(`backfill ${id}`, () => backfill(ws, { job: jobName, from, to, force }));
      return reply.code(202).send({ kind: 'backfill', backfillId: id, job: jobName, from, to });
    }
    const keys = keysBetween(asset.partitions, from, to);
    if (keys.length === 0) throw new HttpError(400, 'BAD_REQUEST', `asset "${asset.name}" has no partition between ${from} and ${to}`);
    ctx.background(`run ${asset.name} ${from}..${to}`, () => runAssets(ws, { assets: [asset.name], partitions: keys, force, args: { command: 'ui', assets: [asset.name], from, to, force } }));
    return reply.code(202).send({ kind: 'run', asset: asset.name, from, to, partitions: keys.length });
  });
  // Re-run a run's failed steps (`sluice run --resume`).
  app.post<{ Params: { id: string } }>('/api/runs/:id/resume', async (request, reply) => {
    const run = await ws.catalog.getRun(request.params.id);
    if (run === undefined) throw new HttpError(404, 'NOT_FOUND', `no run ${request.params.id}; GET /api/runs lists them`);
    const steps = await ws.catalog.listSteps(run.id);
    for (const asset of new Set(steps.filter((s) => s.status !== 'success' && s.status !== 'skipped').map((s) => s.asset))) {
      ctx.allow(request, { action: 'run', asset }, `re-run asset "${asset}"`);
    }
    if (run.status === 'running') throw new HttpError(409, 'RUN_RUNNING', `run ${run.id} is still running; resume it once it has ended`);
    ctx.background(`resume ${run.id}`, () => resumeRun(ws, run.id));
    return reply.code(202).send({ resumed: run.id });
  });
}

async function runDetail(ws: Workspace, id: string): Promise<{ run: unknown; steps: unknown; checks: unknown }> {
  const run = await ws.catalog.getRun(id);
  if (run === undefined) throw new HttpError(404, 'NOT_FOUND', `no run ${id}; GET /api/runs lists them`);
  const [steps, checks] = await Promise.all([ws.catalog.listSteps(id), ws.catalog.listChecks({ runId: id })]);
  return { run, steps, checks };
}

/**
 * Server-sent events of a run: its record and steps each time they change (read from the catalog, so runs of any
 * process are followed), until the run ends or the client goes away.
 */
async function streamRun(ctx: UiApiContext, id: string, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const ws = ctx.ws;
  await runDetail(ws, id);
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  let closed = false;
  request.raw.on('close', () => { closed = true; });
  let last = '';
  try {
    while (!closed) {
      const detail = await runDetail(ws, id);
      const text = JSON.stringify(detail);
      if (text !== last) {
        raw.write(`event: run\ndata: ${text}\n\n`);
        last = text;
      }
      if ((detail.run as { status: string }).status !== 'running') break;
      await new Promise((resolve) => setTimeout(resolve, ctx.pollMs ?? 500));
    }
    if (!closed) raw.write('event: end\ndata: {}\n\n');
  } catch (error) {
    if (!closed) raw.write(`event: error\ndata: ${JSON.stringify({ message: error instanceof SluiceError ? error.message : 'the run could not be read' })}\n\n`);
  } finally {
    raw.end();
  }
}
