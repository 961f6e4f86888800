// The OpenLineage wire format (spec 2-0-2 and the facets sluice emits): event and facet shapes, their schema
// URLs, run ids as UUIDs, and dataset names per the naming spec. Pure: the runtimes build events from these.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const version = (JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
/** Who produced an event: a URI, as the spec asks (sluice and its version). */
export const PRODUCER = `urn:sluice:${version}`;
export const RUN_EVENT_SCHEMA_URL = 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent';

export type EventType = 'START' | 'RUNNING' | 'COMPLETE' | 'ABORT' | 'FAIL' | 'OTHER';

export interface Facet {
  readonly _producer: string;
  readonly _schemaURL: string;
  readonly [field: string]: unknown;
}

export type Facets = Readonly<Record<string, Facet>>;

export interface DatasetId {
  readonly namespace: string;
  readonly name: string;
}

export interface LineageDataset extends DatasetId {
  readonly facets?: Facets;
  readonly inputFacets?: Facets;
  readonly outputFacets?: Facets;
}

export interface JobId {
  readonly namespace: string;
  readonly name: string;
}

export interface LineageRunEvent {
  readonly eventType: EventType;
  readonly eventTime: string;
  readonly producer: string;
  readonly schemaURL: string;
  readonly run: { readonly runId: string; readonly facets?: Facets };
  readonly job: JobId & { readonly facets?: Facets };
  readonly inputs: readonly LineageDataset[];
  readonly outputs: readonly LineageDataset[];
}

/** A run another run belongs to: the run of a step, the backfill of a partition run; `root` is the outermost. */
export interface ParentRef {
  readonly runId: string;
  readonly job: JobId;
  readonly root?: { readonly runId: string; readonly job: JobId } | undefined;
}

// Each facet's schema file and version (the files in the spec's `facets/` folder).
const FACET_VERSIONS = {
  ColumnLineageDatasetFacet: '1-2-0',
  DataQualityAssertionsDatasetFacet: '1-1-0',
  DatasetVersionDatasetFacet: '1-0-1',
  ErrorMessageRunFacet: '1-0-1',
  JobTypeJobFacet: '2-0-4',
  NominalTimeRunFacet: '1-0-1',
  OutputStatisticsOutputDatasetFacet: '1-0-2',
  ParentRunFacet: '1-2-0',
  SQLJobFacet: '1-1-0',
  SchemaDatasetFacet: '1-2-0',
} as const;

function facet(kind: keyof typeof FACET_VERSIONS, body: Record<string, unknown>): Facet {
  return { _producer: PRODUCER, _schemaURL: `https://openlineage.io/spec/facets/${FACET_VERSIONS[kind]}/${kind}.json#/$defs/${kind}`, ...body };
}

/** One data-quality check's result, as the assertions facet lists it. */
export interface Assertion {
  readonly assertion: string;
  readonly success: boolean;
  readonly column?: string;
  readonly severity?: string;
  readonly expected?: string;
  readonly actual?: string;
  readonly params?: Readonly<Record<string, unknown>>;
}

/** An input column an output column was computed from. */
export interface InputField extends DatasetId {
  readonly field: string;
  readonly transformations?: readonly { readonly type: 'DIRECT' | 'INDIRECT'; readonly subtype?: string }[];
}

export const facets = {
  schema: (fields: readonly { readonly name: string; readonly type: string }[]): Facet =>
    facet('SchemaDatasetFacet', { fields: fields.map((f, i) => ({ name: f.name, type: f.type, ordinal_position: i + 1 })) }),
  version: (datasetVersion: string): Facet => facet('DatasetVersionDatasetFacet', { datasetVersion }),
  outputStatistics: (rowCount: number, size: number, fileCount?: number): Facet =>
    facet('OutputStatisticsOutputDatasetFacet', { rowCount, size, ...(fileCount === undefined ? {} : { fileCount }) }),
  dataQualityAssertions: (assertions: readonly Assertion[]): Facet => facet('DataQualityAssertionsDatasetFacet', { assertions }),
  columnLineage: (fields: Readonly<Record<string, readonly InputField[]>>): Facet =>
    facet('ColumnLineageDatasetFacet', { fields: Object.fromEntries(Object.entries(fields).map(([column, inputFields]) => [column, { inputFields }])) }),
  sql: (query: string): Facet => facet('SQLJobFacet', { query, dialect: 'duckdb' }),
  jobType: (processingType: 'BATCH' | 'STREAMING', jobType: string): Facet => facet('JobTypeJobFacet', { processingType, integration: 'SLUICE', jobType }),
  errorMessage: (message: string, stackTrace?: string): Facet =>
    facet('ErrorMessageRunFacet', { message, programmingLanguage: 'TypeScript', ...(stackTrace === undefined ? {} : { stackTrace }) }),
  nominalTime: (startMs: number, endMs?: number): Facet =>
    facet('NominalTimeRunFacet', { nominalStartTime: new Date(startMs).toISOString(), ...(endMs === undefined ? {} : { nominalEndTime: new Date(endMs).toISOString() }) }),
  parent: (parent: ParentRef): Facet => facet('ParentRunFacet', {
    run: { runId: parent.runId }, job: parent.job,
    ...(parent.root === undefined ? {} : { root: { run: { runId: parent.root.runId }, job: parent.root.job } }),
  }),
};

/** An OpenLineage run id (a UUID) for a sluice id: derived by hashing, so every event of a run names it alike. */
export function lineageRunId(id: string): string {
  const bytes = createHash('sha256').update(`sluice-run:${id}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50; // version 5 (name-based)
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A run event; absent facet groups are left out rather than sent empty. */
export function runEvent(input: {
  readonly eventType: EventType;
  readonly runId: string;
  readonly job: JobId;
  readonly runFacets?: Facets;
  readonly jobFacets?: Facets;
  readonly inputs?: readonly LineageDataset[];
  readonly outputs?: readonly LineageDataset[];
  readonly eventTime?: Date;
}): LineageRunEvent {
  const nonEmpty = (f: Facets | undefined): { facets?: Facets } => (f === undefined || Object.keys(f).length === 0 ? {} : { facets: f });
  return {
    eventType: input.eventType,
    eventTime: (input.eventTime ?? new Date()).toISOString(),
    producer: PRODUCER,
    schemaURL: RUN_EVENT_SCHEMA_URL,
    run: { runId: input.runId, ...nonEmpty(input.runFacets) },
    job: { namespace: input.job.namespace, name: input.job.name, ...nonEmpty(input.jobFacets) },
    inputs: input.inputs ?? [],
    outputs: input.outputs ?? [],
  };
}

// --- dataset names (https://openlineage.io/docs/spec/naming) ------------------------------------------------

/** A sluice table: the state directory is the namespace, `tables/<asset>` the name. */
export function tableDataset(stateDir: string, asset: string): DatasetId {
  return { namespace: `file://${path.resolve(stateDir)}`, name: `tables/${asset}` };
}

/** A file source: its path or glob, relative to the project directory that is the namespace. */
export function fileDataset(projectDir: string, glob: string): DatasetId {
  const root = path.resolve(projectDir);
  return { namespace: `file://${root}`, name: path.relative(root, path.resolve(root, glob)) };
}

/** A file outside the project's datasets (a training set, a spine): namespace `file`, its absolute path. */
export function localFileDataset(file: string): DatasetId {
  return { namespace: 'file', name: path.resolve(file) };
}

/** A PostgreSQL table (`db.schema.table`) or query (`db.query.<source>`) at `postgres://host:port`. */
export function postgresDataset(url: string | undefined, target: { readonly table: string | undefined; readonly source: string }): DatasetId {
  let host = 'unknown:5432';
  let db = 'postgres';
  try {
    if (url !== undefined) {
      const parsed = new URL(url);
      host = `${parsed.hostname}:${parsed.port === '' ? '5432' : parsed.port}`;
      db = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres';
    }
  } catch {
    // An unparseable URL fails the extract step itself; the event still names the table.
  }
  const table = target.table === undefined ? `query.${target.source}` : target.table.includes('.') ? target.table : `public.${target.table}`;
  return { namespace: `postgres://${host}`, name: `${db}.${table}` };
}

/** An HTTP API: scheme and authority as the namespace, the path as the name. */
export function httpDataset(url: string): DatasetId {
  const parsed = new URL(url);
  return { namespace: `${parsed.protocol}//${parsed.host}`, name: parsed.pathname };
}

/** A feature view in the online store: the store (`redis://host:port`, `sqlite://<file>`) and the view's name. */
export function onlineStoreDataset(url: string, view: string): DatasetId {
  if (url.startsWith('sqlite:')) return { namespace: `sqlite://${path.resolve(url.slice('sqlite:'.length))}`, name: view };
  const parsed = new URL(url);
  return { namespace: `${parsed.protocol}//${parsed.host}`, name: view };
}

/** An event stream: a NATS JetStream subject (`nats://host:port`, `<stream>.<subject>`), or NDJSON lines read from a file. */
export function streamDataset(source: { readonly natsUrl: string; readonly stream: string; readonly subject: string } | { readonly file: string }): DatasetId {
  if ('file' in source) return source.file === '-' ? { namespace: 'file', name: 'stdin' } : localFileDataset(source.file);
  const parsed = new URL(source.natsUrl);
  return { namespace: `nats://${parsed.host}`, name: `${source.stream}.${source.subject}` };
}
