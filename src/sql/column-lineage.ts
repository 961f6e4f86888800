// Column-level lineage of one SELECT: which input columns each output column comes from, and how, read from
// DuckDB's parse tree (`json_serialize_sql`). Pure: the caller supplies the tree, the input relations' columns,
// the output's column names and DuckDB's aggregate function names. What cannot be resolved depends on everything.

/** How an output column depends on an input column. `filter` and `join` decide which rows exist. */
export type ColumnLineageKind = 'direct' | 'expression' | 'window' | 'aggregate' | 'filter' | 'join' | 'unresolved';
export const COLUMN_LINEAGE_KINDS: readonly ColumnLineageKind[] = ['direct', 'expression', 'window', 'aggregate', 'filter', 'join', 'unresolved'];

/** The column name that stands for "the rows of a dataset", as `count(*)` reads them. */
export const ROWS_COLUMN = '*';

/** The kinds through which a column's values flow (filter and join kinds only decide which rows exist). */
export const VALUE_KINDS: ReadonlySet<ColumnLineageKind> = new Set(['direct', 'expression', 'window', 'aggregate', 'unresolved']);

export interface ColumnSource {
  readonly dataset: string;
  readonly column: string;
  readonly kind: ColumnLineageKind;
}

export interface OutputColumnLineage {
  readonly column: string;
  readonly inputs: readonly ColumnSource[];
}

/** A relation the SQL reads (the name `ref()` gave it), the dataset behind it, and its columns. */
export interface LineageInput {
  readonly relation: string;
  readonly dataset: string;
  readonly columns: readonly string[];
}

export interface ColumnLineageRequest {
  /** The parsed output of `json_serialize_sql(sql)`. */
  readonly tree: unknown;
  readonly inputs: readonly LineageInput[];
  /** The query's output column names, in order (from DESCRIBE). */
  readonly output: readonly string[];
  /** DuckDB's aggregate function names (lower case). */
  readonly aggregates: ReadonlySet<string>;
}

export interface ColumnLineageResult {
  readonly columns: readonly OutputColumnLineage[];
  /** Why some dependency was recorded as `unresolved` (empty when everything resolved). */
  readonly unresolved: readonly string[];
}

type Json = Record<string, unknown>;
type Dep = ColumnSource;
interface Col { readonly name: string | null; readonly deps: readonly Dep[] }
interface Rel {
  readonly columns: readonly Col[];
  /** What decides the relation's rows: filter and join dependencies. */
  readonly rows: readonly Dep[];
  /** Datasets whose rows the relation carries (what `count(*)` counts). */
  readonly sources: readonly string[];
  /** False for a relation whose columns are not known (a table function, an unknown table). */
  readonly known: boolean;
}
interface Binding { readonly alias: string; readonly rel: Rel }
/** A FROM clause: its bindings, what `*` yields, the USING columns merged, and its rows. */
interface From {
  readonly bindings: readonly Binding[];
  readonly star: readonly { readonly alias: string; readonly col: Col }[];
  readonly merged: ReadonlyMap<string, Col>;
  readonly rows: readonly Dep[];
  readonly sources: readonly string[];
}
interface Scope {
  readonly from: From;
  readonly parent: Scope | undefined;
  /** Select-list aliases (DuckDB lets WHERE, GROUP BY, HAVING, QUALIFY and later items use them). */
  readonly aliases: ReadonlyMap<string, readonly Dep[]>;
  /** Lambda parameters: names that are not columns. */
  readonly locals: ReadonlySet<string>;
}
interface Env { readonly ctes: ReadonlyMap<string, Rel>; readonly outer: Scope | undefined }

const RANK: Record<ColumnLineageKind, number> = { direct: 0, expression: 1, window: 2, aggregate: 3, unresolved: 4, filter: -1, join: -1 };
const EMPTY_FROM: From = { bindings: [], star: [], merged: new Map(), rows: [], sources: [] };

const obj = (value: unknown): Json => (typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Json : {});
const arr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const str = (value: unknown): string => (typeof value === 'string' ? value : '');
const lower = (name: string): string => name.toLowerCase();

/** Raise value dependencies to at least `kind` (an aggregate of an expression is an aggregate); filter and join stay. */
function raise(deps: readonly Dep[], kind: ColumnLineageKind): Dep[] {
  return deps.map((d) => (RANK[d.kind] < 0 || RANK[d.kind] >= RANK[kind] ? d : { ...d, kind }));
}
const as = (deps: readonly Dep[], kind: 'filter' | 'join'): Dep[] => deps.map((d) => ({ ...d, kind }));

/** One dependency per input column and role: value kinds merge to the strongest, filter and join are kept apart. */
function normalise(deps: readonly Dep[]): Dep[] {
  const byKey = new Map<string, Dep>();
  for (const dep of deps) {
    const role = RANK[dep.kind] < 0 ? dep.kind : 'value';
    const key = `${dep.dataset}\u0000${dep.column}\u0000${role}`;
    const seen = byKey.get(key);
    if (seen === undefined || RANK[dep.kind] > RANK[seen.kind]) byKey.set(key, dep);
  }
  return [...byKey.values()].sort(compareSources);
}

const order = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** The one order of a column's inputs: by dataset, column, kind. */
export function compareSources(a: ColumnSource, b: ColumnSource): number {
  return order(a.dataset, b.dataset) || order(a.column, b.column) || order(a.kind, b.kind);
}

/** Lineage of every output column of a SELECT. Never throws on an unexpected tree: it records `unresolved`. */
export function analyseColumnLineage(request: ColumnLineageRequest): ColumnLineageResult {
  return new Analysis(request).run();
}

class Analysis {
  readonly #request: ColumnLineageRequest;
  readonly #inputs: ReadonlyMap<string, LineageInput>;
  readonly #reasons = new Set<string>();

  constructor(request: ColumnLineageRequest) {
    this.#request = request;
    this.#inputs = new Map(request.inputs.map((i) => [lower(i.relation), i]));
  }

  run(): ColumnLineageResult {
    const tree = obj(this.#request.tree);
    const statements = arr(tree['statements']);
    let rel: Rel;
    if (tree['error'] === true) {
      rel = this.#unknownRel(`the SQL could not be parsed for lineage: ${str(tree['error_message']) || 'unknown error'}`);
    } else if (statements.length !== 1) {
      rel = this.#unknownRel(`the SQL has ${statements.length} statements, lineage reads one SELECT`);
    } else {
      rel = this.#query(obj(obj(statements[0])['node']), { ctes: new Map(), outer: undefined });
    }
    const output = this.#request.output;
    const positional = rel.known && rel.columns.length === output.length;
    const byName = new Map(rel.columns.flatMap((c) => (c.name === null ? [] : [[lower(c.name), c] as const])));
    const columns = output.map((name, i) => {
      const col = positional ? rel.columns[i] : byName.get(lower(name));
      const deps = col?.deps ?? this.#everything(rel.known ? `output column "${name}" was not found in the parse tree` : `output column "${name}" comes from a query sluice cannot read`);
      return { column: name, inputs: normalise([...deps, ...rel.rows]) };
    });
    return { columns, unresolved: [...this.#reasons] };
  }

  /** Every column of every input, unresolved: what an expression sluice cannot read may depend on. */
  #everything(reason: string): Dep[] {
    this.#reasons.add(reason);
    return this.#request.inputs.flatMap((input) => input.columns.map((column) => ({ dataset: input.dataset, column, kind: 'unresolved' as const })));
  }

  #unknownRel(reason: string): Rel {
    this.#reasons.add(reason);
    return { columns: [], rows: [], sources: this.#request.inputs.map((i) => i.dataset), known: false };
  }

  // ---- query nodes ----

  #query(node: Json, env: Env): Rel {
    const ctes = new Map(env.ctes);
    for (const entry of arr(obj(node['cte_map'])['map'])) {
      const cte = obj(entry);
      const value = obj(cte['value']);
      const rel = this.#query(obj(obj(value['query'])['node']), { ctes, outer: env.outer });
      ctes.set(lower(str(cte['key'])), renamed(rel, arr(value['aliases']).map(str)));
    }
    const inner: Env = { ctes, outer: env.outer };
    const type = str(node['type']);
    let rel: Rel;
    if (type === 'SELECT_NODE') return this.#select(node, inner);
    if (type === 'SET_OPERATION_NODE') rel = this.#setOperation(str(node['setop_type']), this.#query(obj(node['left']), inner), this.#query(obj(node['right']), inner));
    else if (type === 'RECURSIVE_CTE_NODE') {
      const left = this.#query(obj(node['left']), inner);
      const self = new Map(ctes).set(lower(str(node['cte_name'])), left);
      rel = this.#setOperation('UNION', left, this.#query(obj(node['right']), { ctes: self, outer: env.outer }));
    } else return this.#unknownRel(`query node ${type || '(none)'} is not understood by the lineage analysis`);
    return this.#modifiers(node, rel, { from: fromOf(rel), parent: env.outer, aliases: new Map(), locals: new Set() }, inner);
  }

  #setOperation(type: string, left: Rel, right: Rel): Rel {
    const rows = [...left.rows, ...right.rows];
    const sources = [...new Set([...left.sources, ...right.sources])];
    const known = left.known && right.known;
    if (type === 'UNION_BY_NAME') {
      const columns: Col[] = left.columns.map((c) => ({ name: c.name, deps: [...c.deps, ...(right.columns.find((r) => r.name !== null && c.name !== null && lower(r.name) === lower(c.name))?.deps ?? [])] }));
      for (const r of right.columns) if (!left.columns.some((c) => c.name !== null && r.name !== null && lower(c.name) === lower(r.name))) columns.push(r);
      return { columns, rows, sources, known };
    }
    if (type === 'UNION') return { columns: left.columns.map((c, i) => ({ name: c.name, deps: [...c.deps, ...(right.columns[i]?.deps ?? [])] })), rows, sources, known };
    // EXCEPT, INTERSECT: the values are the left side's; the right side decides which rows remain.
    return { columns: left.columns, rows: [...rows, ...as(right.columns.flatMap((c) => c.deps), 'filter')], sources: left.sources, known };
  }

  #select(node: Json, env: Env): Rel {
    const from = node['from_table'] === undefined || node['from_table'] === null ? EMPTY_FROM : this.#from(obj(node['from_table']), env);
    const aliases = new Map<string, readonly Dep[]>();
    const scope = (): Scope => ({ from, parent: env.outer, aliases, locals: new Set() });
    const columns: Col[] = [];
    for (const item of arr(node['select_list'])) {
      const e = obj(item);
      if (e['class'] === 'STAR') {
        columns.push(...(e['columns'] === true ? this.#columnsStar(e, scope(), env) : this.#star(e, scope(), env)));
        continue;
      }
      const deps = this.#expr(e, scope(), env);
      const names = arr(e['column_names']).map(str);
      const name = str(e['alias']) || (e['class'] === 'COLUMN_REF' ? names[names.length - 1] ?? null : null);
      columns.push({ name, deps });
      if (name !== null) aliases.set(lower(name), deps);
    }
    const all = scope();
    const rows = [
      ...from.rows,
      ...as(this.#exprOpt(node['where_clause'], all, env), 'filter'),
      ...as(this.#exprOpt(node['having'], all, env), 'filter'),
      ...as(this.#exprOpt(node['qualify'], all, env), 'filter'),
    ];
    return this.#modifiers(node, { columns, rows, sources: from.sources, known: true }, all, env);
  }

  /** ORDER BY with LIMIT, and DISTINCT ON, decide which rows remain. */
  #modifiers(node: Json, rel: Rel, scope: Scope, env: Env): Rel {
    const modifiers = arr(node['modifiers']).map(obj);
    const limited = modifiers.some((m) => m['type'] === 'LIMIT_MODIFIER' || m['type'] === 'LIMIT_PERCENT_MODIFIER');
    const deps: Dep[] = [];
    for (const m of modifiers) {
      if (m['type'] === 'DISTINCT_MODIFIER') deps.push(...arr(m['distinct_on_targets']).flatMap((t) => this.#expr(obj(t), scope, env)));
      if (m['type'] === 'ORDER_MODIFIER' && limited) deps.push(...arr(m['orders']).flatMap((o) => this.#expr(obj(obj(o)['expression']), scope, env)));
    }
    return deps.length === 0 ? rel : { ...rel, rows: [...rel.rows, ...as(deps, 'filter')] };
  }

  // ---- FROM ----

  #from(ref: Json, env: Env): From {
    const type = str(ref['type']);
    const alias = str(ref['alias']);
    const renames = arr(ref['column_name_alias']).map(str);
    const single = (name: string, rel: Rel): From => {
      const r = renamed(rel, renames);
      return { bindings: [{ alias: lower(name), rel: r }], star: r.columns.map((col) => ({ alias: lower(name), col })), merged: new Map(), rows: r.rows, sources: r.sources };
    };
    if (type === 'BASE_TABLE') {
      const table = str(ref['table_name']);
      const cte = env.ctes.get(lower(table));
      if (cte !== undefined) return single(alias || table, cte);
      const input = this.#inputs.get(lower(table));
      if (input !== undefined) {
        return single(alias || table, { columns: input.columns.map((column) => ({ name: column, deps: [{ dataset: input.dataset, column, kind: 'direct' }] })), rows: [], sources: [input.dataset], known: true });
      }
      return single(alias || table, this.#unknownRel(`table "${table}" is not an input of the step`));
    }
    if (type === 'SUBQUERY') return single(alias || 'unnamed_subquery', this.#query(obj(obj(ref['subquery'])['node']), env));
    if (type === 'EXPRESSION_LIST') {
      const scope: Scope = { from: EMPTY_FROM, parent: env.outer, aliases: new Map(), locals: new Set() };
      const rowsOfValues = arr(ref['values']).map((row) => arr(row).map((e) => this.#expr(obj(e), scope, env)));
      const width = rowsOfValues[0]?.length ?? 0;
      const columns = Array.from({ length: width }, (_, i) => ({ name: `col${i}`, deps: rowsOfValues.flatMap((row) => row[i] ?? []) }));
      return single(alias || 'valueslist', { columns, rows: [], sources: [], known: true });
    }
    if (type === 'EMPTY') return EMPTY_FROM;
    if (type === 'JOIN') return this.#join(ref, env);
    return single(alias || type, this.#unknownRel(`FROM ${type || '(none)'} is not understood by the lineage analysis`));
  }

  #join(ref: Json, env: Env): From {
    const left = this.#from(obj(ref['left']), env);
    // A lateral subquery on the right may read the left side's columns.
    const right = this.#from(obj(ref['right']), { ctes: env.ctes, outer: { from: left, parent: env.outer, aliases: new Map(), locals: new Set() } });
    const joinType = str(ref['join_type']);
    const refType = str(ref['ref_type']);
    const both: From = {
      bindings: [...left.bindings, ...right.bindings],
      star: [...left.star, ...right.star],
      merged: new Map([...left.merged, ...right.merged]),
      rows: [...left.rows, ...right.rows],
      sources: [...new Set([...left.sources, ...right.sources])],
    };
    const scope: Scope = { from: both, parent: env.outer, aliases: new Map(), locals: new Set() };
    const joinDeps: Dep[] = [...this.#exprOpt(ref['condition'], scope, env)];
    let using = arr(ref['using_columns']).map(str);
    if (refType === 'NATURAL') {
      const rightNames = new Set(right.star.flatMap((s) => (s.col.name === null ? [] : [lower(s.col.name)])));
      using = left.star.flatMap((s) => (s.col.name !== null && rightNames.has(lower(s.col.name)) ? [s.col.name] : []));
    }
    const merged = new Map(both.merged);
    // The USING column takes the left side's place in `*` (the right side's when only it has one); the other copy goes.
    const replace = new Map<Col, Col | null>();
    for (const name of using) {
      const l = lookupStar(left, name)?.col;
      const r = lookupStar(right, name)?.col;
      joinDeps.push(...(l?.deps ?? []), ...(r?.deps ?? []));
      const deps = joinType === 'RIGHT' ? r?.deps ?? [] : joinType === 'FULL' || joinType === 'OUTER' ? raise([...(l?.deps ?? []), ...(r?.deps ?? [])], 'expression') : l?.deps ?? r?.deps ?? [];
      const col: Col = { name: l?.name ?? r?.name ?? name, deps };
      merged.set(lower(name), col);
      if (l !== undefined) replace.set(l, col);
      if (r !== undefined) replace.set(r, l === undefined ? col : null);
    }
    const mergedStar = both.star.flatMap((s) => {
      const m = replace.get(s.col);
      if (m === undefined) return [s];
      return m === null ? [] : [{ alias: s.alias, col: m }];
    });
    const semi = joinType === 'SEMI' || joinType === 'ANTI';
    return {
      bindings: semi ? left.bindings : both.bindings,
      star: semi ? left.star : mergedStar,
      merged: semi ? left.merged : merged,
      rows: [...both.rows, ...as(joinDeps, 'join')],
      sources: semi ? left.sources : both.sources,
    };
  }

  // ---- select-list stars ----

  #star(e: Json, scope: Scope, env: Env): Col[] {
    const relation = lower(str(e['relation_name']));
    let cols = relation === ''
      ? scope.from.star.map((s) => s.col)
      : scope.from.bindings.find((b) => b.alias === relation)?.rel.columns ?? [];
    if (relation !== '' && !scope.from.bindings.some((b) => b.alias === relation && b.rel.known)) {
      return [{ name: null, deps: this.#everything(`${relation}.* reads a relation sluice does not know`) }];
    }
    if (relation === '' && scope.from.bindings.some((b) => !b.rel.known)) {
      return [{ name: null, deps: this.#everything('SELECT * over a relation sluice does not know') }];
    }
    const excluded = new Set([...arr(e['exclude_list']).map((x) => lower(str(x))), ...arr(e['qualified_exclude_list']).map((x) => lower(str(obj(x)['column'])))]);
    const replaced = new Map(arr(e['replace_list']).map((x) => [lower(str(obj(x)['key'])), obj(obj(x)['value'])] as const));
    const renames = new Map(arr(e['rename_list']).map((x) => [lower(str(obj(obj(x)['key'])['column'])), str(obj(x)['value'])] as const));
    cols = cols.filter((c) => c.name === null || !excluded.has(lower(c.name)));
    return cols.map((c) => {
      const key = c.name === null ? '' : lower(c.name);
      const replacement = replaced.get(key);
      const deps = replacement === undefined ? c.deps : this.#expr(replacement, scope, env);
      return { name: renames.get(key) ?? c.name, deps };
    });
  }

  /** `COLUMNS('regex')` picks the matching columns; any other COLUMNS(...) is taken as all of them, unresolved. */
  #columnsStar(e: Json, scope: Scope, env: Env): Col[] {
    const pattern = obj(e['expr']);
    const value = obj(pattern['value'])['value'];
    if (pattern['class'] === 'CONSTANT' && typeof value === 'string') {
      let regex: RegExp | undefined;
      try {
        regex = new RegExp(value);
      } catch {
        regex = undefined;
      }
      if (regex !== undefined) return this.#star({ ...e, columns: false }, scope, env).filter((c) => c.name !== null && regex.test(c.name));
    }
    if (e['expr'] === null || e['expr'] === undefined) return this.#star({ ...e, columns: false }, scope, env);
    return [{ name: null, deps: this.#everything('COLUMNS(...) with an expression sluice cannot evaluate') }];
  }

  // ---- expressions ----

  #exprOpt(value: unknown, scope: Scope, env: Env): Dep[] {
    return value === null || value === undefined ? [] : this.#expr(obj(value), scope, env);
  }

  #all(values: unknown, scope: Scope, env: Env): Dep[] {
    return arr(values).flatMap((v) => this.#exprOpt(v, scope, env));
  }

  #expr(e: Json, scope: Scope, env: Env): Dep[] {
    const kind = str(e['class']);
    switch (kind) {
      case 'COLUMN_REF':
        return this.#column(arr(e['column_names']).map(str), scope);
      case 'CONSTANT':
      case 'PARAMETER':
      case 'DEFAULT':
        return [];
      case 'POSITIONAL_REFERENCE': {
        const index = Number(e['index']);
        const col = scope.from.star[index - 1]?.col;
        return col === undefined ? this.#everything(`positional reference #${index} is out of range`) : [...col.deps];
      }
      case 'FUNCTION':
        return this.#function(e, scope, env);
      case 'WINDOW':
        return raise([
          ...this.#all(e['children'], scope, env), ...this.#all(e['partitions'], scope, env),
          ...arr(e['orders']).flatMap((o) => this.#exprOpt(obj(o)['expression'], scope, env)),
          ...arr(e['arg_orders']).flatMap((o) => this.#exprOpt(obj(o)['expression'], scope, env)),
          ...['filter_expr', 'start_expr', 'end_expr', 'offset_expr', 'default_expr'].flatMap((k) => this.#exprOpt(e[k], scope, env)),
        ], 'window');
      case 'CASE':
        return raise([...arr(e['case_checks']).flatMap((c) => [...this.#exprOpt(obj(c)['when_expr'], scope, env), ...this.#exprOpt(obj(c)['then_expr'], scope, env)]), ...this.#exprOpt(e['else_expr'], scope, env)], 'expression');
      case 'CAST':
      case 'COLLATE':
        return raise(this.#exprOpt(e['child'], scope, env), 'expression');
      case 'COMPARISON':
        return raise([...this.#exprOpt(e['left'], scope, env), ...this.#exprOpt(e['right'], scope, env)], 'expression');
      case 'CONJUNCTION':
      case 'OPERATOR':
        return raise(this.#all(e['children'], scope, env), 'expression');
      case 'BETWEEN':
        return raise(['input', 'lower', 'upper'].flatMap((k) => this.#exprOpt(e[k], scope, env)), 'expression');
      case 'SUBQUERY':
        return this.#subquery(e, scope, env);
      case 'LAMBDA': {
        const params = obj(e['lhs']);
        const names = params['class'] === 'COLUMN_REF' ? [params] : arr(params['children']).map(obj);
        const locals = new Set([...scope.locals, ...names.flatMap((p) => arr(p['column_names']).map((n) => lower(str(n))))]);
        return this.#exprOpt(e['expr'], { ...scope, locals }, env);
      }
      case 'STAR':
        return raise(this.#columnsStar(e, scope, env).flatMap((c) => c.deps), 'expression');
      default:
        return this.#everything(`expression ${kind || '(none)'} is not understood by the lineage analysis`);
    }
  }

  #function(e: Json, scope: Scope, env: Env): Dep[] {
    const name = lower(str(e['function_name']));
    const args = [...this.#all(e['children'], scope, env), ...arr(obj(e['order_bys'])['orders']).flatMap((o) => this.#exprOpt(obj(o)['expression'], scope, env))];
    const filter = as(this.#exprOpt(e['filter'], scope, env), 'filter');
    if (!this.#request.aggregates.has(name)) return [...raise(args, 'expression'), ...filter];
    const values = args.filter((d) => RANK[d.kind] >= 0);
    // count(*) and count(1) read no column: they count the rows of the datasets in scope.
    const rows = values.length > 0 ? [] : sourcesOf(scope).map((dataset) => ({ dataset, column: ROWS_COLUMN, kind: 'aggregate' as const }));
    return [...raise(args, 'aggregate'), ...rows, ...filter];
  }

  #subquery(e: Json, scope: Scope, env: Env): Dep[] {
    const sub = this.#query(obj(obj(e['subquery'])['node']), { ctes: env.ctes, outer: scope });
    const type = str(e['subquery_type']);
    const rows = as(sub.rows, 'filter');
    if (type === 'EXISTS' || type === 'NOT_EXISTS') return [...rows, ...as(sub.columns.flatMap((c) => c.deps), 'filter')];
    const values = sub.columns.flatMap((c) => c.deps);
    if (type === 'SCALAR') return [...values, ...rows];
    return [...raise([...this.#exprOpt(e['child'], scope, env), ...values], 'expression'), ...rows];
  }

  #column(names: readonly string[], scope: Scope): Dep[] {
    const [first = '', second] = names;
    if (names.length === 1 && scope.locals.has(lower(first))) return [];
    for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
      if (second !== undefined) {
        const binding = s.from.bindings.find((b) => b.alias === lower(first));
        if (binding !== undefined) {
          const col = binding.rel.columns.find((c) => c.name !== null && lower(c.name) === lower(second));
          if (col !== undefined) return names.length > 2 ? raise(col.deps, 'expression') : [...col.deps];
          if (!binding.rel.known) return this.#everything(`column ${names.join('.')} of a relation sluice does not know`);
        }
      }
      const col = s.from.merged.get(lower(first)) ?? lookupStar(s.from, first)?.col ?? s.from.bindings.flatMap((b) => b.rel.columns).find((c) => c.name !== null && lower(c.name) === lower(first));
      // A name with more parts than a table and a column is a struct field of the column.
      if (col !== undefined) return names.length > 1 ? raise(col.deps, 'expression') : [...col.deps];
      const alias = s.aliases.get(lower(first));
      if (alias !== undefined) return [...alias];
      if (s.from.bindings.some((b) => !b.rel.known)) return this.#everything(`column ${names.join('.')} may come from a relation sluice does not know`);
    }
    return this.#everything(`column ${names.join('.')} was not found in any relation the query reads`);
  }
}

function lookupStar(from: From, name: string): { alias: string; col: Col } | undefined {
  return from.star.find((s) => s.col.name !== null && lower(s.col.name) === lower(name));
}

function sourcesOf(scope: Scope): readonly string[] {
  for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) if (s.from.sources.length > 0) return s.from.sources;
  return [];
}

/** A relation seen through `AS alias(c1, c2)`: the first columns take the new names. */
function renamed(rel: Rel, names: readonly string[]): Rel {
  if (names.length === 0) return rel;
  return { ...rel, columns: rel.columns.map((c, i) => ({ name: names[i] ?? c.name, deps: c.deps })) };
}

function fromOf(rel: Rel): From {
  return { bindings: [{ alias: '', rel }], star: rel.columns.map((col) => ({ alias: '', col })), merged: new Map(), rows: [], sources: rel.sources };
}
