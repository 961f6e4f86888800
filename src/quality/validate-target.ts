// Standalone validation: a suite against a file (Parquet, CSV, NDJSON) or against an asset's table version.
import fs from 'node:fs';
import path from 'node:path';
import type { Suite } from '../define/checks.ts';
import type { Engine } from '../engine/engine.ts';
import { SluiceError } from '../errors.ts';
import { quoteLiteral } from '../sql/identifiers.ts';
import type { QualityContext, ValidationResult } from './types.ts';
import { runSuite } from './run-suite.ts';

/** A relation over a data file, chosen by its extension. */
export function fileRelation(file: string): string {
  const full = path.resolve(file);
  if (!fs.existsSync(full)) throw new SluiceError('SOURCE_NOT_FOUND', `file ${full} does not exist`, { file: full });
  const literal = quoteLiteral(full);
  if (/\.parquet$/i.test(full)) return `read_parquet(${literal})`;
  if (/\.(csv|tsv)(\.gz)?$/i.test(full)) return `read_csv(${literal})`;
  if (/\.(ndjson|jsonl|json)(\.gz)?$/i.test(full)) return `read_json(${literal}, format = 'auto')`;
  throw new SluiceError('CONFIG_INVALID', `cannot tell the format of ${full}: use a .parquet, .csv, .ndjson/.jsonl or .json file`, { file: full });
}

export function severityFailures(result: ValidationResult): { errors: number; warnings: number } {
  let errors = 0;
  let warnings = 0;
  for (const r of result.results) {
    if (r.success) continue;
    if (r.expectation_config.meta?.severity === 'warn') warnings++;
    else errors++;
  }
  return { errors, warnings };
}

export async function validateRelation(engine: Engine, relation: string, suite: Suite, context: QualityContext = {}): Promise<ValidationResult> {
  return engine.withSession((session) => runSuite(session, relation, suite, context));
}
