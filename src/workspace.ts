// A workspace: one project bound to its directory and the resources a command needs (settings, DuckDB
// engine, catalog, table store, logger, step executor). Whoever opens a workspace closes it.
import fs from 'node:fs';
import path from 'node:path';
import { inProcessExecutor, type StepExecutor } from './batch/executor.ts';
import { resolveSettings, type Settings, type SettingsOverrides } from './config.ts';
import type { Project } from './define/project.ts';
import { Engine } from './engine/engine.ts';
import { createLogger, type Logger } from './logger.ts';
import type { Catalog } from './store/catalog/catalog.ts';
import type { OnlineStore } from './store/online/online-store.ts';
import { openCatalog } from './store/catalog/open-catalog.ts';
import { errorMessage } from './errors.ts';
import { TableStore } from './store/tables/table-store.ts';
import { sweepAbandonedRuns } from './batch/abandoned.ts';
import { NO_LINEAGE, OpenLineageClient, type LineageSink } from './connectors/openlineage-client.ts';

export interface Workspace {
  readonly project: Project;
  readonly projectDir: string;
  readonly settings: Settings;
  readonly stateDir: string;
  readonly engine: Engine;
  readonly catalog: Catalog;
  readonly tables: TableStore;
  readonly logger: Logger;
  /** Where the runner sends step attempts: in process, or the step queue when SLUICE_QUEUE_URL is set. */
  readonly executor: StepExecutor;
  /** Where runs, steps, stream jobs and training sets send OpenLineage events (a no-op unless configured). */
  readonly openLineage: LineageSink;
  /**
   * The online store (SLUICE_ONLINE_URL, default `<state>/online.db`; Redis keys under `sluice:<project>:` unless the
   * URL's `?prefix=` says otherwise), opened on first use and closed with the workspace: the CLI and a library
   * user of the workspace read the same keyspace.
   */
  onlineStore(): Promise<OnlineStore>;
  close(): Promise<void>;
}

export async function openWorkspace(project: Project, projectDir: string, overrides: SettingsOverrides = {}): Promise<Workspace> {
  const dir = path.resolve(projectDir);
  const fromProject = project.settings;
  const settings = resolveSettings(dir, {
    stateDir: overrides.stateDir ?? fromProject.stateDir,
    catalogUrl: overrides.catalogUrl,
    memoryLimit: overrides.memoryLimit ?? fromProject.memoryLimit,
    tempDir: overrides.tempDir ?? fromProject.tempDir,
    threads: overrides.threads ?? fromProject.threads,
    concurrency: overrides.concurrency ?? fromProject.concurrency,
    onlineUrl: overrides.onlineUrl,
    queueUrl: overrides.queueUrl,
    logFormat: overrides.logFormat,
    openLineage: fromProject.openlineage,
    accessFile: overrides.accessFile ?? fromProject.access?.principalsFile,
  });
  fs.mkdirSync(settings.stateDir, { recursive: true });
  const logger = createLogger(settings.logLevel, settings.logFormat);
  const engine = await Engine.open({ memoryLimit: settings.memoryLimit, tempDir: settings.tempDir, threads: settings.threads });
  let catalog: Catalog;
  try {
    catalog = await openCatalog(settings.catalogUrl);
  } catch (error) {
    engine.close();
    throw error;
  }
  const tables = new TableStore({ tablesDir: path.join(settings.stateDir, 'tables'), stagingDir: path.join(settings.stateDir, 'staging') });
  // Runs left `running` by a process that died are marked abandoned by whoever opens the catalog next.
  try {
    for (const run of await sweepAbandonedRuns({ catalog, tables })) logger.warn({ run: run.runId, owner: run.owner, reason: run.reason }, 'marked an abandoned run failed and removed its staging files');
  } catch (error) {
    logger.warn({ err: errorMessage(error) }, 'could not check for abandoned runs');
  }
  const env = { project, projectDir: dir, stateDir: settings.stateDir, engine, catalog, tables };
  const openLineage = openLineageSink(settings, logger);
  const executor = settings.queueUrl === undefined ? inProcessExecutor(env) : lazyQueueExecutor(project.name, settings.queueUrl, logger);
  let online: Promise<OnlineStore> | undefined;
  return {
    ...env,
    settings,
    logger,
    executor,
    openLineage,
    onlineStore(): Promise<OnlineStore> {
      online ??= import('./store/online/open-online-store.ts').then((m) => m.openOnlineStore(settings.onlineUrl, { defaultPrefix: `sluice:${project.name}:` }));
      return online;
    },
    async close(): Promise<void> {
      try {
        // A store that never opened (Redis down) has nothing to close; its error was the caller's.
        const store = await online?.catch(() => undefined);
        await store?.close();
        await openLineage.close();
        await executor.close();
        await tables.close();
      } finally {
        try {
          await catalog.close();
        } finally {
          engine.close();
        }
      }
    },
  };
}

function openLineageSink(settings: Settings, logger: Logger): LineageSink {
  const config = settings.openLineage;
  if (config === undefined) return NO_LINEAGE;
  if (config.apiKeyEnv !== undefined && config.apiKey === undefined) {
    logger.warn({ env: config.apiKeyEnv }, `settings.openlineage.apiKeyEnv names ${config.apiKeyEnv}, which is not set: events are sent without a token (export ${config.apiKeyEnv}=<token>)`);
  }
  return new OpenLineageClient({ url: config.url, apiKey: config.apiKey, outboxDir: path.join(settings.stateDir, 'openlineage-outbox'), logger });
}

/** The queue executor, connected on first use: commands that run no steps never load BullMQ or touch Redis. */
function lazyQueueExecutor(projectName: string, url: string, logger: Logger): StepExecutor {
  let opened: Promise<StepExecutor> | undefined;
  return {
    kind: 'queue',
    execute: async (task) => {
      opened ??= import('./orchestrate/executor.ts').then((m) => m.openQueueExecutor({ project: projectName, url, logger }));
      return (await opened).execute(task);
    },
    close: async () => {
      // A queue that never opened (Redis down) has nothing to close; its error was the step's.
      const executor = await opened?.catch(() => undefined);
      await executor?.close();
    },
  };
}
