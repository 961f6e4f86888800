// Drift statistics on real DuckDB against plain-JS oracles (brute-force KS, hand-computed PSI and chi-square),
// p-values against reference values, and the z-score anomaly rule. Data comes from a seeded PRNG.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type Session } from '../src/engine/engine.ts';
import { SluiceError } from '../src/errors.ts';
import { zScoreAnomaly } from '../src/quality/anomaly.ts';
import { chiSquare, chiSquareSurvival, kolmogorovSurvival, ksPValue, ksStatistic, logGamma, psi, psiCategorical } from '../src/quality/drift.ts';
import { quoteIdent, quoteLiteral } from '../src/sql/identifiers.ts';
import { seededRandom } from '../src/random.ts';

let engine: Engine;

beforeAll(async () => {
  engine = await Engine.open({ threads: 2 });
});

afterAll(() => {
  engine.close();
});

// --- seeded data -------------------------------------------------------------------------------------------------

const mulberry32 = seededRandom;

/** Normal samples rounded to `decimals`, so the SQL literal and the JS number are the same double (and ties occur). */
function normals(seed: number, count: number, mean = 0, sd = 1, decimals = 2): number[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const u = 1 - random();
    const v = random();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Number((mean + sd * z).toFixed(decimals));
  });
}

/** Small non-negative integers, about half of them 0: heavy ties. */
function geometricInts(seed: number, count: number, scale: number): number[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => Math.floor(-Math.log(1 - random()) * scale));
}

function categories(seed: number, count: number, names: readonly string[], weights: readonly number[]): string[] {
  const random = mulberry32(seed);
  const total = weights.reduce((a, b) => a + b, 0);
  return Array.from({ length: count }, () => {
    let r = random() * total;
    for (let i = 0; i < names.length; i++) {
      r -= weights[i] ?? 0;
      if (r < 0) return names[i] ?? '';
    }
    return names[names.length - 1] ?? '';
  });
}

function repeat<T>(value: T, times: number): T[] {
  return new Array<T>(times).fill(value);
}

async function loadNumbers(session: Session, table: string, column: string, values: readonly (number | null)[], type = 'DOUBLE'): Promise<string> {
  const list = values.map((v) => (v === null ? 'NULL' : String(v))).join(', ');
  await session.run(`CREATE OR REPLACE TEMP TABLE ${quoteIdent(table)} AS SELECT unnest([${list}]::${type}[]) AS ${quoteIdent(column)}`);
  return quoteIdent(table);
}

async function loadStrings(session: Session, table: string, column: string, values: readonly (string | null)[]): Promise<string> {
  const list = values.map((v) => (v === null ? 'NULL' : quoteLiteral(v))).join(', ');
  await session.run(`CREATE OR REPLACE TEMP TABLE ${quoteIdent(table)} AS SELECT unnest([${list}]::VARCHAR[]) AS ${quoteIdent(column)}`);
  return quoteIdent(table);
}

// --- oracles -----------------------------------------------------------------------------------------------------

/** sup |F1 − F2| by sorting both samples and walking them together, stepping over each distinct value at once. */
function bruteForceKs(first: readonly number[], second: readonly number[]): number {
  const a = [...first].sort((x, y) => x - y);
  const b = [...second].sort((x, y) => x - y);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.length && j < b.length) {
    const v = Math.min(a[i] ?? Infinity, b[j] ?? Infinity);
    while (i < a.length && a[i] === v) i++;
    while (j < b.length && b[j] === v) j++;
    d = Math.max(d, Math.abs(i / a.length - j / b.length));
  }
  return d;
}

/** PSI over given (lower, upper] edges, binning by brute force. */
function psiOracle(reference: readonly number[], current: readonly number[], edges: readonly number[], epsilon = 1e-4): number {
  const shares = (values: readonly number[]): number[] => {
    const counts = new Array<number>(edges.length + 1).fill(0);
    for (const v of values) {
      const bin = edges.filter((e) => e < v).length;
      counts[bin] = (counts[bin] ?? 0) + 1;
    }
    return counts.map((c) => c / values.length);
  };
  const e = shares(reference);
  const a = shares(current);
  return e.reduce((acc, ei, i) => {
    const es = ei === 0 ? epsilon : ei;
    const as = (a[i] ?? 0) === 0 ? epsilon : (a[i] ?? 0);
    return acc + (as - es) * Math.log(as / es);
  }, 0);
}

/** Pearson's statistic by the shortcut N·(Σ O²/(row·col) − 1), a different route from the module's. */
function chiSquareOracle(current: readonly string[], reference: readonly string[]): number {
  const count = (values: readonly string[]): Map<string, number> => {
    const map = new Map<string, number>();
    for (const v of values) map.set(v, (map.get(v) ?? 0) + 1);
    return map;
  };
  const c = count(current);
  const r = count(reference);
  const keys = new Set([...c.keys(), ...r.keys()]);
  const total = current.length + reference.length;
  let s = 0;
  for (const key of keys) {
    const columnTotal = (c.get(key) ?? 0) + (r.get(key) ?? 0);
    s += (c.get(key) ?? 0) ** 2 / (current.length * columnTotal) + (r.get(key) ?? 0) ** 2 / (reference.length * columnTotal);
  }
  return total * (s - 1);
}

function edgesOf(bins: readonly { upper: number | null }[]): number[] {
  return bins.flatMap((b) => (b.upper === null ? [] : [b.upper]));
}

// --- p-value functions -------------------------------------------------------------------------------------------

describe('p-value functions', () => {
  it('chi-square survival matches reference values', () => {
    // Textbook critical values, to three decimals.
    expect(chiSquareSurvival(3.84, 1)).toBeCloseTo(0.05, 3);
    expect(chiSquareSurvival(11.07, 5)).toBeCloseTo(0.05, 3);
    expect(chiSquareSurvival(23.21, 10)).toBeCloseTo(0.01, 3);
    // scipy.stats.chi2.sf(x, df) (scipy 1.17.1), to 1e-9 relative; df = 2 is exactly e^{−x/2}.
    const reference: [number, number, number][] = [
      [3.84, 1, 0.0500435212487],
      [11.07, 5, 0.0500096186224],
      [23.21, 10, 0.00999741895961],
      [0.5, 3, 0.918891411655],
      [50, 20, 0.000221476638249],
      [7.5, 2, Math.exp(-3.75)],
      [0.001, 1, 0.97477287937],
      [150, 100, 0.000903932042354],
      [300, 3, 9.94875834633e-65],
    ];
    for (const [x, df, p] of reference) expect(Math.abs(chiSquareSurvival(x, df) - p) / p).toBeLessThan(1e-9);
    expect(chiSquareSurvival(0, 4)).toBe(1);
    expect(chiSquareSurvival(1e-6, 40)).toBe(1);
  });

  it('log-gamma is exact on integers and half-integers', () => {
    expect(logGamma(1)).toBeCloseTo(0, 14);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 13);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 14);
    expect(logGamma(50)).toBeCloseTo(144.56574394634488, 10);
  });

  it('KS asymptotic p-value matches the Stephens-corrected Kolmogorov series', () => {
    // scipy.stats.kstwobign.sf((en + 0.12 + 0.11/en)·D), en = √(nm/(n+m)): ks_2samp(mode='asymp') before scipy 1.5.
    const reference: [number, number, number, number][] = [
      [0.1, 100, 100, 0.6766201497],
      [0.2, 50, 80, 0.150395952],
      [0.05, 1000, 1200, 0.1269977975],
      [0.15, 200, 150, 0.03782921143],
      [0.08, 400, 600, 0.08807626008],
      [0.3, 20, 30, 0.1899287502],
      [0.02, 5000, 5000, 0.2673890439],
      [0.5, 10, 12, 0.08729785202],
    ];
    for (const [d, n, m, p] of reference) expect(Math.abs(ksPValue(d, n, m) - p)).toBeLessThan(1e-6);
    // Both branches of Q_KS (dual series below 1.18, alternating series above), scipy.stats.kstwobign.sf.
    const lambdas: [number, number][] = [[0.3, 0.9999906941986655], [0.8, 0.5441424115741981], [1.17, 0.12939004218561884], [1.19, 0.11774229287977166], [1.36, 0.049485876755377876], [2.5, 7.453306344157342e-6]];
    for (const [lambda, p] of lambdas) expect(Math.abs(kolmogorovSurvival(lambda) - p) / p).toBeLessThan(1e-9);
    expect(kolmogorovSurvival(0)).toBe(1);
    expect(kolmogorovSurvival(0.05)).toBe(1);
    expect(kolmogorovSurvival(10)).toBeCloseTo(2 * Math.exp(-200), 95);
  });
});

// --- Kolmogorov–Smirnov ------------------------------------------------------------------------------------------

describe('ksStatistic', () => {
  it('equals brute-force D on samples with ties, NULLs excluded', async () => {
    const current = normals(11, 3000, 0, 1, 1);
    const reference = normals(12, 2500, 0.1, 1.2, 1);
    await engine.withSession(async (session) => {
      const cur = await loadNumbers(session, 'cur', 'my col', [...current, null, null]);
      const ref = await loadNumbers(session, 'ref', 'my col', [null, ...reference]);
      const result = await ksStatistic(session, cur, ref, 'my col');
      expect(result.n).toBe(3000);
      expect(result.m).toBe(2500);
      expect(result.statistic).toBeCloseTo(bruteForceKs(current, reference), 12);
      expect(result.pValue).toBeCloseTo(ksPValue(result.statistic, 3000, 2500), 12);
    });
  });

  it('equals brute-force D on heavily tied integers', async () => {
    const current = geometricInts(21, 2000, 1.5);
    const reference = geometricInts(22, 1700, 1.8);
    await engine.withSession(async (session) => {
      const cur = await loadNumbers(session, 'cur', 'x', current, 'INTEGER');
      const ref = await loadNumbers(session, 'ref', 'x', reference, 'INTEGER');
      const result = await ksStatistic(session, cur, ref, 'x');
      expect(result.statistic).toBeCloseTo(bruteForceKs(current, reference), 12);
      expect(result.statistic).toBeGreaterThan(0);
    });
  });

  it('finds no difference between samples of one distribution and a clear one after a shift', async () => {
    const reference = normals(31, 4000);
    const same = normals(32, 4000);
    const shifted = normals(33, 4000, 0.5);
    await engine.withSession(async (session) => {
      const ref = await loadNumbers(session, 'ref', 'x', reference);
      const sameResult = await ksStatistic(session, await loadNumbers(session, 'same', 'x', same), ref, 'x');
      expect(sameResult.statistic).toBeLessThan(0.04);
      expect(sameResult.pValue).toBeGreaterThan(0.05);
      const shiftedResult = await ksStatistic(session, await loadNumbers(session, 'shifted', 'x', shifted), ref, 'x');
      expect(shiftedResult.statistic).toBeCloseTo(bruteForceKs(shifted, reference), 12);
      expect(shiftedResult.pValue).toBeLessThan(0.01);
      // Identical samples: D = 0, p = 1.
      const identical = await ksStatistic(session, ref, ref, 'x');
      expect(identical.statistic).toBe(0);
      expect(identical.pValue).toBe(1);
    });
  });

  it('accepts subqueries as relations and refuses an empty side', async () => {
    await engine.withSession(async (session) => {
      await loadNumbers(session, 'data', 'x', [1, 2, 3, 4, 5, 6, null]);
      const result = await ksStatistic(session, '(SELECT x FROM data WHERE x <= 3)', '(SELECT x FROM data WHERE x > 3 OR x IS NULL)', 'x');
      expect(result).toMatchObject({ statistic: 1, n: 3, m: 3 });
      const empty = ksStatistic(session, '(SELECT x FROM data WHERE x IS NULL)', 'data', 'x');
      await expect(empty).rejects.toThrow(SluiceError);
      await expect(ksStatistic(session, '(SELECT x FROM data WHERE x IS NULL)', 'data', 'x')).rejects.toThrow(/current data has no non-missing values/);
    });
  });
});

// --- PSI ---------------------------------------------------------------------------------------------------------

describe('psi', () => {
  it('matches a hand-computed example with tied quantiles, an empty bin and NULLs', async () => {
    // Reference 15×1, 20×2, 40×3, 25×4: the deciles are 1, 2, 2, 3, 3, 3, 3, 4, 4 → edges 1, 2, 3, 4 and five bins
    // (−∞,1] (1,2] (2,3] (3,4] (4,∞) holding 15%, 20%, 40%, 25%, 0% of the reference.
    const reference = [...repeat(1, 15), ...repeat(2, 20), ...repeat(3, 40), ...repeat(4, 25), null, null];
    const current = [...repeat(1, 5), ...repeat(2, 20), ...repeat(3, 35), ...repeat(4, 30), ...repeat(5, 10), null, null, null];
    await engine.withSession(async (session) => {
      const ref = await loadNumbers(session, 'ref', 'x', reference, 'INTEGER');
      const cur = await loadNumbers(session, 'cur', 'x', current, 'INTEGER');
      const result = await psi(session, cur, ref, 'x');
      expect(result.bins.map((b) => [b.lower, b.upper])).toEqual([[null, 1], [1, 2], [2, 3], [3, 4], [4, null]]);
      expect(result.bins.map((b) => b.expected)).toEqual([0.15, 0.2, 0.4, 0.25, 0]);
      expect(result.bins.map((b) => b.actual)).toEqual([0.05, 0.2, 0.35, 0.3, 0.1]);
      expect(result).toMatchObject({ currentCount: 100, referenceCount: 100, currentNulls: 3, referenceNulls: 2 });
      // (a − e)·ln(a/e) per bin; the empty reference bin counts as 1e-4.
      const byHand = -0.1 * Math.log(0.05 / 0.15) + 0 + -0.05 * Math.log(0.35 / 0.4) + 0.05 * Math.log(0.3 / 0.25) + (0.1 - 1e-4) * Math.log(0.1 / 1e-4);
      expect(byHand).toBeCloseTo(0.8157387, 6);
      expect(result.psi).toBeCloseTo(byHand, 12);
      // A larger epsilon shrinks the empty bin's term.
      const coarse = await psi(session, cur, ref, 'x', { epsilon: 1e-2 });
      expect(coarse.psi).toBeCloseTo(byHand - (0.1 - 1e-4) * Math.log(1000) + (0.1 - 1e-2) * Math.log(10), 12);
    });
  });

  it('is near 0 for one distribution, above 0.25 after a shift, and matches a brute-force binning', async () => {
    const reference = normals(41, 5000);
    const same = normals(42, 5000);
    const shifted = normals(43, 5000, 1);
    await engine.withSession(async (session) => {
      const ref = await loadNumbers(session, 'ref', 'x', reference);
      const sameResult = await psi(session, await loadNumbers(session, 'same', 'x', same), ref, 'x');
      expect(sameResult.bins).toHaveLength(10);
      for (const bin of sameResult.bins) expect(bin.expected).toBeCloseTo(0.1, 2);
      expect(sameResult.psi).toBeLessThan(0.02);
      expect(sameResult.psi).toBeCloseTo(psiOracle(reference, same, edgesOf(sameResult.bins)), 12);

      const shiftedResult = await psi(session, await loadNumbers(session, 'shifted', 'x', shifted), ref, 'x');
      expect(shiftedResult.psi).toBeGreaterThan(0.25);
      expect(shiftedResult.psi).toBeCloseTo(psiOracle(reference, shifted, edgesOf(shiftedResult.bins)), 12);
      // Every edge is a reference value (quantile_disc), strictly increasing.
      const edges = edgesOf(shiftedResult.bins);
      const referenceSet = new Set(reference);
      expect(edges.every((e, i) => referenceSet.has(e) && (i === 0 || e > (edges[i - 1] ?? -Infinity)))).toBe(true);
    });
  });

  it('merges tied quantile edges so no duplicate empty bins appear', async () => {
    const reference = geometricInts(51, 3000, 1.2);
    const current = geometricInts(52, 3000, 1.2);
    await engine.withSession(async (session) => {
      const result = await psi(session, await loadNumbers(session, 'cur', 'x', current, 'BIGINT'), await loadNumbers(session, 'ref', 'x', reference, 'BIGINT'), 'x', { bins: 20 });
      const edges = edgesOf(result.bins);
      expect(edges.length).toBeLessThan(19);
      expect(new Set(edges).size).toBe(edges.length);
      // Each closed bin holds its upper edge, a reference value, so only the open last bin can be empty.
      for (const bin of result.bins.slice(0, -1)) expect(bin.expected).toBeGreaterThan(0);
      expect(result.psi).toBeCloseTo(psiOracle(reference, current, edges), 12);
      expect(result.psi).toBeLessThan(0.02);
    });
  });

  it('leaves NaN out with the NULLs and rejects bad options and empty sides', async () => {
    await engine.withSession(async (session) => {
      await session.run(`CREATE OR REPLACE TEMP TABLE t AS SELECT * FROM (VALUES (1.0::DOUBLE), (2.0), ('nan'::DOUBLE), (NULL), (3.0)) v(x)`);
      const result = await psi(session, 't', 't', 'x', { bins: 3 });
      expect(result).toMatchObject({ psi: 0, currentCount: 3, currentNulls: 2, referenceCount: 3, referenceNulls: 2 });
      await expect(psi(session, 't', 't', 'x', { bins: 1 })).rejects.toThrow(/bins must be a whole number/);
      await expect(psi(session, 't', 't', 'x', { bins: 2.5 })).rejects.toThrow(/bins must be a whole number/);
      await expect(psi(session, 't', 't', 'x', { epsilon: 0 })).rejects.toThrow(/epsilon/);
      await expect(psi(session, 't', '(SELECT x FROM t WHERE x > 100)', 'x')).rejects.toThrow(/the reference data has no non-missing values/);
      await expect(psi(session, '(SELECT x FROM t WHERE x IS NULL)', 't', 'x')).rejects.toThrow(/the current data has no non-missing values/);
    });
  });
});

describe('psiCategorical', () => {
  it('matches a hand-computed example with a category missing from the reference', async () => {
    const reference = [...repeat('a', 50), ...repeat('b', 30), ...repeat('c', 20), null];
    const current = [...repeat('a', 40), ...repeat('b', 30), ...repeat('c', 20), ...repeat('d', 10), null, null];
    await engine.withSession(async (session) => {
      const result = await psiCategorical(session, await loadStrings(session, 'cur', 'kind', current), await loadStrings(session, 'ref', 'kind', reference), 'kind');
      expect(result.bins).toEqual([
        { category: 'a', expected: 0.5, actual: 0.4 },
        { category: 'b', expected: 0.3, actual: 0.3 },
        { category: 'c', expected: 0.2, actual: 0.2 },
        { category: 'd', expected: 0, actual: 0.1 },
      ]);
      expect(result).toMatchObject({ currentCount: 100, referenceCount: 100, currentNulls: 2, referenceNulls: 1 });
      const byHand = -0.1 * Math.log(0.4 / 0.5) + (0.1 - 1e-4) * Math.log(0.1 / 1e-4);
      expect(byHand).toBeCloseTo(0.7123992, 6);
      expect(result.psi).toBeCloseTo(byHand, 12);
    });
  });

  it('is near 0 for one distribution and large for a different one', async () => {
    const names = ['red', 'green', 'blue', 'black'];
    const reference = categories(61, 4000, names, [4, 3, 2, 1]);
    await engine.withSession(async (session) => {
      const ref = await loadStrings(session, 'ref', 'colour', reference);
      const same = await psiCategorical(session, await loadStrings(session, 'same', 'colour', categories(62, 4000, names, [4, 3, 2, 1])), ref, 'colour');
      expect(same.psi).toBeLessThan(0.01);
      const moved = await psiCategorical(session, await loadStrings(session, 'moved', 'colour', categories(63, 4000, names, [1, 2, 3, 4])), ref, 'colour');
      expect(moved.psi).toBeGreaterThan(0.25);
    });
  });
});

// --- chi-square --------------------------------------------------------------------------------------------------

describe('chiSquare', () => {
  it('matches a hand-computed 2×3 table', async () => {
    // Reference a 30, b 50, c 20; current a 40, b 40, c 20. Column totals 70, 90, 40; expected 35, 45, 20 per row:
    // χ² = 2·25/35 + 2·25/45 + 0 = 2.5396825…, df = 2, p = e^{−χ²/2}.
    const reference = [...repeat('a', 30), ...repeat('b', 50), ...repeat('c', 20), null];
    const current = [...repeat('a', 40), ...repeat('b', 40), ...repeat('c', 20), null, null];
    await engine.withSession(async (session) => {
      const result = await chiSquare(session, await loadStrings(session, 'cur', 'k', current), await loadStrings(session, 'ref', 'k', reference), 'k');
      expect(result.statistic).toBeCloseTo(50 / 35 + 50 / 45, 12);
      expect(result.degreesOfFreedom).toBe(2);
      expect(result.pValue).toBeCloseTo(Math.exp(-(50 / 35 + 50 / 45) / 2), 12);
      expect(result.pValue).toBeCloseTo(0.280876201764, 9);
    });
  });

  it('matches the shortcut formula on seeded data, including a category on one side only', async () => {
    const reference = categories(71, 3000, ['u', 'v', 'w', 'x', 'y'], [5, 4, 3, 2, 1]);
    const current = categories(72, 2000, ['u', 'v', 'w', 'x', 'y', 'z'], [5, 4, 3, 2, 1, 0.2]);
    await engine.withSession(async (session) => {
      const result = await chiSquare(session, await loadStrings(session, 'cur', 'k', current), await loadStrings(session, 'ref', 'k', reference), 'k');
      expect(result.degreesOfFreedom).toBe(5);
      expect(result.statistic).toBeCloseTo(chiSquareOracle(current, reference), 9);
      expect(result.pValue).toBeLessThan(0.01);
    });
  });

  it('gives a large p-value for one distribution, a tiny one for another, and p = 1 for a single category', async () => {
    const names = ['p', 'q', 'r', 's'];
    const reference = categories(81, 3000, names, [1, 1, 1, 1]);
    await engine.withSession(async (session) => {
      const ref = await loadStrings(session, 'ref', 'k', reference);
      const same = await chiSquare(session, await loadStrings(session, 'same', 'k', categories(82, 3000, names, [1, 1, 1, 1])), ref, 'k');
      expect(same.pValue).toBeGreaterThan(0.05);
      const moved = await chiSquare(session, await loadStrings(session, 'moved', 'k', categories(83, 3000, names, [1, 1, 1, 1.3])), ref, 'k');
      expect(moved.pValue).toBeLessThan(0.01);
      const single = await chiSquare(session, await loadStrings(session, 'one', 'k', ['p', 'p', null]), await loadStrings(session, 'one_ref', 'k', ['p']), 'k');
      expect(single).toEqual({ statistic: 0, pValue: 1, degreesOfFreedom: 0 });
    });
  });
});

// --- anomaly -----------------------------------------------------------------------------------------------------

describe('zScoreAnomaly', () => {
  it('treats any change from a constant history as anomalous', () => {
    const history = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
    expect(zScoreAnomaly(history, 0.1, { k: 3 })).toMatchObject({ anomalous: false, mean: 0.1, std: 0, z: 0, lower: 0.1, upper: 0.1 });
    const changed = zScoreAnomaly(history, 0.1000001, { k: 3 });
    expect(changed).toMatchObject({ anomalous: true, std: 0, z: null });
    expect(changed.reason).toMatch(/constant/);
  });

  it('does not judge with too short a history', () => {
    const result = zScoreAnomaly([10, 11, 12], 1000, { k: 3 });
    expect(result).toMatchObject({ anomalous: false, z: null, mean: 11, std: 1 });
    expect(result.reason).toMatch(/3 usable history point\(s\), at least 5 needed/);
    expect(zScoreAnomaly([10, 11, 12], 1000, { k: 3, minHistory: 3 }).anomalous).toBe(true);
    expect(zScoreAnomaly([], 1, { k: 3 })).toMatchObject({ anomalous: false, z: null });
  });

  it('flags a clear outlier and passes an ordinary value, with the sample std', () => {
    const history = normals(91, 30, 100, 2, 3);
    const mean = history.reduce((a, b) => a + b, 0) / history.length;
    const std = Math.sqrt(history.reduce((a, b) => a + (b - mean) ** 2, 0) / (history.length - 1));
    const outlier = zScoreAnomaly(history, 130, { k: 3 });
    expect(outlier.anomalous).toBe(true);
    expect(outlier.mean).toBeCloseTo(mean, 12);
    expect(outlier.std).toBeCloseTo(std, 12);
    expect(outlier.z).toBeCloseTo((130 - mean) / std, 12);
    expect(outlier.lower).toBeCloseTo(mean - 3 * std, 12);
    expect(outlier.upper).toBeCloseTo(mean + 3 * std, 12);
    expect(outlier.reason).toMatch(/above the mean/);
    expect(zScoreAnomaly(history, mean - 1, { k: 3 })).toMatchObject({ anomalous: false });
    expect(zScoreAnomaly(history, 70, { k: 3 }).reason).toMatch(/below the mean/);
  });

  it('uses only the last window points', () => {
    // An old regime around 1000, then a new one around 10.
    const history = [1000, 1002, 998, 1001, 999, 1000, 10, 11, 9, 10, 12, 10];
    expect(zScoreAnomaly(history, 10, { k: 3 }).anomalous).toBe(false);
    expect(zScoreAnomaly(history, 1000, { k: 3 }).anomalous).toBe(false);
    const windowed = zScoreAnomaly(history, 1000, { k: 3, window: 6 });
    expect(windowed.anomalous).toBe(true);
    expect(windowed.mean).toBeCloseTo(62 / 6, 12);
    expect(zScoreAnomaly(history, 10, { k: 3, window: 6 }).anomalous).toBe(false);
    expect(zScoreAnomaly(history, 1000, { k: 3, window: 4 }).reason).toMatch(/window of 4/);
  });

  it('drops non-finite history points, flags a non-finite value and rejects bad options', () => {
    const history = [5, Number.NaN, 6, 5, Number.POSITIVE_INFINITY, 6, 5];
    expect(zScoreAnomaly(history, 5.5, { k: 2 })).toMatchObject({ anomalous: false, mean: 5.4 });
    expect(zScoreAnomaly(history, Number.NaN, { k: 2 })).toMatchObject({ anomalous: true, z: null });
    expect(() => zScoreAnomaly(history, 1, { k: 0 })).toThrow(SluiceError);
    expect(() => zScoreAnomaly(history, 1, { k: 3, minHistory: 1 })).toThrow(/minHistory/);
    expect(() => zScoreAnomaly(history, 1, { k: 3, window: 0 })).toThrow(/window/);
  });
});
