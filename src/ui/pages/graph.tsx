// The asset graph: every source, asset, stream, feature view and service as a node coloured by status, laid out
// in layers, panned by dragging and zoomed with the wheel. Only the nodes in view are drawn, so 1,000 nodes stay
// smooth; selecting one opens its detail (definition, columns, version, checks, schema history, lineage).
import { useMemo, useRef, useState } from 'preact/hooks';
import { Loading, Problem, Table, formatBytes, formatTime, useApi } from '../components.tsx';
import { layoutGraph, NODE_HEIGHT, NODE_WIDTH } from '../layout.ts';

interface GraphNode { id: string; kind: string; name: string; status: string; summary: string; description: string | null }
interface Graph { project: string; nodes: GraphNode[]; edges: { from: string; to: string }[] }

interface View { x: number; y: number; scale: number }

const VIEW_W = 1200;
const VIEW_H = 640;

export function GraphPage({ selected }: { selected: string | null }): preact.JSX.Element {
  const graph = useApi<Graph>('/api/graph', 10_000);
  return <Loading loaded={graph}>{(g) => <GraphView graph={g} selected={selected} />}</Loading>;
}

function GraphView({ graph, selected }: { graph: Graph; selected: string | null }): preact.JSX.Element {
  const layout = useMemo(() => layoutGraph(graph), [graph]);
  const fit = Math.min(1, VIEW_W / Math.max(1, layout.width), VIEW_H / Math.max(1, layout.height));
  const [view, setView] = useState<View>({ x: -20, y: -20, scale: Math.max(fit, 0.35) });
  const [filter, setFilter] = useState('');
  const drag = useRef<{ x: number; y: number; view: View } | null>(null);
  const byId = useMemo(() => new Map(graph.nodes.map((n) => [n.id, n])), [graph]);
  const selectedNode = selected === null ? undefined : byId.get(selected);

  // What is in view (with a margin): the only nodes and edges drawn.
  const w = VIEW_W / view.scale;
  const h = VIEW_H / view.scale;
  const inView = (id: string): boolean => {
    const p = layout.positions.get(id);
    return p !== undefined && p.x + NODE_WIDTH >= view.x - 50 && p.x <= view.x + w + 50 && p.y + NODE_HEIGHT >= view.y - 50 && p.y <= view.y + h + 50;
  };
  const visible = graph.nodes.filter((n) => inView(n.id));
  const edges = graph.edges.filter((e) => inView(e.from) || inView(e.to));
  const match = filter.trim() === '' ? null : graph.nodes.filter((n) => n.name.includes(filter.trim())).slice(0, 8);
  const focus = (id: string): void => {
    const p = layout.positions.get(id);
    if (p !== undefined) setView({ ...view, x: p.x - w / 2 + NODE_WIDTH / 2, y: p.y - h / 2 });
    location.hash = `/graph/${encodeURIComponent(id)}`;
  };
  const counts = graph.nodes.reduce<Record<string, number>>((acc, n) => ({ ...acc, [n.status]: (acc[n.status] ?? 0) + 1 }), {});

  return (
    <div class="graph-page">
      <div class="graph-pane">
        <div class="toolbar">
          <span>{graph.nodes.length} nodes · {graph.edges.length} edges</span>
          {Object.entries(counts).map(([s, n]) => <span key={s} class={`pill status-${s}`}>{s} {n}</span>)}
          <input placeholder="find a node" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} aria-label="find a node" />
          {match?.map((n) => <button key={n.id} onClick={() => focus(n.id)}>{n.name}</button>)}
          <button onClick={() => setView({ ...view, scale: view.scale * 1.25 })}>+</button>
          <button onClick={() => setView({ ...view, scale: view.scale / 1.25 })}>−</button>
        </div>
        <svg
          data-testid="graph" class="graph" viewBox={`${view.x} ${view.y} ${w} ${h}`} width={VIEW_W} height={VIEW_H}
          onWheel={(e) => { e.preventDefault(); const k = e.deltaY < 0 ? 1.15 : 1 / 1.15; setView({ ...view, scale: Math.min(3, Math.max(0.05, view.scale * k)) }); }}
          onPointerDown={(e) => { drag.current = { x: e.clientX, y: e.clientY, view }; }}
          onPointerMove={(e) => {
            const d = drag.current;
            if (d === null) return;
            setView({ ...d.view, x: d.view.x - (e.clientX - d.x) / d.view.scale, y: d.view.y - (e.clientY - d.y) / d.view.scale });
          }}
          onPointerUp={() => { drag.current = null; }}
          onPointerLeave={() => { drag.current = null; }}
        >
          <g class="edges">
            {edges.map((e) => {
              const a = layout.positions.get(e.from);
              const b = layout.positions.get(e.to);
              if (a === undefined || b === undefined) return null;
              const x1 = a.x + NODE_WIDTH;
              const y1 = a.y + NODE_HEIGHT / 2;
              const x2 = b.x;
              const y2 = b.y + NODE_HEIGHT / 2;
              const mid = (x1 + x2) / 2;
              return <path key={`${e.from}>${e.to}`} d={`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`} />;
            })}
          </g>
          {visible.map((n) => {
            const p = layout.positions.get(n.id);
            if (p === undefined) return null;
            return (
              <g key={n.id} class={`node kind-${n.kind} status-${n.status}${n.id === selected ? ' selected' : ''}`} data-node={n.id} data-status={n.status}
                transform={`translate(${p.x},${p.y})`} onClick={() => { location.hash = `/graph/${encodeURIComponent(n.id)}`; }}>
                <title>{`${n.kind} ${n.name}: ${n.status}${n.summary === '' ? '' : ` — ${n.summary}`}`}</title>
                <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx={6} />
                <text x={10} y={18} class="name">{n.name.length > 26 ? `${n.name.slice(0, 25)}…` : n.name}</text>
                <text x={10} y={35} class="sub">{`${n.kind} · ${n.status}`}</text>
              </g>
            );
          })}
        </svg>
        <p class="muted">drag to pan, wheel to zoom; {visible.length} of {graph.nodes.length} nodes drawn</p>
      </div>
      <aside class="detail" data-testid="detail">
        {selectedNode === undefined ? <p class="muted">Select a node to see its definition, checks and history.</p> : <NodeDetail node={selectedNode} />}
      </aside>
    </div>
  );
}

interface AssetDetail {
  name: string; description: string | null; partitions: string | null; sql: string;
  columns: { name: string; type: string | null; description: string | null }[];
  status: { version: number | null; updatedAt: string | null; rows: number | null; freshness: string; checks: { passed: number; failed: number; failing: string[] } } | null;
  checks: { index: number; expectationType: string; column: string | null; severity: string }[];
  latestResults: { expectationType: string; column: string | null; partition: string; success: boolean; severity: string; createdAt: string }[];
  versions: { version: number; createdAt: string; runId: string; rowCount: number; bytes: number; schemaChanges: { column: string; change: string; from: string | null; to: string | null }[] }[];
  lineage: { roots: LineageTree[] } | null;
  lineageNote: string | null;
}
interface LineageTree { node: string; name: string; column: string; via: string | null; children: LineageTree[] }

function NodeDetail({ node }: { node: GraphNode }): preact.JSX.Element {
  const detail = useApi<AssetDetail>(node.kind === 'asset' ? `/api/assets/${encodeURIComponent(node.name)}` : null);
  return (
    <div>
      <h2>{node.name} <span class={`pill status-${node.status}`}>{node.status}</span></h2>
      <p class="muted">{node.kind} · {node.summary}</p>
      {node.description === null ? null : <p>{node.description}</p>}
      {node.kind !== 'asset' ? null : <Loading loaded={detail}>{(d) => <AssetPanel d={d} />}</Loading>}
    </div>
  );
}

function AssetPanel({ d }: { d: AssetDetail }): preact.JSX.Element {
  const latest = new Map<string, AssetDetail['latestResults'][number]>();
  for (const r of d.latestResults) {
    const key = `${r.expectationType}(${r.column ?? ''})`;
    if (!latest.has(key)) latest.set(key, r);
  }
  return (
    <div>
      <p>
        {d.status?.version === null || d.status === null ? 'never built' : `version ${d.status.version} · ${d.status.rows ?? 0} rows · ${formatTime(d.status.updatedAt)}`}
        {d.partitions === null ? null : <> · <a href={`#/partitions/${encodeURIComponent(d.name)}`}>partitions</a></>}
        {' · '}<a href={`#/checks/${encodeURIComponent(d.name)}`}>check history</a>
        {' · '}<a href={`#/runs?asset=${encodeURIComponent(d.name)}`}>runs</a>
      </p>
      <h3>Definition</h3>
      <pre class="sql">{d.sql}</pre>
      <h3>Columns</h3>
      <Table columns={['column', 'type', 'description']} rows={d.columns.map((c) => [c.name, c.type ?? '', c.description ?? ''])} />
      <h3>Checks</h3>
      <Table testId="asset-checks" columns={['check', 'severity', 'latest']} rows={d.checks.map((c) => {
        const r = latest.get(`${c.expectationType}(${c.column ?? ''})`);
        return [`${c.expectationType}${c.column === null ? '' : `(${c.column})`}`, c.severity, r === undefined ? '' : <span class={r.success ? 'ok' : 'bad'}>{r.success ? 'pass' : 'FAIL'} {r.partition}</span>];
      })} />
      <h3>Versions and schema history</h3>
      <Table columns={['version', 'created', 'rows', 'bytes', 'schema changes']} rows={d.versions.slice(0, 20).map((v) => [
        v.version, formatTime(v.createdAt), v.rowCount, formatBytes(v.bytes),
        v.schemaChanges.map((c) => `${c.change} ${c.column}${c.from === null && c.to === null ? '' : ` ${c.from ?? ''}→${c.to ?? ''}`}`).join(', '),
      ])} />
      <h3>Column lineage</h3>
      {d.lineage === null ? <p class="muted">{d.lineageNote ?? 'none recorded'}</p> : <ul class="lineage">{d.lineage.roots.map((r, i) => <LineageItem key={i} t={r} />)}</ul>}
      <Problem error={undefined} />
    </div>
  );
}

function LineageItem({ t }: { t: LineageTree }): preact.JSX.Element {
  return (
    <li>
      <code>{t.name}{t.column === '' ? '' : `.${t.column}`}</code>{t.via === null ? null : <span class="muted"> ({t.via})</span>}
      {t.children.length === 0 ? null : <ul>{t.children.map((c, i) => <LineageItem key={i} t={c} />)}</ul>}
    </li>
  );
}
