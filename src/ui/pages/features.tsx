// Feature views (source freshness, TTL, materialisation state) and services, with a lookup form that reads
// the online store through the serving code.
import { useState } from 'preact/hooks';
import { post } from '../api.ts';
import { Loading, Problem, Table, formatTime, useApi } from '../components.tsx';

interface View { name: string; type: string; entity: string; keys: string[]; source: string; features: string[]; ttl: string | null; stream: string | null; sourceVersion: number | null; sourceFreshness: string | null; materialized: { assetVersion: number | null; rowsWritten: number; endedAt: string; behind: boolean } | null }
interface Service { name: string; description: string | null; features: string[]; views: string[]; request: Record<string, string> }
interface Features { views: View[]; services: Service[] }

export function FeaturesPage(): preact.JSX.Element {
  const features = useApi<Features>('/api/features');
  return (
    <div>
      <h1>Features</h1>
      <Loading loaded={features}>{(f) => (
        <div>
          <h2>Feature views</h2>
          <Table testId="views" columns={['view', 'entity', 'source', 'source version', 'freshness', 'ttl', 'features', 'materialised']} rows={f.views.map((v) => [
            v.name, `${v.entity} (${v.keys.join(', ')})`, v.source, v.sourceVersion ?? 'never built', v.sourceFreshness ?? '', v.ttl ?? 'none', v.features.join(', '),
            v.materialized === null ? 'never' : `${formatTime(v.materialized.endedAt)} · v${v.materialized.assetVersion ?? '?'}${v.materialized.behind ? ' (behind)' : ''} · ${v.materialized.rowsWritten} rows`,
          ])} />
          <h2>Feature services</h2>
          {f.services.map((s) => <ServiceBox key={s.name} s={s} views={f.views} />)}
        </div>
      )}</Loading>
    </div>
  );
}

function ServiceBox({ s, views }: { s: Service; views: View[] }): preact.JSX.Element {
  const keys = [...new Set(views.filter((v) => s.views.includes(v.name)).flatMap((v) => v.keys))];
  const [values, setValues] = useState<Record<string, string>>({});
  const [answer, setAnswer] = useState<unknown>();
  const [error, setError] = useState<string | undefined>();
  const lookup = (): void => {
    const entity = Object.fromEntries(keys.map((k) => [k, /^-?\d+$/.test(values[k] ?? '') ? Number(values[k]) : values[k] ?? '']));
    const request = Object.fromEntries(Object.entries(s.request).map(([k, t]) => [k, t === 'string' ? values[k] ?? '' : Number(values[k] ?? 0)]));
    setError(undefined);
    post('/api/features/lookup', { service: s.name, entities: [entity], ...(Object.keys(request).length === 0 ? {} : { request }) }).then(setAnswer, (e: Error) => setError(e.message));
  };
  return (
    <section class="service">
      <h3>{s.name}</h3>
      <p class="muted">{s.description ?? ''} · {s.features.length} features: {s.features.join(', ')}</p>
      <form class="toolbar" onSubmit={(e) => { e.preventDefault(); lookup(); }}>
        {[...keys, ...Object.keys(s.request)].map((k) => <label key={k}>{k} <input value={values[k] ?? ''} onInput={(e) => setValues({ ...values, [k]: e.currentTarget.value })} /></label>)}
        <button type="submit">Look up</button>
      </form>
      <Problem error={error} />
      {answer === undefined ? null : <pre data-testid="lookup">{JSON.stringify(answer, null, 2)}</pre>}
    </section>
  );
}
