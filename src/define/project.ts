// defineProject: validates every definition once at load (zod), infers the dependency graph from the
// `ref` calls in each asset's SQL, and rejects unknown references and cycles with the offending names.
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import { isValidName } from './names.ts';
import { partitionContext, type Asset, type Dataset, type RefOptions, type SqlContext } from './asset.ts';
import { isDuration, parseInstant } from './duration.ts';
import type { ExtractSpec } from './extract.ts';
import { firstKey, isDateKey, isHourKey } from './partitions.ts';
import { validateExpectation } from './expect.ts';
import { isStatistical, parseStatisticalKwargs } from './expect-statistical.ts';
import type { FileSource } from './source.ts';
import type { Entity, FeatureService, FeatureView } from './features.ts';
import type { EventStream } from './stream.ts';
import { isTemplated, templateTokens } from './source.ts';
import type { Job, Sensor } from './job.ts';
import { Cron } from 'croner';

export interface DependencyRef {
  readonly dataset: string;
  readonly lookback: number;
  readonly lookahead: number;
}

export interface ProjectSettings {
  readonly stateDir?: string | undefined;
  readonly memoryLimit?: string | undefined;
  readonly tempDir?: string | undefined;
  readonly threads?: number | undefined;
  readonly concurrency?: number | undefined;
  /** Webhooks that receive alerts (failed error checks, failed runs), besides SLUICE_ALERT_WEBHOOKS. */
  readonly alertWebhooks?: readonly string[] | undefined;
  /** Also alert when a `warn` check fails. */
  readonly alertOnWarn?: boolean | undefined;
  /**
   * API keys of `sluice serve`, each with the feature services it may read ('*': all), besides SLUICE_API_KEYS.
   * Read them from the environment rather than writing secrets here: `{ [process.env.MODEL_KEY!]: ['churn_model_v1'] }`.
   */
  readonly apiKeys?: Readonly<Record<string, '*' | readonly string[]>> | undefined;
  /**
   * Online lookups (`sluice serve`, `sluice features get`) answer as of this time (an ISO date or timestamp)
   * instead of now, unless a request or `--as-of` gives its own: for demos and backtests on historical data.
   */
  readonly servingAsOf?: string | undefined;
  /**
   * Where the secret of keyed hashes and tokens comes from: an environment variable (default SLUICE_PII_KEY) or a
   * file (relative to the project). Never the key itself: a config file is not a place for secrets.
   */
  readonly pii?: { readonly keyEnv?: string | undefined; readonly keyFile?: string | undefined } | undefined;
  /**
   * OpenLineage events for every run and step (SLUICE_OPENLINEAGE_URL overrides `url`): `namespace` defaults to the
   * project's name; `apiKeyEnv` names an env var holding a bearer token.
   */
  readonly openlineage?: { readonly url?: string | undefined; readonly namespace?: string | undefined; readonly apiKeyEnv?: string | undefined } | undefined;
  /** Access control: the principals file (roles, grants, hashed keys), relative to the project; SLUICE_ACCESS_FILE also names it. */
  readonly access?: { readonly principalsFile?: string | undefined } | undefined;
  /** `sluice serve` over HTTPS: PEM files of the certificate (chain) and its private key, relative to the project. */
  readonly tls?: { readonly cert: string; readonly key: string } | undefined;
}

export interface ProjectInput {
  readonly name: string;
  readonly sources?: readonly FileSource[];
  readonly assets: readonly Asset[];
  /** Feature views; those a service uses join the project even when not listed. */
  readonly featureViews?: readonly FeatureView[];
  readonly featureServices?: readonly FeatureService[];
  /** Jobs (asset selections, optionally on a cron schedule) and the sensors that launch them. */
  readonly jobs?: readonly Job[];
  readonly sensors?: readonly Sensor[];
  readonly settings?: ProjectSettings;
}

export interface Project {
  readonly name: string;
  readonly datasets: ReadonlyMap<string, Dataset>;
  /** Direct dependencies of each asset, in the order the SQL references them. */
  readonly dependencies: ReadonlyMap<string, readonly DependencyRef[]>;
  /** Asset names, dependencies first. */
  readonly order: readonly string[];
  readonly entities: ReadonlyMap<string, Entity>;
  readonly featureViews: ReadonlyMap<string, FeatureView>;
  readonly featureServices: ReadonlyMap<string, FeatureService>;
  /** Event streams that feed feature views. */
  readonly eventStreams: ReadonlyMap<string, EventStream>;
  readonly jobs: ReadonlyMap<string, Job>;
  readonly sensors: ReadonlyMap<string, Sensor>;
  readonly settings: ProjectSettings;
}

const name = z.string().refine(isValidName, 'use letters, digits and underscores, starting with a letter (at most 63 characters)');
const dateKey = z.string().refine(isDateKey, 'a date YYYY-MM-DD');
// DuckDB type names, including parameterised and nested ones, but nothing that could end a statement.
const columnType = z.string().regex(/^[A-Za-z][A-Za-z0-9_ ]*(\([0-9, ]+\))?(\[\])*$/, 'a DuckDB type such as BIGINT, VARCHAR, DECIMAL(18,2), TIMESTAMP');
const hourKey = z.string().refine(isHourKey, 'an hour YYYY-MM-DDTHH');
const partitionsSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('daily'), start: dateKey, end: dateKey.optional(), column: name }).strict(),
  z.object({ kind: z.literal('hourly'), start: hourKey, end: hourKey.optional(), column: name }).strict(),
  z.object({ kind: z.literal('static'), keys: z.array(z.string().min(1)).min(1), column: name }).strict(),
  z.object({ kind: z.literal('multi'), time: z.object({}).passthrough(), static: z.object({}).passthrough(), column: z.string() }).strict(),
]);

// Protections are built and checked by define/pii.ts; here only their shape.
const protectionSchema = z.object({ pii: z.string(), policy: z.object({ kind: z.string() }).loose().optional() }).strict();

const sourceSchema = z.object({
  kind: z.literal('source'),
  type: z.literal('file'),
  name,
  format: z.enum(['parquet', 'csv', 'ndjson']),
  path: z.string().min(1, 'a path or glob'),
  partitions: partitionsSchema.optional(),
  columns: z.record(name, columnType).optional(),
  optionalColumns: z.array(name),
  extraColumns: z.enum(['ignore', 'keep', 'refuse']),
  badRecords: z.enum(['fail', 'dead-letter']),
  csv: z.object({ delimiter: z.string().length(1), header: z.boolean(), quote: z.string().max(1) }).strict(),
  description: z.string().optional(),
  allowEmpty: z.boolean(),
  verifyIntegrity: z.boolean(),
  partitionBy: z.object({ column: z.string().min(1) }).strict().optional(),
  protect: z.record(name, protectionSchema),
}).strict();

const assetSchema = z.object({
  kind: z.literal('asset'),
  name,
  sql: z.function(),
  partitions: partitionsSchema.optional(),
  retry: z.object({
    retries: z.number().int().min(0).max(100),
    backoffMs: z.number().min(0),
    maxDelayMs: z.number().min(0),
    retryAll: z.boolean(),
    timeoutMs: z.number().positive().optional(),
  }).strict(),
  description: z.string().optional(),
  columns: z.record(name, z.string()).optional(),
  // Each expectation's arguments are validated by the quality layer when the project is opened.
  checks: z.array(z.object({ type: z.string().min(1), kwargs: z.record(z.string(), z.unknown()), meta: z.record(z.string(), z.unknown()).optional() })),
  freshness: z.object({ maxLag: z.string(), maxLagMs: z.number().positive() }).strict().optional(),
  // The extract spec's source is checked on its own (validateExtract) so messages name the source.
  extract: z.object({ source: z.object({ kind: z.literal('extract-source') }).loose(), key: z.array(name), cursor: name.optional() }).strict().optional(),
  allowEmpty: z.boolean().optional(),
  partitionBy: name.optional(),
  protect: z.record(name, protectionSchema).optional(),
  piiForbidden: z.boolean().optional(),
  schema: z.union([
    z.literal('evolve'),
    z.literal('strict'),
    z.object({ columns: z.record(name, z.object({ type: z.string().min(1), nullable: z.boolean() }).strict()).refine((c) => Object.keys(c).length > 0, 'at least one column') }).strict(),
  ]).optional(),
}).strict();

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name such as CRM_TOKEN');
const lookback = z.union([z.string().refine(isDuration, 'a duration such as 10m, 1h or 2d (for a time cursor)'), z.number().positive('a positive number (for a numeric cursor)')]);
const qualifiedName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, 'a table name such as users or crm.users');

const postgresSourceSchema = z.object({
  kind: z.literal('extract-source'),
  type: z.literal('postgres'),
  name,
  url: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// URL').optional(),
  urlEnv: envName,
  table: qualifiedName.optional(),
  query: z.string().min(1, 'a SELECT statement').optional(),
  cursor: name,
  key: z.array(name).min(1, 'at least one key column (rows are upserted by key)'),
  lookback: lookback.optional(),
  columns: z.record(name, columnType).optional(),
  batchSize: z.number().int().min(1).max(1_000_000),
  description: z.string().optional(),
}).strict();

const httpSourceSchema = z.object({
  kind: z.literal('extract-source'),
  type: z.literal('http'),
  name,
  url: z.string().regex(/^https?:\/\//, 'an http:// or https:// URL'),
  records: z.string().regex(/^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)?$/, "a dotted path such as 'data' or 'results.items' ('' for a body that is the array)"),
  pagination: z.discriminatedUnion('type', [
    z.object({ type: z.literal('cursor'), next: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "a dotted path such as 'next_cursor' or 'meta.next'"), param: z.string().min(1) }).strict(),
    z.object({ type: z.literal('offset'), limit: z.number().int().positive(), offsetParam: z.string().min(1), limitParam: z.string().min(1) }).strict(),
    z.object({ type: z.literal('link') }).strict(),
    z.object({ type: z.literal('none') }).strict(),
  ]),
  auth: z.object({ header: z.string().regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name'), env: envName, prefix: z.string() }).strict().optional(),
  rateLimit: z.number().positive('requests per second, more than 0').optional(),
  retry: z.object({ maxAttempts: z.number().int().min(1).max(100), baseDelayMs: z.number().min(0), maxDelayMs: z.number().min(0) }).strict(),
  timeoutMs: z.number().int().positive(),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name'), z.string()),
  columns: z.record(name, columnType).refine((c) => Object.keys(c).length > 0, 'at least one column with its DuckDB type'),
  key: z.array(name),
  cursor: name.optional(),
  cursorParam: z.string().min(1).optional(),
  lookback: lookback.optional(),
  description: z.string().optional(),
}).strict();

const settingsSchema = z.object({
  stateDir: z.string().min(1).optional(),
  memoryLimit: z.string().regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'a size such as 4GB').optional(),
  tempDir: z.string().min(1).optional(),
  threads: z.number().int().positive().optional(),
  concurrency: z.number().int().positive().optional(),
  alertWebhooks: z.array(z.url()).optional(),
  alertOnWarn: z.boolean().optional(),
  apiKeys: z.record(z.string().regex(/^[^,|\s]+$/, 'an API key without commas, bars or spaces'), z.union([z.literal('*'), z.array(name).min(1)])).optional(),
  servingAsOf: z.string().refine((text) => parseInstant(text) !== undefined, 'an ISO date or timestamp such as 2026-11-25 or 2026-11-25T13:00:00Z').optional(),
  pii: z.object({
    keyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name such as SLUICE_PII_KEY').optional(),
    keyFile: z.string().min(1).optional(),
  }).strict().optional(),
  openlineage: z.object({
    url: z.url({ protocol: /^https?$/, error: 'an http(s) URL such as http://localhost:5000' }).optional(),
    namespace: z.string().min(1).optional(),
    apiKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'the name of an environment variable, e.g. OPENLINEAGE_API_KEY').optional(),
  }).strict().optional(),
  access: z.object({ principalsFile: z.string().min(1).optional() }).strict().optional(),
  tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
}).strict();

function invalid(what: string, error: z.ZodError): SluiceError {
  const issue = error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : ` option ${issue.path.join('.')}`;
  return new SluiceError('DEFINITION_INVALID', `${what}${where}: ${issue?.message ?? 'invalid'}`);
}

function validateSource(source: FileSource): void {
  const parsed = sourceSchema.safeParse(source);
  if (!parsed.success) throw invalid(`source ${JSON.stringify(source.name)}`, parsed.error);
  if (isTemplated(source) && source.partitions === undefined) {
    throw new SluiceError('DEFINITION_INVALID', `source "${source.name}": its path contains {date}; add partitions: dailyPartitions({ start: 'YYYY-MM-DD' })`, { source: source.name });
  }
  if (source.format === 'csv' && !source.csv.header && source.optionalColumns.length > 0) {
    throw new SluiceError('DEFINITION_INVALID', `source "${source.name}": optional column "${source.optionalColumns[0]}" needs a header to be found by name, but csv.header is false (columns are then read by position); make it required, or read files with a header`, { source: source.name, column: source.optionalColumns[0] });
  }
  if (source.partitionBy !== undefined) {
    if (source.partitions === undefined) throw new SluiceError('DEFINITION_INVALID', `source "${source.name}" has partitionBy but no partitions: add partitions (e.g. dailyPartitions({ start: 'YYYY-MM-DD' }))`, { source: source.name });
    if (isTemplated(source)) throw new SluiceError('DEFINITION_INVALID', `source "${source.name}" has both a partitioned path and partitionBy: use one (a placeholder in the path, or a column of the files)`, { source: source.name });
    if (source.columns !== undefined && !(source.partitionBy.column in source.columns)) {
      throw new SluiceError('DEFINITION_INVALID', `source "${source.name}": partitionBy column "${source.partitionBy.column}" is not among its declared columns (${Object.keys(source.columns).join(', ')})`, { source: source.name, column: source.partitionBy.column });
    }
  } else if (!isTemplated(source) && source.partitions !== undefined) {
    const tokens = [...new Set(Object.keys(templateTokens(source.partitions, firstKey(source.partitions))))].map((t) => `{${t}}`);
    throw new SluiceError('DEFINITION_INVALID', `source "${source.name}" has partitions but its path has no ${tokens.join(' or ')} placeholder: add one, or say which column holds the partition with partitionBy: { column: '...' }`, { source: source.name });
  }
}

function validateAsset(asset: Asset): void {
  const parsed = assetSchema.safeParse(asset);
  if (!parsed.success) throw invalid(`asset ${JSON.stringify(asset?.name)}`, parsed.error);
  if (asset.extract !== undefined) validateExtract(asset.name, asset.extract);
  // Each check's arguments, once, at load: an unknown type or a wrong argument names the check.
  asset.checks.forEach((check, i) => {
    const where = `asset "${asset.name}" checks[${i}]`;
    if (isStatistical(check.type)) parseStatisticalKwargs(check.type, check.kwargs, where);
    else validateExpectation(check, where);
  });
}

function validateExtract(assetName: string, spec: ExtractSpec): void {
  const source = spec.source;
  const what = `asset "${assetName}" ${source.type} source ${JSON.stringify(source.name)}`;
  const fail = (message: string): SluiceError => new SluiceError('DEFINITION_INVALID', `${what}: ${message}`, { asset: assetName, source: source.name });
  const parsed = (source.type === 'postgres' ? postgresSourceSchema : httpSourceSchema).safeParse(source);
  if (!parsed.success) throw invalid(what, parsed.error);
  if (source.type === 'postgres' && (source.table === undefined) === (source.query === undefined)) {
    throw fail('give exactly one of table (e.g. table: \'users\') or query (e.g. query: \'SELECT ... FROM users\')');
  }
  if (spec.cursor !== undefined && spec.key.length === 0) throw fail(`cursor "${spec.cursor}" needs a key: rows are upserted by key, the latest cursor wins; add key: 'id'`);
  if (source.lookback !== undefined && spec.cursor === undefined) throw fail('lookback needs a cursor column');
  if (source.type === 'http' && source.cursorParam !== undefined && spec.cursor === undefined) throw fail('cursorParam needs a cursor column');
  const columns = source.columns;
  if (columns !== undefined) {
    for (const column of [...spec.key, ...(spec.cursor === undefined ? [] : [spec.cursor])]) {
      if (!(column in columns)) throw fail(`key or cursor column "${column}" is not among its columns (${Object.keys(columns).join(', ')}); add it to columns`);
    }
  }
}

/** Edit distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] ?? 0;
      row[j] = Math.min(current + 1, (row[j - 1] ?? 0) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] ?? 0;
}

export function suggest(unknown: string, known: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(unknown.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) { best = candidate; bestDistance = d; }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(unknown.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

function refName(dataset: Dataset | string): string {
  return typeof dataset === 'string' ? dataset : dataset.name;
}

/** Run an asset's SQL function with a recording context, collecting its references. */
/** The widest ref() window: ten years of hourly partitions. */
const MAX_WINDOW = 87_840;

export function recordReferences(asset: Asset, partition: string | null): { refs: DependencyRef[]; objects: Dataset[] } {
  const refs: DependencyRef[] = [];
  const objects: Dataset[] = [];
  const ctx = Object.defineProperties({
    ref(dataset: Dataset | string, options: RefOptions = {}): string {
      const lookback = options.lookback ?? 0;
      const lookahead = options.lookahead ?? 0;
      for (const [key, value] of [['lookback', lookback], ['lookahead', lookahead]] as const) {
        if (!Number.isInteger(value) || value < 0 || value > MAX_WINDOW) {
          throw new SluiceError('DEFINITION_INVALID', `asset "${asset.name}": ref(${JSON.stringify(refName(dataset))}) option ${key} must be a whole number of partitions from 0 to ${MAX_WINDOW}, got ${String(value)}`, { asset: asset.name });
        }
      }
      if (typeof dataset !== 'string') objects.push(dataset);
      refs.push({ dataset: refName(dataset), lookback, lookahead });
      // Only the references are recorded; the SQL text built here is discarded.
      return refName(dataset);
    },
  }, Object.getOwnPropertyDescriptors(partitionContext(asset, partition))) as SqlContext;
  try {
    asset.sql(ctx);
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw new SluiceError('DEFINITION_INVALID', `asset "${asset.name}": its sql function threw: ${error instanceof Error ? error.message : String(error)}`, { asset: asset.name }, { cause: error });
  }
  return { refs, objects };
}

function findCycle(dependencies: ReadonlyMap<string, readonly DependencyRef[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'visiting') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'visiting');
    stack.push(node);
    for (const dep of dependencies.get(node) ?? []) {
      const cycle = visit(dep.dataset);
      if (cycle !== undefined) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of [...dependencies.keys()].sort()) {
    const cycle = visit(node);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

function topologicalOrder(dependencies: ReadonlyMap<string, readonly DependencyRef[]>): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (node: string): void => {
    if (seen.has(node)) return;
    seen.add(node);
    for (const dep of dependencies.get(node) ?? []) if (dependencies.has(dep.dataset)) visit(dep.dataset);
    order.push(node);
  };
  for (const node of [...dependencies.keys()].sort()) visit(node);
  return order;
}

const PROJECT_KEYS: readonly string[] = ['name', 'sources', 'assets', 'featureViews', 'featureServices', 'jobs', 'sensors', 'settings'] satisfies readonly (keyof ProjectInput)[];

export function defineProject(input: ProjectInput): Project {
  if (!isValidName(input.name)) {
    throw new SluiceError('DEFINITION_INVALID', `project name ${JSON.stringify(input.name)} is not allowed: use letters, digits and underscores`);
  }
  const unknown = Object.keys(input).filter((key) => !PROJECT_KEYS.includes(key));
  if (unknown.length > 0) {
    throw new SluiceError('DEFINITION_INVALID', `project "${input.name}": ${unknown.map((k) => JSON.stringify(k)).join(', ')} ${unknown.length === 1 ? 'is not a project option' : 'are not project options'}; the options are ${PROJECT_KEYS.join(', ')}`);
  }
  const settings = settingsSchema.safeParse(input.settings ?? {});
  if (!settings.success) throw invalid(`project "${input.name}" settings`, settings.error);

  const datasets = new Map<string, Dataset>();
  const add = (dataset: Dataset, origin: string): void => {
    const existing = datasets.get(dataset.name);
    if (existing !== undefined && existing !== dataset) {
      throw new SluiceError('DEFINITION_INVALID', `two different definitions are named "${dataset.name}" (${existing.kind} and ${dataset.kind}, found via ${origin}); names must be unique across sources and assets`);
    }
    if (existing === undefined) {
      if (dataset.kind === 'source') validateSource(dataset); else validateAsset(dataset);
      datasets.set(dataset.name, dataset);
    }
  };
  for (const source of input.sources ?? []) add(source, 'sources');
  for (const asset of input.assets) add(asset, 'assets');

  // Referenced objects join the project even when not listed; string references must name one.
  const dependencies = new Map<string, DependencyRef[]>();
  const pending = [...datasets.values()].filter((d): d is Asset => d.kind === 'asset');
  while (pending.length > 0) {
    const asset = pending.shift() as Asset;
    const { refs, objects } = recordReferences(asset, asset.partitions === undefined ? null : firstKey(asset.partitions));
    for (const object of objects) {
      if (!datasets.has(object.name)) {
        add(object, `a ref() in asset "${asset.name}"`);
        if (object.kind === 'asset') pending.push(object);
      } else add(object, `a ref() in asset "${asset.name}"`);
    }
    dependencies.set(asset.name, refs);
  }
  for (const [assetName, refs] of dependencies) {
    for (const ref of refs) {
      if (!datasets.has(ref.dataset)) {
        throw new SluiceError(
          'UNKNOWN_REFERENCE',
          `asset "${assetName}" references "${ref.dataset}", which is not a source or asset of project "${input.name}"${suggest(ref.dataset, datasets.keys())}`,
          { asset: assetName, reference: ref.dataset },
        );
      }
      if (ref.dataset === assetName) {
        throw new SluiceError('DEPENDENCY_CYCLE', `asset "${assetName}" references itself`, { asset: assetName });
      }
    }
  }
  const cycle = findCycle(dependencies);
  if (cycle !== undefined) {
    throw new SluiceError('DEPENDENCY_CYCLE', `dependency cycle: ${cycle.join(' -> ')}`, { cycle });
  }
  return Object.freeze({
    name: input.name,
    datasets,
    dependencies,
    order: Object.freeze(topologicalOrder(dependencies)),
    ...collectFeatures(input, datasets),
    ...collectJobs(input, datasets),
    settings: Object.freeze(settings.data),
  });
}

function collectJobs(input: ProjectInput, datasets: ReadonlyMap<string, Dataset>): Pick<Project, 'jobs' | 'sensors'> {
  const jobs = new Map<string, Job>();
  const assetNames = [...datasets.values()].filter((d) => d.kind === 'asset').map((d) => d.name);
  const checkAsset = (what: string, name: string): void => {
    if (datasets.get(name)?.kind !== 'asset') {
      throw new SluiceError('UNKNOWN_REFERENCE', `${what} names "${name}", which is not an asset of project "${input.name}"${suggest(name, assetNames)}`, { reference: name });
    }
  };
  for (const job of input.jobs ?? []) {
    if (!isValidName(job.name)) throw new SluiceError('DEFINITION_INVALID', `job name ${JSON.stringify(job.name)} is not allowed: use letters, digits and underscores`);
    if (jobs.has(job.name)) throw new SluiceError('DEFINITION_INVALID', `two jobs are named "${job.name}"`, { job: job.name });
    if (job.assets.length === 0) throw new SluiceError('DEFINITION_INVALID', `job "${job.name}" selects no assets`, { job: job.name });
    for (const asset of job.assets) checkAsset(`job "${job.name}"`, asset);
    const kinds = new Set(job.assets.map((a) => (datasets.get(a) as Asset).partitions?.kind ?? 'unpartitioned'));
    if (kinds.size > 1) {
      throw new SluiceError('DEFINITION_INVALID', `job "${job.name}" mixes ${[...kinds].sort().join(' and ')} assets; a job's runs and backfills go by one kind of partition: make one job of each`, { job: job.name });
    }
    if (job.schedule !== undefined) {
      try {
        new Cron(job.schedule.cron, { timezone: job.schedule.timezone, paused: true });
      } catch (error) {
        throw new SluiceError('DEFINITION_INVALID', `job "${job.name}" schedule: cron ${JSON.stringify(job.schedule.cron)} in time zone ${job.schedule.timezone} is not valid: ${error instanceof Error ? error.message : String(error)}`, { job: job.name });
      }
      if (!isTimeZone(job.schedule.timezone)) {
        throw new SluiceError('DEFINITION_INVALID', `job "${job.name}" schedule: ${JSON.stringify(job.schedule.timezone)} is not an IANA time zone such as UTC or Europe/Paris`, { job: job.name });
      }
    }
    jobs.set(job.name, job);
  }
  const sensors = new Map<string, Sensor>();
  for (const sensor of input.sensors ?? []) {
    if (!isValidName(sensor.name)) throw new SluiceError('DEFINITION_INVALID', `sensor name ${JSON.stringify(sensor.name)} is not allowed: use letters, digits and underscores`);
    if (sensors.has(sensor.name)) throw new SluiceError('DEFINITION_INVALID', `two sensors are named "${sensor.name}"`, { sensor: sensor.name });
    if (!jobs.has(sensor.job)) {
      throw new SluiceError('UNKNOWN_REFERENCE', `sensor "${sensor.name}" launches job "${sensor.job}", which is not a job of project "${input.name}"${suggest(sensor.job, jobs.keys())}; add it to jobs`, { sensor: sensor.name });
    }
    if (sensor.trigger.type !== 'files') checkAsset(`sensor "${sensor.name}"`, sensor.trigger.asset);
    sensors.set(sensor.name, sensor);
  }
  return { jobs, sensors };
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function getJob(project: Project, jobName: string): Job {
  const job = project.jobs.get(jobName);
  if (job === undefined) {
    const known = [...project.jobs.keys()];
    throw new SluiceError('JOB_NOT_FOUND', `no job named "${jobName}" in project "${project.name}"${suggest(jobName, known)}; jobs: ${known.join(', ') || '(none: add jobs to defineProject)'}`, { job: jobName });
  }
  return job;
}

function collectFeatures(input: ProjectInput, datasets: ReadonlyMap<string, Dataset>): Pick<Project, 'entities' | 'featureViews' | 'featureServices' | 'eventStreams'> {
  const entities = new Map<string, Entity>();
  const eventStreams = new Map<string, EventStream>();
  const featureViews = new Map<string, FeatureView>();
  const featureServices = new Map<string, FeatureService>();
  const addView = (view: FeatureView, origin: string): void => {
    const known = featureViews.get(view.name);
    if (known !== undefined && known !== view) throw new SluiceError('DEFINITION_INVALID', `two different feature views are named "${view.name}" (found via ${origin})`);
    if (known !== undefined) return;
    if (!datasets.has(view.source)) {
      throw new SluiceError('UNKNOWN_REFERENCE', `feature view "${view.name}" reads "${view.source}", which is not a source or asset of project "${input.name}"${suggest(view.source, datasets.keys())}`, { view: view.name, reference: view.source });
    }
    if (datasets.get(view.source)?.kind !== 'asset') {
      throw new SluiceError('DEFINITION_INVALID', `feature view "${view.name}" reads "${view.source}", a file source; feature views read assets (versioned tables): declare an asset over the source, e.g. asset('${view.source}_table', { sql: (c) => \`SELECT * FROM \${c.ref('${view.source}')}\` })`, { view: view.name });
    }
    const knownEntity = entities.get(view.entity.name);
    if (knownEntity !== undefined && knownEntity !== view.entity && JSON.stringify(knownEntity.keys) !== JSON.stringify(view.entity.keys)) {
      throw new SluiceError('DEFINITION_INVALID', `two different entities are named "${view.entity.name}" (feature view "${view.name}")`);
    }
    entities.set(view.entity.name, knownEntity ?? view.entity);
    featureViews.set(view.name, view);
    if (view.type === 'windowed' && view.stream !== undefined) {
      const known = eventStreams.get(view.stream.name);
      if (known !== undefined && known !== view.stream) throw new SluiceError('DEFINITION_INVALID', `two different event streams are named "${view.stream.name}" (feature view "${view.name}")`);
      eventStreams.set(view.stream.name, view.stream);
    }
  };
  for (const view of input.featureViews ?? []) addView(view, 'featureViews');
  for (const service of input.featureServices ?? []) {
    if (featureServices.has(service.name) && featureServices.get(service.name) !== service) throw new SluiceError('DEFINITION_INVALID', `two feature services are named "${service.name}"`);
    for (const view of service.views) addView(view, `feature service "${service.name}"`);
    featureServices.set(service.name, service);
  }
  return { entities, featureViews, featureServices, eventStreams };
}

export function getFeatureService(project: Project, serviceName: string): FeatureService {
  const service = project.featureServices.get(serviceName);
  if (service === undefined) {
    const known = [...project.featureServices.keys()];
    throw new SluiceError('FEATURE_NOT_FOUND', `no feature service named "${serviceName}" in project "${project.name}"${suggest(serviceName, known)}; services: ${known.join(', ') || '(none)'}`, { service: serviceName });
  }
  return service;
}

export function getFeatureView(project: Project, viewName: string): FeatureView {
  const view = project.featureViews.get(viewName);
  if (view === undefined) {
    const known = [...project.featureViews.keys()];
    throw new SluiceError('FEATURE_NOT_FOUND', `no feature view named "${viewName}" in project "${project.name}"${suggest(viewName, known)}; views: ${known.join(', ') || '(none)'}`, { view: viewName });
  }
  return view;
}

export function getAsset(project: Project, assetName: string): Asset {
  const dataset = project.datasets.get(assetName);
  if (dataset === undefined || dataset.kind !== 'asset') {
    const assets = [...project.datasets.values()].filter((d) => d.kind === 'asset').map((d) => d.name);
    throw new SluiceError('ASSET_NOT_FOUND', `no asset named "${assetName}" in project "${project.name}"${suggest(assetName, assets)}; assets: ${assets.join(', ')}`, { asset: assetName });
  }
  return dataset;
}
