// The column lineage graph of a project, and walks over it (`sluice lineage`): SQL assets' edges as the catalog
// recorded them at their latest version; extract assets, file sources, feature views, on-demand features and
// services derived from their definitions, down to the files, tables and endpoints data comes from.
import type { Asset } from '../define/asset.ts';
import type { ExtractSource } from '../define/extract.ts';
import type { FeatureView } from '../define/features.ts';
import { partitionColumns } from '../define/partitions.ts';
import type { Project } from '../define/project.ts';
import { suggest } from '../define/project.ts';
import type { FileSource } from '../define/source.ts';
import { SluiceError } from '../errors.ts';
import { ROWS_COLUMN, VALUE_KINDS, type ColumnLineageKind } from '../sql/column-lineage.ts';
import type { Workspace } from '../workspace.ts';
import { isExtractAsset } from './extract.ts';

export type LineageNodeKind = 'asset' | 'source' | 'extract-source' | 'files' | 'table' | 'endpoint' | 'feature-view' | 'on-demand' | 'request' | 'service';

export interface LineageNode {
  /** Unique in the graph: `<kind>:<name>`. */
  readonly id: string;
  readonly kind: LineageNodeKind;
  readonly name: string;
  /** What it is, for people: `version 3`, `parquet files data/logs/*.parquet`, `PostgreSQL table users`. */
  readonly detail: string;
  readonly columns: string[];
  /** Columns sluice adds from the partition key (no SQL computes them). */
  readonly partitionColumns: readonly string[];
}

export interface LineageColumn {
  readonly node: string;
  /** '' for a location (files, table, endpoint), `*` for a dataset's rows. */
  readonly column: string;
}

/** `from` (an input column) flows into `to` (an output column). */
export interface LineageGraphEdge {
  readonly from: LineageColumn;
  readonly to: LineageColumn;
  readonly kind: ColumnLineageKind;
}

export interface LineageGraph {
  readonly nodes: ReadonlyMap<string, LineageNode>;
  readonly edges: readonly LineageGraphEdge[];
  /** By node id: what the graph lacks there and how to get it (an asset with no recorded column lineage). */
  readonly notes: ReadonlyMap<string, string>;
}

/** Kinds that carry values; `filter` and `join` decide rows, and are followed only when asked. */

class GraphBuilder {
  readonly nodes = new Map<string, LineageNode>();
  readonly edges: LineageGraphEdge[] = [];
  readonly notes = new Map<string, string>();

  node(kind: LineageNodeKind, name: string, detail: string, columns: readonly string[] = [], partition: readonly string[] = []): string {
    const id = `${kind}:${name}`;
    if (!this.nodes.has(id)) this.nodes.set(id, { id, kind, name, detail, columns: [...columns], partitionColumns: partition });
    return id;
  }

  edge(from: LineageColumn, to: LineageColumn, kind: ColumnLineageKind): void {
    for (const end of [from, to]) {
      const node = this.nodes.get(end.node);
      if (node !== undefined && end.column !== '' && !node.columns.includes(end.column)) node.columns.push(end.column);
    }
    this.edges.push({ from, to, kind });
  }
}

/** The id of a dataset's node (assets and sources share one namespace). */
function datasetId(project: Project, name: string): string {
  return project.datasets.get(name)?.kind === 'source' ? `source:${name}` : `asset:${name}`;
}

export async function buildLineageGraph(ws: Workspace): Promise<LineageGraph> {
  const { project } = ws;
  const g = new GraphBuilder();
  for (const dataset of project.datasets.values()) {
    if (dataset.kind === 'source') addFileSource(g, dataset);
  }
  for (const name of project.order) {
    const asset = project.datasets.get(name);
    if (asset?.kind !== 'asset') continue;
    const partition = asset.partitions === undefined ? [] : partitionColumns(asset.partitions).map((c) => c.name);
    if (isExtractAsset(asset)) {
      const manifest = await ws.tables.latest(asset.name);
      const columns = Object.keys(asset.extract.source.columns ?? {});
      addExtract(g, asset.name, asset.extract.source, columns.length > 0 ? columns : (manifest?.schema ?? []).map((c) => c.name), manifest?.version);
      continue;
    }
    const records = await ws.catalog.listColumnLineage(asset.name);
    const id = g.node('asset', asset.name, records[0] === undefined ? 'no column lineage recorded' : `version ${records[0].version}`, [], partition);
    if (records.length === 0) g.notes.set(id, noLineageNote(asset));
    for (const record of records) {
      g.nodes.get(id)?.columns.push(record.column);
      for (const input of record.inputs) g.edge({ node: datasetId(project, input.dataset), column: input.column }, { node: id, column: record.column }, input.kind);
    }
    // The asset's rows (what a count over it reads) are computed from its inputs' rows.
    for (const dataset of new Set(records.flatMap((r) => r.inputs.map((i) => i.dataset)))) {
      g.edge({ node: datasetId(project, dataset), column: ROWS_COLUMN }, { node: id, column: ROWS_COLUMN }, 'expression');
    }
  }
  for (const view of project.featureViews.values()) addFeatureView(g, project, view);
  for (const service of project.featureServices.values()) {
    const serviceId = g.node('service', service.name, service.description ?? 'feature service');
    for (const onDemand of service.onDemand) {
      const id = g.node('on-demand', onDemand.name, 'a function of its declared inputs');
      const requestId = g.node('request', onDemand.name, 'fields of the request', Object.keys(onDemand.request));
      for (const output of Object.keys(onDemand.outputs)) {
        // The function is opaque: each output may read every declared input.
        for (const input of onDemand.inputs) for (const feature of input.features) g.edge({ node: `feature-view:${input.name}`, column: feature }, { node: id, column: output }, 'expression');
        for (const field of Object.keys(onDemand.request)) g.edge({ node: requestId, column: field }, { node: id, column: output }, 'expression');
      }
    }
    for (const feature of service.features) {
      const from = feature.kind === 'view' ? `feature-view:${feature.view.name}` : `on-demand:${feature.onDemand.name}`;
      g.edge({ node: from, column: feature.name }, { node: serviceId, column: feature.name }, 'direct');
    }
  }
  return { nodes: g.nodes, edges: g.edges, notes: g.notes };
}

function noLineageNote(asset: Asset): string {
  return `asset "${asset.name}" has no column lineage recorded: its current version was built before sluice recorded it, or it was never built; rebuild it with \`sluice run ${asset.name} --force\``;
}

function addFileSource(g: GraphBuilder, source: FileSource): void {
  const partition = source.partitions === undefined ? [] : partitionColumns(source.partitions).map((c) => c.name);
  const id = g.node('source', source.name, `${source.format} file source`, Object.keys(source.columns ?? {}), partition);
  const files = g.node('files', source.path, `${source.format} files`);
  // The partition columns come from the files' paths, the others from their contents.
  for (const column of [...Object.keys(source.columns ?? {}), ...partition, ROWS_COLUMN]) g.edge({ node: files, column: '' }, { node: id, column }, 'direct');
}

function addExtract(g: GraphBuilder, assetName: string, source: ExtractSource, columns: readonly string[], version: number | undefined): void {
  const id = g.node('asset', assetName, `extract asset${version === undefined ? ', not built yet' : `, version ${version}`}`);
  const sourceId = g.node('extract-source', source.name, `${source.type === 'postgres' ? 'PostgreSQL' : 'HTTP'} source`);
  const location = source.type === 'postgres'
    ? g.node('table', source.table ?? `query of ${source.name}`, source.table === undefined ? `PostgreSQL query (${source.query ?? ''})` : `PostgreSQL table (URL from ${source.url === undefined ? `$${source.urlEnv}` : 'the definition'})`)
    : g.node('endpoint', source.url, `HTTP JSON records at ${source.records}`);
  for (const column of [...columns, ROWS_COLUMN]) {
    g.edge({ node: location, column: '' }, { node: sourceId, column }, 'direct');
    g.edge({ node: sourceId, column }, { node: id, column }, 'direct');
  }
}

/** A view's features from its source's columns: plain columns directly, windows as aggregations over time per key. */
function addFeatureView(g: GraphBuilder, project: Project, view: FeatureView): void {
  const id = g.node('feature-view', view.name, `${view.type === 'columns' ? 'column' : 'windowed'} feature view of ${view.source}`);
  const source = datasetId(project, view.source);
  const keys = view.entity.keys.map((k) => k.name);
  if (view.type === 'columns') {
    for (const feature of view.features) {
      g.edge({ node: source, column: feature }, { node: id, column: feature }, 'direct');
      // The row served is the entity's latest at or before the lookup time.
      g.edge({ node: source, column: view.timestamp }, { node: id, column: feature }, 'filter');
      for (const key of keys) g.edge({ node: source, column: key }, { node: id, column: feature }, 'join');
    }
    return;
  }
  for (const aggregation of view.aggregations) {
    g.edge({ node: source, column: aggregation.column ?? ROWS_COLUMN }, { node: id, column: aggregation.name }, 'aggregate');
    for (const column of [view.timestamp, ...keys]) g.edge({ node: source, column }, { node: id, column: aggregation.name }, 'window');
  }
}

export interface LineageQuery {
  /** `<name>` or `<name>.<column>`: an asset, source, feature view, on-demand feature or service. */
  readonly target: string;
  readonly direction: 'upstream' | 'downstream';
  /** Hops to follow (all when absent). */
  readonly depth?: number | undefined;
  /** Follow filter and join dependencies too (by default only the ones that carry values). */
  readonly rows?: boolean;
}

export interface LineageTreeNode {
  readonly node: string;
  readonly kind: LineageNodeKind;
  readonly name: string;
  readonly column: string;
  /** How this column relates to its parent in the tree (null at a root). */
  readonly via: ColumnLineageKind | null;
  /** Already shown above: not expanded again. */
  readonly repeated: boolean;
  readonly children: readonly LineageTreeNode[];
}

export interface LineageAnswer {
  readonly target: string;
  readonly direction: 'upstream' | 'downstream';
  /** Whether filter and join dependencies were followed. */
  readonly rows: boolean;
  readonly roots: readonly LineageTreeNode[];
  /** The nodes and edges the walk reached (for pictures and --json). */
  readonly nodes: readonly LineageNode[];
  readonly edges: readonly LineageGraphEdge[];
  readonly notes: readonly string[];
}

const NAMESPACES: readonly LineageNodeKind[] = ['asset', 'source', 'feature-view', 'on-demand', 'service', 'extract-source'];

/** Find the node a target names: the whole name first, else the part before the last dot with a column. */
function resolveTarget(graph: LineageGraph, target: string): { node: LineageNode; column: string | undefined } {
  const find = (name: string): LineageNode | undefined => NAMESPACES.map((kind) => graph.nodes.get(`${kind}:${name}`)).find((n) => n !== undefined);
  const whole = find(target);
  if (whole !== undefined) return { node: whole, column: undefined };
  const dot = target.lastIndexOf('.');
  const node = dot > 0 ? find(target.slice(0, dot)) : undefined;
  if (node === undefined) {
    const names = [...graph.nodes.values()].filter((n) => NAMESPACES.includes(n.kind)).map((n) => n.name);
    throw new SluiceError('LINEAGE_TARGET', `"${target}" is not an asset, source, feature view, on-demand feature or feature service of this project${suggest(dot > 0 ? target.slice(0, dot) : target, names)}; give <name> or <name>.<column>`, { target });
  }
  const column = target.slice(dot + 1);
  const known = [...node.columns, ...node.partitionColumns];
  if (!known.includes(column)) {
    throw new SluiceError('LINEAGE_TARGET', `${node.kind} "${node.name}" has no column "${column}" in its lineage${suggest(column, known)}; its columns: ${known.join(', ') || '(none recorded)'}`, { target, column });
  }
  return { node, column };
}

/** Walk the graph from a target, upstream (where it comes from) or downstream (what it feeds). */
export function walkLineage(graph: LineageGraph, query: LineageQuery): LineageAnswer {
  if (query.depth !== undefined && (!Number.isInteger(query.depth) || query.depth < 0)) {
    throw new SluiceError('CONFIG_INVALID', `--depth must be a whole number of hops (0 or more), not ${query.depth}`, { depth: query.depth });
  }
  const { node, column } = resolveTarget(graph, query.target);
  const follow = (kind: ColumnLineageKind): boolean => query.rows === true || VALUE_KINDS.has(kind);
  const next = new Map<string, LineageGraphEdge[]>();
  for (const edge of graph.edges) {
    if (!follow(edge.kind)) continue;
    const [here] = query.direction === 'upstream' ? [edge.to] : [edge.from];
    const key = `${here.node}\u0000${here.column}`;
    next.set(key, [...(next.get(key) ?? []), edge]);
  }
  const seen = new Set<string>();
  const reachedNodes = new Set<string>([node.id]);
  const reachedEdges = new Set<LineageGraphEdge>();
  const grow = (at: LineageColumn, via: ColumnLineageKind | null, depth: number): LineageTreeNode => {
    const key = `${at.node}\u0000${at.column}`;
    const info = graph.nodes.get(at.node);
    const base = { node: at.node, kind: info?.kind ?? 'asset', name: info?.name ?? at.node, column: at.column, via };
    if (seen.has(key)) return { ...base, repeated: true, children: [] };
    seen.add(key);
    const edges = query.depth !== undefined && depth >= query.depth ? [] : next.get(key) ?? [];
    const children = edges.map((edge) => {
      const other = query.direction === 'upstream' ? edge.from : edge.to;
      reachedNodes.add(other.node);
      reachedEdges.add(edge);
      return grow(other, edge.kind, depth + 1);
    });
    return { ...base, repeated: false, children };
  };
  const columns = column === undefined ? node.columns.filter((c) => c !== ROWS_COLUMN) : [column];
  const roots = columns.map((c) => grow({ node: node.id, column: c }, null, 0));
  return {
    target: query.target,
    direction: query.direction,
    rows: query.rows === true,
    roots,
    nodes: [...reachedNodes].flatMap((id) => graph.nodes.get(id) ?? []),
    edges: [...reachedEdges],
    notes: [...reachedNodes].flatMap((id) => graph.notes.get(id) ?? []),
  };
}

/** `sluice lineage`: the project's graph, walked from a target. */
export async function lineage(ws: Workspace, query: LineageQuery): Promise<LineageAnswer> {
  return walkLineage(await buildLineageGraph(ws), query);
}
