// Where personal data is (`sluice pii`): every source, asset, feature and served field holding a column
// classified as PII, with the policy that covers it or none. Declared classes come from the definitions;
// a column derived from a classified one (column lineage) is PII too unless a policy on the way protected it.
import { describeProtection, protects, type ColumnProtection } from '../define/pii.ts';
import type { Project } from '../define/project.ts';

export interface PiiLocation {
  readonly kind: 'source' | 'asset' | 'feature' | 'served';
  /** The source, asset, feature view or feature service. */
  readonly name: string;
  readonly column: string;
  readonly pii: string;
  /** The policy applied here, or how it got here ('from users.email'). */
  readonly policy: string;
  /** Whether the personal data is protected at this point. */
  readonly protected: boolean;
  /** Where the classification comes from: 'declared', or the upstream column it derives from. */
  readonly origin: string;
}

/** Upstream columns of an asset's output column: `{ dataset, column }` pairs (from column lineage). */
export type ColumnSources = (asset: string, column: string) => readonly { readonly dataset: string; readonly column: string }[];

/** The classification reaching `dataset.column`: declared there, or inherited through `sources`; memoised. */
function classify(project: Project, sources: ColumnSources | undefined): (dataset: string, column: string) => { protection: ColumnProtection; origin: string } | undefined {
  const memo = new Map<string, { protection: ColumnProtection; origin: string } | undefined>();
  const visit = (dataset: string, column: string, seen: Set<string>): { protection: ColumnProtection; origin: string } | undefined => {
    const id = `${dataset}.${column}`;
    if (memo.has(id)) return memo.get(id);
    if (seen.has(id)) return undefined;
    seen.add(id);
    const definition = project.datasets.get(dataset);
    const declared = definition === undefined ? undefined : definition.kind === 'source' ? definition.protect[column] : (definition).protect?.[column];
    let found: { protection: ColumnProtection; origin: string } | undefined = declared === undefined ? undefined : { protection: declared, origin: 'declared' };
    if (found === undefined && definition?.kind === 'asset' && sources !== undefined) {
      for (const upstream of sources(dataset, column)) {
        const inherited = visit(upstream.dataset, upstream.column, seen);
        // A protected upstream column carries no personal data onwards; an unprotected one does.
        if (inherited !== undefined && !protects(inherited.protection.policy)) {
          found = { protection: { pii: inherited.protection.pii, policy: undefined }, origin: `${upstream.dataset}.${upstream.column}` };
          break;
        }
      }
    }
    memo.set(id, found);
    return found;
  };
  return (dataset, column) => visit(dataset, column, new Set());
}

/** Every place personal data is held, sources first, then assets in build order, features and services. */
export function piiInventory(project: Project, columnsOf: (asset: string) => readonly string[], sources?: ColumnSources): PiiLocation[] {
  const find = classify(project, sources);
  const out: PiiLocation[] = [];
  const add = (kind: PiiLocation['kind'], name: string, column: string, hit: { protection: ColumnProtection; origin: string }): void => {
    out.push({ kind, name, column, pii: hit.protection.pii, policy: describeProtection(hit.protection), protected: protects(hit.protection.policy), origin: hit.origin });
  };
  for (const dataset of project.datasets.values()) {
    if (dataset.kind !== 'source') continue;
    for (const [column, protection] of Object.entries(dataset.protect)) add('source', dataset.name, column, { protection, origin: 'declared' });
  }
  for (const name of project.order) {
    const asset = project.datasets.get(name);
    if (asset?.kind !== 'asset') continue;
    const columns = new Set([...columnsOf(name), ...Object.keys(asset.protect ?? {})]);
    for (const column of columns) {
      const hit = find(name, column);
      if (hit !== undefined && !(hit.origin === 'declared' && protects(hit.protection.policy) && hit.protection.policy?.kind === 'drop')) add('asset', name, column, hit);
    }
  }
  for (const view of project.featureViews.values()) {
    for (const feature of view.features) {
      // A column feature is its column; an aggregation reads its column (a count of events reads none).
      const column = view.type === 'columns' ? feature : view.aggregations.find((a) => a.name === feature)?.column;
      const hit = column === undefined ? undefined : find(view.source, column);
      if (hit !== undefined) add('feature', view.name, feature, { protection: hit.protection, origin: `${view.source}.${column ?? ''}` });
    }
  }
  for (const service of project.featureServices.values()) {
    for (const feature of service.features) {
      if (feature.kind !== 'view') continue;
      const hit = out.find((l) => l.kind === 'feature' && l.name === feature.view.name && l.column === feature.name);
      if (hit !== undefined) out.push({ ...hit, kind: 'served', name: service.name, origin: `${feature.view.name}.${feature.name}` });
    }
  }
  return out;
}
