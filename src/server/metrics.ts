// Prometheus metrics of the serving API, in a registry of their own per server: two servers in one process
// (tests, or an app embedding sluice) never share or clash on metrics.
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { LookupCounts } from '../features/online-read.ts';

export interface ServingMetrics {
  readonly registry: Registry;
  observeRequest(service: string, statusCode: number, seconds: number): void;
  countLookups(service: string, counts: LookupCounts): void;
  countError(service: string, code: string): void;
}

// Lookups take well under a millisecond to tens of milliseconds: fine buckets at the low end.
const LATENCY_BUCKETS = [0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export function createServingMetrics(options: { defaultMetrics?: boolean } = {}): ServingMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'sluice_' });
  const latency = new Histogram({
    name: 'sluice_feature_request_duration_seconds',
    help: 'Latency of POST /v1/features, from request received to response sent, by service and status code',
    labelNames: ['service', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const values = new Counter({
    name: 'sluice_feature_values_total',
    help: 'Stored feature values looked up, by service and result: hit (present), miss (no value stored), expired (older than the view TTL)',
    labelNames: ['service', 'result'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'sluice_feature_request_errors_total',
    help: 'Failed POST /v1/features requests, by service and error code',
    labelNames: ['service', 'code'] as const,
    registers: [registry],
  });
  return {
    registry,
    observeRequest: (service, statusCode, seconds) => latency.observe({ service, status_code: String(statusCode) }, seconds),
    countLookups: (service, counts) => {
      if (counts.present > 0) values.inc({ service, result: 'hit' }, counts.present);
      if (counts.missing > 0) values.inc({ service, result: 'miss' }, counts.missing);
      if (counts.expired > 0) values.inc({ service, result: 'expired' }, counts.expired);
    },
    countError: (service, code) => errors.inc({ service, code }),
  };
}
