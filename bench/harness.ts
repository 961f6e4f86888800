// What every benchmark shares: its flags, medians and quantiles, the machine it ran on (with the load average:
// numbers from a loaded machine are noise), and its result file under bench/results/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `--name value`, or the fallback. */
export function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
}

/** `--name 123` as a number, or the fallback. */
export function numberFlag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

/** `--name a,b,c` as a set of names (empty without the flag). */
export function listFlag(name: string): Set<string> {
  return new Set(flag(name, '').split(',').filter((item) => item !== ''));
}

/** The value at quantile q (0..1) of the values, nearest rank; NaN when there are none. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** The median: the middle value (the upper one of an even count, as quantile(0.5) gives). */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** The machine, for result files: cores, memory, Node, and the 1/5/15-minute load averages now. */
export function machine(): { cpus: number; memoryGb: number; node: string; loadAverage: number[] } {
  return { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage: os.loadavg() };
}

/** Write bench/results/<name>.json. */
export function writeResult(name: string, result: unknown): string {
  const file = path.join(benchRoot, 'bench', 'results', `${name}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
