// The statistics behind GX's distributional expectations: incomplete gamma and beta functions (for the
// normal, gamma, chi-square and beta CDFs), the chi-square test, KL divergence (scipy's entropy), and the
// one-sample Kolmogorov-Smirnov test with the exact two-sided distribution of Marsaglia, Tsang and Wang (2003).

const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];

export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0] ?? 1;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (LANCZOS[i] ?? 0) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-16;
const TINY = 1e-300;

function gammaSeries(a: number, x: number): number {
  let sum = 1 / a;
  let term = sum;
  for (let n = 1; n < 10000; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
}

function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}

/** Regularised lower incomplete gamma P(a, x). */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  return x < a + 1 ? gammaSeries(a, x) : 1 - gammaContinuedFraction(a, x);
}

/** Regularised upper incomplete gamma Q(a, x) = 1 - P(a, x), accurate in the far tail. */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x);
}

function betaContinuedFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b). */
export function betaI(a: number, b: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(a, b, x)) / a : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

function erfc(z: number): number {
  return z >= 0 ? gammaQ(0.5, z * z) : 1 + gammaP(0.5, z * z);
}

export type Distribution = 'norm' | 'beta' | 'gamma' | 'uniform' | 'chi2' | 'expon';

/** A CDF with scipy's parameterisation: shape parameters, then loc and scale. */
export function cdf(distribution: Distribution, shape: readonly number[], loc: number, scale: number): (x: number) => number {
  const standard = (x: number): number => (x - loc) / scale;
  switch (distribution) {
    case 'norm': return (x) => 0.5 * erfc(-standard(x) / Math.SQRT2);
    case 'uniform': return (x) => Math.min(1, Math.max(0, standard(x)));
    case 'expon': return (x) => (standard(x) <= 0 ? 0 : -Math.expm1(-standard(x)));
    case 'gamma': return (x) => gammaP(shape[0] ?? 1, Math.max(0, standard(x)));
    case 'chi2': return (x) => gammaP((shape[0] ?? 1) / 2, Math.max(0, standard(x)) / 2);
    case 'beta': return (x) => betaI(shape[0] ?? 1, shape[1] ?? 1, standard(x));
  }
}

/** Pearson's chi-square test p-value (scipy.stats.chisquare) for observed and expected counts. */
export function chiSquarePValue(observed: readonly number[], expected: readonly number[]): number {
  let statistic = 0;
  observed.forEach((o, i) => {
    const e = expected[i] ?? 0;
    statistic += ((o - e) * (o - e)) / e;
  });
  const df = observed.length - 1;
  if (Number.isNaN(statistic)) return NaN;
  if (statistic === Infinity) return 0;
  return gammaQ(df / 2, statistic / 2);
}

/** scipy.stats.entropy(pk, qk): KL divergence of the normalised distributions, Infinity where qk is 0 and pk is not. */
export function klDivergence(pk: readonly number[], qk: readonly number[]): number {
  const sp = pk.reduce((a, b) => a + b, 0);
  const sq = qk.reduce((a, b) => a + b, 0);
  let total = 0;
  pk.forEach((p0, i) => {
    const p = p0 / sp;
    const q = (qk[i] ?? 0) / sq;
    if (p > 0) total += q > 0 ? p * Math.log(p / q) : Infinity;
  });
  return total;
}

/** The two-sided one-sample KS statistic D of sorted values against a CDF. */
export function ksStatistic(sorted: ArrayLike<number>, f: (x: number) => number): number {
  const n = sorted.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const y = f(sorted[i] ?? 0);
    d = Math.max(d, (i + 1) / n - y, y - i / n);
  }
  return d;
}

function multiply(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const c = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k] ?? 0;
      if (aik === 0) continue;
      for (let j = 0; j < m; j++) c[i * m + j] = (c[i * m + j] ?? 0) + aik * (b[k * m + j] ?? 0);
    }
  }
  return c;
}

function power(h: Float64Array, m: number, n: number): { matrix: Float64Array; exponent: number } {
  if (n === 1) return { matrix: h, exponent: 0 };
  const half = power(h, m, Math.floor(n / 2));
  let matrix = multiply(half.matrix, half.matrix, m);
  let exponent = 2 * half.exponent;
  if (n % 2 === 1) matrix = multiply(h, matrix, m);
  const centre = Math.floor(m / 2);
  if ((matrix[centre * m + centre] ?? 0) > 1e140) {
    matrix = matrix.map((v) => v * 1e-140);
    exponent += 140;
  }
  return { matrix, exponent };
}

/** P(D_n < d) for the two-sided KS statistic (Marsaglia, Tsang & Wang); the asymptotic form for large n*d. */
export function kolmogorovCdf(n: number, d: number): number {
  if (d <= 0) return 0;
  if (d >= 1) return 1;
  const s = d * d * n;
  const k = Math.floor(n * d) + 1;
  const m = 2 * k - 1;
  if (s > 7.24 || (s > 3.76 && n > 99) || m > 301) {
    if (m > 301 && s <= 3.76) return 1 - kolmogorovSmirnovAsymptoticSf(Math.sqrt(n) * d);
    return 1 - 2 * Math.exp(-(2.000071 + 0.331 / Math.sqrt(n) + 1.409 / n) * s);
  }
  const h = k - n * d;
  const H = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) H[i * m + j] = i - j + 1 < 0 ? 0 : 1;
  for (let i = 0; i < m; i++) {
    H[i * m] = (H[i * m] ?? 0) - h ** (i + 1);
    H[(m - 1) * m + i] = (H[(m - 1) * m + i] ?? 0) - h ** (m - i);
  }
  H[(m - 1) * m] = (H[(m - 1) * m] ?? 0) + (2 * h - 1 > 0 ? (2 * h - 1) ** m : 0);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i - j + 1 > 0) for (let g = 1; g <= i - j + 1; g++) H[i * m + j] = (H[i * m + j] ?? 0) / g;
    }
  }
  const { matrix, exponent } = power(H, m, n);
  let value = matrix[(k - 1) * m + k - 1] ?? 0;
  let scale = exponent;
  for (let i = 1; i <= n; i++) {
    value = (value * i) / n;
    if (value < 1e-140) {
      value *= 1e140;
      scale -= 140;
    }
  }
  return Math.min(1, Math.max(0, value * 10 ** scale));
}

/** Kolmogorov's limiting distribution survival function (scipy's kstwobign.sf). */
export function kolmogorovSmirnovAsymptoticSf(t: number): number {
  if (t <= 0) return 1;
  let sum = 0;
  for (let k = 1; k < 100; k++) {
    const term = (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * t * t);
    sum += term;
    if (Math.abs(term) < 1e-17) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/** The p-value of the two-sided one-sample KS test with statistic d on n values (scipy's kstest). */
export function ksPValue(n: number, d: number): number {
  return Math.min(1, Math.max(0, 1 - kolmogorovCdf(n, d)));
}

/** The largest d with ksPValue(n, d) >= p, so a bootstrap round passes exactly when its statistic is at most this. */
export function ksCriticalValue(n: number, p: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (ksPValue(n, mid) >= p) lo = mid;
    else hi = mid;
  }
  return lo;
}

