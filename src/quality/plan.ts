// The contract between the compiler (validate.ts) and each expectation's implementation: an implementation
// registers the aggregates it needs on the shared pass, and returns a `finish` step that reads them (and,
// only when it must, issues its own queries) to produce the GX result.
import type { ColumnInfo, Row } from '../engine/engine.ts';
import type { ExpectationType, Kwargs, ValidExpectation } from '../define/expect.ts';
import type { QuerySession } from './aggregate-pass.ts';
import type { ColumnLookup } from './columns.ts';
import type { ResultFormat } from './result-format.ts';
import type { RuleScope } from './row-rules.ts';
import type { ExpectationResultDetail, QualityContext } from './types.ts';

export interface PlanEnv {
  readonly session: QuerySession;
  readonly relation: string;
  readonly columns: ColumnLookup;
  readonly context: QualityContext;
  readonly now: Date;
  /** The columns of another relation (cached), e.g. the other table of a referential-integrity check. */
  describe(relation: string): Promise<readonly ColumnInfo[]>;
  /** An ORDER BY expression giving the relation's row order (rowid for tables), or null for its natural order. */
  rowOrder(): Promise<string | null>;
  /** Run a follow-up query (counted with the others). */
  query(sql: string): Promise<Row[]>;
}

export interface PlanInput<T extends ExpectationType> {
  readonly expectation: ValidExpectation<T>;
  readonly kwargs: Kwargs<T>;
  readonly env: PlanEnv;
  readonly format: ResultFormat;
  /** Register an aggregate expression on the one pass; the getter returns its value once the pass ran. */
  readonly aggregate: (sql: string) => () => unknown;
  readonly scope: RuleScope;
}

export interface Outcome {
  readonly success: boolean;
  readonly result: ExpectationResultDetail;
}

export type Finish = () => Promise<Outcome>;

export type Planner<T extends ExpectationType> = (input: PlanInput<T>) => Finish | Promise<Finish>;

export type Planners = { readonly [T in ExpectationType]: Planner<T> };
