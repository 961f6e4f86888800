// Erasure (`sluice forget --entity user_id=123`): every current table partition holding the entity is rewritten
// as a new version without its rows (each partition keeps the fingerprint it was built with, so the next run
// does not rebuild it from sources that still hold the entity), its online-store records are deleted, tokens only
// its rows used leave the vault, and the erasure is recorded as a run without the erased values. Old versions'
// files stay until `sluice vacuum` removes them (a training set's pin keeps them: it is reported).
import { createHmac } from 'node:crypto';
import { recordAction } from '../access/audit.ts';
import { getAsset } from '../define/project.ts';
import type { FileSource } from '../define/source.ts';
import type { Session } from '../engine/engine.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { encodeKeyOf } from '../features/keys.ts';
import { newRunId } from '../batch/runner.ts';
import { localSecretOf, piiKeys } from '../batch/protect.ts';
import { pinnedVersions } from '../batch/table-admin.ts';
import { quoteIdent, quoteList, quoteLiteral } from '../sql/identifiers.ts';
import type { Manifest } from '../store/tables/manifest.ts';
import { entryPathInState } from '../store/tables/table-log.ts';
import type { Workspace } from '../workspace.ts';

export interface ForgetResult {
  readonly runId: string | null;
  readonly dryRun: boolean;
  /** Key column names only: the values are not kept anywhere. */
  readonly keyColumns: readonly string[];
  readonly assets: readonly { readonly asset: string; readonly version: number | null; readonly partitions: readonly string[]; readonly rows: number }[];
  readonly online: readonly { readonly view: string; readonly deleted: number }[];
  readonly tokens: number;
  /** Source files that still hold the entity: outside sluice, to be cleaned by their owner. */
  readonly sourceFiles: readonly { readonly source: string; readonly file: string; readonly rows: number }[];
  /** Training sets whose pinned versions keep files with the entity from vacuum. */
  readonly pinnedBy: readonly string[];
}

const TOKEN = /^tok_[0-9a-f]{32}$/;

/** `user_id=123` pairs as a record of key column to value text. */
export function parseEntity(pairs: readonly string[]): Record<string, string> {
  if (pairs.length === 0) throw new SluiceError('CONFIG_INVALID', 'sluice forget: name the entity, e.g. --entity user_id=123 (one --entity per key column)');
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new SluiceError('CONFIG_INVALID', `--entity ${JSON.stringify(pair)}: use COLUMN=VALUE, e.g. --entity user_id=123`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

function condition(entity: Readonly<Record<string, string>>): string {
  return Object.entries(entity).map(([column, value]) => `CAST(${quoteIdent(column)} AS VARCHAR) = ${quoteLiteral(value)}`).join(' AND ');
}

const FILE_COLUMN = '__sluice_file';

/** A table's files read directly (so the key may be any column), by column name across their schemas. */
function filesRelation(files: readonly string[], withFile = false): string {
  return `read_parquet(${quoteList(files)}, hive_partitioning = false, union_by_name = true${withFile ? `, filename = ${quoteLiteral(FILE_COLUMN)}` : ''})`;
}

/** Rows of the entity per partition of a table version: one scan of every file, counted by file. */
async function entityRows(session: Session, ws: Workspace, manifest: Manifest, where: string): Promise<Map<string, number>> {
  const keyOf = new Map<string, string>();
  for (const entry of Object.values(manifest.partitions)) for (const file of ws.tables.files(manifest, [entry.key])) keyOf.set(file, entry.key);
  const counts = new Map<string, number>();
  if (keyOf.size === 0) return counts;
  const rows = await session.query<{ file: string; n: bigint }>(`SELECT ${quoteIdent(FILE_COLUMN)} AS file, count(*) AS n FROM ${filesRelation([...keyOf.keys()], true)} WHERE ${where} GROUP BY ALL`);
  const byKey = new Map<string, number>();
  for (const row of rows) {
    const key = keyOf.get(row.file);
    if (key !== undefined) byKey.set(key, (byKey.get(key) ?? 0) + Number(row.n));
  }
  // In the table's partition order, as the partitions were listed before.
  for (const key of Object.keys(manifest.partitions)) if (byKey.has(key)) counts.set(key, byKey.get(key) ?? 0);
  return counts;
}

/** Distinct values of text columns over the rows `rowFilter` keeps, those `valueFilter` (on `v`) keeps. */
async function textValues(session: Session, files: readonly string[], columns: readonly string[], rowFilter: string, valueFilter: string): Promise<string[]> {
  if (columns.length === 0 || files.length === 0) return [];
  const union = columns.map((c) => `SELECT ${quoteIdent(c)} AS v FROM ${filesRelation(files)} WHERE ${rowFilter}`).join(' UNION ');
  const rows = await session.query<{ v: string | null }>(`SELECT DISTINCT v FROM (${union}) WHERE ${valueFilter}`);
  return rows.flatMap((r) => (r.v === null ? [] : [r.v]));
}

/** Source files (of sources declaring every key column) that hold the entity. */
async function sourceFilesWith(session: Session, ws: Workspace, entity: Readonly<Record<string, string>>, where: string): Promise<{ source: string; file: string; rows: number }[]> {
  const found: { source: string; file: string; rows: number }[] = [];
  const sources = [...ws.project.datasets.values()].filter((d): d is FileSource => d.kind === 'source' && d.columns !== undefined && Object.keys(entity).every((c) => c in (d.columns ?? {})));
  for (const source of sources) {
    const glob = quoteLiteral(`${ws.projectDir}/${source.path.replace(/\{[^}]+\}/g, '*')}`);
    const reader = source.format === 'parquet' ? `read_parquet(${glob}, filename = true, union_by_name = true)`
      // Malformed lines are skipped here: only the rows that read can hold the entity's key.
      : source.format === 'csv' ? `read_csv(${glob}, filename = true, union_by_name = true, all_varchar = true, header = ${String(source.csv.header)}, delim = ${quoteLiteral(source.csv.delimiter)}, ignore_errors = true, null_padding = true)`
      : `read_json_auto(${glob}, filename = true, union_by_name = true, format = 'newline_delimited')`;
    try {
      const rows = await session.query<{ filename: string; n: bigint }>(`SELECT filename, count(*) AS n FROM ${reader} WHERE ${where} GROUP BY filename ORDER BY filename`);
      for (const row of rows) found.push({ source: source.name, file: row.filename, rows: Number(row.n) });
    } catch (error) {
      found.push({ source: source.name, file: `(could not be scanned: ${errorMessage(error).split('\n')[0] ?? ''})`, rows: 0 });
    }
  }
  return found;
}

/**
 * Erase one entity from every current table, the online store (the workspace's, when the project has feature views
 * of a matching entity) and the vault. With `dryRun`, only says what it would rewrite.
 */
export async function forget(ws: Workspace, entity: Readonly<Record<string, string>>, options: { dryRun?: boolean } = {}): Promise<ForgetResult> {
  const dryRun = options.dryRun === true;
  const keyColumns = Object.keys(entity).sort();
  const where = condition(entity);
  const runId = dryRun ? null : newRunId();
  const assets: { asset: string; version: number | null; partitions: string[]; rows: number }[] = [];
  const candidateTokens = new Set<string>();
  const rewritten = new Map<string, Manifest>();
  const started = new Date().toISOString();
  // The record holds key names and, when a PII secret is set, a keyed hash of the values: enough to answer
  // "was this entity erased?" later, without keeping what was erased.
  const keys = piiKeys(ws.project, ws.projectDir, localSecretOf(ws));
  const entityHash = keys === undefined ? null : createHmac('sha256', keys.hash).update(JSON.stringify(keyColumns.map((c) => entity[c]))).digest('hex');
  if (runId !== null) await ws.catalog.createRun({ id: runId, project: ws.project.name, startedAt: started, args: { command: 'forget', keyColumns, entityHash } });
  try {
    const sourceFiles = await ws.engine.withSession(async (session) => {
      for (const name of await ws.tables.assets()) {
        if (!ws.project.datasets.has(name)) continue;
        const manifest = await ws.tables.latest(name);
        if (manifest === undefined || !keyColumns.every((c) => manifest.schema.some((s) => s.name === c))) continue;
        if (keyColumns.some((c) => manifest.partitionColumn?.split('/').includes(c))) {
          throw new SluiceError('CONFIG_INVALID', `asset "${name}" is partitioned by ${manifest.partitionColumn ?? ''}, a key of the entity: delete its partition instead (sluice delete ${name} --partition <key>)`, { asset: name });
        }
        const counts = await entityRows(session, ws, manifest, where);
        if (counts.size === 0) continue;
        // The vault tokens in the entity's rows (text columns whose values are tokens).
        const textColumns = manifest.schema.filter((c) => c.type === 'VARCHAR').map((c) => c.name);
        for (const token of await textValues(session, ws.tables.files(manifest, [...counts.keys()]), textColumns, where, "regexp_full_match(v, 'tok_[0-9a-f]{32}')")) {
          if (TOKEN.test(token)) candidateTokens.add(token);
        }
        const rows = [...counts.values()].reduce((a, b) => a + b, 0);
        if (dryRun || runId === null) {
          assets.push({ asset: name, version: null, partitions: [...counts.keys()], rows });
          continue;
        }
        const asset = getAsset(ws.project, name);
        const parts = [];
        for (const key of counts.keys()) {
          const entry = manifest.partitions[key];
          if (entry === undefined) continue;
          const staged = ws.tables.stagingPath(runId, name, key);
          const files = ws.tables.files(manifest, [key]);
          await session.run(`COPY (SELECT * FROM ${filesRelation(files)} WHERE NOT (${where}) ORDER BY ALL) TO ${quoteLiteral(staged)} (FORMAT parquet, COMPRESSION zstd)`);
          parts.push({ key, stagedFile: staged, schema: entry.schema, rows: entry.rows - (counts.get(key) ?? 0), fingerprint: entry.fingerprint, inputs: entry.inputs });
        }
        const committed = await ws.tables.commitPartitions({
          asset: name, partitionColumn: manifest.partitionColumn, runId, fingerprint: '', inputs: [], partitions: parts, removeWithin: null,
          schemaPolicy: asset.schema === 'strict' ? 'strict' : 'evolve',
        });
        await ws.catalog.recordVersion({
          asset: name, version: committed.manifest.version, runId, stepId: null, createdAt: committed.manifest.createdAt, partitions: committed.manifest.changed,
          rowCount: committed.manifest.rowCount, bytes: committed.manifest.bytes, manifestPath: entryPathInState(name, committed.manifest.version),
        });
        rewritten.set(name, committed.manifest);
        assets.push({ asset: name, version: committed.manifest.version, partitions: [...counts.keys()], rows });
      }
      // A token another entity's rows still hold stays in the vault.
      if (!dryRun && candidateTokens.size > 0) {
        for (const name of await ws.tables.assets()) {
          // Every candidate may be found still in use before the last table: then there is nothing left to ask.
          if (candidateTokens.size === 0) break;
          const manifest = rewritten.get(name) ?? await ws.tables.latest(name);
          if (manifest === undefined) continue;
          const text = manifest.schema.filter((c) => c.type === 'VARCHAR' && !(manifest.partitionColumn?.split('/').includes(c.name) ?? false)).map((c) => c.name);
          const list = [...candidateTokens].map(quoteLiteral).join(', ');
          for (const token of await textValues(session, ws.tables.files(manifest, Object.keys(manifest.partitions)), text, 'true', `v IN (${list})`)) candidateTokens.delete(token);
        }
      }
      return sourceFilesWith(session, ws, entity, where);
    });

    const tokens = dryRun ? candidateTokens.size : await ws.catalog.deleteVaultEntries([...candidateTokens]);
    const online: { view: string; deleted: number }[] = [];
    const views = [...ws.project.featureViews.values()].filter((v) => v.entity.keys.map((k) => k.name).sort().join(',') === keyColumns.join(','));
    if (views.length > 0) {
      const store = await ws.onlineStore();
      for (const view of views) {
        const key = encodeKeyOf(view.entity.keys, Object.fromEntries(view.entity.keys.map((k) => [k.name, k.type === 'int' ? Number(entity[k.name]) : entity[k.name]])));
        online.push({ view: view.name, deleted: dryRun ? (await store.read([{ view: view.name, keys: [key] }]))[0]?.filter((v) => v !== undefined).length ?? 0 : await store.deleteKeys(view.name, [key]) });
      }
    }
    const pins = await pinnedVersions(ws);
    const pinnedBy = [...new Set(assets.flatMap((a) => [...(pins.get(a.asset) ?? new Map<number, string[]>()).values()].flat()))].sort();
    if (runId !== null) {
      await ws.catalog.finishRun(runId, 'success', new Date().toISOString(), null);
      await recordAction(ws.catalog, ws.settings.principal, 'forget', `entity:${keyColumns.join(',')}`, { runId, entityHash, assets: assets.map((a) => ({ asset: a.asset, version: a.version, partitions: a.partitions.length })), online: online.reduce((n, o) => n + o.deleted, 0), tokens });
    }
    return { runId, dryRun, keyColumns, assets, online, tokens, sourceFiles, pinnedBy };
  } catch (error) {
    if (runId !== null) await ws.catalog.finishRun(runId, 'failed', new Date().toISOString(), errorMessage(error));
    throw error;
  }
}
