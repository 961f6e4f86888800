// Schema evolution: the difference between a table's schema and a commit's, by column name (never by
// position), and the table schema after the commit under the asset's policy.
import { SluiceError } from '../../errors.ts';
import { canonicalType, widensTo } from '../../sql/types.ts';
import type { ColumnSchema, SchemaChange } from './manifest.ts';

/**
 * evolve (default): added columns and widenings are accepted and recorded; removed or retyped columns are
 * refused. strict: any difference is refused. Either way `allowBreaking` accepts the refused ones, recorded
 * as breaking.
 */
export type SchemaPolicy = 'evolve' | 'strict';

export interface SchemaDecision {
  readonly changes: readonly SchemaChange[];
  /** The table's schema after the commit. */
  readonly schema: readonly ColumnSchema[];
}

/** Compare a commit's columns with the table's; `table` undefined (a first commit) changes nothing. */
export function diffSchema(table: readonly ColumnSchema[] | undefined, commit: readonly ColumnSchema[]): SchemaDecision {
  if (table === undefined) return { changes: [], schema: commit.map((c) => ({ name: c.name, type: c.type })) };
  const incoming = new Map(commit.map((c) => [c.name, c.type]));
  const changes: SchemaChange[] = [];
  const schema: ColumnSchema[] = [];
  for (const column of table) {
    const type = incoming.get(column.name);
    if (type === undefined) {
      changes.push({ column: column.name, change: 'removed', from: column.type, to: null, breaking: true });
      schema.push(column);
    } else if (canonicalType(type) === canonicalType(column.type)) {
      schema.push(column);
    } else if (widensTo(column.type, type)) {
      changes.push({ column: column.name, change: 'widened', from: column.type, to: type, breaking: false });
      schema.push({ name: column.name, type });
    } else if (widensTo(type, column.type)) {
      changes.push({ column: column.name, change: 'narrowed', from: column.type, to: type, breaking: false });
      schema.push(column);
    } else {
      changes.push({ column: column.name, change: 'retyped', from: column.type, to: type, breaking: true });
      schema.push({ name: column.name, type });
    }
  }
  const known = new Set(table.map((c) => c.name));
  for (const column of commit) {
    if (known.has(column.name)) continue;
    changes.push({ column: column.name, change: 'added', from: null, to: column.type, breaking: false });
    schema.push({ name: column.name, type: column.type });
  }
  return { changes, schema };
}

/** Throw SCHEMA_CHANGE naming every refused change and the way to accept it; otherwise return the decision. */
export function applySchemaPolicy(
  decision: SchemaDecision,
  policy: SchemaPolicy,
  allowBreaking: boolean,
  where: { asset: string; partition: string; version: number | null },
): SchemaDecision {
  const refused = decision.changes.filter((c) => c.breaking || policy === 'strict');
  if (refused.length === 0 || allowBreaking) {
    return { ...decision, changes: decision.changes.map((c) => (refused.includes(c) ? { ...c, breaking: true } : c)) };
  }
  const at = where.partition === '' ? '' : ` partition ${where.partition}`;
  const rule = policy === 'strict' ? "its schema is 'strict'" : 'only added columns and widened types are accepted';
  throw new SluiceError(
    'SCHEMA_CHANGE',
    `asset "${where.asset}"${at} would change the table's schema (version ${where.version ?? 0}) and ${rule}: ${refused.map(describeChange).join('; ')}. ` +
      'Nothing was published. Fix the SQL, or accept the change with `sluice run --allow-schema-change` (recorded as breaking; rebuild older partitions after a retype)' +
      (policy === 'strict' ? ", or set schema: 'evolve' on the asset" : ''),
    { asset: where.asset, partition: where.partition, column: refused[0]?.column, changes: refused },
  );
}

export function describeChange(change: SchemaChange): string {
  switch (change.change) {
    case 'added': return `column "${change.column}" added (${change.to ?? ''})`;
    case 'removed': return `column "${change.column}" (${change.from ?? ''}) missing`;
    case 'widened': return `column "${change.column}" widened ${change.from ?? ''} -> ${change.to ?? ''}`;
    case 'narrowed': return `column "${change.column}" written as ${change.to ?? ''}, table type ${change.from ?? ''}`;
    case 'retyped': return `column "${change.column}" changed type ${change.from ?? ''} -> ${change.to ?? ''}`;
  }
}
