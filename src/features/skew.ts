// Online/offline skew: sample entities from the online store, read their values and event times, recompute
// the same features offline as of those event times (the training-set query itself), and compare
// feature by feature. Disagreements are counted as mismatches (both sides have a value and they differ),
// missing (offline has a value, online has none) and extra (online has a value, offline has none).
import type { FeatureView } from '../define/features.ts';
import { getFeatureService } from '../define/project.ts';
import { SluiceError } from '../errors.ts';
import { quoteIdent, quoteLiteral } from '../sql/identifiers.ts';
import { timestampSql } from '../sql/features-sql.ts';
import type { OnlineStore } from '../store/online/online-store.ts';
import type { Workspace } from '../workspace.ts';
import { preparePointInTime } from './historical.ts';
import { decodeKey } from './keys.ts';
import { openViewSource } from './view-source.ts';

export interface SkewOptions {
  readonly service: string;
  /** Entities sampled per view (default 1000). */
  readonly sample?: number;
  /** Largest share of sampled entities that may disagree on any one feature (default 0). */
  readonly threshold?: number;
  /** Relative tolerance for numbers (default 1e-9): floating-point sums may differ in the last bits. */
  readonly tolerance?: number;
}

export interface FeatureSkew {
  readonly view: string;
  readonly feature: string;
  /** Sampled entities compared. */
  readonly compared: number;
  readonly mismatches: number;
  readonly missing: number;
  readonly extra: number;
  readonly mismatchRate: number;
  /** (mismatches + missing + extra) / compared: what the threshold applies to. */
  readonly disagreementRate: number;
  /** Symmetric mean absolute percentage error over entities where both values are numbers (0-200), or null. */
  readonly smape: number | null;
  /** A few disagreeing entities, for a look. */
  readonly examples: readonly { entity: Record<string, unknown>; online: unknown; offline: unknown }[];
}

export interface SkewReport {
  readonly service: string;
  readonly threshold: number;
  readonly views: readonly { view: string; sampled: number; asset: string; assetVersion: number }[];
  readonly features: readonly FeatureSkew[];
  readonly passed: boolean;
}

export async function measureSkew(ws: Workspace, store: OnlineStore, options: SkewOptions): Promise<SkewReport> {
  const service = getFeatureService(ws.project, options.service);
  const sample = options.sample ?? 1000;
  const threshold = options.threshold ?? 0;
  const tolerance = options.tolerance ?? 1e-9;
  if (!Number.isInteger(sample) || sample <= 0) throw new SluiceError('CONFIG_INVALID', `skew: --sample must be a positive whole number, got ${sample}`);
  const views: SkewReport['views'][number][] = [];
  const features: FeatureSkew[] = [];
  for (const view of service.views) {
    const own = service.features.filter((f) => f.kind === 'view' && f.view === view).map((f) => f.name);
    if (own.length === 0) continue;
    const keys = await store.sampleKeys(view.name, sample);
    const [stored = []] = await store.read([{ view: view.name, keys, features: own }]);
    const present = keys.flatMap((key, i) => (stored[i] === undefined ? [] : [{ key, stored: stored[i] }]));
    const offline = await offlineAsOf(ws, view, own, present.map((p) => ({ key: p.key, micros: p.stored.eventTimeMicros })));
    const meta = offline.source;
    views.push({ view: view.name, sampled: present.length, asset: meta.asset, assetVersion: meta.version });
    for (const feature of own) {
      features.push(compareFeature(view, feature, present.map((p, i) => ({
        entity: decodeKey(view.entity.keys, p.key),
        online: p.stored.values[feature],
        offline: offline.values[i]?.[feature],
      })), tolerance));
    }
  }
  const passed = features.every((f) => f.disagreementRate <= threshold);
  return { service: service.name, threshold, views, features, passed };
}

async function offlineAsOf(ws: Workspace, view: FeatureView, features: readonly string[], points: readonly { key: string; micros: number }[]): Promise<{ values: (Record<string, unknown> | undefined)[]; source: { asset: string; version: number } }> {
  return ws.engine.withSession(async (session) => {
    const source = await openViewSource(ws, session, view);
    if (points.length === 0) return { values: [], source };
    const keyNames = view.entity.keys.map((k) => k.name);
    const literal = (value: number | string): string => (typeof value === 'number' ? String(value) : quoteLiteral(value));
    const tuples = points.map((p, i) => {
      const decoded = decodeKey(view.entity.keys, p.key);
      return `(${i}, ${keyNames.map((k) => literal(decoded[k] as number | string)).join(', ')}, ${timestampSql(p.micros)})`;
    });
    const columns = ['__i', ...keyNames, '__at'].map(quoteIdent).join(', ');
    // The training-set path itself, with the online event times as the spine: what a training row would get.
    const prepared = await preparePointInTime(session, {
      spine: `SELECT * FROM (VALUES ${tuples.join(', ')}) AS t(${columns})`,
      timestampColumn: '__at',
      views: [{ view, sourceRelation: source.relation, features }],
    });
    let result: { __i: number; __values: string }[];
    try {
      const packed = features.map((f) => `${quoteIdent(f)} := ${quoteIdent(f)}`).join(', ');
      result = await session.query<{ __i: number; __values: string }>(`SELECT __i, to_json(struct_pack(${packed}))::VARCHAR AS __values FROM (${prepared.sql})`);
    } finally {
      await prepared.release();
    }
    const values: (Record<string, unknown> | undefined)[] = points.map(() => undefined);
    for (const row of result) values[Number(row.__i)] = JSON.parse(row.__values) as Record<string, unknown>;
    return { values, source };
  });
}

function compareFeature(view: FeatureView, feature: string, pairs: readonly { entity: Record<string, unknown>; online: unknown; offline: unknown }[], tolerance: number): FeatureSkew {
  let mismatches = 0;
  let missing = 0;
  let extra = 0;
  let smapeSum = 0;
  let smapeCount = 0;
  const examples: FeatureSkew['examples'][number][] = [];
  for (const pair of pairs) {
    const online = pair.online ?? null;
    const offline = pair.offline ?? null;
    let disagrees = false;
    if (online === null && offline !== null) { missing += 1; disagrees = true; }
    else if (online !== null && offline === null) { extra += 1; disagrees = true; }
    else if (online !== null && offline !== null) {
      if (typeof online === 'number' && typeof offline === 'number') {
        const scale = (Math.abs(online) + Math.abs(offline)) / 2;
        smapeSum += scale === 0 ? 0 : Math.abs(online - offline) / scale;
        smapeCount += 1;
        if (Math.abs(online - offline) > tolerance * Math.max(Math.abs(online), Math.abs(offline))) { mismatches += 1; disagrees = true; }
      } else if (JSON.stringify(online) !== JSON.stringify(offline)) { mismatches += 1; disagrees = true; }
    }
    if (disagrees && examples.length < 3) examples.push({ entity: pair.entity, online, offline });
  }
  const compared = pairs.length;
  return {
    view: view.name,
    feature,
    compared,
    mismatches,
    missing,
    extra,
    mismatchRate: compared === 0 ? 0 : mismatches / compared,
    disagreementRate: compared === 0 ? 0 : (mismatches + missing + extra) / compared,
    smape: smapeCount === 0 ? null : (100 * smapeSum) / smapeCount,
    examples,
  };
}
