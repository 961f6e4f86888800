// A step's column lineage, at the moment its SQL and inputs are known: DuckDB's parse tree of the SQL, the
// columns of each input relation (the temp views `ref()` named), analysed by sql/column-lineage.ts.
import type { Session } from '../engine/engine.ts';
import { errorMessage } from '../errors.ts';
import { analyseColumnLineage, type ColumnLineageResult, type LineageInput } from '../sql/column-lineage.ts';
import { quoteIdent } from '../sql/identifiers.ts';

/** The input relations a step's SQL reads: the relation name it uses and the dataset behind it. */
export interface LineageRelation {
  readonly view: string;
  readonly dataset: string;
}

// DuckDB's aggregate functions are the same for every connection of this process (macros aside).
let aggregateNames: Promise<ReadonlySet<string>> | undefined;

function aggregates(session: Session): Promise<ReadonlySet<string>> {
  aggregateNames ??= session.query<{ name: string }>("SELECT DISTINCT lower(function_name) AS name FROM duckdb_functions() WHERE function_type = 'aggregate'")
    .then((rows) => new Set(rows.map((r) => r.name)));
  void aggregateNames.catch(() => { aggregateNames = undefined; });
  return aggregateNames;
}

/** The parse tree of a SELECT as DuckDB gives it; a failure becomes a tree the analysis records as unresolved. */
export async function parseTree(session: Session, sql: string): Promise<unknown> {
  try {
    const [row] = await session.query<{ tree: string }>('SELECT json_serialize_sql(?::VARCHAR) AS tree', [sql]);
    return JSON.parse(row?.tree ?? '{}') as unknown;
  } catch (error) {
    return { error: true, error_message: errorMessage(error) };
  }
}

/**
 * Which input columns each output column comes from. Reads the relations' columns from the session (they must
 * exist); an input whose columns cannot be read counts as having none, and what reads it is unresolved.
 */
export async function stepColumnLineage(session: Session, sql: string, relations: readonly LineageRelation[], output: readonly string[]): Promise<ColumnLineageResult> {
  const inputs: LineageInput[] = [];
  for (const relation of relations) {
    const columns = await session.describe(quoteIdent(relation.view)).then((cs) => cs.map((c) => c.name), () => []);
    inputs.push({ relation: relation.view, dataset: relation.dataset, columns });
  }
  return analyseColumnLineage({ tree: await parseTree(session, sql), inputs, output, aggregates: await aggregates(session) });
}
