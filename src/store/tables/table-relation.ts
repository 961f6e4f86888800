// SQL over a table version's partitions, by column name: each partition's files are read with their own
// schema and projected onto the version's table schema (a cast where a column was widened, NULL where a
// partition lacks a column), so partitions written with columns in another order, or before a column was
// added, stack correctly. The partition column comes from the partition key: a DATE (daily), a TIMESTAMP
// (hourly, `2026-01-01T05`), the key itself (static, dynamic text), or the key cast to a dynamic column's integer type.
import { quoteIdent, quoteList, quoteLiteral } from '../../sql/identifiers.ts';
import { canonicalType } from '../../sql/types.ts';
import type { ColumnSchema, Manifest, PartitionEntry } from './manifest.ts';
import type { TableStore } from './table-store.ts';

/** The file-name column read_parquet adds, named so no data column collides with it. */
const FILE_COLUMN = '__sluice_file';

/** A relation over the given partitions of a version (every partition when `keys` is omitted). */
export function tableRelation(tables: TableStore, manifest: Manifest, keys?: readonly string[]): string {
  const column = manifest.partitionColumn;
  const wanted = (keys ?? Object.keys(manifest.partitions))
    .filter((key) => Object.hasOwn(manifest.partitions, key) && (manifest.partitions[key]?.files.length ?? 0) > 0);
  if (wanted.length === 0) {
    const columns = manifest.schema.map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`);
    return `SELECT ${columns.join(', ')} WHERE false`;
  }
  // Partitions sharing a file schema are read in one read_parquet; the key comes back from the file's folder.
  const groups = new Map<string, PartitionEntry[]>();
  for (const key of wanted) {
    const entry = manifest.partitions[key] as PartitionEntry;
    const signature = JSON.stringify(entry.schema);
    const group = groups.get(signature);
    if (group === undefined) groups.set(signature, [entry]);
    else group.push(entry);
  }
  const selects: string[] = [];
  for (const entries of groups.values()) {
    const fileColumns = new Map((entries[0]?.schema ?? []).map((c) => [c.name, c.type]));
    const projection = manifest.schema.map((c) => project(c, column === null ? [] : column.split('/'), fileColumns));
    const files = tables.files(manifest, entries.map((e) => e.key));
    const options = column === null ? '' : `, filename = ${quoteLiteral(FILE_COLUMN)}`;
    selects.push(`SELECT ${projection.join(', ')} FROM read_parquet(${quoteList(files)}, hive_partitioning = false, union_by_name = true${options})`);
  }
  return selects.join(' UNION ALL ');
}

function project(target: ColumnSchema, partitionColumns: readonly string[], fileColumns: ReadonlyMap<string, string>): string {
  const name = quoteIdent(target.name);
  if (partitionColumns.includes(target.name)) {
    // `.../<column>=<key>/part-<sha256>.parquet` (two dimensions: `<c1>=<k1>/<c2>=<k2>/part-...`): the value is
    // the folder name after '='; a level nearer the file comes after it.
    const depth = partitionColumns.length - 1 - partitionColumns.indexOf(target.name);
    const pattern = quoteLiteral(`${escapeRegex(target.name)}=([^/\\\\]+)[/\\\\](?:[^/\\\\]+[/\\\\]){${depth}}[^/\\\\]+$`);
    const key = `regexp_extract(${quoteIdent(FILE_COLUMN)}, ${pattern}, 1)`;
    return `${keyToValue(key, target.type)} AS ${name}`;
  }
  const type = fileColumns.get(target.name);
  if (type === undefined) return `CAST(NULL AS ${target.type}) AS ${name}`;
  return canonicalType(type) === canonicalType(target.type) ? name : `CAST(${name} AS ${target.type}) AS ${name}`;
}

/** A partition key (`2026-01-01`, `2026-01-01T05`, `eu`) as the partition column's value, by the column's type. */
function keyToValue(key: string, type: string): string {
  const base = canonicalType(type);
  if (base === 'DATE') return `CAST(${key} AS DATE)`;
  if (base === 'TIMESTAMP') return `strptime(${key}, '%Y-%m-%dT%H')`;
  // A dynamic partition column keeps its type (an integer key is read back as the integer).
  return base === 'VARCHAR' ? key : `CAST(${key} AS ${base})`;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
