// Opens a catalog from its URL: `sqlite:<path>` (one file, safe for several processes) or `postgres://...`
// (a pool, optionally confined to `?schema=name`), migrated to the latest schema before it is returned.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, SqliteDriver } from 'kysely';
import type { DatabaseConnection, Driver, SqliteDialectConfig } from 'kysely';
import { SluiceError, errorMessage, isTransient, redactUrl } from '../../errors.ts';
import type { Catalog } from './catalog.ts';
import { KyselyCatalog } from './kysely-catalog.ts';
import { migrate } from './migrations.ts';
import type { Database } from './schema.ts';

/** How long a SQLite writer waits for another process's write lock before giving up. */
const SQLITE_BUSY_TIMEOUT_MS = 30_000;

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export async function openCatalog(url: string): Promise<Catalog> {
  if (url.startsWith('sqlite:')) return openSqliteCatalog(url, url.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgresCatalog(url);
  throw new SluiceError(
    'CONFIG_INVALID',
    `catalog URL ${redactUrl(url)} is not supported; use sqlite:<path> (for example sqlite:.sluice/catalog.db) ` +
      'or postgres://user@host:5432/database (postgresql:// also works; add ?schema=name to use a schema other than public)',
    { url: redactUrl(url) },
  );
}

async function openSqliteCatalog(url: string, file: string): Promise<Catalog> {
  if (file === '') throw new SluiceError('CONFIG_INVALID', `catalog URL ${url} names no file; use sqlite:<path>, for example sqlite:.sluice/catalog.db`, { url });
  const database = openSqliteFile(url, path.resolve(file));
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database }) });
  return openMigrated(db, 'sqlite', url, undefined);
}

function openSqliteFile(url: string, file: string): BetterSqlite3.Database {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    // `timeout` is SQLite's busy_timeout; it is set before the pragmas so that they, too, wait for other writers.
    const database = new BetterSqlite3(file, { timeout: SQLITE_BUSY_TIMEOUT_MS });
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    return database;
  } catch (error) {
    throw openFailure(url, error);
  }
}

async function openPostgresCatalog(url: string): Promise<Catalog> {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new SluiceError('CONFIG_INVALID', `catalog URL ${redactUrl(url)}: schema "${schema}" must be letters, digits and _, not starting with a digit`, {
      url: redactUrl(url),
    });
  }
  parsed.searchParams.delete('schema');
  // Loaded on demand: embedded projects never pay for the PostgreSQL client.
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: parsed.toString() });
  // An idle client's network error is emitted on the pool and would crash the process; the next query that
  // needs a connection reports the problem instead.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool,
      ...(schema === undefined ? {} : { onCreateConnection: (connection) => setSearchPath(connection, schema) }),
    }),
  });
  return openMigrated(db, 'postgres', redactUrl(url), schema);
}

async function setSearchPath(connection: DatabaseConnection, schema: string): Promise<void> {
  // The name matched SCHEMA_NAME, so quoting it cannot be escaped.
  await connection.executeQuery(CompiledQuery.raw(`set search_path to "${schema}"`));
}

async function openMigrated(db: Kysely<Database>, dialect: Catalog['dialect'], url: string, schema: string | undefined): Promise<Catalog> {
  try {
    await migrate(db, { dialect, schema });
  } catch (error) {
    await db.destroy();
    throw openFailure(url, error);
  }
  return new KyselyCatalog(db, dialect);
}

function openFailure(url: string, error: unknown): SluiceError {
  const hint = url.startsWith('sqlite:')
    ? 'check that the directory is writable'
    : 'check that PostgreSQL is running and that the URL (SLUICE_CATALOG_URL) names a database you can write to';
  return new SluiceError('CATALOG', `could not open the catalog at ${url}: ${errorMessage(error)}; ${hint}`, { url }, {
    cause: error,
    transient: isTransient(error),
  });
}

// Kysely's SQLite driver opens transactions with a plain (deferred) BEGIN: a transaction that reads before
// writing then fails with SQLITE_BUSY without waiting if another process wrote meanwhile. BEGIN IMMEDIATE
// takes the write lock up front, where busy_timeout applies. SQLite also ends a transaction itself on some
// errors (a full disk, an I/O error): Kysely's ROLLBACK then fails with "no transaction is active", and that
// error would replace the one to report, so there is nothing to roll back then.
class ImmediateSqliteDriver extends SqliteDriver {
  readonly #database: BetterSqlite3.Database;

  constructor(config: SqliteDialectConfig & { readonly database: BetterSqlite3.Database }) {
    super(config);
    this.#database = config.database;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.#database.inTransaction) return;
    await super.rollbackTransaction(connection);
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig & { readonly database: BetterSqlite3.Database };

  constructor(config: SqliteDialectConfig & { readonly database: BetterSqlite3.Database }) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}
