// One step: one partition of one asset. Resolve its inputs, skip it when its fingerprint is unchanged,
// otherwise run its SQL in DuckDB, write sorted zstd Parquet to staging and commit a new table version.
import fs from 'node:fs/promises';
import type { Project } from '../define/project.ts';
import { getAsset } from '../define/project.ts';
import type { Engine } from '../engine/engine.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { quoteLiteral } from '../sql/identifiers.ts';
import type { InputRef } from '../store/tables/manifest.ts';
import type { Catalog } from '../store/catalog/catalog.ts';
import { manifestFileName, type CommitResult, type TableStore } from '../store/tables/table-store.ts';
import { prepareInputs, renderSql, resolveInputs, stepFingerprint } from './inputs.ts';
import { describeFailure, runChecks, stagedRelation, type CheckOutcome } from './checks.ts';
import { executeExtract, isExtractAsset } from './extract.ts';

export interface StepEnv {
  readonly project: Project;
  readonly projectDir: string;
  readonly stateDir: string;
  readonly engine: Engine;
  readonly tables: TableStore;
  /** For check history (anomaly detection); checks without history work without it. */
  readonly catalog?: Catalog;
}

export interface StepOutcome {
  readonly status: 'success' | 'skipped';
  readonly version: number;
  readonly rowsIn: number;
  readonly rowsOut: number;
  readonly bytesWritten: number;
  readonly badRecords: number;
  readonly reads: readonly InputRef[];
  readonly fingerprint: string;
  readonly file: string | null;
  /** Checks run on the output before it was published; null when the asset has none (or was skipped). */
  readonly checks: CheckOutcome | null;
  /** The version this step published (null when skipped): what the catalog records about it. */
  readonly committed: { readonly createdAt: string; readonly changed: readonly string[]; readonly rowCount: number; readonly bytes: number; readonly manifestPath: string } | null;
}

/** A failed `error` check: nothing was published. Carries the results so the runner can record them. */
export class CheckFailedError extends SluiceError {
  readonly checks: CheckOutcome;

  constructor(message: string, context: { asset: string; partition: string }, checks: CheckOutcome) {
    super('CHECK_FAILED', message, context);
    this.checks = checks;
  }
}

/** How the caller stops a step: `signal` interrupts its DuckDB statement; `beforeCommit` may refuse the commit. */
export interface StepControl {
  /** Aborted only while the step runs (the session is open until the step's promise settles). */
  readonly signal?: AbortSignal;
  /** Called right before the new version is committed; throwing stops the commit (a timeout, a lost lease). */
  readonly beforeCommit?: () => Promise<void>;
}

export async function executeStep(env: StepEnv, run: { runId: string; stepId: string | null }, assetName: string, partition: string, force: boolean, control: StepControl = {}): Promise<StepOutcome> {
  const runId = run.runId;
  const asset = getAsset(env.project, assetName);
  if (isExtractAsset(asset)) return executeExtract(env, run, asset, force, control);
  const partitionColumn = asset.partitions?.column ?? null;
  return env.engine.withSession(async (session) => {
    control.signal?.addEventListener('abort', () => session.interrupt(), { once: true });
    const rendered = renderSql(env.project, asset, partition);
    const inputs = await resolveInputs(session, env, asset, partition, rendered.references);
    const fingerprint = stepFingerprint(rendered.sql, partitionColumn, inputs);
    const reads = inputs.map((i) => i.ref);

    const current = await env.tables.latest(asset.name);
    if (!force) {
      const entry = current?.partitions[partition];
      if (current !== undefined && entry !== undefined && entry.fingerprint === fingerprint) {
        return { status: 'skipped', version: current.version, rowsIn: 0, rowsOut: entry.rows, bytesWritten: 0, badRecords: 0, reads, fingerprint, file: null, checks: null, committed: null };
      }
    }

    const prepared = await prepareInputs(session, env, partition, inputs);
    const where = `asset "${asset.name}"${partition === '' ? '' : ` partition ${partition}`}`;
    const staged = env.tables.stagingPath(runId, asset.name, partition);
    // The partition value lives in the folder name (Hive style), not in the file: drop that column if the
    // SQL returns it. ORDER BY ALL makes the file's bytes a function of its content, so an unchanged rerun
    // hashes the same.
    const select = partitionColumn === null ? '*' : `COLUMNS(c -> c <> ${quoteLiteral(partitionColumn)})`;
    const copy = `COPY (SELECT ${select} FROM (${rendered.sql}) ORDER BY ALL) TO ${quoteLiteral(staged)} (FORMAT parquet, COMPRESSION zstd)`;
    let rowsOut: number;
    let fileColumns;
    try {
      const result = await session.query<{ Count: bigint }>(copy);
      rowsOut = Number(result[0]?.Count ?? 0n);
      fileColumns = await session.describe(`SELECT * FROM read_parquet(${quoteLiteral(staged)}, hive_partitioning = false)`);
    } catch (error) {
      await fs.rm(staged, { force: true });
      throw new SluiceError('ASSET_SQL', `${where}: its SQL failed: ${errorMessage(error)}`, { asset: asset.name, partition }, { cause: error });
    }
    const schema = [...fileColumns, ...(partitionColumn === null ? [] : [{ name: partitionColumn, type: 'DATE' }])];
    const checks = await runChecks(session, env, asset, partition, stagedRelation(staged, partitionColumn, partition), schema.map((c) => c.name), run, current);
    if (checks !== null && checks.blocking.length > 0) {
      await fs.rm(staged, { force: true });
      const quarantined = checks.quarantineFile === null ? '' : `; ${checks.quarantinedRows} failing row(s) in ${checks.quarantineFile}`;
      throw new CheckFailedError(
        `${where}: ${checks.blocking.length} error check(s) failed, nothing was published: ${checks.blocking.map(describeFailure).join('; ')}${quarantined}`,
        { asset: asset.name, partition },
        checks,
      );
    }
    try {
      await control.beforeCommit?.();
    } catch (error) {
      await fs.rm(staged, { force: true });
      throw error;
    }
    const committed = await env.tables.commit({
      asset: asset.name, partition, partitionColumn, stagedFile: staged, schema, rows: rowsOut, runId, fingerprint, inputs: reads,
    });
    return { status: 'success', rowsIn: prepared.rowsIn, rowsOut, badRecords: prepared.badRecords, reads, fingerprint, checks, ...committedOutcome(asset.name, committed) };
  });
}

/** What a step's outcome says about the version it committed (the catalog records it). */
export function committedOutcome(assetName: string, committed: CommitResult): Pick<StepOutcome, 'version' | 'bytesWritten' | 'file' | 'committed'> {
  return {
    version: committed.manifest.version,
    bytesWritten: committed.file.bytes,
    file: committed.file.path,
    committed: {
      createdAt: committed.manifest.createdAt,
      changed: committed.manifest.changed,
      rowCount: committed.manifest.rowCount,
      bytes: committed.manifest.bytes,
      manifestPath: `tables/${assetName}/_versions/${manifestFileName(committed.manifest.version)}`,
    },
  };
}
