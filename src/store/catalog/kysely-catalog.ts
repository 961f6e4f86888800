// The Catalog implemented once over Kysely, for SQLite and PostgreSQL alike: maps records to rows and back,
// and turns driver failures into SluiceErrors after a short retry on lock contention.
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Insertable, Kysely, RawBuilder, Selectable } from 'kysely';
import { SluiceError, errorMessage, isTransient } from '../../errors.ts';
import type { ErrorContext } from '../../errors.ts';
import type {
  BackfillOverview,
  AuditEntry,
  AuditFilter,
  Catalog,
  CheckFilter,
  CheckHistory,
  CheckHistoryFilter,
  CheckRecord,
  ColumnLineageRecord,
  LineageEdge,
  MaterializationRecord,
  PartitionOutcomes,
  StreamCheckpoint,
  StreamCheckpointSave,
  StreamStateEntry,
  BackfillPartitionRecord,
  BackfillPartitionStatus,
  BackfillRecord,
  CursorRecord,
  LeaseOptions,
  LeaseRecord,
  RunKeyClaim,
  RunKeyRecord,
  RunFilter,
  RunRecord,
  RunStatus,
  StepRecord,
  NewStep,
  StepUpdate,
  TrainingSetRecord,
  VaultEntry,
  VersionRecord,
} from './catalog.ts';
import { AD_HOC_RUN_PREFIX } from './catalog.ts';
import { compareSources, type ColumnSource } from '../../sql/column-lineage.ts';
import { queryCheckHistory } from './check-history.ts';
import { queryPartitionOutcomes } from './partition-outcomes.ts';
import type { CheckResultsTable, ColumnLineageTable, Database, LineageTable, RunKeysTable, RunsTable, StepsTable, TableVersionsTable } from './schema.ts';

/** Rows per step or lineage insert: well under SQLite's and PostgreSQL's bound-parameter limits. */
const BATCH_ROWS = 500;
/** Rows per check-result insert: 14 parameters each, so 7,000 per statement, under both limits. */
const CHECK_BATCH_ROWS = 500;
/** Keys per stream key-state upsert or delete (one JSON array each): short enough to let other work run between. */
const KEY_STATE_BATCH_ROWS = 250;
/** Vault rows per statement (4 columns each; SQLite allows 32,766 parameters). */
const VAULT_BATCH = 500;

/**
 * Stream key-state statements over a JSON array: `put` takes [[entity key, state], ...] (the state is stored as
 * its JSON text), `delete` takes [entity key, ...]. Raw SQL because the unpacking function differs per dialect.
 */
interface KeyStateStatements {
  put(job: string, partition: string, pairs: string): RawBuilder<unknown>;
  delete(job: string, partition: string, keys: string): RawBuilder<unknown>;
}

const KEY_STATE_SQLITE: KeyStateStatements = {
  // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the upsert, not to a join of the SELECT.
  put: (job, partition, pairs) => sql`insert into stream_key_state (job, partition_key, entity_key, state)
    select ${job}, ${partition}, e.value ->> 0, e.value -> 1 from json_each(${pairs}) as e where true
    on conflict (job, partition_key, entity_key) do update set state = excluded.state`,
  delete: (job, partition, keys) => sql`delete from stream_key_state where job = ${job} and partition_key = ${partition}
    and entity_key in (select value from json_each(${keys}))`,
};

const KEY_STATE_POSTGRES: KeyStateStatements = {
  // json (not jsonb) keeps each state's text as sent.
  put: (job, partition, pairs) => sql`insert into stream_key_state (job, partition_key, entity_key, state)
    select ${job}, ${partition}, e ->> 0, (e -> 1)::text from json_array_elements(${pairs}::json) as e
    on conflict (job, partition_key, entity_key) do update set state = excluded.state`,
  delete: (job, partition, keys) => sql`delete from stream_key_state where job = ${job} and partition_key = ${partition}
    and entity_key in (select json_array_elements_text(${keys}::json))`,
};

export class KyselyCatalog implements Catalog {
  readonly dialect: Catalog['dialect'];
  readonly #db: Kysely<Database>;

  /** Takes ownership of `db`: close() destroys it. The schema must already be migrated. */
  constructor(db: Kysely<Database>, dialect: Catalog['dialect']) {
    this.#db = db;
    this.dialect = dialect;
  }

  async createRun(run: { id: string; project: string; startedAt: string; args: Record<string, unknown>; owner?: string }): Promise<void> {
    const row: Insertable<RunsTable> = {
      id: run.id,
      project: run.project,
      status: 'running',
      started_at: run.startedAt,
      ended_at: null,
      args: JSON.stringify(run.args),
      error: null,
      owner: run.owner ?? null,
      heartbeat_at_ms: Date.now(),
    };
    await this.#execute(`create run ${run.id}`, { run: run.id }, (db) => db.insertInto('runs').values(row).execute());
  }

  async finishRun(id: string, status: RunStatus, endedAt: string, error: string | null): Promise<void> {
    const result = await this.#execute(`finish run ${id}`, { run: id }, (db) =>
      db.updateTable('runs').set({ status, ended_at: endedAt, error }).where('id', '=', id).executeTakeFirst(),
    );
    if (result.numUpdatedRows === 0n) throw notFound('run', id);
  }

  async heartbeatRun(id: string, atMs: number): Promise<void> {
    await this.#execute(`heartbeat run ${id}`, { run: id }, (db) => db.updateTable('runs').set({ heartbeat_at_ms: atMs }).where('id', '=', id).execute());
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = await this.#execute(`read run ${id}`, { run: id }, (db) =>
      db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    return row === undefined ? undefined : toRunRecord(row);
  }

  async listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    const rows = await this.#execute('list runs', {}, (db) => {
      let query = db.selectFrom('runs').selectAll().orderBy('started_at', 'desc').orderBy('id', 'desc');
      if (filter.status !== undefined) query = query.where('status', '=', filter.status);
      if (filter.since !== undefined) query = query.where('started_at', '>=', filter.since);
      const asset = filter.asset;
      if (asset !== undefined) query = query.where('id', 'in', db.selectFrom('steps').select('run_id').where('asset', '=', asset));
      // args is JSON.stringify'd (no spaces), so the job's member is this exact text.
      if (filter.job !== undefined) {
        const member = JSON.stringify({ job: filter.job }).slice(1, -1).replace(/[%_\\]/g, '\\$&');
        query = query.where(sql<boolean>`args like ${`%${member}%`} escape '\\'`);
      }
      // SQLite needs a LIMIT before an OFFSET; PostgreSQL refuses a negative one.
      if (filter.limit !== undefined || filter.offset !== undefined) query = query.limit(filter.limit ?? 2 ** 31 - 1);
      if (filter.offset !== undefined) query = query.offset(filter.offset);
      return query.execute();
    });
    return rows.map(toRunRecord);
  }

  async createSteps(steps: readonly NewStep[]): Promise<void> {
    if (steps.length === 0) return;
    const rows = steps.map((step): Insertable<StepsTable> => ({
      id: step.id,
      run_id: step.runId,
      asset: step.asset,
      partition_key: step.partition,
      status: step.status,
      attempts: step.attempts ?? 0,
      rows_out: step.rowsOut ?? null,
      version: step.version ?? null,
      error: step.error ?? null,
    }));
    const first = steps[0];
    const where = steps.length === 1 ? `create step ${first?.id ?? ''}` : `create ${steps.length} steps`;
    await this.#execute(where, { run: first?.runId, step: first?.id, asset: first?.asset }, (db) =>
      db.transaction().execute(async (trx) => {
        for (let start = 0; start < rows.length; start += BATCH_ROWS) await trx.insertInto('steps').values(rows.slice(start, start + BATCH_ROWS)).execute();
      }),
    );
  }

  async updateStep(id: string, update: StepUpdate): Promise<void> {
    // Kysely leaves out columns whose value is undefined, so fields absent from the update keep their value.
    const changes = {
      status: update.status,
      attempts: update.attempts,
      started_at: update.startedAt,
      ended_at: update.endedAt,
      rows_in: update.rowsIn,
      rows_out: update.rowsOut,
      bytes_written: update.bytesWritten,
      bad_records: update.badRecords,
      version: update.version,
      error: update.error,
    };
    const result = await this.#execute(`update step ${id}`, { step: id }, (db) =>
      db.updateTable('steps').set(changes).where('id', '=', id).executeTakeFirst(),
    );
    if (result.numUpdatedRows === 0n) throw notFound('step', id);
  }

  async listSteps(runId: string): Promise<StepRecord[]> {
    const rows = await this.#execute(`list steps of run ${runId}`, { run: runId }, (db) =>
      db.selectFrom('steps').selectAll().where('run_id', '=', runId).orderBy('seq').execute(),
    );
    return rows.map(toStepRecord);
  }

  async recordVersion(version: VersionRecord): Promise<void> {
    const context = { asset: version.asset, version: version.version, run: version.runId };
    const result = await this.#execute(`record version ${version.version} of ${version.asset}`, context, (db) =>
      db
        .insertInto('table_versions')
        .values(toVersionRow(version))
        .onConflict((conflict) => conflict.columns(['asset', 'version']).doNothing())
        .executeTakeFirst(),
    );
    if (result.numInsertedOrUpdatedRows === 0n) await this.#assertSameVersion(version);
  }

  async listVersions(asset: string, filter: { readonly after?: number; readonly limit?: number } = {}): Promise<VersionRecord[]> {
    const rows = await this.#execute(`list versions of ${asset}`, { asset }, (db) => {
      let query = db.selectFrom('table_versions').selectAll().where('asset', '=', asset).orderBy('version', 'desc');
      if (filter.after !== undefined) query = query.where('version', '>', filter.after);
      if (filter.limit !== undefined) query = query.limit(filter.limit);
      return query.execute();
    });
    return rows.map(toVersionRecord);
  }

  async recordLineage(edges: readonly LineageEdge[]): Promise<void> {
    if (edges.length === 0) return;
    const rows = edges.map(toLineageRow);
    await this.#execute('record lineage', { run: edges[0]?.runId }, (db) =>
      db.transaction().execute(async (trx) => {
        for (let start = 0; start < rows.length; start += BATCH_ROWS) {
          await trx.insertInto('lineage').values(rows.slice(start, start + BATCH_ROWS)).execute();
        }
      }),
    );
  }

  async listLineage(filter: { runId?: string; dataset?: string }): Promise<LineageEdge[]> {
    const rows = await this.#execute('list lineage', { run: filter.runId, dataset: filter.dataset }, (db) => {
      let query = db.selectFrom('lineage').selectAll().orderBy('seq');
      if (filter.runId !== undefined) query = query.where('run_id', '=', filter.runId);
      if (filter.dataset !== undefined) query = query.where('dataset', '=', filter.dataset);
      return query.execute();
    });
    return rows.map(toLineageEdge);
  }

  async recordColumnLineage(columns: readonly ColumnLineageRecord[]): Promise<void> {
    if (columns.length === 0) return;
    const versions = [...new Map(columns.map((c) => [`${c.asset}\u0000${c.version}`, c])).values()];
    const positions = new Map<string, number>();
    const rows = columns.flatMap((c): Insertable<ColumnLineageTable>[] => {
      const key = `${c.asset}\u0000${c.version}`;
      const position = positions.get(key) ?? 0;
      positions.set(key, position + 1);
      const base = { asset: c.asset, version: c.version, run_id: c.runId, column_name: c.column, position };
      if (c.inputs.length === 0) return [{ ...base, input_dataset: null, input_column: null, kind: null }];
      return c.inputs.map((i) => ({ ...base, input_dataset: i.dataset, input_column: i.column, kind: i.kind }));
    });
    await this.#execute('record column lineage', { asset: columns[0]?.asset, run: columns[0]?.runId }, (db) =>
      db.transaction().execute(async (trx) => {
        for (const v of versions) await trx.deleteFrom('column_lineage').where('asset', '=', v.asset).where('version', '=', v.version).execute();
        for (let start = 0; start < rows.length; start += BATCH_ROWS) {
          await trx.insertInto('column_lineage').values(rows.slice(start, start + BATCH_ROWS)).execute();
        }
      }),
    );
  }

  async listColumnLineage(asset: string, options: { readonly version?: number } = {}): Promise<ColumnLineageRecord[]> {
    const rows = await this.#execute(`read the column lineage of ${asset}`, { asset }, async (db) => {
      let version = options.version;
      if (version === undefined) {
        const latest = await db.selectFrom('column_lineage').select((eb) => eb.fn.max('version').as('version')).where('asset', '=', asset).executeTakeFirst();
        if (latest?.version === null || latest?.version === undefined) return [];
        version = Number(latest.version);
      }
      return db.selectFrom('column_lineage').selectAll().where('asset', '=', asset).where('version', '=', version)
        .orderBy('position').execute();
    });
    const columns = new Map<number, { asset: string; version: number; runId: string; column: string; inputs: ColumnSource[] }>();
    for (const row of rows) {
      let column = columns.get(row.position);
      if (column === undefined) {
        column = { asset: row.asset, version: Number(row.version), runId: row.run_id, column: row.column_name, inputs: [] };
        columns.set(row.position, column);
      }
      if (row.input_dataset !== null && row.input_column !== null && row.kind !== null) column.inputs.push({ dataset: row.input_dataset, column: row.input_column, kind: row.kind });
    }
    for (const column of columns.values()) column.inputs.sort(compareSources);
    return [...columns.values()];
  }

  async recordChecks(checks: readonly CheckRecord[]): Promise<void> {
    if (checks.length === 0) return;
    const first = checks[0];
    const rows = checks.map(toCheckRow);
    await this.#execute('record check results', { run: first?.runId, asset: first?.target }, (db) =>
      db.transaction().execute(async (trx) => {
        for (let start = 0; start < rows.length; start += CHECK_BATCH_ROWS) {
          await trx.insertInto('check_results').values(rows.slice(start, start + CHECK_BATCH_ROWS)).execute();
        }
      }),
    );
  }

  async listChecks(filter: CheckFilter): Promise<CheckRecord[]> {
    const rows = await this.#execute('list check results', { run: filter.runId, asset: filter.target }, (db) => {
      // Within one moment, suite order; among equal positions (several partitions at once), the last recorded first.
      let query = db
        .selectFrom('check_results')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('expectation_index', 'asc')
        .orderBy('seq', 'desc');
      if (filter.runId !== undefined) query = query.where('run_id', '=', filter.runId);
      else if ((filter.origin ?? 'pipeline') === 'pipeline') query = query.where('run_id', 'not like', `${AD_HOC_RUN_PREFIX}%`);
      else if (filter.origin === 'ad-hoc') query = query.where('run_id', 'like', `${AD_HOC_RUN_PREFIX}%`);
      if (filter.target !== undefined) query = query.where('target', '=', filter.target);
      if (filter.limit !== undefined) query = query.limit(filter.limit);
      return query.execute();
    });
    return rows.map(toCheckRecord);
  }

  async checkHistory(filter: CheckHistoryFilter): Promise<CheckHistory> {
    const rows = await this.#execute(`read the check history of ${filter.target}`, { asset: filter.target }, (db) => queryCheckHistory(db, this.dialect, filter));
    return { ...rows, latestFailures: rows.latestFailures.map(toCheckRecord) };
  }

  async partitionOutcomes(assets: readonly string[], options: { sampleKeys?: number } = {}): Promise<PartitionOutcomes[]> {
    return this.#execute('summarise the latest outcome of every partition', {}, (db) => queryPartitionOutcomes(db, assets, options.sampleKeys ?? 5));
  }

  async recordTrainingSet(record: TrainingSetRecord): Promise<void> {
    await this.#execute(`record training set ${record.id}`, { service: record.service }, (db) =>
      db.insertInto('training_sets').values({
        id: record.id,
        project: record.project,
        service: record.service,
        definitions_hash: record.definitionsHash,
        spine_source: record.spine.source,
        spine_sha256: record.spine.sha256,
        spine_rows: record.spine.rows,
        timestamp_column: record.spine.timestampColumn,
        versions: JSON.stringify(record.versions),
        sluice_version: record.sluiceVersion,
        output_path: record.output.path,
        output_sha256: record.output.sha256,
        output_bytes: record.output.bytes,
        tags: JSON.stringify(record.tags),
        created_at: record.createdAt,
        pinned: record.pinned ? 1 : 0,
      }).execute(),
    );
  }

  async listTrainingSets(filter: { readonly id?: string; readonly pinned?: boolean } = {}): Promise<TrainingSetRecord[]> {
    const rows = await this.#execute('list training sets', {}, (db) => {
      let query = db.selectFrom('training_sets').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc');
      if (filter.id !== undefined) query = query.where('id', '=', filter.id);
      if (filter.pinned !== undefined) query = query.where('pinned', '=', filter.pinned ? 1 : 0);
      return query.execute();
    });
    return rows.map((row) => ({
      id: row.id,
      project: row.project,
      service: row.service,
      definitionsHash: row.definitions_hash,
      spine: { source: row.spine_source, sha256: row.spine_sha256, rows: Number(row.spine_rows), timestampColumn: row.timestamp_column },
      versions: JSON.parse(row.versions) as Record<string, number>,
      sluiceVersion: row.sluice_version,
      output: { path: row.output_path, sha256: row.output_sha256, bytes: Number(row.output_bytes), rows: Number(row.spine_rows) },
      tags: JSON.parse(row.tags) as Record<string, string>,
      createdAt: row.created_at,
      pinned: Number(row.pinned) === 1,
    }));
  }

  async setTrainingSetPinned(id: string, pinned: boolean): Promise<void> {
    const result = await this.#execute(`${pinned ? 'pin' : 'unpin'} training set ${id}`, {}, (db) =>
      db.updateTable('training_sets').set({ pinned: pinned ? 1 : 0 }).where('id', '=', id).executeTakeFirst(),
    );
    if (result.numUpdatedRows === 0n) throw new SluiceError('TRAINING_SET_NOT_FOUND', `no training set with id ${id} in the catalog; \`sluice training-sets\` lists them`, { id });
  }

  async putVaultEntries(entries: readonly VaultEntry[]): Promise<void> {
    const createdAt = new Date().toISOString();
    for (let i = 0; i < entries.length; i += VAULT_BATCH) {
      const rows = entries.slice(i, i + VAULT_BATCH).map((e) => ({ token: e.token, pii: e.pii, sealed: e.sealed, created_at: createdAt }));
      await this.#execute('add tokens to the vault', {}, (db) => db.insertInto('pii_vault').values(rows).onConflict((oc) => oc.column('token').doNothing()).execute());
    }
  }

  async vaultEntries(tokens: readonly string[]): Promise<VaultEntry[]> {
    const out: VaultEntry[] = [];
    for (let i = 0; i < tokens.length; i += VAULT_BATCH) {
      const chunk = tokens.slice(i, i + VAULT_BATCH);
      const rows = await this.#execute('read the vault', {}, (db) => db.selectFrom('pii_vault').select(['token', 'pii', 'sealed']).where('token', 'in', chunk).execute());
      out.push(...rows);
    }
    return out;
  }

  async deleteVaultEntries(tokens: readonly string[]): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < tokens.length; i += VAULT_BATCH) {
      const chunk = tokens.slice(i, i + VAULT_BATCH);
      const result = await this.#execute('remove tokens from the vault', {}, (db) => db.deleteFrom('pii_vault').where('token', 'in', chunk).executeTakeFirst());
      deleted += Number(result.numDeletedRows);
    }
    return deleted;
  }

  async recordAudit(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const rows = entries.map((e) => ({ id: e.id, at: e.at, principal: e.principal, key_id: e.keyId, action: e.action, target: e.target, count: e.count, detail: JSON.stringify(e.detail) }));
    await this.#execute(`record ${entries.length} audit entr${entries.length === 1 ? 'y' : 'ies'}`, {}, (db) =>
      db.transaction().execute(async (trx) => {
        for (let start = 0; start < rows.length; start += BATCH_ROWS) {
          await trx.insertInto('audit_log').values(rows.slice(start, start + BATCH_ROWS))
            .onConflict((oc) => oc.column('id').doUpdateSet({ count: sql<number>`audit_log.count + excluded.count` })).execute();
        }
      }),
    );
  }

  async listAudit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const rows = await this.#execute('list the audit log', {}, (db) => {
      let query = db.selectFrom('audit_log').selectAll().orderBy('at', 'desc').orderBy('id', 'desc');
      if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
      if (filter.principal !== undefined) query = query.where('principal', '=', filter.principal);
      if (filter.action !== undefined) query = query.where('action', '=', filter.action);
      if (filter.limit !== undefined) query = query.limit(filter.limit);
      return query.execute();
    });
    return rows.map((row) => ({
      id: row.id, at: row.at, principal: row.principal, keyId: row.key_id, action: row.action, target: row.target,
      count: Number(row.count), detail: JSON.parse(row.detail) as Record<string, unknown>,
    }));
  }

  async recordMaterialization(record: MaterializationRecord): Promise<void> {
    await this.#execute('record materialisation', { view: record.view }, (db) =>
      db.insertInto('materializations').values({
        view_name: record.view,
        store: record.store,
        from_micros: record.fromMicros,
        to_micros: record.toMicros,
        resume_micros: record.resumeMicros,
        asset_version: record.assetVersion,
        rows_written: record.rowsWritten,
        rows_stale: record.rowsStale,
        started_at: record.startedAt,
        ended_at: record.endedAt,
      }).execute(),
    );
  }

  async lastMaterialization(view: string, store: string): Promise<MaterializationRecord | undefined> {
    const row = await this.#execute('read materialisation state', { view }, (db) =>
      db.selectFrom('materializations').selectAll().where('view_name', '=', view).where('store', '=', store)
        .orderBy('seq', 'desc').limit(1).executeTakeFirst(),
    );
    if (row === undefined) return undefined;
    return {
      view: row.view_name,
      store: row.store,
      fromMicros: toNullableNumber(row.from_micros),
      toMicros: Number(row.to_micros),
      resumeMicros: toNullableNumber(row.resume_micros),
      assetVersion: toNullableNumber(row.asset_version),
      rowsWritten: Number(row.rows_written),
      rowsStale: Number(row.rows_stale),
      startedAt: row.started_at,
      endedAt: row.ended_at,
    };
  }

  async saveCheckpoint(checkpoint: StreamCheckpointSave): Promise<boolean> {
    const { job, partition } = checkpoint;
    const row = { job, partition_key: partition, sequence: checkpoint.sequence, state: JSON.stringify(checkpoint.state), updated_at: new Date().toISOString() };
    const put = checkpoint.put ?? [];
    const deleted = checkpoint.delete ?? [];
    return this.#execute('save stream checkpoint', { job, partition }, (db) =>
      db.transaction().execute(async (trx) => {
        // The checkpoint row first: it locks the partition, and a stale writer (sequence behind) changes nothing.
        const result = await trx.insertInto('stream_checkpoints').values(row)
          .onConflict((oc) => oc.columns(['job', 'partition_key']).doUpdateSet({ sequence: row.sequence, state: row.state, updated_at: row.updated_at })
            .where('stream_checkpoints.sequence', '<=', row.sequence))
          .executeTakeFirst();
        if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) return false;
        // A checkpoint may carry thousands of keys while the stream job goes on processing in this thread
        // (SQLite's driver is synchronous). Each statement takes its keys as one JSON array that the database
        // unpacks (json_each / json_array_elements): one short statement to prepare and one string to bind per
        // chunk, instead of four parameters a row, which cost most of the time; other callbacks run between chunks.
        const unpack = this.dialect === 'sqlite' ? KEY_STATE_SQLITE : KEY_STATE_POSTGRES;
        for (let start = 0; start < deleted.length; start += KEY_STATE_BATCH_ROWS) {
          await unpack.delete(job, partition, JSON.stringify(deleted.slice(start, start + KEY_STATE_BATCH_ROWS))).execute(trx);
          await yieldToEventLoop();
        }
        for (let start = 0; start < put.length; start += KEY_STATE_BATCH_ROWS) {
          const end = Math.min(start + KEY_STATE_BATCH_ROWS, put.length);
          const pairs: [string, unknown][] = [];
          for (let i = start; i < end; i++) {
            const entry = put[i] as StreamStateEntry;
            pairs.push([entry.key, entry.state]);
          }
          await unpack.put(job, partition, JSON.stringify(pairs)).execute(trx);
          await yieldToEventLoop();
        }
        return true;
      }),
    );
  }

  async loadCheckpoint(job: string, partition: string): Promise<StreamCheckpoint | undefined> {
    const loaded = await this.#execute('load stream checkpoint', { job, partition }, (db) =>
      db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('stream_checkpoints').selectAll().where('job', '=', job).where('partition_key', '=', partition).executeTakeFirst();
        if (row === undefined) return undefined;
        const entries = await trx.selectFrom('stream_key_state').select(['entity_key', 'state']).where('job', '=', job).where('partition_key', '=', partition)
          .orderBy('entity_key').execute();
        return { row, entries };
      }),
    );
    if (loaded === undefined) return undefined;
    const { row, entries } = loaded;
    return {
      job: row.job,
      partition: row.partition_key,
      sequence: Number(row.sequence),
      state: JSON.parse(row.state) as unknown,
      entries: entries.map((e) => ({ key: e.entity_key, state: JSON.parse(e.state) as unknown })),
      updatedAt: row.updated_at,
    };
  }

  async claimRunKey(claim: RunKeyClaim): Promise<{ claimed: boolean; runId: string }> {
    const row = { run_key: claim.key, run_id: claim.runId, job: claim.job, partition_key: claim.partition, origin: claim.origin, created_at: new Date().toISOString() };
    const result = await this.#execute(`claim run key ${claim.key}`, { runKey: claim.key }, (db) =>
      db.insertInto('run_keys').values(row).onConflict((oc) => oc.column('run_key').doNothing()).executeTakeFirst(),
    );
    if (Number(result.numInsertedOrUpdatedRows ?? 0) > 0) return { claimed: true, runId: claim.runId };
    const existing = await this.getRunKey(claim.key);
    if (existing === undefined) throw new SluiceError('CATALOG', `run key ${claim.key} was neither claimed nor found; retry`, { runKey: claim.key }, { transient: true });
    return { claimed: false, runId: existing.runId };
  }

  async getRunKey(key: string): Promise<RunKeyRecord | undefined> {
    const row = await this.#execute(`read run key ${key}`, { runKey: key }, (db) =>
      db.selectFrom('run_keys').selectAll().where('run_key', '=', key).executeTakeFirst(),
    );
    return row === undefined ? undefined : toRunKeyRecord(row);
  }

  async listRunKeys(prefix: string): Promise<RunKeyRecord[]> {
    const rows = await this.#execute(`list run keys ${prefix}*`, {}, (db) =>
      db.selectFrom('run_keys').selectAll().where(sql<string>`substr(run_key, 1, ${prefix.length})`, '=', prefix)
        .orderBy('created_at').orderBy('run_key').execute(),
    );
    return rows.map(toRunKeyRecord);
  }

  async acquireLease(resource: string, holder: string, ttlMs: number, options: LeaseOptions = {}): Promise<boolean> {
    const now = Date.now();
    const owner = options.owner ?? null;
    const row = { resource, holder, acquired_at: new Date(now).toISOString(), expires_at_ms: now + ttlMs, owner };
    const takeOver = options.takeOverFrom;
    const result = await this.#execute(`acquire lease ${resource}`, { resource }, (db) =>
      db.insertInto('leases').values(row)
        .onConflict((oc) => oc.column('resource').doUpdateSet({ holder, acquired_at: row.acquired_at, expires_at_ms: row.expires_at_ms, owner })
          .where((eb) => eb.or([
            eb('leases.holder', '=', holder),
            eb('leases.expires_at_ms', '<', now),
            ...(takeOver === undefined ? [] : [eb('leases.owner', '=', takeOver)]),
          ])))
        .executeTakeFirst(),
    );
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async releaseLease(resource: string, holder: string): Promise<void> {
    await this.#execute(`release lease ${resource}`, { resource }, (db) =>
      db.deleteFrom('leases').where('resource', '=', resource).where('holder', '=', holder).execute(),
    );
  }

  async getLease(resource: string): Promise<LeaseRecord | undefined> {
    const row = await this.#execute(`read lease ${resource}`, { resource }, (db) =>
      db.selectFrom('leases').selectAll().where('resource', '=', resource).executeTakeFirst(),
    );
    return row === undefined ? undefined : { resource: row.resource, holder: row.holder, acquiredAt: row.acquired_at, expiresAtMs: Number(row.expires_at_ms), owner: row.owner };
  }

  async getCursor(name: string): Promise<CursorRecord | undefined> {
    const row = await this.#execute(`read cursor ${name}`, { cursor: name }, (db) =>
      db.selectFrom('cursors').selectAll().where('name', '=', name).executeTakeFirst(),
    );
    return row === undefined ? undefined : { name: row.name, value: row.value, updatedAt: row.updated_at };
  }

  async setCursor(name: string, value: string, options: { expected?: string | null } = {}): Promise<boolean> {
    const updatedAt = new Date().toISOString();
    const result = await this.#execute(`set cursor ${name}`, { cursor: name }, (db) => {
      if (options.expected === null) {
        return db.insertInto('cursors').values({ name, value, updated_at: updatedAt }).onConflict((oc) => oc.column('name').doNothing()).executeTakeFirst()
          .then((r) => Number(r.numInsertedOrUpdatedRows ?? 0));
      }
      if (options.expected !== undefined) {
        return db.updateTable('cursors').set({ value, updated_at: updatedAt }).where('name', '=', name).where('value', '=', options.expected).executeTakeFirst()
          .then((r) => Number(r.numUpdatedRows));
      }
      return db.insertInto('cursors').values({ name, value, updated_at: updatedAt })
        .onConflict((oc) => oc.column('name').doUpdateSet({ value, updated_at: updatedAt })).executeTakeFirst()
        .then((r) => Number(r.numInsertedOrUpdatedRows ?? 0));
    });
    return result > 0;
  }

  async listCursors(prefix: string): Promise<CursorRecord[]> {
    const rows = await this.#execute(`list cursors ${prefix}*`, {}, (db) =>
      db.selectFrom('cursors').selectAll().where(sql<string>`substr(name, 1, ${prefix.length})`, '=', prefix).orderBy('name').execute(),
    );
    return rows.map((row) => ({ name: row.name, value: row.value, updatedAt: row.updated_at }));
  }

  async openBackfill(backfill: Omit<BackfillRecord, 'createdAt'>, partitions: readonly string[]): Promise<BackfillRecord> {
    const now = new Date().toISOString();
    await this.#execute(`open backfill ${backfill.id}`, { backfill: backfill.id }, (db) => db.transaction().execute(async (trx) => {
      await trx.insertInto('backfills').values({ id: backfill.id, job: backfill.job, from_key: backfill.from, to_key: backfill.to, created_at: now })
        .onConflict((oc) => oc.column('id').doNothing()).execute();
      for (let i = 0; i < partitions.length; i += 500) {
        const rows = partitions.slice(i, i + 500).map((p) => ({ backfill_id: backfill.id, partition_key: p, status: 'pending', run_id: null, attempts: 0, updated_at: now, error: null }));
        await trx.insertInto('backfill_partitions').values(rows).onConflict((oc) => oc.columns(['backfill_id', 'partition_key']).doNothing()).execute();
      }
    }));
    const row = await this.#execute(`read backfill ${backfill.id}`, { backfill: backfill.id }, (db) =>
      db.selectFrom('backfills').selectAll().where('id', '=', backfill.id).executeTakeFirstOrThrow(),
    );
    return { id: row.id, job: row.job, from: row.from_key, to: row.to_key, createdAt: row.created_at };
  }

  async listBackfillPartitions(backfillId: string): Promise<BackfillPartitionRecord[]> {
    const rows = await this.#execute(`list partitions of backfill ${backfillId}`, { backfill: backfillId }, (db) =>
      db.selectFrom('backfill_partitions').selectAll().where('backfill_id', '=', backfillId).orderBy('partition_key').execute(),
    );
    return rows.map((row) => ({
      backfillId: row.backfill_id, partition: row.partition_key, status: row.status as BackfillPartitionStatus, runId: row.run_id,
      attempts: row.attempts, updatedAt: row.updated_at, error: row.error,
    }));
  }

  async listBackfills(filter: { readonly limit?: number } = {}): Promise<BackfillOverview[]> {
    return this.#execute('list backfills', {}, async (db) => {
      const backfills = await db.selectFrom('backfills').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit ?? 100).execute();
      if (backfills.length === 0) return [];
      const counts = await db.selectFrom('backfill_partitions')
        .select(['backfill_id', 'status', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.max('updated_at').as('updated_at')])
        .where('backfill_id', 'in', backfills.map((b) => b.id)).groupBy(['backfill_id', 'status']).execute();
      return backfills.map((b) => {
        const partitions: Record<BackfillPartitionStatus, number> = { pending: 0, running: 0, success: 0, failed: 0 };
        let updatedAt = b.created_at;
        for (const c of counts) {
          if (c.backfill_id !== b.id) continue;
          partitions[c.status as BackfillPartitionStatus] = Number(c.n);
          if (c.updated_at !== null && c.updated_at > updatedAt) updatedAt = c.updated_at;
        }
        return { id: b.id, job: b.job, from: b.from_key, to: b.to_key, createdAt: b.created_at, partitions, updatedAt };
      });
    });
  }

  async updateBackfillPartition(backfillId: string, partition: string, update: { status: BackfillPartitionStatus; runId?: string | null; error?: string | null; attempts?: number }): Promise<void> {
    await this.#execute(`update partition ${partition} of backfill ${backfillId}`, { backfill: backfillId, partition }, (db) =>
      db.updateTable('backfill_partitions').set({
        status: update.status, updated_at: new Date().toISOString(),
        ...(update.runId === undefined ? {} : { run_id: update.runId }),
        ...(update.error === undefined ? {} : { error: update.error }),
        ...(update.attempts === undefined ? {} : { attempts: update.attempts }),
      }).where('backfill_id', '=', backfillId).where('partition_key', '=', partition).execute(),
    );
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }

  /** Re-recording a version is a no-op only if it says the same thing; otherwise two commits collided. */
  async #assertSameVersion(version: VersionRecord): Promise<void> {
    const row = await this.#execute(`read version ${version.version} of ${version.asset}`, { asset: version.asset }, (db) =>
      db.selectFrom('table_versions').selectAll().where('asset', '=', version.asset).where('version', '=', version.version).executeTakeFirst(),
    );
    if (row === undefined) return;
    const existing = toVersionRecord(row);
    if (sameVersionContent(existing, version)) return;
    throw new SluiceError(
      'COMMIT_CONFLICT',
      `version ${version.version} of asset ${version.asset} is already recorded by run ${existing.runId} ` +
        `(manifest ${existing.manifestPath}), so run ${version.runId} cannot commit it; run the asset again to commit a new version`,
      { asset: version.asset, version: version.version, run: version.runId, existingRun: existing.runId },
    );
  }

  async #execute<T>(action: string, context: ErrorContext, query: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    try {
      return await retryOnLockContention(() => query(this.#db));
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      const code = (error as { code?: unknown }).code;
      const full = typeof code === 'string' && /^(SQLITE_FULL|ENOSPC|53100)$/.test(code) ? ': free disk space where the catalog is stored (or point SLUICE_CATALOG_URL elsewhere), then run again' : '';
      throw new SluiceError('CATALOG', `could not ${action} in the ${this.dialect} catalog: ${errorMessage(error)}${full}`, context, {
        cause: error,
        transient: isTransient(error),
      });
    }
  }
}

function notFound(kind: 'run' | 'step', id: string): SluiceError {
  return new SluiceError('CATALOG', `no ${kind} with id ${id} in the catalog; create the ${kind} before updating it`, { [kind]: id });
}

/** Backoff before each retry; busy_timeout already waits inside SQLite, so these are a last resort. */
const RETRY_DELAYS_MS = [50, 200, 1000];

// SQLITE_BUSY*/SQLITE_LOCKED*, and PostgreSQL's serialization_failure, deadlock_detected, lock_not_available.
const LOCK_CONTENTION_CODES = /^(SQLITE_BUSY|SQLITE_LOCKED|40001$|40P01$|55P03$)/;

async function retryOnLockContention<T>(attempt: () => Promise<T>): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      const delay = RETRY_DELAYS_MS[retry];
      if (delay === undefined || !isLockContention(error)) throw error;
      await sleep(delay * (0.5 + Math.random()));
    }
  }
}

function isLockContention(error: unknown): boolean {
  if (!(error instanceof Error) || !('code' in error)) return false;
  return typeof error.code === 'string' && LOCK_CONTENTION_CODES.test(error.code);
}

function toRunRecord(row: Selectable<RunsTable>): RunRecord {
  return {
    id: row.id,
    project: row.project,
    status: row.status,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    args: parseObject(row.args),
    error: row.error,
    owner: row.owner,
    heartbeatAtMs: toNullableNumber(row.heartbeat_at_ms),
  };
}

function toStepRecord(row: Selectable<StepsTable>): StepRecord {
  return {
    id: row.id,
    runId: row.run_id,
    asset: row.asset,
    partition: row.partition_key,
    status: row.status,
    attempts: row.attempts,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    rowsIn: toNullableNumber(row.rows_in),
    rowsOut: toNullableNumber(row.rows_out),
    bytesWritten: toNullableNumber(row.bytes_written),
    badRecords: toNullableNumber(row.bad_records),
    version: row.version,
    error: row.error,
  };
}

function toVersionRow(version: VersionRecord): Insertable<TableVersionsTable> {
  return {
    asset: version.asset,
    version: version.version,
    run_id: version.runId,
    step_id: version.stepId,
    created_at: version.createdAt,
    partitions: JSON.stringify(version.partitions),
    row_count: version.rowCount,
    bytes: version.bytes,
    manifest_path: version.manifestPath,
  };
}

function toVersionRecord(row: Selectable<TableVersionsTable>): VersionRecord {
  return {
    asset: row.asset,
    version: row.version,
    runId: row.run_id,
    stepId: row.step_id,
    createdAt: row.created_at,
    partitions: parseStrings(row.partitions),
    rowCount: Number(row.row_count),
    bytes: Number(row.bytes),
    manifestPath: row.manifest_path,
  };
}

/** Everything but createdAt, which a retried commit may stamp afresh. */
function sameVersionContent(a: VersionRecord, b: VersionRecord): boolean {
  return (
    a.runId === b.runId &&
    a.stepId === b.stepId &&
    a.rowCount === b.rowCount &&
    a.bytes === b.bytes &&
    a.manifestPath === b.manifestPath &&
    JSON.stringify(a.partitions) === JSON.stringify(b.partitions)
  );
}

function toLineageRow(edge: LineageEdge): Insertable<LineageTable> {
  return {
    run_id: edge.runId,
    step_id: edge.stepId,
    direction: edge.direction,
    dataset: edge.dataset,
    kind: edge.kind,
    version: edge.version,
    partition_key: edge.partition,
    fingerprint: edge.fingerprint,
  };
}

function toRunKeyRecord(row: Selectable<RunKeysTable>): RunKeyRecord {
  return { key: row.run_key, runId: row.run_id, job: row.job, partition: row.partition_key, origin: row.origin as RunKeyRecord['origin'], createdAt: row.created_at };
}

function toLineageEdge(row: Selectable<LineageTable>): LineageEdge {
  return {
    runId: row.run_id,
    stepId: row.step_id,
    direction: row.direction,
    dataset: row.dataset,
    kind: row.kind,
    version: row.version,
    partition: row.partition_key,
    fingerprint: row.fingerprint,
  };
}

function toCheckRow(check: CheckRecord): Insertable<CheckResultsTable> {
  return {
    run_id: check.runId,
    step_id: check.stepId,
    target: check.target,
    partition_key: check.partition,
    expectation_index: check.index,
    expectation_type: check.expectationType,
    column_name: check.column,
    severity: check.severity,
    success: check.success ? 1 : 0,
    unexpected_count: check.unexpectedCount,
    unexpected_percent: check.unexpectedPercent,
    kwargs: toJson(check.kwargs),
    result: toJson(check.result),
    created_at: check.createdAt,
  };
}

function toCheckRecord(row: Selectable<CheckResultsTable>): CheckRecord {
  return {
    runId: row.run_id,
    stepId: row.step_id,
    target: row.target,
    partition: row.partition_key,
    index: row.expectation_index,
    expectationType: row.expectation_type,
    column: row.column_name,
    severity: row.severity,
    success: Number(row.success) !== 0,
    unexpectedCount: toNullableNumber(row.unexpected_count),
    unexpectedPercent: row.unexpected_percent === null ? null : Number(row.unexpected_percent),
    kwargs: parseObject(row.kwargs),
    result: parseObject(row.result),
    createdAt: row.created_at,
  };
}

/** JSON text for stored objects. DuckDB hands BIGINTs back as bigint, which JSON.stringify rejects: they become
 * numbers when exact, decimal strings otherwise. */
function toJson(value: Record<string, unknown>): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  });
}

function toNullableNumber(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

function parseObject(json: string): Record<string, unknown> {
  const value: unknown = JSON.parse(json);
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...value } : {};
}

function parseStrings(json: string): string[] {
  const value: unknown = JSON.parse(json);
  return Array.isArray(value) ? value.map(String) : [];
}
