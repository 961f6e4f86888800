// Creates and upgrades the catalog's tables: numbered migrations recorded in `sluice_migrations`, applied on
// open inside one transaction that holds a lock, so concurrent openers apply each migration exactly once.
import { sql } from 'kysely';
import type { CreateTableBuilder, Kysely } from 'kysely';
import type { Catalog } from './catalog.ts';
import type { Database } from './schema.ts';

type CatalogDialect = Catalog['dialect'];

interface Migration {
  readonly version: number;
  up(db: Kysely<Database>, dialect: CatalogDialect): Promise<void>;
}

const MIGRATIONS: readonly Migration[] = [
  { version: 1, up: createInitialTables },
  { version: 2, up: createCheckResults },
  { version: 3, up: createMaterializations },
  { version: 4, up: createStreamCheckpoints },
  { version: 5, up: createOrchestrationTables },
  { version: 6, up: createStreamKeyState },
  { version: 7, up: addLeaseOwners },
  { version: 8, up: addMaterializationMarks },
  { version: 9, up: addRunOwners },
  { version: 10, up: indexLatestOutcomes },
  { version: 11, up: addMaterializedVersions },
  { version: 12, up: createTrainingSets },
  { version: 13, up: createColumnLineage },
  { version: 14, up: createAuditLog },
  { version: 15, up: createPiiVault },
];

export interface MigrateOptions {
  readonly dialect: CatalogDialect;
  /** PostgreSQL schema to create if missing; connections already have it on their search_path. */
  readonly schema?: string | undefined;
}

/** Bring the catalog up to the latest version; returns the version it was at before. */
export async function migrate(db: Kysely<Database>, options: MigrateOptions): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await lockMigrations(trx, options);
    if (options.schema !== undefined) await trx.schema.createSchema(options.schema).ifNotExists().execute();
    await trx.schema
      .createTable('sluice_migrations')
      .ifNotExists()
      .addColumn('version', 'integer', (col) => col.primaryKey())
      .addColumn('applied_at', 'text', (col) => col.notNull())
      .execute();
    const current = await currentVersion(trx);
    // Every migration not yet applied, in order: a catalog that has a later one but not an earlier one (numbers
    // assigned on parallel branches) still gets it.
    const applied = new Set((await trx.selectFrom('sluice_migrations').select('version').execute()).map((r) => Number(r.version)));
    for (const migration of MIGRATIONS.filter((m) => !applied.has(m.version))) {
      await migration.up(trx, options.dialect);
      await trx.insertInto('sluice_migrations').values({ version: migration.version, applied_at: new Date().toISOString() }).execute();
    }
    return current;
  });
}

// SQLite transactions here begin IMMEDIATE, which already serialises writers across processes. PostgreSQL
// needs an explicit lock: concurrent `create ... if not exists` can otherwise race on the system catalogs.
async function lockMigrations(trx: Kysely<Database>, options: MigrateOptions): Promise<void> {
  if (options.dialect !== 'postgres') return;
  const key = `sluice_migrations:${options.schema ?? ''}`;
  await sql`select pg_advisory_xact_lock(hashtext(${key}))`.execute(trx);
}

async function currentVersion(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('sluice_migrations').select((eb) => eb.fn.max('version').as('version')).executeTakeFirst();
  return row?.version ?? 0;
}

/** An integer key assigned in insertion order; the one column whose DDL differs between dialects. */
function withSequence<TB extends string, C extends string>(
  table: CreateTableBuilder<TB, C>,
  dialect: CatalogDialect,
): CreateTableBuilder<TB, C | 'seq'> {
  return dialect === 'postgres'
    ? table.addColumn('seq', 'bigserial', (col) => col.primaryKey())
    : table.addColumn('seq', 'integer', (col) => col.primaryKey().autoIncrement());
}

async function createInitialTables(db: Kysely<Database>, dialect: CatalogDialect): Promise<void> {
  await db.schema
    .createTable('runs')
    .ifNotExists()
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('project', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('started_at', 'text', (col) => col.notNull())
    .addColumn('ended_at', 'text')
    .addColumn('args', 'text', (col) => col.notNull())
    .addColumn('error', 'text')
    .execute();

  await withSequence(db.schema.createTable('steps').ifNotExists(), dialect)
    .addColumn('id', 'text', (col) => col.notNull().unique())
    .addColumn('run_id', 'text', (col) => col.notNull())
    .addColumn('asset', 'text', (col) => col.notNull())
    .addColumn('partition_key', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('started_at', 'text')
    .addColumn('ended_at', 'text')
    .addColumn('rows_in', 'bigint')
    .addColumn('rows_out', 'bigint')
    .addColumn('bytes_written', 'bigint')
    .addColumn('bad_records', 'bigint')
    .addColumn('version', 'integer')
    .addColumn('error', 'text')
    .execute();

  await db.schema
    .createTable('table_versions')
    .ifNotExists()
    .addColumn('asset', 'text', (col) => col.notNull())
    .addColumn('version', 'integer', (col) => col.notNull())
    .addColumn('run_id', 'text', (col) => col.notNull())
    .addColumn('step_id', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('partitions', 'text', (col) => col.notNull())
    .addColumn('row_count', 'bigint', (col) => col.notNull())
    .addColumn('bytes', 'bigint', (col) => col.notNull())
    .addColumn('manifest_path', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('table_versions_pk', ['asset', 'version'])
    .execute();

  await withSequence(db.schema.createTable('lineage').ifNotExists(), dialect)
    .addColumn('run_id', 'text', (col) => col.notNull())
    .addColumn('step_id', 'text', (col) => col.notNull())
    .addColumn('direction', 'text', (col) => col.notNull())
    .addColumn('dataset', 'text', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('version', 'integer')
    .addColumn('partition_key', 'text', (col) => col.notNull())
    .addColumn('fingerprint', 'text')
    .execute();

  await createIndexes(db);
}

// table_versions(asset, version) needs no index of its own: its primary key is that index.
async function createIndexes(db: Kysely<Database>): Promise<void> {
  await db.schema.createIndex('runs_started_at').ifNotExists().on('runs').columns(['started_at', 'id']).execute();
  await db.schema.createIndex('steps_run_id').ifNotExists().on('steps').column('run_id').execute();
  await db.schema.createIndex('lineage_run_id').ifNotExists().on('lineage').column('run_id').execute();
  await db.schema.createIndex('lineage_dataset').ifNotExists().on('lineage').column('dataset').execute();
}

async function createCheckResults(db: Kysely<Database>, dialect: CatalogDialect): Promise<void> {
  await withSequence(db.schema.createTable('check_results').ifNotExists(), dialect)
    .addColumn('run_id', 'text', (col) => col.notNull())
    .addColumn('step_id', 'text')
    .addColumn('target', 'text', (col) => col.notNull())
    .addColumn('partition_key', 'text', (col) => col.notNull())
    .addColumn('expectation_index', 'integer', (col) => col.notNull())
    .addColumn('expectation_type', 'text', (col) => col.notNull())
    .addColumn('column_name', 'text')
    .addColumn('severity', 'text', (col) => col.notNull())
    .addColumn('success', 'integer', (col) => col.notNull())
    .addColumn('unexpected_count', 'bigint')
    .addColumn('unexpected_percent', 'double precision')
    .addColumn('kwargs', 'text', (col) => col.notNull())
    .addColumn('result', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('check_results_run_id').ifNotExists().on('check_results').column('run_id').execute();
  // Per-target history is read newest first, so the index carries the sort key too.
  await db.schema.createIndex('check_results_target').ifNotExists().on('check_results').columns(['target', 'created_at']).execute();
}

async function createMaterializations(db: Kysely<Database>, dialect: CatalogDialect): Promise<void> {
  await withSequence(db.schema.createTable('materializations').ifNotExists(), dialect)
    .addColumn('view_name', 'text', (col) => col.notNull())
    .addColumn('store', 'text', (col) => col.notNull())
    .addColumn('from_micros', 'bigint')
    .addColumn('to_micros', 'bigint', (col) => col.notNull())
    .addColumn('rows_written', 'bigint', (col) => col.notNull())
    .addColumn('rows_stale', 'bigint', (col) => col.notNull())
    .addColumn('started_at', 'text', (col) => col.notNull())
    .addColumn('ended_at', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('materializations_view_store').ifNotExists().on('materializations').columns(['view_name', 'store', 'to_micros']).execute();
}

async function createStreamCheckpoints(db: Kysely<Database>): Promise<void> {
  await db.schema.createTable('stream_checkpoints').ifNotExists()
    .addColumn('job', 'text', (col) => col.notNull())
    .addColumn('partition_key', 'text', (col) => col.notNull())
    .addColumn('sequence', 'bigint', (col) => col.notNull())
    .addColumn('state', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('stream_checkpoints_pk', ['job', 'partition_key'])
    .execute();
}

async function createOrchestrationTables(db: Kysely<Database>): Promise<void> {
  await db.schema.createTable('run_keys').ifNotExists()
    .addColumn('run_key', 'text', (col) => col.primaryKey())
    .addColumn('run_id', 'text', (col) => col.notNull())
    .addColumn('job', 'text', (col) => col.notNull())
    .addColumn('partition_key', 'text', (col) => col.notNull())
    .addColumn('origin', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createTable('leases').ifNotExists()
    .addColumn('resource', 'text', (col) => col.primaryKey())
    .addColumn('holder', 'text', (col) => col.notNull())
    .addColumn('acquired_at', 'text', (col) => col.notNull())
    .addColumn('expires_at_ms', 'bigint', (col) => col.notNull())
    .execute();
  await db.schema.createTable('cursors').ifNotExists()
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('value', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createTable('backfills').ifNotExists()
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('job', 'text', (col) => col.notNull())
    .addColumn('from_key', 'text', (col) => col.notNull())
    .addColumn('to_key', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createTable('backfill_partitions').ifNotExists()
    .addColumn('backfill_id', 'text', (col) => col.notNull())
    .addColumn('partition_key', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('run_id', 'text')
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addColumn('error', 'text')
    .addPrimaryKeyConstraint('backfill_partitions_pk', ['backfill_id', 'partition_key'])
    .execute();
}

async function createStreamKeyState(db: Kysely<Database>): Promise<void> {
  await db.schema.createTable('stream_key_state').ifNotExists()
    .addColumn('job', 'text', (col) => col.notNull())
    .addColumn('partition_key', 'text', (col) => col.notNull())
    .addColumn('entity_key', 'text', (col) => col.notNull())
    .addColumn('state', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('stream_key_state_pk', ['job', 'partition_key', 'entity_key'])
    .execute();
}

/** The process holding a lease (`host:pid`), so a lease left by a process that died on this host is taken at once. */
async function addLeaseOwners(db: Kysely<Database>): Promise<void> {
  await db.schema.alterTable('leases').addColumn('owner', 'text').execute();
}

/** Where incremental materialisation resumes: the latest event time a run has seen, not its wall-clock end. */
async function addMaterializationMarks(db: Kysely<Database>): Promise<void> {
  await db.schema.alterTable('materializations').addColumn('resume_micros', 'bigint').execute();
}

/** Training sets as built: the versions they read (pinned against vacuum), their spine, definitions and output. */
async function createTrainingSets(db: Kysely<Database>): Promise<void> {
  await db.schema.createTable('training_sets').ifNotExists()
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('project', 'text', (col) => col.notNull())
    .addColumn('service', 'text', (col) => col.notNull())
    .addColumn('definitions_hash', 'text', (col) => col.notNull())
    .addColumn('spine_source', 'text', (col) => col.notNull())
    .addColumn('spine_sha256', 'text', (col) => col.notNull())
    .addColumn('spine_rows', 'bigint', (col) => col.notNull())
    .addColumn('timestamp_column', 'text', (col) => col.notNull())
    .addColumn('versions', 'text', (col) => col.notNull())
    .addColumn('sluice_version', 'text', (col) => col.notNull())
    .addColumn('output_path', 'text', (col) => col.notNull())
    .addColumn('output_sha256', 'text', (col) => col.notNull())
    .addColumn('output_bytes', 'bigint', (col) => col.notNull())
    .addColumn('tags', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('pinned', 'bigint', (col) => col.notNull())
    .execute();
}

async function createPiiVault(db: Kysely<Database>): Promise<void> {
  await db.schema.createTable('pii_vault').ifNotExists()
    .addColumn('token', 'text', (col) => col.primaryKey())
    .addColumn('pii', 'text', (col) => col.notNull())
    .addColumn('sealed', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();
}

/** The audit log: counted request entries per principal, key and minute, and one entry per command action. */
async function createAuditLog(db: Kysely<Database>): Promise<void> {
  await db.schema.createTable('audit_log').ifNotExists()
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('at', 'text', (col) => col.notNull())
    .addColumn('principal', 'text', (col) => col.notNull())
    .addColumn('key_id', 'text')
    .addColumn('action', 'text', (col) => col.notNull())
    .addColumn('target', 'text', (col) => col.notNull())
    .addColumn('count', 'bigint', (col) => col.notNull())
    .addColumn('detail', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('audit_log_at').ifNotExists().on('audit_log').columns(['at', 'id']).execute();
}

/** Which version of its asset a materialisation read, so `--incremental` also rewrites partitions changed since. */
async function addMaterializedVersions(db: Kysely<Database>): Promise<void> {
  await db.schema.alterTable('materializations').addColumn('asset_version', 'bigint').execute();
}

/** Who runs a run and when it last said so: a run whose process is gone is marked abandoned. */
async function addRunOwners(db: Kysely<Database>): Promise<void> {
  await db.schema.alterTable('runs').addColumn('owner', 'text').execute();
  await db.schema.alterTable('runs').addColumn('heartbeat_at_ms', 'bigint').execute();
}

/**
 * `sluice status` reads each partition's latest step (per asset and partition key, newest first) and that step's
 * check results: without these, a step's results are found by scanning every result of its run.
 */
async function indexLatestOutcomes(db: Kysely<Database>): Promise<void> {
  await db.schema.createIndex('steps_asset_partition').ifNotExists().on('steps').columns(['asset', 'partition_key', 'seq']).execute();
  await db.schema.createIndex('check_results_step_id').ifNotExists().on('check_results').column('step_id').execute();
}

/** Column-level lineage per committed table version: which input columns each output column comes from, and how. */
async function createColumnLineage(db: Kysely<Database>): Promise<void> {
  await db.schema.createTable('column_lineage').ifNotExists()
    .addColumn('asset', 'text', (col) => col.notNull())
    .addColumn('version', 'bigint', (col) => col.notNull())
    .addColumn('run_id', 'text', (col) => col.notNull())
    .addColumn('column_name', 'text', (col) => col.notNull())
    .addColumn('position', 'integer', (col) => col.notNull())
    .addColumn('input_dataset', 'text')
    .addColumn('input_column', 'text')
    .addColumn('kind', 'text')
    .execute();
  await db.schema.createIndex('column_lineage_asset_version').ifNotExists().on('column_lineage').columns(['asset', 'version']).execute();
}
