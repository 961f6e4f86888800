// Event streams: each job partition's checkpoint (sequence, age) and the dead letters, browsable with reasons.
import { useState } from 'preact/hooks';
import { Loading, Table, cellText, formatMs, formatTime, useApi } from '../components.tsx';

interface Stream { name: string; subject: string; partitions: number; views: string[]; checkpoints: { partition: string; sequence: number; updatedAt: string; ageMs: number }[] }
interface Project { assets: string[]; streams: string[] }
interface DeadLetters { total: number; records: Record<string, unknown>[] }

export function StreamsPage(): preact.JSX.Element {
  const streams = useApi<Stream[]>('/api/streams', 5_000);
  const project = useApi<Project>('/api/project');
  const [name, setName] = useState<string>('');
  const [offset, setOffset] = useState(0);
  const dead = useApi<DeadLetters>(name === '' ? null : `/api/dead-letters/${encodeURIComponent(name)}?offset=${offset}&limit=50`);
  const names = [...(project.data?.streams ?? []), ...(project.data?.assets ?? [])];
  return (
    <div>
      <h1>Streams</h1>
      <Loading loaded={streams}>{(list) => list.length === 0 ? <p class="muted">this project has no event streams</p> : (
        <Table columns={['stream', 'subject', 'partitions', 'feeds', 'checkpoints']} rows={list.map((s) => [
          s.name, s.subject, s.partitions, s.views.join(', '),
          s.checkpoints.length === 0 ? 'no checkpoint yet' : s.checkpoints.map((c) => `${c.partition}: seq ${c.sequence}, ${formatMs(c.ageMs)} ago (${formatTime(c.updatedAt)})`).join('; '),
        ])} />
      )}</Loading>
      <h2>Dead letters</h2>
      <select aria-label="dead letters of" value={name} onChange={(e) => { setName(e.currentTarget.value); setOffset(0); }}>
        <option value="">choose a stream or source</option>
        {[...names, 'users', 'logs'].filter((n, i, all) => all.indexOf(n) === i).map((n) => <option key={n} value={n}>{n}</option>)}
      </select>
      {name === '' ? null : <Loading loaded={dead}>{(d) => (
        <div>
          <p>{d.total} record(s)</p>
          <Table testId="dead-letters" columns={['file', 'line', 'column', 'reason', 'record']} rows={d.records.map((r) => [cellText(r['file'] ?? r['deadLetterFile']), cellText(r['line']), cellText(r['column']), cellText(r['reason']), <code>{cellText(r['raw'] ?? r['event'])}</code>])} />
          <div class="toolbar">
            <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 50))}>previous</button>
            <button disabled={offset + 50 >= d.total} onClick={() => setOffset(offset + 50)}>next</button>
          </div>
        </div>
      )}</Loading>}
    </div>
  );
}
