// Training sets that can be rebuilt exactly. Each one written to a file is recorded in the catalog: the feature
// service and a hash of its definitions, the spine's content hash and rows, the table version of every asset
// its views read, the sluice version, the output file's hash, and tags. Those versions are pinned (vacuum
// keeps them) until unpinned. A rebuild (`--pin <id>`) reads the same versions, refuses when the definitions or
// the spine changed, and writes the same bytes.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FeatureService } from '../define/features.ts';
import { SluiceError } from '../errors.ts';
import type { TrainingSetRecord } from '../store/catalog/catalog.ts';
import type { Workspace } from '../workspace.ts';

/** sluice's own version, recorded with each training set (from package.json, read once). */
let sluiceVersion: string | undefined;
export function currentSluiceVersion(): string {
  if (sluiceVersion === undefined) {
    const file = path.resolve(import.meta.dirname, '..', '..', 'package.json');
    sluiceVersion = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  }
  return sluiceVersion;
}

/**
 * A hash of what a service computes: its views (entity keys, source asset, timestamp, TTL, features or
 * aggregations), their order, and its on-demand features (their inputs, outputs and function source).
 */
export function definitionsHash(service: FeatureService): string {
  const seen = new WeakSet();
  const text = JSON.stringify({ features: service.features, views: service.views, onDemand: service.onDemand }, (_key, value: unknown) => {
    if (typeof value === 'function') return `fn:${String(value)}`;
    if (value instanceof Map) return Object.fromEntries(value) as Record<string, unknown>;
    if (typeof value === 'object' && value !== null) {
      const kind = (value as { kind?: unknown }).kind;
      // Datasets are named, not expanded: their SQL is part of the asset, whose version is recorded.
      if (kind === 'asset' || kind === 'source') return `${kind}:${String((value as { name?: unknown }).name)}`;
      if (seen.has(value)) return '[seen]';
      seen.add(value);
    }
    return value;
  });
  return createHash('sha256').update(text).digest('hex');
}

/** The content hash of a spine: its file's bytes (every file of a glob, in order), or a relation's SQL text. */
export function spineDigest(spine: string | { readonly sql: string }): { source: string; sha256: string } {
  const hash = createHash('sha256');
  if (typeof spine !== 'string') {
    hash.update(spine.sql);
    return { source: `sql:${createHash('sha256').update(spine.sql).digest('hex').slice(0, 16)}`, sha256: hash.digest('hex') };
  }
  const file = path.resolve(spine);
  hash.update(fs.readFileSync(file));
  return { source: file, sha256: hash.digest('hex') };
}

export function fileDigest(file: string): { sha256: string; bytes: number } {
  const bytes = fs.readFileSync(file);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
}

export function newTrainingSetId(now: Date = new Date()): string {
  return `ts-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-')}-${randomBytes(3).toString('hex')}`;
}

/** Parse `key=value` pairs (`--tag model=churn-v3`, `--as-of-version user_features=12`). */
export function parsePairs(pairs: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0 || at === pair.length - 1) throw new SluiceError('CONFIG_INVALID', `${flag} ${JSON.stringify(pair)}: use KEY=VALUE, e.g. ${flag} model=churn-v3`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

/** `--as-of-version asset=n` pairs as versions, checked to be whole numbers. */
export function parseVersions(pairs: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [asset, text] of Object.entries(parsePairs(pairs, '--as-of-version'))) {
    const version = Number(text);
    if (!Number.isInteger(version) || version < 1) throw new SluiceError('CONFIG_INVALID', `--as-of-version ${asset}=${text}: a version is a whole number from 1 (see \`sluice versions ${asset}\`)`, { asset });
    out[asset] = version;
  }
  return out;
}

export async function getTrainingSet(ws: Workspace, id: string): Promise<TrainingSetRecord> {
  const [record] = await ws.catalog.listTrainingSets({ id });
  if (record === undefined) throw new SluiceError('TRAINING_SET_NOT_FOUND', `no training set with id ${id} in the catalog; \`sluice training-sets\` lists them`, { id });
  return record;
}

/** What a rebuild of `record` must check first: the service's definitions and the spine are the ones recorded. */
export function checkRebuildable(record: TrainingSetRecord, service: FeatureService, spine: string | { readonly sql: string }): void {
  const now = definitionsHash(service);
  if (now !== record.definitionsHash) {
    throw new SluiceError('CONFIG_INVALID', `training set ${record.id}: the definitions of feature service "${record.service}" changed since it was built (hash ${record.definitionsHash.slice(0, 12)}, now ${now.slice(0, 12)}), so a rebuild would not be the same training set; restore the definitions (the project at the commit that built it), or build a new training set`, { id: record.id });
  }
  const digest = spineDigest(spine);
  if (digest.sha256 !== record.spine.sha256) {
    throw new SluiceError('CONFIG_INVALID', `training set ${record.id}: the spine ${digest.source} is not the one it was built from (${record.spine.source}, sha256 ${record.spine.sha256.slice(0, 12)}, now ${digest.sha256.slice(0, 12)}); give that spine with --spine`, { id: record.id, file: digest.source });
  }
}

export interface TrainingSetDiff {
  readonly a: string;
  readonly b: string;
  readonly service: { readonly a: string; readonly b: string } | null;
  readonly definitions: boolean;
  readonly spine: { readonly a: string; readonly b: string } | null;
  /** Assets whose version differs (or that only one read). */
  readonly versions: readonly { readonly asset: string; readonly a: number | null; readonly b: number | null }[];
  readonly output: boolean;
  readonly tags: readonly { readonly key: string; readonly a: string | null; readonly b: string | null }[];
}

/** Which inputs changed between two training sets: the service, its definitions, the spine, each asset's version. */
export function diffTrainingSets(a: TrainingSetRecord, b: TrainingSetRecord): TrainingSetDiff {
  const assets = [...new Set([...Object.keys(a.versions), ...Object.keys(b.versions)])].sort();
  const keys = [...new Set([...Object.keys(a.tags), ...Object.keys(b.tags)])].sort();
  return {
    a: a.id,
    b: b.id,
    service: a.service === b.service ? null : { a: a.service, b: b.service },
    definitions: a.definitionsHash !== b.definitionsHash,
    spine: a.spine.sha256 === b.spine.sha256 ? null : { a: `${a.spine.source} (${a.spine.sha256.slice(0, 12)})`, b: `${b.spine.source} (${b.spine.sha256.slice(0, 12)})` },
    versions: assets.map((asset) => ({ asset, a: a.versions[asset] ?? null, b: b.versions[asset] ?? null })).filter((v) => v.a !== v.b),
    output: a.output.sha256 !== b.output.sha256,
    tags: keys.map((key) => ({ key, a: a.tags[key] ?? null, b: b.tags[key] ?? null })).filter((t) => t.a !== t.b),
  };
}
