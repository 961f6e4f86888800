// Inline SVG charts for the HTML report: a column's histogram and an asset's pass/fail timeline. Plain markup
// strings, styled by the page's CSS classes, so the report needs no script and no network.
import { escapeHtml, formatNumber } from './report-format.ts';
import type { HistogramBin } from './profile.ts';
import type { CheckRunSummary } from './report-model.ts';

const HISTOGRAM_WIDTH = 240;
const HISTOGRAM_HEIGHT = 72;
/** Room under the bars for the min and max labels. */
const AXIS_HEIGHT = 14;

/** `min` and `max` label the axis: the data's range, which per-value bins of an integer column overshoot by one. */
export function histogramSvg(bins: readonly HistogramBin[], column: string, min: number | string | null, max: number | string | null): string {
  if (bins.length === 0) return '';
  const plot = HISTOGRAM_HEIGHT - AXIS_HEIGHT;
  const highest = Math.max(1, ...bins.map((b) => b.count));
  const width = HISTOGRAM_WIDTH / bins.length;
  const bars = bins.map((bin, i) => {
    // Non-empty bins stay visible however tall their neighbours are.
    const height = bin.count === 0 ? 0 : Math.max(1, (bin.count / highest) * (plot - 2));
    const last = i === bins.length - 1;
    const range = `[${formatNumber(bin.lower)}, ${formatNumber(bin.upper)}${last ? ']' : ')'}`;
    return (
      `<rect class="bin" x="${round(i * width + 0.5)}" y="${round(plot - height)}" width="${round(Math.max(1, width - 1))}" height="${round(height)}">` +
      `<title>${escapeHtml(`${range}: ${formatNumber(bin.count)}`)}</title></rect>`
    );
  });
  const label = (value: number | string | null, fallback: number | undefined): string =>
    escapeHtml(typeof value === 'string' ? value : formatNumber(value ?? fallback ?? 0));
  const title = `Histogram of ${column}`;
  return (
    `<svg class="histogram" role="img" aria-label="${escapeHtml(title)}" width="${HISTOGRAM_WIDTH}" height="${HISTOGRAM_HEIGHT}" ` +
    `viewBox="0 0 ${HISTOGRAM_WIDTH} ${HISTOGRAM_HEIGHT}">` +
    `<title>${escapeHtml(title)}</title>` +
    bars.join('') +
    `<line class="axis" x1="0" y1="${plot + 0.5}" x2="${HISTOGRAM_WIDTH}" y2="${plot + 0.5}"/>` +
    `<text class="tick" x="0" y="${HISTOGRAM_HEIGHT - 2}">${label(min, bins[0]?.lower)}</text>` +
    `<text class="tick" x="${HISTOGRAM_WIDTH}" y="${HISTOGRAM_HEIGHT - 2}" text-anchor="end">${label(max, bins.at(-1)?.upper)}</text>` +
    '</svg>'
  );
}

const TIMELINE_HEIGHT = 40;
const TIMELINE_BAR = 12;
const TIMELINE_GAP = 3;

/** One column per run (a backfill's runs as one), oldest on the left: the failed share in red on top of the passed share in green. */
export function timelineSvg(runs: readonly CheckRunSummary[], asset: string): string {
  if (runs.length === 0) return '';
  const width = runs.length * (TIMELINE_BAR + TIMELINE_GAP) - TIMELINE_GAP;
  const columns = runs.map((run, i) => {
    const total = Math.max(1, run.passed + run.failed);
    // A few failures among thousands of results stay visible.
    const failedHeight = run.failed === 0 ? 0 : Math.max(3, (run.failed / total) * TIMELINE_HEIGHT);
    const x = i * (TIMELINE_BAR + TIMELINE_GAP);
    const kind = run.failedErrors > 0 ? 'failed' : 'warned';
    const what = run.kind === 'backfill' ? `backfill ${run.runId} (${run.runs} runs, ${run.partitions} partitions, ${run.blockedPartitions} blocked)` : `run ${run.runId}`;
    const tip = `${what} at ${run.checkedAt}: ${run.passed} passed, ${run.failed} failed` +
      (run.failed > run.failedErrors ? ` (${run.failed - run.failedErrors} warnings)` : '');
    return (
      `<g class="run"><title>${escapeHtml(tip)}</title>` +
      (run.failed > 0 ? `<rect class="${kind}" x="${x}" y="0" width="${TIMELINE_BAR}" height="${round(failedHeight)}"/>` : '') +
      (run.passed > 0
        ? `<rect class="passed" x="${x}" y="${round(failedHeight)}" width="${TIMELINE_BAR}" height="${round(TIMELINE_HEIGHT - failedHeight)}"/>`
        : '') +
      '</g>'
    );
  });
  const label = `Checks of ${asset} per run, oldest first`;
  return (
    `<svg class="timeline" role="img" aria-label="${escapeHtml(label)}" width="${width}" height="${TIMELINE_HEIGHT}" ` +
    `viewBox="0 0 ${width} ${TIMELINE_HEIGHT}">${columns.join('')}</svg>`
  );
}

function round(value: number): string {
  return String(Math.round(value * 100) / 100);
}
