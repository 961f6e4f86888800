// Where a feature view's rows come from: the latest version of its asset, checked against the view (key,
// timestamp and feature columns exist, keys have the entity's types) before any query runs.
import type { FeatureView } from '../define/features.ts';
import type { ColumnInfo, Session } from '../engine/engine.ts';
import { SluiceError } from '../errors.ts';
import { manifestFor, relationFor } from '../batch/inspect.ts';
import type { Workspace } from '../workspace.ts';

export interface ViewSource {
  readonly view: FeatureView;
  /** A SELECT over the asset's latest version. */
  readonly relation: string;
  readonly asset: string;
  readonly version: number;
  readonly columns: readonly ColumnInfo[];
}

const INTEGER_TYPES = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;
const TIME_TYPES = /^(DATE|TIMESTAMP|TIMESTAMP WITH TIME ZONE|TIMESTAMP_S|TIMESTAMP_MS|TIMESTAMP_NS)$/;

/** The columns a view reads from its source. */
export function viewColumns(view: FeatureView): string[] {
  const columns = [...view.entity.keys.map((k) => k.name), view.timestamp];
  if (view.type === 'columns') {
    columns.push(...view.features);
    if (view.tieBreaker !== undefined) columns.push(view.tieBreaker);
  } else {
    for (const aggregation of view.aggregations) if (aggregation.column !== undefined) columns.push(aggregation.column);
  }
  return [...new Set(columns)];
}

/** The view's source at its asset's latest version, or at `version` (time travel, for pinned training sets). */
export async function openViewSource(ws: Workspace, session: Session, view: FeatureView, version?: number): Promise<ViewSource> {
  let found;
  try {
    found = await manifestFor(ws, view.source, version);
  } catch (error) {
    if (error instanceof SluiceError && error.code === 'VERSION_NOT_FOUND' && version !== undefined) {
      throw new SluiceError('VERSION_NOT_FOUND', `feature view "${view.name}" reads asset "${view.source}" at version ${version}: ${error.message}`, { view: view.name, asset: view.source, version });
    }
    if (error instanceof SluiceError && error.code === 'VERSION_NOT_FOUND') {
      throw new SluiceError('VERSION_NOT_FOUND', `feature view "${view.name}" reads asset "${view.source}", which has no version yet: run \`sluice run ${view.source}\``, { view: view.name, asset: view.source });
    }
    throw error;
  }
  const relation = relationFor(ws, found.manifest);
  const columns = await session.describe(relation);
  checkViewColumns(view, view.source, columns);
  return { view, relation, asset: view.source, version: found.manifest.version, columns };
}

/** Throws naming the view, the asset and the column when the source does not fit the view. */
export function checkViewColumns(view: FeatureView, asset: string, columns: readonly ColumnInfo[]): void {
  const types = new Map(columns.map((c) => [c.name, c.type]));
  const where = `feature view "${view.name}" (asset "${asset}")`;
  for (const column of viewColumns(view)) {
    if (!types.has(column)) {
      throw new SluiceError('SOURCE_SCHEMA', `${where}: column "${column}" is not in the asset; its columns are ${columns.map((c) => c.name).join(', ')}`, { view: view.name, asset, column });
    }
  }
  for (const key of view.entity.keys) {
    const type = types.get(key.name) as string;
    const fits = key.type === 'int' ? INTEGER_TYPES.test(type) : type === 'VARCHAR';
    if (!fits) {
      throw new SluiceError('SOURCE_SCHEMA', `${where}: key column "${key.name}" is ${type}, but entity "${view.entity.name}" declares it ${key.type === 'int' ? 'an integer' : 'a string (VARCHAR)'}`, { view: view.name, asset, column: key.name });
    }
  }
  const timeType = types.get(view.timestamp) as string;
  if (!TIME_TYPES.test(timeType)) {
    throw new SluiceError('SOURCE_SCHEMA', `${where}: timestamp column "${view.timestamp}" is ${timeType}; it must be a DATE or TIMESTAMP`, { view: view.name, asset, column: view.timestamp });
  }
}
