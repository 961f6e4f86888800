// `sluice features ...`: list definitions, build a training set, materialise to the online store, look
// features up, and measure online/offline skew. Thin shells over src/features.
import type { Command } from 'commander';
import { parseDuration } from '../../define/duration.ts';
import { SluiceError } from '../../errors.ts';
import path from 'node:path';
import type { OnlineStore } from '../../store/online/online-store.ts';
import type { Workspace } from '../../workspace.ts';
import { collect, globals, parseInteger, withWorkspace } from '../context.ts';
import { printJson, renderTable } from '../render.ts';

/** Run `fn` with the workspace's online store (which the workspace closes). */
export async function withOnlineStore<T>(ws: Workspace, fn: (store: OnlineStore) => Promise<T>): Promise<T> {
  return fn(await ws.onlineStore());
}

function parseRate(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new SluiceError('CONFIG_INVALID', `--threshold must be a share between 0 and 1, got ${JSON.stringify(value)}`);
  return n;
}

export function registerFeatures(program: Command): void {
  const features = program.command('features').description('the feature store: training sets, materialisation, lookups, skew');

  features
    .command('list')
    .description('feature views and services')
    .action(async (_options: unknown, command: Command) => {
      const g = globals(command);
      await withWorkspace(g, (ws) => {
        const views = [...ws.project.featureViews.values()].map((v) => ({
          view: v.name,
          entity: `${v.entity.name}(${v.entity.keys.map((k) => k.name).join(', ')})`,
          asset: v.source,
          type: v.type,
          ttl: v.ttl ?? '',
          features: v.features.join(', '),
        }));
        const services = [...ws.project.featureServices.values()].map((s) => ({
          service: s.name,
          keys: s.keys.map((k) => k.name).join(', '),
          features: s.features.map((f) => f.name).join(', '),
          request: Object.keys(s.request).join(', '),
        }));
        if (g.json) {
          printJson({ views, services });
          return Promise.resolve(undefined);
        }
        process.stdout.write(`${views.length === 0 ? '(no feature views)' : renderTable(views)}\n\n${services.length === 0 ? '(no feature services)' : renderTable(services)}\n`);
        return Promise.resolve(undefined);
      });
    });

  features
    .command('training-set')
    .description('point-in-time-correct training set: each spine row gets the feature values as of its timestamp; recorded in the catalog with the table versions it read')
    .option('--spine <file>', 'entity keys and an event timestamp per row (.parquet, .csv, .json); other columns (labels) are kept (with --pin: default the recorded spine)')
    .option('--service <name>', 'the feature service (with --pin: default the recorded one)')
    .requiredOption('--out <file>', 'write the training set here (Parquet)')
    .option('--timestamp-column <name>', "the spine's event-time column (default event_timestamp)")
    .option('--tag <key=value>', 'recorded with the training set, e.g. --tag model=churn-v3 --tag run=mlflow:abc123 (repeatable)', collect)
    .option('--as-of-version <asset=n>', "read this version of an asset instead of the latest (repeatable)", collect)
    .option('--pin <training-set-id>', 'rebuild that training set exactly: the table versions it read, checked against its definitions and spine')
    .action(async (options: { spine?: string; service?: string; out: string; timestampColumn?: string; tag?: string[]; asOfVersion?: string[]; pin?: string }, command: Command) => {
      const g = globals(command);
      await withWorkspace(g, async (ws) => {
        const started = performance.now();
        const [{ getHistoricalFeatures }, { getTrainingSet, parsePairs, parseVersions }] = await Promise.all([import('../../features/historical.ts'), import('../../features/training-sets.ts')]);
        const pinned = options.pin === undefined ? undefined : await getTrainingSet(ws, options.pin);
        const spine = options.spine ?? (pinned !== undefined && !pinned.spine.source.startsWith('sql:') ? pinned.spine.source : undefined);
        const service = options.service ?? pinned?.service;
        if (spine === undefined) throw new SluiceError('CONFIG_INVALID', '--spine is required (the entity keys and event times), unless --pin names a training set built from a spine file');
        if (service === undefined) throw new SluiceError('CONFIG_INVALID', '--service is required, unless --pin names a training set');
        const result = await getHistoricalFeatures(ws, {
          spine: path.resolve(spine),
          service,
          timestampColumn: options.timestampColumn,
          out: path.resolve(options.out),
          tags: parsePairs(options.tag ?? [], '--tag'),
          asOfVersions: parseVersions(options.asOfVersion ?? []),
          pin: options.pin,
        });
        const seconds = (performance.now() - started) / 1000;
        if (g.json) return printJson({ id: result.record?.id, path: result.path, rowCount: result.rowCount, columns: result.columns, versions: result.versions, sha256: result.record?.output.sha256, seconds });
        const versions = Object.entries(result.versions).map(([asset, version]) => `${asset} v${version}`).join(', ');
        process.stdout.write(`wrote ${result.rowCount.toLocaleString('en-US')} rows x ${result.columns.length} columns to ${result.path ?? options.out} in ${seconds.toFixed(2)} s\ntraining set ${result.record?.id ?? ''} (read ${versions}; pinned: vacuum keeps those versions)\n`);
        return undefined;
      });
    });

  features
    .command('get')
    .description('look features up in the online store (in process, as the HTTP API would answer)')
    .requiredOption('--service <name>', 'the feature service')
    .requiredOption('--entity <json>', 'entity keys as JSON, e.g. \'{"user_id": 1}\' (repeatable)', collect)
    .option('--request <json>', 'request data for on-demand features, as JSON')
    .option('--as-of <time>', 'answer as of this time (an ISO date or timestamp): TTLs are measured from it; default: settings.servingAsOf, else now')
    .action(async (options: { service: string; entity: string[]; request?: string; asOf?: string }, command: Command) => {
      const g = globals(command);
      const parse = (text: string, flag: string): Record<string, unknown> => {
        try {
          const value: unknown = JSON.parse(text);
          if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
        } catch { /* reported below */ }
        throw new SluiceError('CONFIG_INVALID', `${flag} must be a JSON object, got ${JSON.stringify(text)}`);
      };
      await withWorkspace(g, async (ws) => withOnlineStore(ws, async (store) => {
        const asOf = options.asOf ?? ws.project.settings.servingAsOf;
        const { createFeatureClient } = await import('../../features/online-read.ts');
        const client = createFeatureClient({ project: ws.project, store, asOf });
        const response = await client.getOnlineFeatures({
          service: options.service,
          entities: options.entity.map((e) => parse(e, '--entity')),
          ...(options.request === undefined ? {} : { request: parse(options.request, '--request') }),
        });
        if (g.json) return printJson(response);
        process.stdout.write(`${renderTable(response.results.flatMap((r) => Object.entries(r.features).map(([feature, v]) => ({
          entity: JSON.stringify(r.entity),
          feature,
          value: v.value === null ? '' : typeof v.value === 'string' ? v.value : JSON.stringify(v.value),
          status: v.status,
          event_time: v.eventTimestamp ?? '',
        }))))}\n`);
        return undefined;
      }));
    });

  features
    .command('materialize')
    .alias('materialise')
    .description('write the latest value per entity of each feature view to the online store')
    .option('--from <time>', 'event times from (a date, an ISO timestamp, or now); default: the beginning')
    .option('--to <time>', 'event times up to (default: now)')
    .option('--incremental', 'start where the last materialisation into this store ended')
    .option('--lookback <duration>', 'with --incremental, start this much earlier (late rows), e.g. 2h or 1d')
    .option('--view <name>', 'only this view (repeatable)', collect)
    .option('--service <name>', "only this service's views")
    .action(async (options: { from?: string; to?: string; incremental?: boolean; lookback?: string; view?: string[]; service?: string }, command: Command) => {
      const g = globals(command);
      if (options.lookback !== undefined && options.incremental !== true) throw new SluiceError('CONFIG_INVALID', '--lookback only applies with --incremental');
      if (options.incremental === true && options.from !== undefined) throw new SluiceError('CONFIG_INVALID', '--incremental and --from exclude each other: incremental runs start where the last one ended');
      await withWorkspace(g, async (ws) => withOnlineStore(ws, async (store) => {
        const { materialize, isoMicros, parseTimeArg } = await import('../../features/materialize.ts');
        const results = await materialize(ws, store, {
          ...(options.from === undefined ? {} : { fromMicros: parseTimeArg(options.from, '--from') }),
          ...(options.to === undefined ? {} : { toMicros: parseTimeArg(options.to, '--to') }),
          ...(options.incremental === true ? { incremental: true } : {}),
          ...(options.lookback === undefined ? {} : { lookbackMs: parseDuration(options.lookback, '--lookback') }),
          ...(options.view === undefined ? {} : { views: options.view }),
          ...(options.service === undefined ? {} : { service: options.service }),
        });
        if (g.json) return printJson({ store: store.location, views: results });
        process.stdout.write(`materialised into ${store.location}\n${renderTable(results.map((r) => ({
          view: r.view,
          asset: `${r.asset} v${r.assetVersion}`,
          from: r.fromMicros === null ? '(beginning)' : isoMicros(r.fromMicros),
          to: isoMicros(r.toMicros),
          written: r.written,
          stale: r.stale,
          seconds: r.seconds.toFixed(2),
        })))}\n`);
        return undefined;
      }));
    });

  features
    .command('skew')
    .description('compare online values with the same features recomputed offline; exits 1 above the threshold')
    .requiredOption('--service <name>', 'the feature service')
    .option('--sample <n>', 'entities sampled per view', parseInteger('--sample'), 1000)
    .option('--threshold <share>', 'largest share of sampled entities that may disagree on a feature', parseRate, 0)
    .action(async (options: { service: string; sample: number; threshold: number }, command: Command) => {
      const g = globals(command);
      await withWorkspace(g, async (ws) => withOnlineStore(ws, async (store) => {
        const { measureSkew } = await import('../../features/skew.ts');
        const report = await measureSkew(ws, store, { service: options.service, sample: options.sample, threshold: options.threshold });
        if (!report.passed) process.exitCode = 1;
        if (g.json) return printJson(report);
        const percent = (x: number): string => `${(100 * x).toFixed(2)}%`;
        process.stdout.write(`${renderTable(report.features.map((f) => ({
          view: f.view,
          feature: f.feature,
          compared: f.compared,
          mismatch: percent(f.mismatchRate),
          missing: f.missing,
          extra: f.extra,
          smape: f.smape === null ? '' : `${f.smape.toFixed(4)}%`,
        })))}\n`);
        const worst = [...report.features].sort((a, b) => b.disagreementRate - a.disagreementRate)[0];
        process.stdout.write(report.passed
          ? `no skew above ${percent(report.threshold)} in ${report.features.length} feature(s) of ${report.service}\n`
          : `skew above ${percent(report.threshold)}: ${report.features.filter((f) => f.disagreementRate > report.threshold).map((f) => `${f.view}.${f.feature} (${percent(f.disagreementRate)})`).join(', ')}; e.g. ${JSON.stringify(worst?.examples[0] ?? {})}\n`);
        return undefined;
      }));
    });
}
