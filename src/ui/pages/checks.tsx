// An asset's checks over time: per expectation, the observed value (or unexpected %) of each result against the
// expectation's bounds, failures in red; failing samples and quarantined rows below.
import { AssetPicker, Loading, Table, cellText, formatTime, useApi } from '../components.tsx';

interface Point { at: string; runId: string; partition: string; value: number | null; success: boolean; unexpectedCount: number | null }
interface Series { index: number; expectationType: string; column: string | null; severity: string; measure: string; min: number | null; max: number | null; points: Point[]; failingSamples: unknown[] }
interface Checks { series: Series[]; quarantine: { partition: string; file: string; rows: Record<string, unknown>[] }[] }
interface Project { assets: string[] }

export function ChecksPage({ asset }: { asset: string | null }): preact.JSX.Element {
  const project = useApi<Project>('/api/project');
  const checks = useApi<Checks>(asset === null ? null : `/api/assets/${encodeURIComponent(asset)}/checks`);
  return (
    <div>
      <h1>Checks</h1>
      <AssetPicker assets={project.data?.assets ?? []} current={asset} base="/checks" />
      {asset === null ? <p class="muted">Choose an asset.</p> : <Loading loaded={checks}>{(c) => (
        <div>
          {c.series.length === 0 ? <p class="muted">no check results recorded yet</p> : null}
          <div class="charts">{c.series.map((s) => <Chart key={`${s.index}${s.expectationType}`} s={s} />)}</div>
          <h2>Quarantined rows</h2>
          {c.quarantine.length === 0 ? <p class="muted">none</p> : c.quarantine.map((q) => (
            <div key={q.file}>
              <h3>{q.partition || '(unpartitioned)'} <span class="muted">{q.file}</span></h3>
              <Table columns={Object.keys(q.rows[0] ?? {})} rows={q.rows.map((r) => Object.values(r).map(cellText))} />
            </div>
          ))}
        </div>
      )}</Loading>}
    </div>
  );
}

const W = 420;
const H = 140;
const PAD = 30;

function Chart({ s }: { s: Series }): preact.JSX.Element {
  const values = s.points.map((p) => p.value).filter((v): v is number => v !== null);
  const bounds = [s.min, s.max].filter((v): v is number => v !== null);
  const lo = Math.min(...values, ...bounds, 0);
  const hi = Math.max(...values, ...bounds, lo + 1);
  const n = Math.max(1, s.points.length - 1);
  const x = (i: number): number => PAD + (i / n) * (W - PAD - 8);
  const y = (v: number): number => H - PAD + 10 - ((v - lo) / (hi - lo)) * (H - PAD);
  const line = s.points.map((p, i) => (p.value === null ? null : `${x(i)},${y(p.value)}`)).filter((p) => p !== null).join(' ');
  const failed = s.points.filter((p) => !p.success).length;
  return (
    <figure class={`chart${failed > 0 ? ' failing' : ''}`} data-testid="check-chart" data-check={`${s.expectationType}${s.column === null ? '' : `(${s.column})`}`}>
      <figcaption>{s.expectationType}{s.column === null ? '' : `(${s.column})`} <span class="muted">{s.severity} · {s.measure} · {s.points.length} results, {failed} failed</span></figcaption>
      <svg width={W} height={H}>
        {s.min === null ? null : <line class="bound" x1={PAD} x2={W - 8} y1={y(s.min)} y2={y(s.min)} />}
        {s.max === null ? null : <line class="bound" x1={PAD} x2={W - 8} y1={y(s.max)} y2={y(s.max)} />}
        <text x={2} y={y(hi) + 4} class="axis">{round(hi)}</text>
        <text x={2} y={y(lo)} class="axis">{round(lo)}</text>
        <polyline points={line} class="series" />
        {s.points.map((p, i) => (p.value === null ? null : (
          <circle key={i} cx={x(i)} cy={y(p.value)} r={3} class={p.success ? 'ok' : 'bad'}><title>{`${formatTime(p.at)} ${p.partition}: ${p.value}${p.success ? '' : ' FAILED'}`}</title></circle>
        )))}
      </svg>
      {s.failingSamples.length === 0 ? null : <p class="muted">failing samples: {JSON.stringify(s.failingSamples.slice(0, 10))}</p>}
    </figure>
  );
}

function round(v: number): string {
  return Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 100) / 100);
}
