// The data-quality report as one self-contained HTML page: inline CSS and SVG, no script, no fonts, no
// network (a Content-Security-Policy forbids any), so it opens from disk anywhere. A pure function of its input.
import type { ColumnProfile, TopValue } from './profile.ts';
import { escapeHtml, formatBytes, formatNumber, formatPercent, formatValue } from './report-format.ts';
import type { AssetReport, CheckRunSummary, FailedCheck, ReportInput } from './report-model.ts';
import { histogramSvg, timelineSvg } from './report-svg.ts';

/** Values of a failing check's sample shown in the report. */
const SAMPLE_LIMIT = 20;

export function renderReport(input: ReportInput): string {
  const title = `Data quality: ${input.project}`;
  const failing = input.assets.filter((a) => a.status === 'failing').length;
  const warning = input.assets.filter((a) => a.status === 'warning').length;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="muted">Generated ${escapeHtml(input.generatedAt)} · ${input.assets.length} asset(s) · ${failing} failing · ${warning} with warnings</p>
</header>
<main>
${overview(input.assets)}
${input.assets.map(assetSection).join('\n')}
</main>
<footer class="muted">sluice data-quality report · check results from the catalog, profiles of each asset's latest version</footer>
</body>
</html>
`;
}

function overview(assets: readonly AssetReport[]): string {
  if (assets.length === 0) return '<p>The project declares no assets.</p>';
  const rows = assets.map((a) => {
    const latestRun = a.runs.at(-1);
    return `<tr>
<td><a href="#${anchor(a.name)}">${escapeHtml(a.name)}</a></td>
<td>${statusBadge(a)}</td>
<td class="num">${a.latest === null ? '—' : `v${a.latest.version}`}</td>
<td class="num">${a.latest === null ? '—' : escapeHtml(formatNumber(a.latest.rowCount))}</td>
<td class="num">${a.latest === null ? '—' : escapeHtml(formatNumber(a.latest.partitions))}</td>
<td class="num">${a.latest === null ? '—' : escapeHtml(formatBytes(a.latest.bytes))}</td>
<td>${latestRun === undefined ? '—' : `${escapeHtml(formatNumber(latestRun.passed))} passed, ${escapeHtml(formatNumber(latestRun.failed))} failed${latestRun.kind === 'backfill' ? ` <span class="muted">(backfill, ${escapeHtml(formatNumber(latestRun.runs))} runs)</span>` : ''}`}</td>
<td class="num">${a.history.results === 0 ? '—' : `${escapeHtml(formatNumber(a.history.results))} <span class="muted">· ${escapeHtml(formatNumber(a.history.failed))} failed</span>`}</td>
<td>${timelineSvg(a.runs, a.name)}</td>
</tr>`;
  });
  return `<section class="overview">
<h2>Assets</h2>
<table>
<thead><tr><th>Asset</th><th>Status</th><th class="num">Version</th><th class="num">Rows</th><th class="num">Partitions</th><th class="num">Size</th><th>Latest checks</th><th class="num">Checks in range</th><th>Checks per run</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
</section>`;
}

function assetSection(a: AssetReport): string {
  return `<section class="asset" id="${anchor(a.name)}">
<h2>${escapeHtml(a.name)} ${statusBadge(a)}</h2>
${a.description === null ? '' : `<p class="description">${escapeHtml(a.description)}</p>`}
${versionLine(a)}
<h3>Checks</h3>
${checksBlock(a)}
<h3>Columns</h3>
${profilesBlock(a)}
</section>`;
}

function versionLine(a: AssetReport): string {
  const v = a.latest;
  if (v === null) return '<p class="muted">Never built: no table version yet.</p>';
  const partitions = v.partitionColumn === null
    ? 'unpartitioned'
    : `${formatNumber(v.partitions)} partition(s) by ${v.partitionColumn}${v.firstPartition === null ? '' : `, ${v.firstPartition} … ${v.lastPartition ?? ''}`}`;
  return `<p class="meta">Version <b>${v.version}</b> · ${escapeHtml(formatNumber(v.rowCount))} rows · ${escapeHtml(partitions)} · ` +
    `${escapeHtml(formatBytes(v.bytes))} · created ${escapeHtml(v.createdAt)} by run <code>${escapeHtml(v.runId)}</code></p>`;
}

function checksBlock(a: AssetReport): string {
  const latest = a.runs.at(-1);
  const h = a.history;
  const range = h.since === null ? 'all history' : `since ${escapeHtml(h.since)}`;
  if (latest === undefined) return `<p class="muted">No check results recorded for this asset (${range}).</p>`;
  const totals = `<p class="totals">${range}: <b>${escapeHtml(formatNumber(h.results))}</b> check results in ${escapeHtml(formatNumber(h.runCount))} run(s)` +
    `${h.entryCount < h.runCount ? ` (${escapeHtml(formatNumber(h.entryCount))} entries, a backfill's runs counted once)` : ''}: ` +
    `${escapeHtml(formatNumber(h.passed))} passed, ${escapeHtml(formatNumber(h.failed))} failed (${escapeHtml(formatNumber(h.failedErrors))} error, ${escapeHtml(formatNumber(h.failed - h.failedErrors))} warn).</p>`;
  const shown = a.runs.length < h.entryCount
    ? `the ${a.runs.length} most recent of ${escapeHtml(formatNumber(h.entryCount))} (<code>sluice report --runs ${h.entryCount}</code> shows all)`
    : `${a.runs.length}`;
  const timeline = `<div class="timeline-block">${timelineSvg(a.runs, a.name)}
<p class="legend"><span class="swatch passed"></span>passed <span class="swatch failed"></span>failed <span class="swatch warned"></span>failed (warn) · ${shown} run(s), a backfill as one, oldest on the left</p></div>`;
  const what = latest.kind === 'backfill' ? `Latest backfill <code>${escapeHtml(latest.runId)}</code> (${escapeHtml(formatNumber(latest.runs))} runs, ${escapeHtml(formatNumber(latest.partitions))} partitions)` : `Latest run <code>${escapeHtml(latest.runId)}</code>`;
  const summary = `<p>${what} at ${escapeHtml(latest.checkedAt)}: ${escapeHtml(formatNumber(latest.passed))} passed, ${escapeHtml(formatNumber(latest.failed))} failed` +
    `${latest.blockedPartitions > 0 && latest.partitions > 1 ? `, ${escapeHtml(formatNumber(latest.blockedPartitions))} partition(s) blocked` : ''}.</p>`;
  const parts = [totals, timeline, failingRunsTable(a), summary];
  if (a.failures.length === 0) return parts.join('\n');
  const capped = a.failures.length < latest.failed
    ? `<p class="cap">The first ${a.failures.length} of ${escapeHtml(formatNumber(latest.failed))} failed checks, by partition: <code>sluice report --failures ${latest.failed}</code> lists all.</p>`
    : '';
  return `${parts.join('\n')}
${capped}
<table class="failures">
<thead><tr><th>Expectation</th><th>Column</th><th>Severity</th><th>Partition</th><th class="num">Unexpected</th><th>Observed</th><th>Sample of failing values</th></tr></thead>
<tbody>
${a.failures.map(failureRow).join('\n')}
</tbody>
</table>`;
}

/** Runs (a backfill as one row) with failed checks over the range: when, how many partitions were blocked or warned. */
function failingRunsTable(a: AssetReport): string {
  const h = a.history;
  if (h.failingEntryCount === 0) return '<p class="muted">No run in the range failed a check.</p>';
  const capped = h.failingRuns.length < h.failingEntryCount
    ? ` · the ${h.failingRuns.length} most recent of ${escapeHtml(formatNumber(h.failingEntryCount))} (<code>sluice report --runs ${h.failingEntryCount}</code> shows all)`
    : '';
  const rows = [...h.failingRuns].reverse().map((r: CheckRunSummary) => `<tr class="failing-run ${r.failedErrors > 0 ? 'blocked' : 'warned'}">
<td>${escapeHtml(r.checkedAt)}${r.firstCheckedAt === r.checkedAt ? '' : `<div class="muted">from ${escapeHtml(r.firstCheckedAt)}</div>`}</td>
<td>${r.kind === 'backfill' ? 'backfill ' : ''}<code>${escapeHtml(r.runId)}</code>${r.kind === 'backfill' ? `<div class="muted">${escapeHtml(formatNumber(r.runs))} runs</div>` : ''}</td>
<td class="num">${escapeHtml(formatNumber(r.partitions))}</td>
<td class="num">${escapeHtml(formatNumber(r.blockedPartitions))}</td>
<td class="num">${escapeHtml(formatNumber(r.warnedPartitions))}</td>
<td class="num">${escapeHtml(formatNumber(r.passed))}</td>
<td class="num">${escapeHtml(formatNumber(r.failedErrors))}</td>
<td class="num">${escapeHtml(formatNumber(r.failed - r.failedErrors))}</td>
</tr>`);
  return `<h4>Failed and blocked runs, newest first${capped}</h4>
<table class="failing-runs">
<thead><tr><th>Checked</th><th>Run or backfill</th><th class="num">Partitions</th><th class="num">Blocked</th><th class="num">Warned</th><th class="num">Passed</th><th class="num">Failed (error)</th><th class="num">Failed (warn)</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

function failureRow(f: FailedCheck): string {
  const args = Object.entries(f.kwargs).filter(([key]) => key !== 'column');
  const kwargs = args.length === 0 ? '' : `<div class="kwargs">${escapeHtml(args.map(([k, v]) => `${k}=${formatValue(v)}`).join(', '))}</div>`;
  const unexpected = f.unexpectedCount === null
    ? '—'
    : `${escapeHtml(formatNumber(f.unexpectedCount))}${f.unexpectedPercent === null ? '' : ` (${escapeHtml(formatNumber(f.unexpectedPercent))}%)`}`;
  const sample = f.sample.length === 0
    ? '<span class="muted">—</span>'
    : `<ul class="sample">${f.sample.slice(0, SAMPLE_LIMIT).map((v) => `<li><code>${escapeHtml(formatValue(v))}</code></li>`).join('')}` +
      `${f.sample.length > SAMPLE_LIMIT ? `<li class="muted">+${f.sample.length - SAMPLE_LIMIT} more</li>` : ''}</ul>`;
  const exception = f.exceptionMessage === null ? '' : `<div class="error">${escapeHtml(f.exceptionMessage)}</div>`;
  return `<tr class="failure severity-${f.severity}">
<td><code class="expectation">${escapeHtml(f.expectationType)}</code>${kwargs}${exception}</td>
<td>${f.column === null ? '—' : escapeHtml(f.column)}</td>
<td><span class="badge ${f.severity === 'error' ? 'failing' : 'warning'}">${f.severity}</span></td>
<td>${f.partition === '' ? '—' : escapeHtml(f.partition)}</td>
<td class="num">${unexpected}</td>
<td>${f.observedValue === null ? '—' : `<code>${escapeHtml(formatValue(f.observedValue))}</code>`}</td>
<td>${sample}</td>
</tr>`;
}

function profilesBlock(a: AssetReport): string {
  if (a.profileError !== null) return `<p class="error">Could not profile the latest version: ${escapeHtml(a.profileError)}</p>`;
  if (a.profiles === null) return '<p class="muted">No version to profile.</p>';
  if (a.profiles.length === 0) return '<p class="muted">The table has no columns.</p>';
  return `<table class="profiles">
<thead><tr><th>Column</th><th class="num">Nulls</th><th class="num">Distinct</th><th>Min</th><th>Max</th><th>Mean ± std</th><th>p5 · p25 · p50 · p75 · p95</th><th>Distribution</th></tr></thead>
<tbody>
${a.profiles.map(profileRow).join('\n')}
</tbody>
</table>`;
}

function profileRow(p: ColumnProfile): string {
  const mean = p.mean === null ? '—' : `${stat(p.mean)}${p.std === null ? '' : ` ± ${stat(p.std)}`}`;
  const q = p.quantiles;
  const quantiles = q === null ? '—' : [q.p5, q.p25, q.p50, q.p75, q.p95].map(stat).join(' · ');
  const nonFinite = p.nonFiniteCount === 0 ? '' : `<div class="muted">${escapeHtml(formatNumber(p.nonFiniteCount))} NaN/∞</div>`;
  return `<tr>
<td><b>${escapeHtml(p.name)}</b><div class="type">${escapeHtml(p.type)}</div></td>
<td class="num">${escapeHtml(formatNumber(p.nullCount))}<div class="muted">${escapeHtml(formatPercent(p.nullFraction))}</div>${nonFinite}</td>
<td class="num"${p.distinctExact ? '' : ' title="approximate (HyperLogLog): more rows than sluice counts exactly"'}>${p.distinctExact ? '' : '≈ '}${escapeHtml(formatNumber(p.distinct))}</td>
<td>${p.min === null ? '—' : stat(p.min)}</td>
<td>${p.max === null ? '—' : stat(p.max)}</td>
<td>${mean}</td>
<td class="quantiles">${quantiles}</td>
<td>${distribution(p)}</td>
</tr>`;
}

function distribution(p: ColumnProfile): string {
  if (p.histogram !== null && p.histogram.length > 0) return histogramSvg(p.histogram, p.name, p.min, p.max);
  if (p.topValues !== null && p.topValues.length > 0) return topValuesList(p.topValues, p.count);
  if (p.kind === 'text' && p.topValues === null && p.distinct > 0) return '<span class="muted">nearly every value distinct</span>';
  return '<span class="muted">—</span>';
}

function topValuesList(values: readonly TopValue[], rows: number): string {
  const highest = Math.max(1, ...values.map((v) => v.count));
  const items = values.map((v) => {
    const width = ((v.count / highest) * 100).toFixed(1);
    return `<li><span class="value" title="${escapeHtml(v.value)}">${escapeHtml(v.value)}</span>` +
      `<span class="bar"><span style="width:${width}%"></span></span>` +
      `<span class="count">${escapeHtml(formatNumber(v.count))}${rows > 0 ? ` · ${escapeHtml(formatPercent(v.count / rows))}` : ''}</span></li>`;
  });
  return `<ol class="top-values">${items.join('')}</ol>`;
}

function stat(value: number | string): string {
  return escapeHtml(typeof value === 'number' ? formatNumber(value) : value);
}

function statusBadge(a: AssetReport): string {
  return `<span class="badge ${a.status}">${a.status}</span>`;
}

function anchor(asset: string): string {
  return escapeHtml(`asset-${asset}`);
}

const CSS = `
:root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #fff; --panel: #f8f9fb;
  --pass: #2e9e5b; --fail: #d64545; --warn: #e0a100; --bar: #4f7cc9; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1280px; padding: 24px; color: var(--fg); background: var(--bg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 6px; display: flex; align-items: center; gap: 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
section { margin: 24px 0; padding: 16px 18px; border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
th { font-weight: 600; background: var(--panel); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--panel); padding: 1px 4px; border-radius: 3px; word-break: break-all; }
a { color: #2456b3; }
.muted { color: var(--muted); }
.type { color: var(--muted); font-size: 12px; font-family: ui-monospace, Menlo, Consolas, monospace; }
.meta, .description { margin: 4px 0; }
.badge { display: inline-block; font-size: 11px; font-weight: 600; padding: 2px 8px; border-radius: 10px; text-transform: uppercase; color: #fff; background: var(--muted); }
.badge.passing { background: var(--pass); } .badge.failing { background: var(--fail); } .badge.warning { background: var(--warn); }
.error { color: var(--fail); }
.kwargs { color: var(--muted); font-size: 12px; margin-top: 2px; }
ul.sample { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 4px; }
ul.sample code { background: #fdecec; }
tr.failure.severity-warn ul.sample code { background: #fff6db; }
svg.histogram .bin { fill: var(--bar); } svg.histogram .bin:hover { fill: #274f94; }
svg .axis { stroke: var(--line); } svg .tick { font-size: 10px; fill: var(--muted); }
svg.timeline .passed { fill: var(--pass); } svg.timeline .failed { fill: var(--fail); } svg.timeline .warned { fill: var(--warn); }
.legend { font-size: 12px; color: var(--muted); margin: 4px 0; }
h4 { font-size: 13px; margin: 12px 0 4px; }
.cap { font-size: 12px; color: var(--muted); }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 3px 0 8px; vertical-align: -1px; }
.swatch.passed { background: var(--pass); } .swatch.failed { background: var(--fail); } .swatch.warned { background: var(--warn); }
.quantiles { font-size: 12px; white-space: nowrap; }
ol.top-values { list-style: none; margin: 0; padding: 0; width: 280px; font-size: 12px; }
ol.top-values li { display: grid; grid-template-columns: 100px 1fr auto; gap: 6px; align-items: center; }
ol.top-values .value { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
ol.top-values .bar { background: var(--panel); height: 8px; border-radius: 2px; }
ol.top-values .bar span { display: block; height: 8px; background: var(--bar); border-radius: 2px; }
ol.top-values .count { color: var(--muted); font-variant-numeric: tabular-nums; }
footer { margin-top: 32px; font-size: 12px; }
`;
