// Online feature reads: validate a lookup (entities, request fields, a feature subset) against a feature
// service, fetch every view's values for every entity in one store round trip, apply TTLs, and run the
// on-demand functions. The HTTP server and the in-process client both call this, so they cannot differ.
import { parseInstant } from '../define/duration.ts';
import type { FeatureService, FeatureView, KeyType, OnDemandFeature, ValueType } from '../define/features.ts';
import { getFeatureService, suggest, type Project } from '../define/project.ts';
import { errorMessage, isTransient, SluiceError } from '../errors.ts';
import type { OnlineStore, ReadRequest, StoredValues } from '../store/online/online-store.ts';
import { encodeKey, normaliseKeyValue, type KeyColumn } from './keys.ts';

/** The default and usual cap on entities per lookup: a bigger batch belongs to offline retrieval. */
export const DEFAULT_MAX_ENTITIES = 1000;

export interface OnlineFeaturesRequest {
  readonly service: string;
  /** One object per entity, holding exactly the service's key columns. */
  readonly entities: readonly Readonly<Record<string, unknown>>[];
  /** Request fields the service's on-demand features read, shared by every entity of the lookup. */
  readonly request?: Readonly<Record<string, unknown>> | undefined;
  /** A subset of the service's features, in the order wanted; all of them when absent. */
  readonly features?: readonly string[] | undefined;
  /** Answer as of this time instead of the reader's default (see OnlineReadOptions.asOf). */
  readonly asOf?: AsOf | undefined;
}

export interface OnlineReadOptions {
  /**
   * The time the lookup is answered as of (epoch milliseconds, a Date, or an ISO date or timestamp; default:
   * now): values older than their view's TTL at that time are expired. Backtests and demos over historical
   * data read as of a time in the data; values are never read from the future of `asOf` either way, since
   * the store holds one value per entity.
   */
  readonly asOf?: AsOf | undefined;
  /** Largest number of entities in one lookup (default 1000). */
  readonly maxEntities?: number | undefined;
}

/** A read time: epoch milliseconds, a Date, or an ISO date or timestamp (UTC unless it says otherwise). */
export type AsOf = number | Date | string;

/** Epoch milliseconds of a read time; throws FEATURE_REQUEST naming `where` for one that is not a time. */
export function asOfMillis(asOf: AsOf, where = 'asOf'): number {
  if (typeof asOf === 'number') {
    if (Number.isFinite(asOf)) return asOf;
  } else if (asOf instanceof Date) {
    if (Number.isFinite(asOf.getTime())) return asOf.getTime();
  } else if (typeof asOf === 'string') {
    const ms = parseInstant(asOf);
    if (ms !== undefined) return ms;
  }
  throw new SluiceError('FEATURE_REQUEST', `${where} must be a time: epoch milliseconds, or an ISO date or timestamp such as 2026-11-25 or 2026-11-25T13:00:00Z; got ${describe(asOf)}`, { field: where });
}

export type FeatureStatus = 'present' | 'missing' | 'expired';

export interface FeatureValue {
  /** The stored or computed value; null when missing or expired (an expired value is never returned). */
  readonly value: unknown;
  readonly status: FeatureStatus;
  /** Event time of the stored value (ISO 8601, UTC); null when missing and for on-demand features. */
  readonly eventTimestamp: string | null;
}

export interface EntityFeatures {
  /** The entity's key values, normalised (integers beyond 2^53 as strings of digits). */
  readonly entity: Record<string, number | string>;
  readonly features: Record<string, FeatureValue>;
}

export interface OnlineFeaturesResponse {
  readonly service: string;
  /** Feature names, in the order of each entity's `features`. */
  readonly features: readonly string[];
  /** One per requested entity, in request order. */
  readonly results: EntityFeatures[];
}

/** How many stored feature values a lookup found, for metrics (on-demand outputs are computed, not counted). */
export interface LookupCounts {
  present: number;
  missing: number;
  expired: number;
}

// ---- the plan: everything about a service (or a subset of its features) that does not depend on a request

interface ViewPlan {
  readonly name: string;
  /** Index into ServicePlan.keyGroups: views of the same entity share one encoded key per entity. */
  readonly keyGroup: number;
  /** Features read from the store (the selected ones plus those on-demand inputs need). */
  readonly fetched: readonly string[];
  readonly ttlMicros: number | undefined;
}

interface OnDemandPlan {
  readonly definition: OnDemandFeature;
  /** Indexes into Selection.views, with the features the function receives from each. */
  readonly inputs: readonly { readonly view: number; readonly features: readonly string[] }[];
  readonly requestFields: readonly string[];
}

type OutputPlan =
  | { readonly kind: 'view'; readonly name: string; readonly view: number }
  | { readonly kind: 'onDemand'; readonly name: string; readonly onDemand: number };

interface Selection {
  readonly names: readonly string[];
  readonly views: readonly ViewPlan[];
  readonly onDemand: readonly OnDemandPlan[];
  readonly outputs: readonly OutputPlan[];
  /** Request fields the selected on-demand features need, with their types. */
  readonly required: readonly (readonly [string, ValueType])[];
}

interface ServicePlan {
  readonly service: FeatureService;
  readonly keys: readonly KeyColumn[];
  readonly keyTypes: ReadonlyMap<string, KeyType>;
  /** Distinct key-column lists of the service's entities, each with the indexes of its columns in `keys`. */
  readonly keyGroups: readonly { readonly keys: readonly KeyColumn[]; readonly positions: readonly number[] }[];
  readonly viewGroup: ReadonlyMap<string, number>;
  readonly all: Selection;
  /** Plans of feature subsets seen before, by their names joined. */
  readonly subsets: Map<string, Selection>;
}

const SUBSET_CACHE_LIMIT = 256;
// Definitions are frozen values, so a plan made once per service object stays right for its lifetime.
const plans = new WeakMap<FeatureService, ServicePlan>();

function planFor(service: FeatureService): ServicePlan {
  const cached = plans.get(service);
  if (cached !== undefined) return cached;
  const keys = service.keys;
  const keyGroups: { keys: readonly KeyColumn[]; positions: number[] }[] = [];
  const groupByEntity = new Map<string, number>();
  const viewGroup = new Map<string, number>();
  for (const view of service.views) {
    let group = groupByEntity.get(view.entity.name);
    if (group === undefined) {
      group = keyGroups.length;
      keyGroups.push({ keys: view.entity.keys, positions: view.entity.keys.map((k) => keys.findIndex((s) => s.name === k.name)) });
      groupByEntity.set(view.entity.name, group);
    }
    viewGroup.set(view.name, group);
  }
  const partial = { service, keys, keyTypes: new Map(keys.map((k) => [k.name, k.type])), keyGroups, viewGroup, subsets: new Map<string, Selection>() };
  const plan: ServicePlan = { ...partial, all: selectionOf(partial, service.features.map((f) => f.name)) };
  plans.set(service, plan);
  return plan;
}

function selectionOf(plan: Pick<ServicePlan, 'service' | 'viewGroup'>, names: readonly string[]): Selection {
  const { service } = plan;
  const byName = new Map(service.features.map((f) => [f.name, f]));
  const views: ViewPlan[] = [];
  const viewIndex = new Map<string, number>();
  const fetched = new Map<string, Set<string>>();
  const useView = (view: FeatureView, features: readonly string[]): number => {
    let index = viewIndex.get(view.name);
    if (index === undefined) {
      index = views.length;
      viewIndex.set(view.name, index);
      fetched.set(view.name, new Set());
      views.push({ name: view.name, keyGroup: plan.viewGroup.get(view.name) ?? 0, fetched: [], ttlMicros: view.ttlMs === undefined ? undefined : view.ttlMs * 1000 });
    }
    for (const feature of features) fetched.get(view.name)?.add(feature);
    return index;
  };
  const onDemand: OnDemandPlan[] = [];
  const onDemandIndex = new Map<OnDemandFeature, number>();
  const outputs: OutputPlan[] = [];
  const required = new Map<string, ValueType>();
  for (const name of names) {
    const feature = byName.get(name);
    if (feature === undefined) continue;
    if (feature.kind === 'view') {
      outputs.push({ kind: 'view', name, view: useView(feature.view, [name]) });
      continue;
    }
    let index = onDemandIndex.get(feature.onDemand);
    if (index === undefined) {
      const definition = feature.onDemand;
      index = onDemand.length;
      onDemandIndex.set(definition, index);
      onDemand.push({ definition, inputs: definition.inputs.map((input) => ({ view: useView(input, input.features), features: input.features })), requestFields: Object.keys(definition.request) });
      for (const [field, type] of Object.entries(definition.request)) required.set(field, type);
    }
    outputs.push({ kind: 'onDemand', name, onDemand: index });
  }
  return {
    names: Object.freeze([...names]),
    views: views.map((v) => ({ ...v, fetched: [...(fetched.get(v.name) ?? [])] })),
    onDemand,
    outputs,
    required: [...required],
  };
}

function selectionFor(plan: ServicePlan, features: readonly string[] | undefined): Selection {
  if (features === undefined) return plan.all;
  if (!Array.isArray(features) || features.length === 0) {
    throw new SluiceError('FEATURE_REQUEST', `features must be a non-empty list of feature names of service "${plan.service.name}", or left out for all of them`, { service: plan.service.name });
  }
  const cacheKey = features.join('\u0000');
  const cached = plan.subsets.get(cacheKey);
  if (cached !== undefined) return cached;
  const known = plan.all.names;
  const seen = new Set<string>();
  for (const name of features) {
    if (typeof name !== 'string') throw new SluiceError('FEATURE_REQUEST', `features must be names (strings); got ${describe(name)}`, { service: plan.service.name });
    if (!known.includes(name)) {
      throw new SluiceError('FEATURE_NOT_FOUND', `feature service "${plan.service.name}" has no feature "${name}"${suggest(name, known)}; its features: ${known.join(', ')}`, { service: plan.service.name, feature: name });
    }
    if (seen.has(name)) throw new SluiceError('FEATURE_REQUEST', `feature "${name}" is listed twice in features`, { service: plan.service.name, feature: name });
    seen.add(name);
  }
  const selection = selectionOf(plan, features);
  if (plan.subsets.size >= SUBSET_CACHE_LIMIT) plan.subsets.clear();
  plan.subsets.set(cacheKey, selection);
  return selection;
}

// ---- validation of one lookup

function keyList(plan: ServicePlan): string {
  return plan.keys.map((k) => `${k.name} (${k.type})`).join(', ');
}

/** Key values per entity, normalised, in the order of plan.keys. */
function validateEntities(plan: ServicePlan, entities: unknown, maxEntities: number): (number | string)[][] {
  const service = plan.service.name;
  if (!Array.isArray(entities) || entities.length === 0) {
    throw new SluiceError('FEATURE_REQUEST', `entities must be a non-empty list of objects with the keys ${keyList(plan)}`, { service });
  }
  if (entities.length > maxEntities) {
    throw new SluiceError('FEATURE_REQUEST', `${entities.length} entities in one lookup; at most ${maxEntities} are allowed: split the batch (or use historical retrieval for bulk reads)`, { service });
  }
  const out: (number | string)[][] = new Array<(number | string)[]>(entities.length);
  for (let i = 0; i < entities.length; i++) {
    const entity: unknown = entities[i];
    if (typeof entity !== 'object' || entity === null || Array.isArray(entity)) {
      throw new SluiceError('FEATURE_REQUEST', `entities[${i}] must be an object with the keys ${keyList(plan)}; got ${describe(entity)}`, { service, entity: i });
    }
    const record = entity as Record<string, unknown>;
    for (const field in record) {
      if (!plan.keyTypes.has(field)) {
        const hint = Object.hasOwn(plan.service.request, field) ? `; "${field}" is a request field: send it in "request"` : suggest(field, plan.keyTypes.keys());
        throw new SluiceError('FEATURE_REQUEST', `entities[${i}] has an unknown field "${field}"${hint}; entity objects hold only the keys ${keyList(plan)}`, { service, entity: i, column: field });
      }
    }
    const values = new Array<number | string>(plan.keys.length);
    for (let k = 0; k < plan.keys.length; k++) {
      const key = plan.keys[k] as KeyColumn;
      const value = Object.hasOwn(record, key.name) ? record[key.name] : undefined;
      if (value === undefined || value === null) {
        throw new SluiceError('FEATURE_REQUEST', `entities[${i}] is missing the key "${key.name}" (${key.type}); service "${service}" needs ${keyList(plan)}`, { service, entity: i, column: key.name });
      }
      const normalised = normaliseKeyValue(value, key.type);
      if (!normalised.ok) {
        throw new SluiceError('FEATURE_REQUEST', `entities[${i}] key "${key.name}" is ${key.type === 'int' ? 'an int' : 'a string'}: ${normalised.reason}`, { service, entity: i, column: key.name });
      }
      values[k] = normalised.value;
    }
    out[i] = values;
  }
  return out;
}

function validateRequestFields(plan: ServicePlan, selection: Selection, request: unknown): Readonly<Record<string, unknown>> {
  const service = plan.service.name;
  if (request !== undefined && (typeof request !== 'object' || request === null || Array.isArray(request))) {
    throw new SluiceError('FEATURE_REQUEST', `request must be an object of request fields; got ${describe(request)}`, { service });
  }
  const fields = (request ?? {}) as Record<string, unknown>;
  for (const field in fields) {
    if (!Object.hasOwn(plan.service.request, field)) {
      const known = Object.keys(plan.service.request);
      const listed = known.length === 0 ? `service "${service}" takes no request fields` : `its request fields: ${known.map((f) => `${f} (${plan.service.request[f]})`).join(', ')}`;
      const hint = plan.keyTypes.has(field) ? `; "${field}" is an entity key: put it in each entity` : suggest(field, known);
      throw new SluiceError('FEATURE_REQUEST', `unknown request field "${field}"${hint}; ${listed}`, { service, field });
    }
  }
  for (const [field, type] of selection.required) {
    const value = Object.hasOwn(fields, field) ? fields[field] : undefined;
    if (value === undefined || value === null) {
      const users = selection.onDemand.filter((od) => od.requestFields.includes(field)).map((od) => `"${od.definition.name}"`).join(', ');
      throw new SluiceError('FEATURE_REQUEST', `request field "${field}" (${type}) is missing: on-demand feature ${users} needs it; send it as "request": { "${field}": ... }`, { service, field });
    }
    if (!fitsType(value, type)) {
      throw new SluiceError('FEATURE_REQUEST', `request field "${field}" must be ${article(type)}; got ${describe(value)}`, { service, field });
    }
  }
  return fields;
}

function fitsType(value: unknown, type: ValueType): boolean {
  switch (type) {
    case 'int': return typeof value === 'number' && Number.isSafeInteger(value);
    case 'float': return typeof value === 'number' && Number.isFinite(value);
    case 'string': return typeof value === 'string';
    case 'bool': return typeof value === 'boolean';
  }
}

function article(type: ValueType): string {
  return type === 'int' ? 'an int' : `a ${type}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `the ${typeof value} ${String(value)}`;
  return `a ${typeof value}`;
}

// ---- the read

/** ISO 8601 from epoch microseconds, keeping microseconds when there are any. */
function isoFromMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const rest = Math.round(micros - ms * 1000);
  const iso = new Date(ms).toISOString();
  return rest === 0 ? iso : `${iso.slice(0, -1)}${String(rest).padStart(3, '0')}Z`;
}

const MISSING: FeatureValue = Object.freeze({ value: null, status: 'missing', eventTimestamp: null });

/** The lookup and what it found, for callers that also keep metrics (the server). */
export async function readOnlineFeaturesCounted(
  project: Project,
  store: OnlineStore,
  request: OnlineFeaturesRequest,
  options: OnlineReadOptions = {},
): Promise<{ response: OnlineFeaturesResponse; counts: LookupCounts }> {
  if (typeof request !== 'object' || request === null) throw new SluiceError('FEATURE_REQUEST', 'a lookup is an object { service, entities, request?, features? }');
  if (typeof request.service !== 'string') throw new SluiceError('FEATURE_REQUEST', `service must be the name of a feature service; got ${describe(request.service)}`);
  const plan = planFor(getFeatureService(project, request.service));
  const selection = selectionFor(plan, request.features);
  const keyValues = validateEntities(plan, request.entities, options.maxEntities ?? DEFAULT_MAX_ENTITIES);
  const requestFields = selection.onDemand.length === 0 && request.request === undefined ? {} : validateRequestFields(plan, selection, request.request);

  // One encoded key per entity and entity type, shared by that entity's views.
  const encoded = plan.keyGroups.map((group) => keyValues.map((values) => encodeKey(group.keys, group.positions.map((p) => values[p]))));
  const reads: ReadRequest[] = selection.views.map((view) => ({ view: view.name, keys: encoded[view.keyGroup] ?? [], features: view.fetched }));
  let stored: (StoredValues | undefined)[][] = [];
  if (reads.length > 0) {
    try {
      stored = await store.read(reads);
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      throw new SluiceError('ONLINE_STORE', `reading the online store (${store.location}) failed: ${errorMessage(error)}`, { service: plan.service.name }, { cause: error, transient: isTransient(error) });
    }
  }

  const requested = request.asOf ?? options.asOf;
  const nowMicros = (requested === undefined ? Date.now() : asOfMillis(requested, request.asOf === undefined ? 'asOf' : 'request.asOf')) * 1000;
  const counts: LookupCounts = { present: 0, missing: 0, expired: 0 };
  const results: EntityFeatures[] = new Array<EntityFeatures>(keyValues.length);
  // Per view of the current entity: its record when present and fresh, and its timestamp; reused across entities.
  const fresh: (StoredValues | undefined)[] = new Array<StoredValues | undefined>(selection.views.length);
  const expired: boolean[] = new Array<boolean>(selection.views.length);
  const timestamps: (string | null)[] = new Array<string | null>(selection.views.length);
  for (let e = 0; e < keyValues.length; e++) {
    const values = keyValues[e] as (number | string)[];
    for (let v = 0; v < selection.views.length; v++) {
      const view = selection.views[v] as ViewPlan;
      const record = stored[v]?.[e];
      const isExpired = record !== undefined && view.ttlMicros !== undefined && nowMicros - record.eventTimeMicros > view.ttlMicros;
      fresh[v] = isExpired ? undefined : record;
      expired[v] = isExpired;
      timestamps[v] = record === undefined ? null : isoFromMicros(record.eventTimeMicros);
    }
    const features: Record<string, FeatureValue> = {};
    let computed: (Readonly<Record<string, unknown>> | undefined)[] | undefined;
    for (const output of selection.outputs) {
      if (output.kind === 'view') {
        const record = fresh[output.view];
        if (record !== undefined && Object.hasOwn(record.values, output.name)) {
          features[output.name] = { value: record.values[output.name], status: 'present', eventTimestamp: timestamps[output.view] ?? null };
          counts.present++;
        } else if (expired[output.view] === true) {
          features[output.name] = { value: null, status: 'expired', eventTimestamp: timestamps[output.view] ?? null };
          counts.expired++;
        } else {
          features[output.name] = MISSING;
          counts.missing++;
        }
      } else {
        computed ??= new Array<Readonly<Record<string, unknown>> | undefined>(selection.onDemand.length);
        const out = computed[output.onDemand] ?? runOnDemand(selection.onDemand[output.onDemand] as OnDemandPlan, fresh, requestFields, plan.service.name, e);
        computed[output.onDemand] = out;
        const value = Object.hasOwn(out, output.name) ? out[output.name] : undefined;
        features[output.name] = { value: value === undefined ? null : value, status: 'present', eventTimestamp: null };
      }
    }
    const entity: Record<string, number | string> = {};
    for (let k = 0; k < plan.keys.length; k++) entity[(plan.keys[k] as KeyColumn).name] = values[k] as number | string;
    results[e] = { entity, features };
  }
  return { response: { service: plan.service.name, features: selection.names, results }, counts };
}

/** The row an on-demand function sees: request fields, then its input views' features (null when missing or expired). */
function runOnDemand(
  plan: OnDemandPlan,
  fresh: readonly (StoredValues | undefined)[],
  requestFields: Readonly<Record<string, unknown>>,
  service: string,
  entityIndex: number,
): Readonly<Record<string, unknown>> {
  const row: Record<string, unknown> = {};
  for (const field of plan.requestFields) row[field] = Object.hasOwn(requestFields, field) ? requestFields[field] : null;
  for (const input of plan.inputs) {
    const record = fresh[input.view];
    for (const feature of input.features) {
      const value = record !== undefined && Object.hasOwn(record.values, feature) ? record.values[feature] : undefined;
      row[feature] = value === undefined ? null : value;
    }
  }
  const name = plan.definition.name;
  let out: unknown;
  try {
    out = plan.definition.fn(Object.freeze(row));
  } catch (error) {
    throw new SluiceError('FEATURE_REQUEST', `on-demand feature "${name}" failed for entities[${entityIndex}]: ${errorMessage(error)}`, { service, feature: name, entity: entityIndex }, { cause: error });
  }
  if (typeof out !== 'object' || out === null) {
    throw new SluiceError('FEATURE_REQUEST', `on-demand feature "${name}" returned ${describe(out)}; its fn must return an object with the outputs ${Object.keys(plan.definition.outputs).join(', ')}`, { service, feature: name });
  }
  return out as Readonly<Record<string, unknown>>;
}

/**
 * Read a feature service's features for a batch of entities: one store round trip for all views and entities.
 * Throws SluiceError FEATURE_NOT_FOUND (unknown service or feature), FEATURE_REQUEST (a bad lookup, or an
 * on-demand function that failed) or ONLINE_STORE (the store could not be read).
 */
export async function readOnlineFeatures(project: Project, store: OnlineStore, request: OnlineFeaturesRequest, options: OnlineReadOptions = {}): Promise<OnlineFeaturesResponse> {
  return (await readOnlineFeaturesCounted(project, store, request, options)).response;
}

export interface FeatureClient {
  /** The same lookup and response as `POST /v1/features`, without HTTP. */
  getOnlineFeatures(request: OnlineFeaturesRequest, options?: OnlineReadOptions): Promise<OnlineFeaturesResponse>;
}

/** An in-process client: for serving from the model's own process. The caller owns (and closes) the store. */
export function createFeatureClient(options: { project: Project; store: OnlineStore; maxEntities?: number; asOf?: AsOf | undefined }): FeatureClient {
  const { project, store } = options;
  if (options.asOf !== undefined) asOfMillis(options.asOf);
  return {
    getOnlineFeatures: (request, readOptions = {}) => readOnlineFeatures(project, store, request, { maxEntities: options.maxEntities, asOf: options.asOf, ...readOptions }),
  };
}
