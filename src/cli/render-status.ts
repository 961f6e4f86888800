// `sluice status` as text: one row per asset, then per asset what needs attention: partitions blocked (by check,
// or by another error), failing warnings, stale and missing partitions, each with a count and its first keys.
import type { AssetStatus, KeySample } from '../orchestrate/status.ts';
import { checkLabel } from '../orchestrate/status.ts';
import type { CheckGroup } from '../store/catalog/catalog.ts';
import { formatMs, renderTable } from './render.ts';

export function renderStatus(statuses: readonly AssetStatus[]): string {
  const rows = statuses.map((s) => ({
    asset: s.asset, version: s.version ?? '', updated: s.updatedAt ?? 'never', age: s.lagMs === null ? '' : formatMs(s.lagMs),
    sla: s.maxLagMs === null ? '' : formatMs(s.maxLagMs), freshness: s.freshness === 'stale' ? 'STALE' : s.freshness,
    rows: s.rows ?? '', checks: s.checks.at === null ? '' : `${s.checks.passed}/${s.checks.passed + s.checks.failed} passed`,
    failing: s.checks.failing.join(', '),
    blocked: s.partitions.blocked.count === 0 ? '' : `${s.partitions.blocked.count}/${s.partitions.attempted}`,
  }));
  const lines = [renderTable(rows)];
  for (const s of statuses) lines.push(...attention(s));
  return `${lines.join('\n')}\n`;
}

function attention(s: AssetStatus): string[] {
  const p = s.partitions;
  const out: string[] = [];
  if (p.blocked.count > 0) {
    out.push('', s.partitioned
      ? `${s.asset}: ${p.blocked.count} of ${p.attempted} partition(s) blocked, nothing published for them: ${keys(p.blocked)}`
      : `${s.asset}: its latest build was blocked, nothing published`);
    for (const group of p.blocked.byCheck) out.push(`  ${groupLine(group, s.partitioned)}`);
    const other = p.blocked.byError;
    if (other !== null) out.push(`  other errors${s.partitioned ? `: ${other.count} partition(s): ${keys(other)}` : ''}; ${s.partitioned ? 'the first' : 'error'}: ${firstLine(other.error)}`);
  }
  if (p.warnings.count > 0) {
    out.push('', s.partitioned ? `${s.asset}: ${p.warnings.count} partition(s) with failing warnings:` : `${s.asset}: failing warnings in its latest build:`);
    for (const group of p.warnings.byCheck) out.push(`  ${groupLine(group, s.partitioned)}`);
  }
  if (p.stale.count > 0 && s.partitioned) out.push('', `${s.asset}: ${p.stale.count} partition(s) stale (blocked; readers get an earlier version): ${keys(p.stale)}`);
  if (p.missing.count > 0) out.push('', `${s.asset}: ${p.missing.count} partition(s) missing (due by now, not in the table; build them with sluice run ${s.asset} --partition <key>): ${keys(p.missing)}`);
  if (s.outOfRange.length > 0) {
    out.push('', `${s.asset}: ${s.outOfRange.length} partition(s) outside its declared range, still read downstream: ${s.outOfRange.slice(0, 5).join(', ')}${s.outOfRange.length > 5 ? ', ...' : ''}; remove them with sluice delete ${s.asset} --partition <key>`);
  }
  return out;
}

function groupLine(group: CheckGroup, partitioned: boolean): string {
  const label = `${checkLabel(group)}${group.severity === 'warn' ? ' [warn]' : ''}`;
  return partitioned ? `${label}: ${group.partitions} partition(s): ${keys({ count: group.partitions, keys: group.keys })}` : label;
}

/** `2026-11-02, 2026-11-05 and 12 more`. */
function keys(sample: KeySample): string {
  const more = sample.count - sample.keys.length;
  return `${sample.keys.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}
