// One run: a timeline of its steps (a Gantt chart: waiting, running, retried, by outcome), their rows, bytes,
// bad records and errors, its checks; live while it runs (server-sent events); failed steps re-run from here.
import { useEffect, useState } from 'preact/hooks';
import { follow, post } from '../api.ts';
import { Problem, Table, formatBytes, formatMs, formatTime } from '../components.tsx';

interface Step { id: string; asset: string; partition: string; status: string; attempts: number; startedAt: string | null; endedAt: string | null; rowsIn: number | null; rowsOut: number | null; bytesWritten: number | null; badRecords: number | null; version: number | null; error: string | null }
interface Check { target: string; partition: string; expectationType: string; column: string | null; severity: string; success: boolean; unexpectedCount: number | null }
interface Detail { run: { id: string; status: string; startedAt: string; endedAt: string | null; error: string | null; args: Record<string, unknown> }; steps: Step[]; checks: Check[] }

export function RunPage({ id }: { id: string }): preact.JSX.Element {
  const [detail, setDetail] = useState<Detail | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [live, setLive] = useState(false);
  const [message, setMessage] = useState<string | undefined>();
  useEffect(() => {
    const controller = new AbortController();
    setLive(true);
    follow(`/api/runs/${encodeURIComponent(id)}/events`, (event, data) => {
      if (event === 'run') setDetail(data as Detail);
      if (event === 'error') setError((data as { message: string }).message);
    }, controller.signal).catch((e: Error) => { if (!controller.signal.aborted) setError(e.message); }).finally(() => setLive(false));
    return () => controller.abort();
  }, [id]);
  if (detail === undefined) return error === undefined ? <p class="muted">loading…</p> : <Problem error={error} />;
  const { run, steps, checks } = detail;
  const failed = steps.some((s) => s.status === 'failed' || s.status === 'upstream_failed');
  return (
    <div>
      <h1>Run {run.id} <span class={`pill run-${run.status}`} data-testid="run-status">{run.status}</span> {live && run.status === 'running' ? <span class="pill live">live</span> : null}</h1>
      <p class="muted">started {formatTime(run.startedAt)}{run.endedAt === null ? '' : ` · took ${formatMs(Date.parse(run.endedAt) - Date.parse(run.startedAt))}`} · {JSON.stringify(run.args)}</p>
      {run.error === null ? null : <pre class="problem">{run.error}</pre>}
      {failed && run.status !== 'running' ? (
        <button onClick={() => { post<{ resumed: string }>(`/api/runs/${encodeURIComponent(run.id)}/resume`, {}).then(() => setMessage('resuming: the new run appears in the runs list'), (e: Error) => setMessage(e.message)); }}>Re-run failed steps</button>
      ) : null}
      {message === undefined ? null : <p role="status">{message}</p>}
      <Problem error={error} />
      <h2>Timeline</h2>
      <Gantt run={run} steps={steps} />
      <h2>Steps</h2>
      <Table testId="steps" columns={['asset', 'partition', 'status', 'attempts', 'took', 'rows in', 'rows out', 'written', 'bad records', 'version', 'error']} rows={steps.map((s) => [
        s.asset, s.partition, <span class={`pill step-${s.status}`}>{s.status}</span>, s.attempts,
        s.startedAt === null || s.endedAt === null ? '' : formatMs(Date.parse(s.endedAt) - Date.parse(s.startedAt)),
        s.rowsIn ?? '', s.rowsOut ?? '', formatBytes(s.bytesWritten), s.badRecords ?? '', s.version ?? '', <span class="error">{s.error ?? ''}</span>,
      ])} />
      <h2>Checks</h2>
      <Table columns={['asset', 'partition', 'check', 'severity', 'result', 'unexpected']} rows={checks.map((c) => [
        c.target, c.partition, `${c.expectationType}${c.column === null ? '' : `(${c.column})`}`, c.severity, <span class={c.success ? 'ok' : 'bad'}>{c.success ? 'pass' : 'FAIL'}</span>, c.unexpectedCount ?? '',
      ])} />
    </div>
  );
}

const ROW = 22;
const LABEL = 260;
const WIDTH = 1000;

/** Each step a bar from its start to its end (waiting: from the run's start to the step's start), by status. */
function Gantt({ run, steps }: { run: Detail['run']; steps: Step[] }): preact.JSX.Element {
  const t0 = Date.parse(run.startedAt);
  const now = Date.now();
  const ends = steps.map((s) => (s.endedAt === null ? (s.startedAt === null ? t0 : now) : Date.parse(s.endedAt)));
  const t1 = Math.max(t0 + 1, run.endedAt === null ? now : Date.parse(run.endedAt), ...ends);
  const x = (t: number): number => LABEL + ((t - t0) / (t1 - t0)) * (WIDTH - LABEL - 10);
  return (
    <svg data-testid="gantt" class="gantt" width={WIDTH} height={steps.length * ROW + 24}>
      {steps.map((s, i) => {
        const start = s.startedAt === null ? null : Date.parse(s.startedAt);
        const end = s.endedAt === null ? (start === null ? null : now) : Date.parse(s.endedAt);
        const y = i * ROW;
        return (
          <g key={s.id} class={`bar step-${s.status}`} data-step={`${s.asset}${s.partition === '' ? '' : `@${s.partition}`}`}>
            <text x={4} y={y + 15}>{`${s.asset}${s.partition === '' ? '' : ` ${s.partition}`}`}</text>
            {start === null ? null : <rect class="waiting" x={x(t0)} y={y + 8} width={Math.max(0, x(start) - x(t0))} height={4} />}
            {start === null || end === null ? null : <rect class="running" x={x(start)} y={y + 3} width={Math.max(2, x(end) - x(start))} height={ROW - 6} rx={3}><title>{`${s.status}, ${s.attempts} attempt(s), ${formatMs(end - start)}`}</title></rect>}
            {s.attempts > 1 && start !== null ? <text class="retries" x={x(end ?? start) + 4} y={y + 15}>{`×${s.attempts}`}</text> : null}
          </g>
        );
      })}
      <text x={LABEL} y={steps.length * ROW + 18} class="muted">0</text>
      <text x={WIDTH - 60} y={steps.length * ROW + 18} class="muted">{formatMs(t1 - t0)}</text>
    </svg>
  );
}
