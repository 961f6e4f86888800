// Feature-store vocabulary: entities (key columns), feature views (plain columns with an event timestamp, or
// windowed aggregations over an event asset), on-demand features (TypeScript row functions run identically
// offline and online) and feature services (the named set of features a model consumes). Pure data.
import { SluiceError } from '../errors.ts';
import { isValidName } from './names.ts';
import type { Dataset } from './asset.ts';
import { parseDuration, type Duration } from './duration.ts';
import type { EventStream } from './stream.ts';

/** Types an entity key column may have: requests are checked against it. */
export type KeyType = 'int' | 'string';
/** Types of request fields and on-demand outputs. */
export type ValueType = 'int' | 'float' | 'string' | 'bool';

export interface Entity<N extends string = string> {
  readonly kind: 'entity';
  readonly name: N;
  /** Key columns, in order, with their types. */
  readonly keys: readonly { readonly name: string; readonly type: KeyType }[];
  readonly description: string | undefined;
}

export function entity<const N extends string>(name: N, options: { keys: Readonly<Record<string, KeyType>>; description?: string }): Entity<N> {
  assertDefinitionName(name, 'entity');
  const keys = Object.entries(options.keys).map(([key, type]) => {
    assertDefinitionName(key, `entity "${name}" key`);
    if (type !== 'int' && type !== 'string') {
      throw new SluiceError('DEFINITION_INVALID', `entity "${name}" key "${key}": type ${JSON.stringify(type)} is not 'int' or 'string'`);
    }
    return Object.freeze({ name: key, type });
  });
  if (keys.length === 0) throw new SluiceError('DEFINITION_INVALID', `entity "${name}" needs at least one key column`);
  return Object.freeze({ kind: 'entity', name, keys: Object.freeze(keys), description: options.description });
}

export type AggregationFunction = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'count_distinct' | 'last';
export const AGGREGATION_FUNCTIONS: readonly AggregationFunction[] = ['count', 'sum', 'avg', 'min', 'max', 'count_distinct', 'last'];

export interface Aggregation {
  readonly name: string;
  readonly function: AggregationFunction;
  /** The aggregated column; `count` without one counts events. */
  readonly column: string | undefined;
  readonly window: Duration;
  readonly windowMs: number;
}

export interface AggregationInput {
  readonly function: AggregationFunction;
  readonly column?: string;
  readonly window: Duration;
}

interface FeatureViewBase<N extends string> {
  readonly kind: 'featureView';
  readonly name: N;
  readonly entity: Entity;
  /** The asset or source the view reads (its latest version). */
  readonly source: string;
  /** Event-timestamp column (TIMESTAMP, TIMESTAMPTZ or DATE) in the source. */
  readonly timestamp: string;
  /** A value older than this (spine time or read time minus event time) is treated as absent. */
  readonly ttl: Duration | undefined;
  readonly ttlMs: number | undefined;
  readonly description: string | undefined;
  /** Feature names, in output order. */
  readonly features: readonly string[];
}

/**
 * Plain columns of the source, one row per entity and event time. Among rows with the same entity and event
 * time, the row that sorts last (by `tieBreaker` if given, then by the feature values) wins, so results are
 * deterministic.
 */
export interface ColumnFeatureView<N extends string = string> extends FeatureViewBase<N> {
  readonly type: 'columns';
  readonly tieBreaker: string | undefined;
}

/**
 * Windowed aggregations over an event source. The value at an entity's event time e aggregates that entity's
 * events with event time in (e - window, e]; it is what the online store holds from event e until the next
 * event, so a lookup at time t returns the value as of the entity's latest event at or before t.
 */
export interface WindowedFeatureView<N extends string = string> extends FeatureViewBase<N> {
  readonly type: 'windowed';
  readonly aggregations: readonly Aggregation[];
  /**
   * Tile size, for windows a stream keeps as pre-aggregated buckets. With a tile, a window at e covers whole
   * tiles: the events in [tileStart(e) - window + tile, e], where tileStart(e) is e rounded down to the tile
   * (UTC epoch). Every window must be a whole number of tiles. Without one, windows are exact: (e - window, e].
   */
  readonly tile: Duration | undefined;
  readonly tileMs: number | undefined;
  /** The event stream that updates this view online (`sluice stream`); the batch path reads `source`. */
  readonly stream: EventStream | undefined;
}

export type FeatureView<N extends string = string> = ColumnFeatureView<N> | WindowedFeatureView<N>;

interface FeatureViewOptionsBase {
  readonly entity: Entity;
  readonly source: Dataset | string;
  readonly timestamp: string;
  readonly ttl?: Duration;
  readonly description?: string;
}

export interface ColumnFeatureViewOptions extends FeatureViewOptionsBase {
  readonly features: readonly string[];
  readonly tieBreaker?: string;
}

export interface WindowedFeatureViewOptions extends FeatureViewOptionsBase {
  readonly aggregations: Readonly<Record<string, AggregationInput>>;
  /** Pre-aggregation bucket (e.g. '1m'); windows then cover whole tiles. */
  readonly tile?: Duration;
  /** An event stream with the same fields as the source, to update the view in real time (needs a tile). */
  readonly stream?: EventStream;
}

export function featureView<const N extends string>(name: N, options: ColumnFeatureViewOptions | WindowedFeatureViewOptions): FeatureView<N> {
  assertDefinitionName(name, 'feature view');
  const where = `feature view "${name}"`;
  if (options.entity?.kind !== 'entity') throw new SluiceError('DEFINITION_INVALID', `${where}: entity must be made with entity()`);
  const source = typeof options.source === 'string' ? options.source : options.source?.name;
  if (typeof source !== 'string' || !isValidName(source)) throw new SluiceError('DEFINITION_INVALID', `${where}: source must be an asset, a source or the name of one`);
  assertDefinitionName(options.timestamp, `${where} timestamp column`);
  const ttlMs = options.ttl === undefined ? undefined : parseDuration(options.ttl, `${where} ttl`);
  const base = {
    kind: 'featureView' as const,
    name,
    entity: options.entity,
    source,
    timestamp: options.timestamp,
    ttl: options.ttl,
    ttlMs,
    description: options.description,
  };
  const taken = new Set([...options.entity.keys.map((k) => k.name), options.timestamp]);
  const checkFeatureName = (feature: string): void => {
    assertDefinitionName(feature, `${where} feature`);
    if (taken.has(feature)) throw new SluiceError('DEFINITION_INVALID', `${where}: feature "${feature}" repeats a key, timestamp or another feature name`);
    taken.add(feature);
  };
  if ('aggregations' in options) {
    if ('features' in options) throw new SluiceError('DEFINITION_INVALID', `${where}: give either features (plain columns) or aggregations, not both`);
    const aggregations = Object.entries(options.aggregations).map(([feature, input]): Aggregation => {
      checkFeatureName(feature);
      if (!AGGREGATION_FUNCTIONS.includes(input.function)) {
        throw new SluiceError('DEFINITION_INVALID', `${where} feature "${feature}": function ${JSON.stringify(input.function)} is not one of ${AGGREGATION_FUNCTIONS.join(', ')}`);
      }
      if (input.column === undefined && input.function !== 'count') {
        throw new SluiceError('DEFINITION_INVALID', `${where} feature "${feature}": ${input.function} needs a column`);
      }
      if (input.column !== undefined) assertDefinitionName(input.column, `${where} feature "${feature}" column`);
      return Object.freeze({ name: feature, function: input.function, column: input.column, window: input.window, windowMs: parseDuration(input.window, `${where} feature "${feature}" window`) });
    });
    if (aggregations.length === 0) throw new SluiceError('DEFINITION_INVALID', `${where}: no aggregations`);
    const tileMs = options.tile === undefined ? undefined : parseDuration(options.tile, `${where} tile`);
    if (tileMs !== undefined) {
      for (const aggregation of aggregations) {
        if (aggregation.windowMs % tileMs !== 0) {
          throw new SluiceError('DEFINITION_INVALID', `${where} feature "${aggregation.name}": window ${aggregation.window} is not a whole number of ${options.tile as string} tiles`);
        }
      }
    }
    const stream = options.stream;
    if (stream !== undefined) {
      if (stream.kind !== 'eventStream') throw new SluiceError('DEFINITION_INVALID', `${where}: stream must be made with eventStream()`);
      if (tileMs === undefined) throw new SluiceError('DEFINITION_INVALID', `${where}: a view updated by a stream needs a tile (e.g. tile: '1m'), so its windows are whole tiles in batch and stream alike`);
      if (stream.timestamp !== options.timestamp) throw new SluiceError('DEFINITION_INVALID', `${where}: timestamp "${options.timestamp}" differs from stream "${stream.name}"'s event time "${stream.timestamp}"`);
      const needed = [...options.entity.keys.map((k) => k.name), ...aggregations.flatMap((a) => (a.column === undefined ? [] : [a.column]))];
      for (const field of needed) {
        if (stream.fields[field] === undefined) throw new SluiceError('DEFINITION_INVALID', `${where}: field "${field}" is not declared by stream "${stream.name}" (${Object.keys(stream.fields).join(', ')})`);
      }
      for (const key of options.entity.keys) {
        if (stream.fields[key.name] !== key.type) throw new SluiceError('DEFINITION_INVALID', `${where}: key "${key.name}" is ${key.type} in entity "${options.entity.name}" but ${stream.fields[key.name] as string} in stream "${stream.name}"`);
      }
    }
    return Object.freeze({
      ...base,
      stream,
      type: 'windowed',
      aggregations: Object.freeze(aggregations),
      features: Object.freeze(aggregations.map((a) => a.name)),
      tile: options.tile,
      tileMs,
    });
  }
  const features = [...(options.features ?? [])];
  for (const feature of features) checkFeatureName(feature);
  if (features.length === 0) throw new SluiceError('DEFINITION_INVALID', `${where}: no features`);
  if (options.tieBreaker !== undefined) assertDefinitionName(options.tieBreaker, `${where} tieBreaker`);
  return Object.freeze({ ...base, type: 'columns', features: Object.freeze(features), tieBreaker: options.tieBreaker });
}

/** Values an on-demand function receives: request fields and the fetched features of its inputs (null when absent). */
export type FeatureRow = Readonly<Record<string, unknown>>;

export interface OnDemandFeature<N extends string = string> {
  readonly kind: 'onDemand';
  readonly name: N;
  /** Views whose features the function reads. */
  readonly inputs: readonly FeatureView[];
  /** Request fields the function reads, with their types. */
  readonly request: Readonly<Record<string, ValueType>>;
  /** Output features and their types. */
  readonly outputs: Readonly<Record<string, ValueType>>;
  readonly fn: (row: FeatureRow) => Readonly<Record<string, unknown>>;
  readonly description: string | undefined;
}

export function onDemandFeature<const N extends string>(
  name: N,
  options: {
    inputs?: readonly FeatureView[];
    request?: Readonly<Record<string, ValueType>>;
    outputs: Readonly<Record<string, ValueType>>;
    fn: (row: FeatureRow) => Readonly<Record<string, unknown>>;
    description?: string;
  },
): OnDemandFeature<N> {
  assertDefinitionName(name, 'on-demand feature');
  const where = `on-demand feature "${name}"`;
  if (typeof options.fn !== 'function') throw new SluiceError('DEFINITION_INVALID', `${where}: fn must be a function`);
  const checkTypes = (record: Readonly<Record<string, ValueType>>, what: string): void => {
    for (const [field, type] of Object.entries(record)) {
      assertDefinitionName(field, `${where} ${what}`);
      if (!['int', 'float', 'string', 'bool'].includes(type)) throw new SluiceError('DEFINITION_INVALID', `${where} ${what} "${field}": type ${JSON.stringify(type)} is not int, float, string or bool`);
    }
  };
  checkTypes(options.request ?? {}, 'request field');
  checkTypes(options.outputs, 'output');
  if (Object.keys(options.outputs).length === 0) throw new SluiceError('DEFINITION_INVALID', `${where}: no outputs`);
  for (const input of options.inputs ?? []) {
    if (input?.kind !== 'featureView') throw new SluiceError('DEFINITION_INVALID', `${where}: inputs must be feature views`);
  }
  return Object.freeze({
    kind: 'onDemand',
    name,
    inputs: Object.freeze([...(options.inputs ?? [])]),
    request: Object.freeze({ ...options.request }),
    outputs: Object.freeze({ ...options.outputs }),
    fn: options.fn,
    description: options.description,
  });
}

/** Some features of a view: `select(view, ['a', 'b'])`. */
export interface FeatureSelection {
  readonly kind: 'featureSelection';
  readonly view: FeatureView;
  readonly features: readonly string[];
}

export function select(view: FeatureView, features: readonly string[]): FeatureSelection {
  for (const feature of features) {
    if (!view.features.includes(feature)) {
      throw new SluiceError('DEFINITION_INVALID', `feature view "${view.name}" has no feature "${feature}"; it has ${view.features.join(', ')}`);
    }
  }
  return Object.freeze({ kind: 'featureSelection', view, features: Object.freeze([...features]) });
}

export type ServiceMember = FeatureView | FeatureSelection | OnDemandFeature;

/** One feature of a service, resolved: where its value comes from. */
export type ServiceFeature =
  | { readonly kind: 'view'; readonly name: string; readonly view: FeatureView }
  | { readonly kind: 'onDemand'; readonly name: string; readonly onDemand: OnDemandFeature; readonly type: ValueType };

export interface FeatureService<N extends string = string> {
  readonly kind: 'featureService';
  readonly name: N;
  /** The features a model receives, in order; names are unique within a service. */
  readonly features: readonly ServiceFeature[];
  /** Every view the service reads: its own and those its on-demand features read. */
  readonly views: readonly FeatureView[];
  /** Per view, the features fetched (the service's own plus those on-demand features read). */
  readonly fetched: ReadonlyMap<string, readonly string[]>;
  readonly onDemand: readonly OnDemandFeature[];
  /** Request fields the on-demand features need. */
  readonly request: Readonly<Record<string, ValueType>>;
  /** Entity key columns a lookup must give, over all views. */
  readonly keys: readonly { readonly name: string; readonly type: KeyType }[];
  readonly description: string | undefined;
  /** `pii: 'forbidden'`: no feature of this service may carry unprotected personal data (checked before runs and serving). */
  readonly piiForbidden?: boolean | undefined;
}

export function featureService<const N extends string>(name: N, options: { features: readonly ServiceMember[]; description?: string; pii?: 'forbidden' }): FeatureService<N> {
  assertDefinitionName(name, 'feature service');
  const where = `feature service "${name}"`;
  const features: ServiceFeature[] = [];
  const views = new Map<string, FeatureView>();
  const fetched = new Map<string, Set<string>>();
  const onDemand: OnDemandFeature[] = [];
  const request: Record<string, ValueType> = {};
  const names = new Set<string>();
  const addName = (feature: string): void => {
    if (names.has(feature)) throw new SluiceError('DEFINITION_INVALID', `${where}: two features are named "${feature}"; a service's feature names must be unique (select() fewer features of one view)`);
    names.add(feature);
  };
  const useView = (view: FeatureView, selected: readonly string[]): void => {
    const known = views.get(view.name);
    if (known !== undefined && known !== view) throw new SluiceError('DEFINITION_INVALID', `${where}: two different feature views are named "${view.name}"`);
    views.set(view.name, view);
    const set = fetched.get(view.name) ?? new Set<string>();
    for (const feature of selected) set.add(feature);
    fetched.set(view.name, set);
  };
  for (const member of options.features) {
    if (member?.kind === 'featureView' || member?.kind === 'featureSelection') {
      const view = member.kind === 'featureView' ? member : member.view;
      const selected = member.kind === 'featureView' ? member.features : member.features;
      useView(view, selected);
      for (const feature of selected) {
        addName(feature);
        features.push(Object.freeze({ kind: 'view', name: feature, view }));
      }
    } else if (member?.kind === 'onDemand') {
      onDemand.push(member);
      for (const input of member.inputs) useView(input, input.features);
      for (const [field, type] of Object.entries(member.request)) {
        const previous = request[field];
        if (previous !== undefined && previous !== type) throw new SluiceError('DEFINITION_INVALID', `${where}: request field "${field}" is ${previous} in one on-demand feature and ${type} in another`);
        request[field] = type;
      }
      for (const [output, type] of Object.entries(member.outputs)) {
        addName(output);
        features.push(Object.freeze({ kind: 'onDemand', name: output, onDemand: member, type }));
      }
    } else {
      throw new SluiceError('DEFINITION_INVALID', `${where}: features must be feature views, select(view, [...]) or on-demand features`);
    }
  }
  if (features.length === 0) throw new SluiceError('DEFINITION_INVALID', `${where}: no features`);
  const keys = new Map<string, KeyType>();
  for (const view of views.values()) {
    for (const key of view.entity.keys) {
      const previous = keys.get(key.name);
      if (previous !== undefined && previous !== key.type) throw new SluiceError('DEFINITION_INVALID', `${where}: key "${key.name}" is ${previous} in one entity and ${key.type} in another`);
      keys.set(key.name, key.type);
    }
  }
  for (const field of Object.keys(request)) {
    if (keys.has(field)) throw new SluiceError('DEFINITION_INVALID', `${where}: request field "${field}" has the name of an entity key`);
  }
  return Object.freeze({
    kind: 'featureService',
    name,
    features: Object.freeze(features),
    views: Object.freeze([...views.values()]),
    fetched: new Map([...fetched].map(([view, set]) => [view, Object.freeze([...set])])),
    onDemand: Object.freeze(onDemand),
    request: Object.freeze(request),
    keys: Object.freeze([...keys].map(([key, type]) => Object.freeze({ name: key, type }))),
    description: options.description,
    ...(options.pii === 'forbidden' ? { piiForbidden: true } : {}),
  });
}

function assertDefinitionName(value: string, what: string): void {
  if (typeof value !== 'string' || !isValidName(value)) {
    throw new SluiceError('DEFINITION_INVALID', `${what} name ${JSON.stringify(value)} is not allowed: use letters, digits and underscores, starting with a letter`);
  }
}
