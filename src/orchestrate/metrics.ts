// Prometheus metrics of the pipelines, for the scheduler's /metrics: run and step durations, rows and failures of
// the runs it launched (observed as they end), and each asset's freshness lag against its SLA, read from the
// catalog at every scrape (so it covers runs launched anywhere: the CLI, a backfill, another machine).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RunSummary } from '../batch/runner.ts';
import type { Workspace } from '../workspace.ts';
import { assetStatuses, type AssetStatus } from './status.ts';

export interface PipelineMetrics {
  readonly registry: Registry;
  observeRun(job: string, origin: string, status: 'success' | 'failed', seconds: number, summary: RunSummary | null): void;
  countLaunch(job: string, origin: string): void;
}

// Steps take from milliseconds (skipped) to many minutes.
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

export function createPipelineMetrics(ws: Workspace, options: { defaultMetrics?: boolean; now?: () => number } = {}): PipelineMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'sluice_' });
  const registers = [registry];
  const runs = new Counter({ name: 'sluice_runs_total', help: 'Runs finished, by job, origin (schedule, sensor) and status', labelNames: ['job', 'origin', 'status'] as const, registers });
  const runDuration = new Histogram({ name: 'sluice_run_duration_seconds', help: 'Run duration, by job and status', labelNames: ['job', 'status'] as const, buckets: DURATION_BUCKETS, registers });
  const stepDuration = new Histogram({ name: 'sluice_step_duration_seconds', help: 'Step duration (one asset partition), by asset and status', labelNames: ['asset', 'status'] as const, buckets: DURATION_BUCKETS, registers });
  const rows = new Counter({ name: 'sluice_step_rows_total', help: 'Rows written by committed steps, by asset', labelNames: ['asset'] as const, registers });
  const failures = new Counter({ name: 'sluice_step_failures_total', help: 'Steps failed (after retries), by asset', labelNames: ['asset'] as const, registers });
  const launches = new Counter({ name: 'sluice_launches_total', help: 'Runs launched by the scheduler, by job and origin', labelNames: ['job', 'origin'] as const, registers });
  const now = options.now ?? Date.now;
  // The three freshness gauges read the catalog at scrape time; the registry collects metrics concurrently, so
  // they share one read per scrape.
  let read: { at: number; statuses: Promise<AssetStatus[]> } | undefined;
  const statuses = (): Promise<AssetStatus[]> => {
    if (read === undefined || Date.now() - read.at > 500) read = { at: Date.now(), statuses: assetStatuses(ws, now()) };
    return read.statuses;
  };
  const freshnessGauge = (name: string, help: string, value: (s: AssetStatus) => number | null): void => {
    new Gauge({
      name, help, labelNames: ['asset'] as const, registers,
      async collect() {
        this.reset();
        for (const status of await statuses()) {
          const v = value(status);
          if (v !== null) this.set({ asset: status.asset }, v);
        }
      },
    });
  };
  freshnessGauge('sluice_asset_freshness_lag_seconds', 'Seconds since the asset\'s latest committed version (absent: never built)', (s) => (s.lagMs === null ? null : s.lagMs / 1000));
  freshnessGauge('sluice_asset_freshness_sla_seconds', 'The asset\'s freshness SLA (maxLag), for assets that declare one', (s) => (s.maxLagMs === null ? null : s.maxLagMs / 1000));
  freshnessGauge('sluice_asset_stale', '1 when the asset breaches its freshness SLA (or was never built), 0 when fresh', (s) => (s.maxLagMs === null ? null : s.freshness === 'fresh' ? 0 : 1));
  return {
    registry,
    observeRun(job, origin, status, seconds, summary) {
      runs.inc({ job, origin, status });
      runDuration.observe({ job, status }, seconds);
      for (const step of summary?.steps ?? []) {
        stepDuration.observe({ asset: step.asset, status: step.status }, step.ms / 1000);
        if (step.status === 'success') rows.inc({ asset: step.asset }, step.outcome?.rowsOut ?? 0);
        if (step.status === 'failed') failures.inc({ asset: step.asset });
      }
    },
    countLaunch: (job, origin) => launches.inc({ job, origin }),
  };
}
