// The web UI: a hash router over the pages, a key box (the key is kept in sessionStorage and sent as a header),
// and the navigation. Every page loads from the JSON API under /api.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { apiKey, setApiKey } from './api.ts';
import { GraphPage } from './pages/graph.tsx';
import { RunsPage } from './pages/runs.tsx';
import { RunPage } from './pages/run.tsx';
import { PartitionsPage } from './pages/partitions.tsx';
import { ChecksPage } from './pages/checks.tsx';
import { FeaturesPage } from './pages/features.tsx';
import { StreamsPage } from './pages/streams.tsx';
import { SchedulesPage } from './pages/schedules.tsx';
import './style.css';

function useHash(): string {
  const [hash, setHash] = useState(location.hash.slice(1) || '/graph');
  useEffect(() => {
    const on = (): void => setHash(location.hash.slice(1) || '/graph');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function page(hash: string): preact.JSX.Element {
  const [path = '', query = ''] = hash.split('?');
  const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  const params = new URLSearchParams(query);
  switch (parts[0]) {
    case 'runs':
      return parts[1] === undefined ? <RunsPage params={params} /> : <RunPage id={parts[1]} />;
    case 'partitions':
      return <PartitionsPage asset={parts[1] ?? null} />;
    case 'checks':
      return <ChecksPage asset={parts[1] ?? null} />;
    case 'features':
      return <FeaturesPage />;
    case 'streams':
      return <StreamsPage />;
    case 'schedules':
      return <SchedulesPage />;
    default:
      return <GraphPage selected={parts[1] ?? null} />;
  }
}

function KeyBox(): preact.JSX.Element {
  const [key, setKey] = useState(apiKey());
  return (
    <form class="key" onSubmit={(e) => { e.preventDefault(); setApiKey(key); location.reload(); }}>
      <input type="password" placeholder="API key" value={key} onInput={(e) => setKey(e.currentTarget.value)} aria-label="API key" />
      <button type="submit">{apiKey() === '' ? 'Sign in' : 'Change key'}</button>
    </form>
  );
}

const NAV: readonly [string, string][] = [['/graph', 'Assets'], ['/runs', 'Runs'], ['/partitions', 'Partitions'], ['/checks', 'Checks'], ['/features', 'Features'], ['/streams', 'Streams'], ['/schedules', 'Schedules']];

function App(): preact.JSX.Element {
  const hash = useHash();
  return (
    <div class="app">
      <header>
        <strong class="brand">sluice</strong>
        <nav>{NAV.map(([to, label]) => <a key={to} href={`#${to}`} class={hash.startsWith(to) ? 'active' : ''}>{label}</a>)}</nav>
        <KeyBox />
      </header>
      <main>{page(hash)}</main>
    </div>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
