// The online store in one SQLite file: a table per feature view (`fv_<view>`), one row per entity with its
// event time and its values as a JSON object. WAL lets several processes write the file while others read.
import BetterSqlite3 from 'better-sqlite3';
import type { Database, Statement, Transaction } from 'better-sqlite3';
import { SluiceError, errorMessage, isTransient } from '../../errors.ts';
import { quoteIdent } from '../../sql/identifiers.ts';
import type { OnlineRecord, OnlineStore, ReadRequest, StoredValues, WriteResult } from './online-store.ts';

/** How long a writer waits for another process's write lock before giving up. */
const BUSY_TIMEOUT_MS = 30_000;

/** The statements of one view's table, prepared once and reused. */
interface ViewStatements {
  /** (entity_key) -> [event_micros, vals] */
  readonly get: Statement<[string], [number, string]>;
  /** (JSON array of keys) -> [position in the array, event_micros, vals] for the keys present. */
  readonly getMany: Statement<[string], [number, number, string]>;
  readonly writeBatch: Transaction<(records: readonly OnlineRecord[]) => number>;
  readonly sample: Statement<[number], string>;
  readonly count: Statement<[], number>;
}

/** Memory-mapped reads: measured 15-40% faster point reads than through SQLite's page cache. */
const MMAP_BYTES = 256 * 1024 * 1024;

export class SqliteOnlineStore implements OnlineStore {
  readonly kind = 'sqlite';
  readonly location: string;
  readonly #db: Database;
  readonly #tableExists: Statement<[string], number>;
  /** Views whose table is known to exist. Another process may drop it; "no such table" then clears the entry. */
  readonly #views = new Map<string, ViewStatements>();

  /** Open (or create) the store file; the directory must exist. */
  constructor(file: string) {
    this.location = `sqlite:${file}`;
    // `timeout` is SQLite's busy_timeout; it is set before the pragmas so that they, too, wait for other writers.
    this.#db = new BetterSqlite3(file, { timeout: BUSY_TIMEOUT_MS });
    try {
      this.#db.pragma('journal_mode = WAL');
      // NORMAL may lose the last commits on power loss (never corrupts); the online store is rebuilt by materialising.
      this.#db.pragma('synchronous = NORMAL');
      this.#db.pragma(`mmap_size = ${MMAP_BYTES}`);
      this.#tableExists = this.#db.prepare<[string], number>("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?").pluck();
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  write(view: string, records: readonly OnlineRecord[]): Promise<WriteResult> {
    return this.#settle(() => {
      if (records.length === 0) return { written: 0, stale: 0 };
      const written = this.#retryIfDropped(view, () => this.#createView(view).writeBatch.immediate(records));
      return { written, stale: records.length - written };
    });
  }

  read(requests: readonly ReadRequest[]): Promise<(StoredValues | undefined)[][]> {
    return this.#settle(() =>
      requests.map((request) => {
        const statements = this.#existingView(request.view);
        return statements === undefined ? new Array<undefined>(request.keys.length).fill(undefined) : this.#readView(request, statements);
      }),
    );
  }

  sampleKeys(view: string, limit: number): Promise<string[]> {
    return this.#settle(() => this.#existingView(view)?.sample.all(limit) ?? []);
  }

  count(view: string): Promise<number> {
    return this.#settle(() => this.#existingView(view)?.count.get() ?? 0);
  }

  dropView(view: string): Promise<void> {
    return this.#settle(() => {
      this.#views.delete(view);
      this.#db.exec(`DROP TABLE IF EXISTS ${quoteIdent(tableName(view))}`);
    });
  }

  deleteKeys(view: string, keys: readonly string[]): Promise<number> {
    return this.#settle(() => {
      if (keys.length === 0 || this.#existingView(view) === undefined) return 0;
      return this.#db.prepare<[string]>(`DELETE FROM ${quoteIdent(tableName(view))} WHERE entity_key IN (SELECT value FROM json_each(?))`).run(JSON.stringify(keys)).changes;
    });
  }

  ping(): Promise<void> {
    return this.#settle(() => {
      this.#db.prepare('SELECT 1').get();
    });
  }

  close(): Promise<void> {
    return this.#settle(() => {
      this.#views.clear();
      this.#db.close();
    });
  }

  /** better-sqlite3 is synchronous: run `fn` now and settle the promise, failures as ONLINE_STORE errors. */
  #settle<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      const failure = new SluiceError('ONLINE_STORE', `online store at ${this.location}: ${errorMessage(error)}`, { store: this.location }, {
        cause: error,
        transient: isTransient(error),
      });
      return Promise.reject(failure);
    }
  }

  #readView(request: ReadRequest, statements: ViewStatements): (StoredValues | undefined)[] {
    const { keys, features } = request;
    if (keys.length === 0) return [];
    try {
      if (keys.length === 1) {
        const row = statements.get.get(keys[0] as string);
        return [row === undefined ? undefined : decode(row[0], row[1], features)];
      }
      // One statement over a JSON array of keys beats a loop of point lookups from two keys on (measured:
      // 100 keys in ~250 us against ~700 us), since each call into better-sqlite3 has a fixed cost.
      const results = new Array<StoredValues | undefined>(keys.length).fill(undefined);
      for (const [position, eventMicros, vals] of statements.getMany.all(JSON.stringify(keys))) results[position] = decode(eventMicros, vals, features);
      return results;
    } catch (error) {
      if (!isNoSuchTable(error)) throw error;
      this.#views.delete(request.view);
      return new Array<undefined>(keys.length).fill(undefined);
    }
  }

  /** The view's statements if its table exists, without creating it. */
  #existingView(view: string): ViewStatements | undefined {
    const cached = this.#views.get(view);
    if (cached !== undefined) return cached;
    return this.#tableExists.get(tableName(view)) === 1 ? this.#prepare(view) : undefined;
  }

  #createView(view: string): ViewStatements {
    const cached = this.#views.get(view);
    if (cached !== undefined) return cached;
    // A rowid table, not WITHOUT ROWID: point reads measured the same, and wide views' rows (over ~1 KB) would
    // spill to overflow pages in a WITHOUT ROWID b-tree.
    this.#db.exec(`CREATE TABLE IF NOT EXISTS ${quoteIdent(tableName(view))} (entity_key TEXT PRIMARY KEY, event_micros INTEGER NOT NULL, vals TEXT NOT NULL)`);
    return this.#prepare(view);
  }

  #prepare(view: string): ViewStatements {
    const table = quoteIdent(tableName(view));
    const upsert = this.#db.prepare<[string, number, string]>(
      `INSERT INTO ${table} (entity_key, event_micros, vals) VALUES (?, ?, ?) ` +
        'ON CONFLICT (entity_key) DO UPDATE SET event_micros = excluded.event_micros, vals = excluded.vals ' +
        `WHERE excluded.event_micros >= ${table}.event_micros`,
    );
    const statements: ViewStatements = {
      get: this.#db.prepare<[string], [number, string]>(`SELECT event_micros, vals FROM ${table} WHERE entity_key = ?`).raw(),
      // CROSS JOIN fixes the order: the keys outside, one index search each; `key` is the position in the array.
      getMany: this.#db
        .prepare<[string], [number, number, string]>(`SELECT k.key, t.event_micros, t.vals FROM json_each(?) AS k CROSS JOIN ${table} AS t ON t.entity_key = k.value`)
        .raw(),
      // changes() is 0 when the guard rejected the row: that is how stale records are counted.
      writeBatch: this.#db.transaction((records: readonly OnlineRecord[]) => {
        let written = 0;
        for (const record of records) written += upsert.run(record.key, record.eventTimeMicros, JSON.stringify(record.values)).changes;
        return written;
      }),
      sample: this.#db.prepare<[number], string>(`SELECT entity_key FROM ${table} ORDER BY random() LIMIT ?`).pluck(),
      count: this.#db.prepare<[], number>(`SELECT count(*) FROM ${table}`).pluck(),
    };
    this.#views.set(view, statements);
    return statements;
  }

  /** Run `fn`; if another process dropped the view's table since it was cached, forget it and run once more. */
  #retryIfDropped<T>(view: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (!isNoSuchTable(error)) throw error;
      this.#views.delete(view);
      return fn();
    }
  }
}

function tableName(view: string): string {
  return `fv_${view}`;
}

function isNoSuchTable(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('no such table');
}

function decode(eventTimeMicros: number, vals: string, features: readonly string[] | undefined): StoredValues {
  const stored = JSON.parse(vals) as Record<string, unknown>;
  if (features === undefined) return { eventTimeMicros, values: stored };
  const values: Record<string, unknown> = {};
  for (const feature of features) {
    if (Object.hasOwn(stored, feature)) values[feature] = stored[feature];
  }
  return { eventTimeMicros, values };
}
