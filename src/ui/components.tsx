// Small pieces every page uses: loading data with an error box, tables, times and durations.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get } from './api.ts';

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: string | undefined;
  readonly reload: () => void;
}

/** GET `path` (again whenever it changes, or on reload; every `everyMs` when given). */
export function useApi<T>(path: string | null, everyMs?: number): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === null) return undefined;
    let live = true;
    const load = (): void => {
      get<T>(path).then((data) => live && setState({ data }), (error: Error) => live && setState({ error: error.message }));
    };
    load();
    const timer = everyMs === undefined ? undefined : setInterval(load, everyMs);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [path, tick, everyMs]);
  return { data: state.data, error: state.error, reload: () => setTick((t) => t + 1) };
}

export function Problem({ error }: { error: string | undefined }): preact.JSX.Element | null {
  return error === undefined ? null : <div class="problem" role="alert">{error}</div>;
}

export function Loading<T>({ loaded, children }: { loaded: Loaded<T>; children: (data: T) => ComponentChildren }): preact.JSX.Element {
  if (loaded.error !== undefined) return <Problem error={loaded.error} />;
  if (loaded.data === undefined) return <p class="muted">loading…</p>;
  return <>{children(loaded.data)}</>;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

export function formatTime(iso: string | null | undefined): string {
  return iso === null || iso === undefined ? '' : iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(1)} ${units[u] ?? ''}`;
}

export function Table({ columns, rows, testId }: { columns: readonly string[]; rows: readonly (readonly ComponentChildren[])[]; testId?: string }): preact.JSX.Element {
  if (rows.length === 0) return <p class="muted">none</p>;
  return (
    <table data-testid={testId}>
      <thead><tr>{columns.map((c) => <th key={c}>{c}</th>)}</tr></thead>
      <tbody>{rows.map((row, i) => <tr key={i}>{row.map((cell, j) => <td key={j}>{cell}</td>)}</tr>)}</tbody>
    </table>
  );
}

export function AssetPicker({ assets, current, base }: { assets: readonly string[]; current: string | null; base: string }): preact.JSX.Element {
  return (
    <select aria-label="asset" value={current ?? ''} onChange={(e) => { location.hash = `${base}/${encodeURIComponent(e.currentTarget.value)}`; }}>
      <option value="" disabled>choose an asset</option>
      {assets.map((a) => <option key={a} value={a}>{a}</option>)}
    </select>
  );
}

/** A JSON value as text for a table cell. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
