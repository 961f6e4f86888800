// The one scan: every aggregate any expectation needs, deduplicated, in a single `SELECT ... FROM relation`.
// When that query fails (a type mismatch or a bad value in one expectation's expression), the owners are
// bisected so that only the expectations whose expressions fail get an exception; the others still get values.
import type { Row, Session } from '../engine/engine.ts';
import { cleanError } from './values.ts';

/** The part of a Session validation needs; a Session fits, and tests can wrap it to count queries. */
export type QuerySession = Pick<Session, 'query'>;

interface Expression {
  readonly sql: string;
  readonly owners: Set<number>;
}

export class AggregatePass {
  readonly #relation: string;
  readonly #expressions: Expression[] = [];
  readonly #bySql = new Map<string, number>();
  readonly #values = new Map<number, unknown>();
  readonly #failures = new Map<number, string>();
  #ran = false;

  constructor(relation: string) {
    this.#relation = relation;
  }

  /** Register an aggregate expression for an owner (an expectation); returns a getter for its value after `run`. */
  add(owner: number, sql: string): () => unknown {
    let index = this.#bySql.get(sql);
    if (index === undefined) {
      index = this.#expressions.length;
      this.#expressions.push({ sql, owners: new Set() });
      this.#bySql.set(sql, index);
    }
    this.#expressions[index]?.owners.add(owner);
    const at = index;
    return () => {
      if (!this.#ran) throw new Error('internal: aggregate read before the pass ran');
      const failure = this.#failures.get(owner);
      if (failure !== undefined) throw new Error(failure);
      return this.#values.get(at);
    };
  }

  get size(): number {
    return this.#expressions.length;
  }

  async run(session: QuerySession): Promise<void> {
    this.#ran = true;
    if (this.#expressions.length === 0) return;
    const owners = [...new Set(this.#expressions.flatMap((e) => [...e.owners]))].sort((a, b) => a - b);
    await this.#runFor(session, owners);
  }

  async #runFor(session: QuerySession, owners: readonly number[]): Promise<void> {
    const wanted = new Set(owners);
    const indexes = this.#expressions.flatMap((e, i) => ([...e.owners].some((o) => wanted.has(o)) ? [i] : []));
    const select = indexes.map((i) => `${this.#expressions[i]?.sql ?? 'NULL'} AS a${i}`).join(',\n  ');
    try {
      const [row] = await session.query<Row>(`SELECT\n  ${select}\nFROM ${this.#relation}`);
      for (const i of indexes) this.#values.set(i, row?.[`a${i}`]);
    } catch (error) {
      if (owners.length === 1) {
        this.#failures.set(owners[0] ?? -1, cleanError(error));
        return;
      }
      const half = Math.ceil(owners.length / 2);
      await this.#runFor(session, owners.slice(0, half));
      await this.#runFor(session, owners.slice(half));
    }
  }
}
