// The inputs of a step: for each `ref` in its SQL, what exactly will be read (files, table partitions)
// and a content fingerprint of it, resolved before any work so an up-to-date step can be skipped.
import { createHash } from 'node:crypto';
import { partitionContext, type Dataset, type RefOptions, type SqlContext } from '../define/asset.ts';
import type { Asset } from '../define/asset.ts';
import { splitKey, upstreamKeys } from '../define/partitions.ts';
import type { Project } from '../define/project.ts';
import { suggest } from '../define/project.ts';
import type { Session } from '../engine/engine.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { quoteIdent } from '../sql/identifiers.ts';
import type { InputRef, Manifest } from '../store/tables/manifest.ts';
import type { TableStore } from '../store/tables/table-store.ts';
import { resolveSourceFiles, type ResolvedFiles } from './files.ts';
import { prepareSource, type PreparedSource } from './read-source.ts';
import { createProtectedView } from './protect.ts';
import type { Catalog } from '../store/catalog/catalog.ts';
import { tableRelation } from '../store/tables/table-relation.ts';

export interface Reference {
  readonly dataset: string;
  readonly lookback: number;
  readonly lookahead: number;
  /** The temp relation name the SQL uses for this reference. */
  readonly view: string;
}

export interface RenderedSql {
  readonly sql: string;
  readonly references: readonly Reference[];
}

function viewName(dataset: string, lookback: number, lookahead: number): string {
  return lookback === 0 && lookahead === 0 ? dataset : `${dataset}__${lookback}_${lookahead}`;
}

/** Call the asset's SQL function for a partition, mapping each `ref` to a temp relation name. */
export function renderSql(project: Project, asset: Asset, partition: string): RenderedSql {
  const references = new Map<string, Reference>();
  const key = partition === '' ? null : partition;
  const ctx = Object.defineProperties({
    ref(dataset: Dataset | string, options: RefOptions = {}): string {
      const name = typeof dataset === 'string' ? dataset : dataset.name;
      if (!project.datasets.has(name)) {
        throw new SluiceError('UNKNOWN_REFERENCE', `asset "${asset.name}" references "${name}", which is not a source or asset of project "${project.name}"${suggest(name, project.datasets.keys())}`, { asset: asset.name });
      }
      const lookback = options.lookback ?? 0;
      const lookahead = options.lookahead ?? 0;
      const view = viewName(name, lookback, lookahead);
      references.set(view, { dataset: name, lookback, lookahead, view });
      return quoteIdent(view);
    },
  }, Object.getOwnPropertyDescriptors(partitionContext(asset, key))) as SqlContext;
  let sql: string;
  try {
    sql = asset.sql(ctx);
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw new SluiceError('ASSET_SQL', `asset "${asset.name}": its sql function threw: ${errorMessage(error)}`, { asset: asset.name, partition }, { cause: error });
  }
  // The SQL is embedded as a subquery: a trailing semicolon would end the statement early.
  return { sql: sql.trim().replace(/;+\s*$/, ''), references: [...references.values()] };
}

export interface ResolvedInput {
  readonly reference: Reference;
  readonly ref: InputRef;
  /** The files of a source input, resolved once and reused when the step runs. */
  readonly files: ResolvedFiles | undefined;
  /** Rows read (from Parquet metadata or the manifest). Filled for assets at resolve time. */
  readonly rows: number;
  readonly manifest: Manifest | undefined;
}

function hashOf(parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${part}\n`);
  return hash.digest('hex');
}

/** Which partitions of a table version a reference reads ('all' where the two partitionings do not map). */
function windowKeys(manifest: Manifest, anchor: string, reference: Reference, consumer: Asset, upstream: Asset): { keys: string[]; mapped: boolean } {
  if (manifest.partitionColumn === null) return { keys: [''], mapped: false };
  const every = (): { keys: string[]; mapped: boolean } => ({ keys: Object.keys(manifest.partitions).sort(), mapped: false });
  if (consumer.partitions === undefined || anchor === '' || upstream.partitions === undefined) return every();
  const wanted = upstreamKeys(consumer.partitions, anchor, upstream.partitions, reference.lookback, reference.lookahead);
  if (wanted === 'all') return every();
  // A time x dynamic upstream: each time key stands for the keys `<time>|<value>` the table has.
  if (upstream.partitionBy !== undefined) return { keys: wanted.flatMap((time) => keysByTime(manifest).get(time) ?? []), mapped: true };
  return { keys: wanted.filter((key) => manifest.partitions[key] !== undefined), mapped: true };
}

/** A time x dynamic table's keys grouped by their time part, once per manifest. */
const byTime = new WeakMap<Manifest, Map<string, string[]>>();
function keysByTime(manifest: Manifest): Map<string, string[]> {
  let groups = byTime.get(manifest);
  if (groups === undefined) {
    groups = new Map();
    for (const key of Object.keys(manifest.partitions).sort()) {
      const time = splitKey(key)?.time ?? key;
      groups.set(time, [...(groups.get(time) ?? []), key]);
    }
    byTime.set(manifest, groups);
  }
  return groups;
}

/** A table's current version (the table store's, or a cache of it). */
export type LatestVersion = (asset: string) => Promise<Manifest | undefined>;

export async function resolveInputs(
  session: Session,
  env: { project: Project; projectDir: string; tables: TableStore },
  asset: Asset,
  partition: string,
  references: readonly Reference[],
  latest: LatestVersion = (name) => env.tables.latest(name),
): Promise<ResolvedInput[]> {
  const inputs: ResolvedInput[] = [];
  for (const reference of references) {
    const dataset = env.project.datasets.get(reference.dataset);
    if (dataset === undefined) continue;
    if (dataset.kind === 'source') {
      const resolved = await resolveSourceFiles(session, env.projectDir, dataset, {
        anchor: partition === '' ? null : partition, lookback: reference.lookback, lookahead: reference.lookahead, consumer: asset.partitions,
      });
      inputs.push({
        reference,
        ref: { dataset: dataset.name, kind: 'source', version: null, partitions: resolved.partitions, fingerprint: resolved.fingerprint },
        rows: 0,
        manifest: undefined,
        files: resolved,
      });
      continue;
    }
    const manifest = await latest(dataset.name);
    if (manifest === undefined) {
      throw new SluiceError('VERSION_NOT_FOUND', `asset "${asset.name}" reads "${dataset.name}", which has no version yet: run \`sluice run ${dataset.name}\` first`, { asset: asset.name });
    }
    const { keys, mapped } = windowKeys(manifest, partition, reference, asset, dataset);
    if (mapped && keys.length === 0 && reference.lookback === 0 && reference.lookahead === 0) {
      throw new SluiceError('VERSION_NOT_FOUND', `asset "${asset.name}" partition ${partition} reads "${dataset.name}" for the same ${asset.partitions?.kind === 'static' ? 'key' : 'time'}, which has not been built: run \`sluice run ${dataset.name}\` for it first`, { asset: asset.name, partition });
    }
    const fileHashes = keys.flatMap((key) => (manifest.partitions[key]?.files ?? []).map((f) => `${key}\t${f.sha256}`));
    const rows = keys.reduce((sum, key) => sum + (manifest.partitions[key]?.rows ?? 0), 0);
    inputs.push({
      reference,
      ref: { dataset: dataset.name, kind: 'asset', version: manifest.version, partitions: keys, fingerprint: hashOf(fileHashes) },
      rows,
      manifest,
      files: undefined,
    });
  }
  return inputs;
}

/** Equal fingerprints mean equal SQL over equal inputs: the partition is up to date. */
export function stepFingerprint(sql: string, partitionColumn: string | null, inputs: readonly ResolvedInput[], protection = ''): string {
  return hashOf([
    'sluice-step-v1',
    sql,
    partitionColumn ?? '',
    ...inputs.map((i) => `${i.reference.view}\t${i.ref.kind}\t${i.ref.dataset}\t${i.ref.partitions.join(',')}\t${i.ref.fingerprint}`),
    // Personal-data policies (and the secret's id) change the output without changing the SQL; absent, nothing is added.
    ...(protection === '' ? [] : [`protection\t${protection}`]),
  ]);
}

export interface PreparedInputs {
  readonly rowsIn: number;
  readonly badRecords: number;
  readonly sources: ReadonlyMap<string, PreparedSource>;
}

/** Create the temp relations the SQL reads, checking sources and setting bad records aside. */
export async function prepareInputs(
  session: Session,
  env: { project: Project; projectDir: string; stateDir: string; tables: TableStore; catalog?: Catalog | undefined },
  consumer: Asset,
  partition: string,
  inputs: readonly ResolvedInput[],
): Promise<PreparedInputs> {
  let rowsIn = 0;
  let badRecords = 0;
  const sources = new Map<string, PreparedSource>();
  for (const input of inputs) {
    const dataset = env.project.datasets.get(input.ref.dataset);
    if (dataset === undefined) continue;
    if (dataset.kind === 'source') {
      // A source with personal data is read under another name; the SQL sees it only with its policies applied.
      const protectedColumns = Object.keys(dataset.protect).length > 0;
      const raw = protectedColumns ? `__sluice_raw_${input.reference.view}` : input.reference.view;
      const prepared = await prepareSource(session, env, dataset, {
        anchor: partition === '' ? null : partition, lookback: input.reference.lookback, lookahead: input.reference.lookahead, consumer: consumer.partitions,
      }, raw, input.files);
      if (protectedColumns) {
        await createProtectedView(session, env, `source "${dataset.name}"`, dataset.protect, quoteIdent(raw), await session.describe(quoteIdent(raw)), input.reference.view);
      }
      rowsIn += prepared.rows;
      badRecords += prepared.badRecords;
      sources.set(input.reference.view, prepared);
    } else if (input.manifest !== undefined) {
      await session.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(input.reference.view)} AS ${tableRelation(env.tables, input.manifest, input.ref.partitions)}`);
      rowsIn += input.rows;
    }
  }
  return { rowsIn, badRecords, sources };
}
