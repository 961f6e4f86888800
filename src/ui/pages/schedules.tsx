// Jobs with their schedules (last and next tick, recent run keys), sensors and backfills with progress and ETA.
import { Loading, Table, formatMs, formatTime, useApi } from '../components.tsx';

interface Schedules {
  jobs: { name: string; assets: string[]; cron: string | null; timezone: string | null; lastTick: string | null; nextTick: string | null; runKeys: { key: string; runId: string; partition: string }[] }[];
  sensors: { name: string; job: string; intervalMs: number; cursor: string | null; updatedAt: string | null }[];
  backfills: { id: string; job: string; from: string; to: string; createdAt: string; updatedAt: string; total: number; done: number; failed: number; running: number; etaMs: number | null }[];
}

export function SchedulesPage(): preact.JSX.Element {
  const schedules = useApi<Schedules>('/api/schedules', 2_000);
  return (
    <div>
      <h1>Schedules, sensors and backfills</h1>
      <Loading loaded={schedules}>{(s) => (
        <div>
          <h2>Jobs</h2>
          <Table columns={['job', 'assets', 'schedule', 'last tick', 'next tick', 'recent run keys']} rows={s.jobs.map((j) => [
            <a href={`#/runs?job=${encodeURIComponent(j.name)}`}>{j.name}</a>, j.assets.join(', '), j.cron === null ? 'none' : `${j.cron} (${j.timezone ?? 'UTC'})`,
            formatTime(j.lastTick), formatTime(j.nextTick), j.runKeys.slice(0, 3).map((k) => k.partition || k.key).join(', '),
          ])} />
          <h2>Sensors</h2>
          <Table columns={['sensor', 'job', 'every', 'cursor', 'updated']} rows={s.sensors.map((x) => [x.name, x.job, formatMs(x.intervalMs), x.cursor ?? '', formatTime(x.updatedAt)])} />
          <h2>Backfills</h2>
          <Table testId="backfills" columns={['backfill', 'range', 'progress', 'failed', 'running', 'ETA', 'updated']} rows={s.backfills.map((b) => [
            b.id, `${b.from} … ${b.to}`,
            <span class="progress" data-done={b.done} data-total={b.total}><span style={{ width: `${b.total === 0 ? 0 : (100 * b.done) / b.total}%` }} /><em>{b.done}/{b.total}</em></span>,
            b.failed, b.running, b.etaMs === null ? '' : formatMs(b.etaMs), formatTime(b.updatedAt),
          ])} />
        </div>
      )}</Loading>
    </div>
  );
}
