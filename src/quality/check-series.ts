// Each expectation's history as a series, for the UI's check charts: the observed value (or the unexpected
// percentage) of every recorded result against the expectation's bounds, its failing samples, and the rows the
// asset's failed checks quarantined.
import fs from 'node:fs/promises';
import path from 'node:path';
import { quoteLiteral } from '../sql/identifiers.ts';
import type { CheckRecord } from '../store/catalog/catalog.ts';
import type { Workspace } from '../workspace.ts';

export interface CheckPoint {
  readonly at: string;
  readonly runId: string;
  readonly partition: string;
  /** The number charted: the observed value when it is one, else the unexpected percentage. */
  readonly value: number | null;
  readonly success: boolean;
  readonly unexpectedCount: number | null;
}

export interface CheckSeries {
  readonly index: number;
  readonly expectationType: string;
  readonly column: string | null;
  readonly severity: 'error' | 'warn';
  /** What `value` is: `observed` or `unexpected %`. */
  readonly measure: 'observed' | 'unexpected %';
  readonly min: number | null;
  readonly max: number | null;
  /** Oldest first. */
  readonly points: readonly CheckPoint[];
  /** Sample unexpected values of the latest failed result. */
  readonly failingSamples: readonly unknown[];
}

export interface QuarantineSample {
  readonly partition: string;
  readonly file: string;
  readonly rows: readonly Record<string, unknown>[];
}

const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** The latest `limit` results of an asset's checks (the catalog's index on target and time), by expectation. */
export async function checkSeries(ws: Workspace, asset: string, options: { readonly limit?: number } = {}): Promise<CheckSeries[]> {
  const records = await ws.catalog.listChecks({ target: asset, limit: options.limit ?? 5_000 });
  const byIndex = new Map<string, CheckRecord[]>();
  for (const record of records) {
    const key = `${record.index}\u0000${record.expectationType}\u0000${record.column ?? ''}`;
    byIndex.set(key, [...(byIndex.get(key) ?? []), record]);
  }
  const series: CheckSeries[] = [];
  for (const group of byIndex.values()) {
    const oldestFirst = [...group].reverse();
    const first = oldestFirst[0] as CheckRecord;
    const observedIsNumber = oldestFirst.some((r) => num(r.result['observed_value']) !== null);
    const kwargs = first.kwargs;
    const failed = group.find((r) => !r.success);
    const samples = failed?.result['partial_unexpected_list'];
    series.push({
      index: first.index, expectationType: first.expectationType, column: first.column, severity: first.severity,
      measure: observedIsNumber ? 'observed' : 'unexpected %',
      min: observedIsNumber ? num(kwargs['min_value']) : null,
      max: observedIsNumber ? num(kwargs['max_value']) : num(kwargs['mostly']) === null ? null : (1 - (num(kwargs['mostly']) ?? 1)) * 100,
      points: oldestFirst.map((r) => ({
        at: r.createdAt, runId: r.runId, partition: r.partition, success: r.success, unexpectedCount: r.unexpectedCount,
        value: observedIsNumber ? num(r.result['observed_value']) : r.unexpectedPercent,
      })),
      failingSamples: Array.isArray(samples) ? samples.slice(0, 20) : [],
    });
  }
  return series.sort((a, b) => a.index - b.index || a.expectationType.localeCompare(b.expectationType));
}

/** The newest quarantine files of an asset (`<state>/quarantine/<asset>/<partition>/<run>.parquet`) and their first rows. */
export async function quarantineSamples(ws: Workspace, asset: string, options: { readonly files?: number; readonly rows?: number } = {}): Promise<QuarantineSample[]> {
  const dir = path.join(ws.stateDir, 'quarantine', asset);
  const found: { partition: string; file: string; mtime: number }[] = [];
  for (const partition of await fs.readdir(dir).catch(() => [] as string[])) {
    for (const file of await fs.readdir(path.join(dir, partition)).catch(() => [] as string[])) {
      if (!file.endsWith('.parquet')) continue;
      const full = path.join(dir, partition, file);
      found.push({ partition: partition === '_' ? '' : partition, file: full, mtime: (await fs.stat(full)).mtimeMs });
    }
  }
  found.sort((a, b) => b.mtime - a.mtime);
  const out: QuarantineSample[] = [];
  for (const entry of found.slice(0, options.files ?? 5)) {
    const rows = await ws.engine.withSession((s) => s.queryJson(`SELECT * FROM read_parquet(${quoteLiteral(entry.file)}) LIMIT ${options.rows ?? 20}`));
    out.push({ partition: entry.partition, file: path.relative(ws.stateDir, entry.file), rows });
  }
  return out;
}

