// Where personal data is (`sluice pii`): every source, asset, feature and served field holding a column
// classified as PII, with the policy that covers it or none. Declared classes come from the definitions;
// a column derived from a classified one (column lineage) is PII too unless a policy on the way protected it.
import { describeProtection, protects, type ColumnProtection } from '../define/pii.ts';
import type { Project } from '../define/project.ts';
import { SluiceError } from '../errors.ts';
import { VALUE_KINDS } from '../sql/column-lineage.ts';
import type { Workspace } from '../workspace.ts';


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

/** Value dependencies of each asset column, from the column lineage recorded with each asset's latest version. */
export async function recordedColumnSources(ws: Pick<Workspace, 'project' | 'catalog'>): Promise<ColumnSources> {
  const byAsset = new Map<string, Map<string, { dataset: string; column: string }[]>>();
  for (const name of ws.project.order) {
    const columns = new Map<string, { dataset: string; column: string }[]>();
    for (const record of await ws.catalog.listColumnLineage(name)) {
      columns.set(record.column, record.inputs.filter((i) => VALUE_KINDS.has(i.kind)).map((i) => ({ dataset: i.dataset, column: i.column })));
    }
    byAsset.set(name, columns);
  }
  return (asset, column) => byAsset.get(asset)?.get(column) ?? [];
}

/** `sluice pii`: the inventory over each asset's latest table columns and recorded lineage. */
export async function piiReport(ws: Pick<Workspace, 'project' | 'catalog' | 'tables'>, fresh?: { readonly asset: string; readonly columns: readonly { readonly column: string; readonly inputs: readonly { readonly dataset: string; readonly column: string; readonly kind: string }[] }[] }): Promise<PiiLocation[]> {
  const columns = new Map<string, string[]>();
  for (const name of ws.project.order) columns.set(name, (await ws.tables.latest(name))?.schema.map((c) => c.name) ?? []);
  const recorded = await recordedColumnSources(ws);
  if (fresh === undefined) return piiInventory(ws.project, (asset) => columns.get(asset) ?? [], recorded);
  // A step about to commit: its own lineage, not its previous version's.
  const own = new Map(fresh.columns.map((c) => [c.column, c.inputs.filter((i) => VALUE_KINDS.has(i.kind as never)).map((i) => ({ dataset: i.dataset, column: i.column }))]));
  columns.set(fresh.asset, [...own.keys()]);
  return piiInventory(ws.project, (asset) => columns.get(asset) ?? [], (asset, column) => (asset === fresh.asset ? own.get(column) ?? [] : recorded(asset, column)));
}

/** How unprotected personal data reaches `dataset.column`: `a.x <- b.y <- users.email (email, declared, no policy)`. */
function pathTo(locations: readonly PiiLocation[], kind: PiiLocation['kind'], name: string, column: string): string {
  const steps = [`${name}.${column}`];
  let current = locations.find((l) => l.kind === kind && l.name === name && l.column === column);
  for (let guard = 0; current !== undefined && current.origin !== 'declared' && guard < 50; guard++) {
    steps.push(current.origin);
    const [dataset = '', field = ''] = current.origin.split('.');
    current = locations.find((l) => (l.kind === 'asset' || l.kind === 'source' || l.kind === 'feature') && l.name === dataset && l.column === field);
  }
  return `${steps.join(' <- ')} (${current?.pii ?? 'pii'}, ${current?.policy ?? 'no policy'})`;
}

/**
 * Refuse personal data where it is forbidden: an asset or feature service marked `pii: 'forbidden'` that an
 * unprotected PII column reaches (by declaration or recorded column lineage). The message gives the path.
 */
export async function checkPiiRules(ws: Pick<Workspace, 'project' | 'catalog' | 'tables'>, fresh?: Parameters<typeof piiReport>[1]): Promise<void> {
  const forbiddenAssets = [...ws.project.datasets.values()].filter((d) => d.kind === 'asset' && d.piiForbidden === true && (fresh === undefined || d.name === fresh.asset)).map((d) => d.name);
  const forbiddenServices = fresh === undefined ? [...ws.project.featureServices.values()].filter((s) => s.piiForbidden === true) : [];
  if (forbiddenAssets.length === 0 && forbiddenServices.length === 0) return;
  const locations = await piiReport(ws, fresh);
  for (const name of forbiddenAssets) {
    const hit = locations.find((l) => l.kind === 'asset' && l.name === name && !l.protected);
    if (hit !== undefined) {
      throw new SluiceError('PII_FORBIDDEN', `asset "${name}" is marked pii: 'forbidden', but unprotected personal data reaches its column "${hit.column}": ${pathTo(locations, 'asset', name, hit.column)}; protect it upstream (a policy: hash, mask, drop, ...) or stop selecting it`, { asset: name, column: hit.column });
    }
  }
  for (const service of forbiddenServices) {
    const hit = locations.find((l) => l.kind === 'served' && l.name === service.name && !l.protected);
    if (hit !== undefined) {
      const [view = '', feature = ''] = hit.origin.split('.');
      throw new SluiceError('PII_FORBIDDEN', `feature service "${service.name}" is marked pii: 'forbidden', but its feature "${hit.column}" carries unprotected personal data: ${pathTo(locations, 'feature', view, feature)}; protect the column upstream or leave the feature out`, { service: service.name, column: hit.column });
    }
  }
}
