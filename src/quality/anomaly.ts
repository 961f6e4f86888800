// Metric anomaly detection against the metric's own history: a value outside mean ± k·std of recent values.
import { SluiceError } from '../errors.ts';

export const DEFAULT_MIN_HISTORY = 5;

export interface ZScoreOptions {
  /** Allowed distance from the mean in sample standard deviations. */
  readonly k: number;
  /** Fewer usable history points than this and nothing is judged anomalous (default 5, at least 2). */
  readonly minHistory?: number | undefined;
  /** Use only the last `window` history points. */
  readonly window?: number | undefined;
}

export interface ZScoreResult {
  readonly anomalous: boolean;
  /** Mean of the history points used (NaN when there are none). */
  readonly mean: number;
  /** Sample standard deviation (n − 1) of the history points used (NaN with fewer than two). */
  readonly std: number;
  /** (value − mean)/std; null when undefined (too little history, or constant history and a different value). */
  readonly z: number | null;
  readonly lower: number;
  readonly upper: number;
  readonly reason: string;
}

/**
 * Flag `value` when it lies strictly outside [mean − k·std, mean + k·std] of the last `window` history points
 * (oldest first). Non-finite history points (a failed past measurement) are dropped before the window is taken.
 * A constant history has std 0, so any different value is anomalous. A non-finite `value` is always anomalous.
 */
export function zScoreAnomaly(history: readonly number[], value: number, options: ZScoreOptions): ZScoreResult {
  const { k } = options;
  const minHistory = options.minHistory ?? DEFAULT_MIN_HISTORY;
  if (!(Number.isFinite(k) && k > 0)) {
    throw new SluiceError('DEFINITION_INVALID', `anomaly detection: k must be a positive number of standard deviations, got ${String(k)}`);
  }
  if (!Number.isInteger(minHistory) || minHistory < 2) {
    throw new SluiceError('DEFINITION_INVALID', `anomaly detection: minHistory must be a whole number of at least 2 (a standard deviation needs two points), got ${String(minHistory)}`);
  }
  if (options.window !== undefined && (!Number.isInteger(options.window) || options.window < 1)) {
    throw new SluiceError('DEFINITION_INVALID', `anomaly detection: window must be a positive whole number of history points, got ${String(options.window)}`);
  }

  const finite = history.filter((h) => Number.isFinite(h));
  const points = options.window === undefined ? finite : finite.slice(-options.window);
  const { mean, std } = meanAndStd(points);
  const lower = mean - k * std;
  const upper = mean + k * std;
  const base = { mean, std, lower, upper };

  if (points.length < minHistory) {
    const scope = options.window === undefined ? '' : ` (window of ${options.window})`;
    return { ...base, anomalous: false, z: null, reason: `not judged: ${points.length} usable history point(s)${scope}, at least ${minHistory} needed` };
  }
  if (!Number.isFinite(value)) {
    return { ...base, anomalous: true, z: null, reason: `value ${String(value)} is not a finite number` };
  }
  if (std === 0) {
    return value === mean
      ? { ...base, anomalous: false, z: 0, reason: `history is constant at ${mean} and the value equals it` }
      : { ...base, anomalous: true, z: null, reason: `history is constant at ${mean} and the value ${value} differs from it` };
  }
  const z = (value - mean) / std;
  const anomalous = value < lower || value > upper;
  const reason = anomalous
    ? `value ${value} is ${Math.abs(z).toPrecision(3)} standard deviations ${z > 0 ? 'above' : 'below'} the mean ${mean} (limit ${k}, range [${lower}, ${upper}])`
    : `value ${value} is within ${k} standard deviations of the mean ${mean} (z = ${z.toPrecision(3)})`;
  return { ...base, anomalous, z, reason };
}

/** Two-pass mean and sample std; an all-equal history gets exactly std 0 (float rounding of the mean can't leak in). */
function meanAndStd(points: readonly number[]): { mean: number; std: number } {
  const first = points[0];
  if (first === undefined) return { mean: Number.NaN, std: Number.NaN };
  if (points.every((p) => p === first)) return { mean: first, std: points.length > 1 ? 0 : Number.NaN };
  const mean = points.reduce((acc, p) => acc + p, 0) / points.length;
  const squares = points.reduce((acc, p) => acc + (p - mean) ** 2, 0);
  return { mean, std: Math.sqrt(squares / (points.length - 1)) };
}
