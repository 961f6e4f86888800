// The project as one graph for the web UI: sources, assets, feature views, event streams and feature services as
// nodes with a status, dependencies as edges; and one node's detail (definition, columns, latest version, checks,
// schema history, column lineage). Statuses come from status.ts, so the UI and `sluice status` agree.
import { severityOf } from '../batch/checks.ts';
import { buildLineageGraph, walkLineage, type LineageAnswer } from '../batch/lineage.ts';
import type { Asset } from '../define/asset.ts';
import { describePartitions, firstKey } from '../define/partitions.ts';
import { partitionContext, type Dataset, type SqlContext } from '../define/asset.ts';
import { getAsset } from '../define/project.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import type { CheckRecord } from '../store/catalog/catalog.ts';
import type { Workspace } from '../workspace.ts';
import { assetStatuses, type AssetStatus } from './status.ts';

export type GraphNodeKind = 'source' | 'asset' | 'feature-view' | 'stream' | 'service';

/** fresh: built and within its SLA; stale: past its SLA or serving an older version of a blocked partition. */
export type NodeStatus = 'fresh' | 'stale' | 'failing' | 'warning' | 'never-built' | 'defined';

export interface GraphNode {
  /** `<kind>:<name>`, unique. */
  readonly id: string;
  readonly kind: GraphNodeKind;
  readonly name: string;
  readonly status: NodeStatus;
  /** One line for the node's label: version and rows, partitions blocked, the failing checks. */
  readonly summary: string;
  readonly description: string | null;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
}

export interface AssetGraph {
  readonly project: string;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
}

/** The status a node shows: what needs attention first (a blocked partition), then warnings, then staleness. */
export function nodeStatus(s: AssetStatus): NodeStatus {
  if (s.partitions.blocked.count > 0) return 'failing';
  if (s.version === null) return 'never-built';
  if (s.partitions.warnings.count > 0) return 'warning';
  if (s.freshness === 'stale' || s.partitions.stale.count > 0) return 'stale';
  return 'fresh';
}

function statusSummary(s: AssetStatus): string {
  const parts = [s.version === null ? 'never built' : `v${s.version} · ${s.rows ?? 0} rows`];
  if (s.partitions.blocked.count > 0) parts.push(`${s.partitions.blocked.count} blocked`);
  if (s.checks.failing.length > 0) parts.push(`failing: ${s.checks.failing.join(', ')}`);
  if (s.freshness === 'stale') parts.push('past its SLA');
  return parts.join(' · ');
}

export async function assetGraph(ws: Workspace, nowMs: number = Date.now()): Promise<AssetGraph> {
  const { project } = ws;
  const statuses = new Map((await assetStatuses(ws, nowMs)).map((s) => [s.asset, s]));
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const datasetId = (name: string): string => `${project.datasets.get(name)?.kind === 'source' ? 'source' : 'asset'}:${name}`;
  for (const dataset of project.datasets.values()) {
    if (dataset.kind === 'source') {
      nodes.push({ id: `source:${dataset.name}`, kind: 'source', name: dataset.name, status: 'defined', summary: `${dataset.format} files ${dataset.path}`, description: dataset.description ?? null });
    }
  }
  for (const name of project.order) {
    const asset = project.datasets.get(name);
    if (asset?.kind !== 'asset') continue;
    const status = statuses.get(name);
    nodes.push({
      id: `asset:${name}`, kind: 'asset', name, status: status === undefined ? 'never-built' : nodeStatus(status),
      summary: status === undefined ? 'never built' : statusSummary(status), description: asset.description ?? null,
    });
    for (const dep of project.dependencies.get(name) ?? []) edges.push({ from: datasetId(dep.dataset), to: `asset:${name}` });
  }
  for (const stream of project.eventStreams.values()) {
    nodes.push({ id: `stream:${stream.name}`, kind: 'stream', name: stream.name, status: 'defined', summary: `${stream.partitions} partition(s), subject ${stream.jetStream.subject}`, description: stream.description ?? null });
  }
  for (const view of project.featureViews.values()) {
    const source = statuses.get(view.source);
    nodes.push({
      id: `feature-view:${view.name}`, kind: 'feature-view', name: view.name,
      status: source === undefined ? 'defined' : nodeStatus(source),
      summary: `${view.features.length} feature(s)${view.ttl === undefined ? '' : ` · ttl ${view.ttl}`}`, description: view.description ?? null,
    });
    edges.push({ from: datasetId(view.source), to: `feature-view:${view.name}` });
    if (view.type === 'windowed' && view.stream !== undefined) edges.push({ from: `stream:${view.stream.name}`, to: `feature-view:${view.name}` });
  }
  for (const service of project.featureServices.values()) {
    const views = new Set(service.features.map((f) => (f.kind === 'view' ? f.view.name : undefined)).filter((v): v is string => v !== undefined));
    for (const onDemand of service.onDemand) for (const input of onDemand.inputs) views.add(input.name);
    nodes.push({ id: `service:${service.name}`, kind: 'service', name: service.name, status: 'defined', summary: `${service.features.length} feature(s)`, description: service.description ?? null });
    for (const view of views) edges.push({ from: `feature-view:${view}`, to: `service:${service.name}` });
  }
  return { project: project.name, nodes, edges: dedupe(edges) };
}

function dedupe(edges: readonly GraphEdge[]): GraphEdge[] {
  const seen = new Set<string>();
  return edges.filter((e) => {
    const key = `${e.from}\u0000${e.to}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface AssetDetail {
  readonly name: string;
  readonly description: string | null;
  readonly partitions: string | null;
  /** The SQL as run for the first partition (refs shown as the dataset names), or an extract's source. */
  readonly sql: string;
  readonly columns: readonly { readonly name: string; readonly type: string | null; readonly description: string | null }[];
  readonly status: AssetStatus | null;
  readonly checks: readonly { readonly index: number; readonly expectationType: string; readonly column: string | null; readonly severity: 'error' | 'warn'; readonly kwargs: Record<string, unknown> }[];
  /** The latest results of the asset's checks (newest first, at most 50). */
  readonly latestResults: readonly CheckRecord[];
  /** Versions newest first, with the schema changes each made. */
  readonly versions: readonly { readonly version: number; readonly createdAt: string; readonly runId: string; readonly rowCount: number; readonly bytes: number; readonly schemaChanges: readonly { readonly column: string; readonly change: string; readonly from: string | null; readonly to: string | null }[] }[];
  /** Column lineage upstream of the asset's columns; null when none is recorded (`note` says why). */
  readonly lineage: LineageAnswer | null;
  readonly lineageNote: string | null;
}

/** Everything the graph's detail panel shows for an asset. */
export async function assetDetail(ws: Workspace, name: string, nowMs: number = Date.now()): Promise<AssetDetail> {
  const asset = getAsset(ws.project, name);
  const status = (await assetStatuses(ws, nowMs)).find((s) => s.asset === name) ?? null;
  const manifest = await ws.tables.latest(name);
  const types = new Map((manifest?.schema ?? []).map((c) => [c.name, c.type]));
  const described = asset.columns ?? {};
  const columnNames = [...new Set([...types.keys(), ...Object.keys(described)])];
  const history = await ws.tables.history(name);
  const graph = await buildLineageGraph(ws);
  let lineage: LineageAnswer | null = null;
  let lineageNote: string | null = graph.notes.get(`asset:${name}`) ?? null;
  if (lineageNote === null) {
    try {
      lineage = walkLineage(graph, { target: name, direction: 'upstream' });
    } catch (error) {
      lineageNote = errorMessage(error);
    }
  }
  return {
    name, description: asset.description ?? null,
    partitions: asset.partitions === undefined ? null : describePartitions(asset.partitions),
    sql: displaySql(asset),
    columns: columnNames.map((c) => ({ name: c, type: types.get(c) ?? null, description: described[c] ?? null })),
    status,
    checks: asset.checks.map((c, index) => ({ index, expectationType: c.type, column: typeof c.kwargs['column'] === 'string' ? c.kwargs['column'] : null, severity: severityOf(c), kwargs: c.kwargs })),
    latestResults: await ws.catalog.listChecks({ target: name, limit: 50 }),
    versions: history.reverse().slice(0, 100).map((v) => ({
      version: v.version, createdAt: v.createdAt, runId: v.runId, rowCount: v.rowCount, bytes: v.bytes,
      schemaChanges: v.schemaChanges.map((c) => ({ column: c.column, change: c.change, from: c.from, to: c.to })),
    })),
    lineage, lineageNote,
  };
}

/** An asset's SQL for people to read: run for its first partition, each ref() shown as the dataset's name. */
export function displaySql(asset: Asset): string {
  if (asset.extract !== undefined) {
    const source = asset.extract.source;
    return source.type === 'postgres' ? `-- extracted from PostgreSQL ${source.table ?? source.query ?? ''}` : `-- extracted from ${source.url}`;
  }
  const key = asset.partitions === undefined ? null : firstKey(asset.partitions);
  const ctx = Object.defineProperties({
    ref: (dataset: Dataset | string): string => (typeof dataset === 'string' ? dataset : dataset.name),
  }, Object.getOwnPropertyDescriptors(partitionContext(asset, key))) as SqlContext;
  try {
    return dedent(asset.sql(ctx));
  } catch (error) {
    throw new SluiceError('DEFINITION_INVALID', `asset "${asset.name}": its sql function threw: ${errorMessage(error)}`, { asset: asset.name });
  }
}

function dedent(text: string): string {
  const lines = text.replace(/^\n+/, '').replace(/\s+$/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)?.[0].length ?? 0));
  return lines.map((l) => l.slice(Number.isFinite(indent) ? indent : 0)).join('\n');
}
