// An asset's partitions as a grid coloured by state; click one partition and shift-click another to select a
// range, then launch a backfill of it (through the job that builds the asset).
import { useState } from 'preact/hooks';
import { post } from '../api.ts';
import { AssetPicker, Loading, Problem, useApi } from '../components.tsx';

interface Cell { key: string; state: string; rows: number | null; failing: string[] }
interface Grid { asset: string; kind: string; cells: Cell[]; total: number; counts: Record<string, number>; jobs: string[] }
interface Project { assets: string[] }

export function PartitionsPage({ asset }: { asset: string | null }): preact.JSX.Element {
  const project = useApi<Project>('/api/project');
  return (
    <div>
      <h1>Partitions</h1>
      <AssetPicker assets={project.data?.assets ?? []} current={asset} base="/partitions" />
      {asset === null ? <p class="muted">Choose a partitioned asset.</p> : <GridView asset={asset} />}
    </div>
  );
}

function GridView({ asset }: { asset: string }): preact.JSX.Element {
  const grid = useApi<Grid>(`/api/assets/${encodeURIComponent(asset)}/partitions`, 3_000);
  const [range, setRange] = useState<{ from: string; to: string } | null>(null);
  const [message, setMessage] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const pick = (key: string, extend: boolean): void => {
    setRange((r) => (extend && r !== null ? { from: r.from < key ? r.from : key, to: r.to > key ? r.to : key } : { from: key, to: key }));
  };
  const launch = (): void => {
    if (range === null) return;
    setError(undefined);
    post<{ kind: string; backfillId?: string; partitions?: number }>('/api/backfills', { asset, from: range.from, to: range.to })
      .then((r) => setMessage(r.kind === 'backfill' ? `backfill ${r.backfillId ?? ''} launched: see Schedules for progress` : `run of ${r.partitions ?? 0} partition(s) launched`), (e: Error) => setError(e.message));
  };
  return (
    <Loading loaded={grid}>{(g) => (
      <div>
        <div class="toolbar">
          {Object.entries(g.counts).map(([s, n]) => <span key={s} class={`pill cell-${s}`}>{s} {n}</span>)}
          <span>{g.total} partitions{g.cells.length < g.total ? ` (newest ${g.cells.length} shown)` : ''}</span>
        </div>
        <div class="grid" data-testid="partition-grid">
          {g.cells.map((c) => {
            const inRange = range !== null && c.key >= range.from && c.key <= range.to;
            return (
              <button key={c.key} class={`cell cell-${c.state}${inRange ? ' picked' : ''}`} data-key={c.key} data-state={c.state}
                title={`${c.key}: ${c.state}${c.rows === null ? '' : `, ${c.rows} rows`}${c.failing.length === 0 ? '' : `; failing ${c.failing.join(', ')}`}`}
                onClick={(e) => pick(c.key, e.shiftKey)}>{c.key.slice(5)}</button>
            );
          })}
        </div>
        <div class="toolbar">
          {range === null ? <span class="muted">click a partition, shift-click another to select a range</span> : <span data-testid="range">{range.from} … {range.to}</span>}
          <button disabled={range === null} onClick={launch}>Launch backfill{g.jobs[0] === undefined ? '' : ` (job ${g.jobs[0]})`}</button>
        </div>
        {message === undefined ? null : <p role="status" data-testid="launched">{message}</p>}
        <Problem error={error} />
      </div>
    )}</Loading>
  );
}
