// Reading a state directory's tables back the way sluice does (version log and snapshots), for assertions.
import path from 'node:path';
import { TableStore } from '../../src/store/tables/table-store.ts';
import type { Manifest } from '../../src/store/tables/manifest.ts';

export function openTables(stateDir: string): TableStore {
  return new TableStore({ tablesDir: path.join(stateDir, 'tables'), stagingDir: path.join(stateDir, 'staging') });
}

export async function latestManifest(stateDir: string, asset: string): Promise<Manifest> {
  const manifest = await openTables(stateDir).latest(asset);
  if (manifest === undefined) throw new Error(`table ${asset} has no version under ${stateDir}`);
  return manifest;
}

/** Every kept version of a table, ascending. */
export async function allManifests(stateDir: string, asset: string): Promise<Manifest[]> {
  const tables = openTables(stateDir);
  return Promise.all((await tables.versions(asset)).map((v) => tables.read(asset, v)));
}
