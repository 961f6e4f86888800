// The only module that imports @duckdb/node-api: one DuckDB instance per process, connections per step,
// with the memory limit and spill directory that keep inputs larger than RAM inside bounded memory.
import fs from 'node:fs';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';

export interface EngineOptions {
  /** DuckDB memory_limit, e.g. '4GB'. DuckDB's default (80% of RAM) when absent. */
  readonly memoryLimit?: string | undefined;
  /** Directory DuckDB spills to when an operator exceeds memory. */
  readonly tempDir?: string | undefined;
  readonly threads?: number | undefined;
}

export type Row = Record<string, unknown>;

/** A value the appender takes (see Session.appendRows). */
export type AppendValue = null | boolean | number | bigint | string;

export interface ColumnInfo {
  readonly name: string;
  readonly type: string;
}

/** A DuckDB connection: statements run in order; temp views and tables are private to it. */
export class Session {
  readonly #connection: DuckDBConnection;

  constructor(connection: DuckDBConnection) {
    this.#connection = connection;
  }

  /** Run one or more statements, discarding results. */
  async run(sql: string): Promise<void> {
    await this.#connection.run(sql);
  }

  /** Run a query and return its rows as plain JS values (BIGINT as bigint, TIMESTAMP as Date). */
  async query<T extends Row = Row>(sql: string, params?: readonly DuckDBValue[]): Promise<T[]> {
    const reader = params === undefined
      ? await this.#connection.runAndReadAll(sql)
      : await this.#connection.runAndReadAll(sql, [...params]);
    return reader.getRowObjectsJS() as T[];
  }

  /** Rows as JSON-safe values (BIGINT and dates as strings), for printing. */
  async queryJson(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await this.#connection.runAndReadAll(sql);
    return reader.getRowObjectsJson();
  }

  /** Column names and DuckDB types of a query, without running it to completion. */
  async describe(sql: string): Promise<ColumnInfo[]> {
    const rows = await this.query<{ column_name: string; column_type: string }>(`DESCRIBE ${sql}`);
    return rows.map((r) => ({ name: r.column_name, type: r.column_type }));
  }

  /** Stream a query's rows chunk by chunk, so large results never sit in memory at once. */
  async *stream(sql: string): AsyncGenerator<Row[]> {
    const result = await this.#connection.stream(sql);
    for await (const rows of result.yieldRowObjectJs()) {
      if (rows.length > 0) yield rows;
    }
  }

  /**
   * Append rows to a table (of the default schema) with DuckDB's appender, values in the table's column order:
   * null, boolean, number (appended as DOUBLE), bigint (as BIGINT) or string; DuckDB casts to the column type.
   */
  async appendRows(table: string, rows: readonly (readonly AppendValue[])[]): Promise<void> {
    const appender = await this.#connection.createAppender(table);
    try {
      for (const row of rows) {
        for (const value of row) {
          if (value === null) appender.appendNull();
          else if (typeof value === 'boolean') appender.appendBoolean(value);
          else if (typeof value === 'number') appender.appendDouble(value);
          else if (typeof value === 'bigint') appender.appendBigInt(value);
          else appender.appendVarchar(value);
        }
        appender.endRow();
      }
    } finally {
      appender.closeSync();
    }
  }

  /** Stop the statement running on this connection (it fails with an interrupt error): timeouts use it. */
  interrupt(): void {
    this.#connection.interrupt();
  }

  close(): void {
    this.#connection.closeSync();
  }
}

export class Engine {
  readonly #instance: DuckDBInstance;

  private constructor(instance: DuckDBInstance) {
    this.#instance = instance;
  }

  static async open(options: EngineOptions = {}): Promise<Engine> {
    const config: Record<string, string> = {};
    if (options.memoryLimit !== undefined) config['memory_limit'] = options.memoryLimit;
    if (options.tempDir !== undefined) {
      fs.mkdirSync(options.tempDir, { recursive: true });
      config['temp_directory'] = options.tempDir;
    }
    if (options.threads !== undefined) config['threads'] = String(options.threads);
    // Extensions cannot be downloaded on every machine; parquet and json are built in.
    config['autoinstall_known_extensions'] = 'false';
    const instance = await DuckDBInstance.create(':memory:', config);
    return new Engine(instance);
  }

  async session(): Promise<Session> {
    const connection = await this.#instance.connect();
    // Event times are compared and printed in UTC whatever the machine's zone (icu is built in; the setting
    // cannot be given at open, before the extension is loaded).
    await connection.run(`SET TimeZone = 'UTC'`);
    return new Session(connection);
  }

  /** Open a session, run `fn`, and always close the session. */
  async withSession<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    const session = await this.session();
    try {
      return await fn(session);
    } finally {
      session.close();
    }
  }

  close(): void {
    this.#instance.closeSync();
  }
}
