// The columns of the relation under validation (read once with DESCRIBE), resolved the way DuckDB resolves
// identifiers: exactly, else case-insensitively when that is unambiguous.
import type { ColumnInfo } from '../engine/engine.ts';
import { SluiceError } from '../errors.ts';
import { quoteIdent } from '../sql/identifiers.ts';
import type { AnyValidExpectation } from '../define/expect.ts';

export class ColumnLookup {
  readonly list: readonly ColumnInfo[];
  readonly #exact: Map<string, ColumnInfo>;
  readonly #folded: Map<string, ColumnInfo[]>;

  constructor(columns: readonly (ColumnInfo | string)[]) {
    this.list = columns.map((c) => (typeof c === 'string' ? { name: c, type: 'UNKNOWN' } : c));
    this.#exact = new Map(this.list.map((c) => [c.name, c]));
    this.#folded = new Map();
    for (const c of this.list) {
      const key = c.name.toLowerCase();
      this.#folded.set(key, [...(this.#folded.get(key) ?? []), c]);
    }
  }

  get(name: string): ColumnInfo | undefined {
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    const folded = this.#folded.get(name.toLowerCase());
    return folded?.length === 1 ? folded[0] : undefined;
  }

  /** The column, or an error naming it and the columns that exist. */
  require(name: string): ColumnInfo {
    const column = this.get(name);
    if (column === undefined) {
      throw new SluiceError('DEFINITION_INVALID', `column "${name}" does not exist; the columns are: ${this.list.map((c) => c.name).join(', ') || '(none)'}`, { column: name });
    }
    return column;
  }

  /** The quoted identifier of a column that must exist. */
  ident(name: string): string {
    return quoteIdent(this.require(name).name);
  }

  type(name: string): string {
    return this.require(name).type;
  }
}

/** The relation columns an expectation reads (a missing one makes that expectation an exception result). */
export function referencedColumns(e: AnyValidExpectation): string[] {
  if (e.type === 'expect_column_to_exist' || e.type === 'expect_table_columns_to_match_ordered_list') return [];
  const k = e.kwargs as Record<string, unknown>;
  const names: string[] = [];
  for (const key of ['column', 'column_A', 'column_B']) if (typeof k[key] === 'string') names.push(k[key]);
  if (Array.isArray(k['column_list'])) names.push(...(k['column_list'] as string[]));
  return names;
}
