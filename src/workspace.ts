// A workspace: one project bound to its directory and the resources a command needs (settings, DuckDB
// engine, catalog, table store, logger). Whoever opens a workspace closes it.
import fs from 'node:fs';
import path from 'node:path';
import { resolveSettings, type Settings, type SettingsOverrides } from './config.ts';
import type { Project } from './define/project.ts';
import { Engine } from './engine/engine.ts';
import { createLogger, type Logger } from './logger.ts';
import type { Catalog } from './store/catalog/catalog.ts';
import { openCatalog } from './store/catalog/open-catalog.ts';
import { TableStore } from './store/tables/table-store.ts';

export interface Workspace {
  readonly project: Project;
  readonly projectDir: string;
  readonly settings: Settings;
  readonly stateDir: string;
  readonly engine: Engine;
  readonly catalog: Catalog;
  readonly tables: TableStore;
  readonly logger: Logger;
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
  });
  fs.mkdirSync(settings.stateDir, { recursive: true });
  const logger = createLogger(settings.logLevel);
  const engine = await Engine.open({ memoryLimit: settings.memoryLimit, tempDir: settings.tempDir, threads: settings.threads });
  let catalog: Catalog;
  try {
    catalog = await openCatalog(settings.catalogUrl);
  } catch (error) {
    engine.close();
    throw error;
  }
  const tables = new TableStore({ tablesDir: path.join(settings.stateDir, 'tables'), stagingDir: path.join(settings.stateDir, 'staging') });
  return {
    project,
    projectDir: dir,
    settings,
    stateDir: settings.stateDir,
    engine,
    catalog,
    tables,
    logger,
    async close(): Promise<void> {
      try {
        await catalog.close();
      } finally {
        engine.close();
      }
    },
  };
}
