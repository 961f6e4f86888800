// The runs list, newest first, a page at a time, filtered by status, asset, job and start time (in the URL).
import { Loading, Table, formatMs, formatTime, useApi } from '../components.tsx';

interface Run { id: string; status: string; startedAt: string; endedAt: string | null; args: Record<string, unknown>; error: string | null }
interface RunPage { runs: Run[]; offset: number; limit: number; more: boolean }
interface Project { assets: string[]; jobs: string[] }

const FILTERS = ['status', 'asset', 'job', 'since'] as const;

function go(params: URLSearchParams, change: Record<string, string>): void {
  const next = new URLSearchParams(params);
  for (const [k, v] of Object.entries(change)) {
    if (v === '') next.delete(k);
    else next.set(k, v);
  }
  if (!('offset' in change)) next.delete('offset');
  location.hash = `/runs?${next.toString()}`;
}

export function RunsPage({ params }: { params: URLSearchParams }): preact.JSX.Element {
  const query = new URLSearchParams();
  for (const f of [...FILTERS, 'offset'] as const) {
    const v = params.get(f);
    if (v !== null && v !== '') query.set(f, v);
  }
  const runs = useApi<RunPage>(`/api/runs?${query.toString()}`, 3_000);
  const project = useApi<Project>('/api/project');
  const offset = Number(params.get('offset') ?? 0);
  return (
    <div>
      <h1>Runs</h1>
      <div class="toolbar">
        <select aria-label="status" value={params.get('status') ?? ''} onChange={(e) => go(params, { status: e.currentTarget.value })}>
          <option value="">any status</option>
          {['running', 'success', 'failed', 'partial'].map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
        <select aria-label="asset" value={params.get('asset') ?? ''} onChange={(e) => go(params, { asset: e.currentTarget.value })}>
          <option value="">any asset</option>
          {(project.data?.assets ?? []).map((a) => <option key={a} value={a}>{a}</option>)}
        </select>
        <select aria-label="job" value={params.get('job') ?? ''} onChange={(e) => go(params, { job: e.currentTarget.value })}>
          <option value="">any job</option>
          {(project.data?.jobs ?? []).map((j) => <option key={j} value={j}>{j}</option>)}
        </select>
        <label>since <input type="date" value={params.get('since') ?? ''} onChange={(e) => go(params, { since: e.currentTarget.value })} /></label>
      </div>
      <Loading loaded={runs}>{(page) => (
        <>
          <Table testId="runs" columns={['run', 'status', 'started', 'took', 'command', 'error']} rows={page.runs.map((r) => [
            <a href={`#/runs/${encodeURIComponent(r.id)}`}>{r.id}</a>, <span class={`pill run-${r.status}`}>{r.status}</span>, formatTime(r.startedAt),
            r.endedAt === null ? '' : formatMs(Date.parse(r.endedAt) - Date.parse(r.startedAt)),
            [r.args['command'], r.args['job'], r.args['partition']].filter((x) => typeof x === 'string').join(' '), (r.error ?? '').slice(0, 120),
          ])} />
          <div class="toolbar">
            <button disabled={offset === 0} onClick={() => go(params, { offset: String(Math.max(0, offset - page.limit)) })}>newer</button>
            <span>{page.offset + 1}–{page.offset + page.runs.length}</span>
            <button disabled={!page.more} onClick={() => go(params, { offset: String(offset + page.limit) })}>older</button>
          </div>
        </>
      )}</Loading>
    </div>
  );
}
