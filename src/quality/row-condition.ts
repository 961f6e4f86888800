// GX conditional expectations: `row_condition` narrows the rows an expectation sees. Rendered as SQL over the
// relation's columns; an expectation with a condition validates `(SELECT * FROM relation WHERE condition)`.
import { parseRowCondition, type RowConditionAst } from '../define/expect.ts';
import type { ColumnLookup } from './columns.ts';
import { sqlLiteral } from './values.ts';

const SQL_OPERATORS = { '==': '=', '!=': '<>', '>': '>', '<': '<', '>=': '>=', '<=': '<=' } as const;

function render(ast: RowConditionAst, columns: ColumnLookup): string {
  switch (ast.kind) {
    case 'compare':
      return ast.value === null
        ? `${columns.ident(ast.column)} IS ${ast.op === '!=' ? 'NOT ' : ''}NULL`
        : `${columns.ident(ast.column)} ${SQL_OPERATORS[ast.op]} ${sqlLiteral(ast.value)}`;
    case 'notnull': return `${columns.ident(ast.column)} IS NOT NULL`;
    case 'isnull': return `${columns.ident(ast.column)} IS NULL`;
    case 'and': return `(${render(ast.left, columns)} AND ${render(ast.right, columns)})`;
    case 'or': return `(${render(ast.left, columns)} OR ${render(ast.right, columns)})`;
    case 'not': return `NOT coalesce(${render(ast.operand, columns)}, FALSE)`;
  }
}

interface Conditional {
  readonly row_condition?: string | undefined;
  readonly condition_parser?: string | undefined;
}

/** The SQL of an expectation's row_condition, or null without one. */
export function conditionSql(kwargs: Conditional, columns: ColumnLookup): string | null {
  if (kwargs.row_condition === undefined) return null;
  return kwargs.condition_parser === 'sql' ? `(${kwargs.row_condition})` : render(parseRowCondition(kwargs.row_condition), columns);
}

/** The relation an expectation validates: the relation itself, or its rows that satisfy the row_condition. */
export function conditionedRelation(relation: string, kwargs: Conditional, columns: ColumnLookup): string {
  const condition = conditionSql(kwargs, columns);
  return condition === null ? relation : `(SELECT * FROM ${relation} WHERE coalesce(${condition}, FALSE))`;
}
