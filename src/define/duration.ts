// Durations written the way people write them in feature definitions: '90s', '15m', '1h', '24h', '7d', '2w'.
import { SluiceError } from '../errors.ts';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(\d+)(ms|s|m|h|d|w)$/;

export type Duration = `${number}${'ms' | 's' | 'm' | 'h' | 'd' | 'w'}`;

export function isDuration(text: string): boolean {
  const match = DURATION.exec(text);
  return match !== null && Number(match[1]) > 0;
}

/** Milliseconds in a duration such as '1h'; throws with the offending text otherwise. */
export function parseDuration(text: string, where: string): number {
  const match = DURATION.exec(text);
  if (match === null || Number(match[1]) <= 0) {
    throw new SluiceError('DEFINITION_INVALID', `${where}: ${JSON.stringify(text)} is not a duration; write a positive whole number and a unit, such as 30s, 15m, 1h, 24h, 7d or 2w`);
  }
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}


/**
 * Epoch milliseconds of an instant written as an ISO date (midnight UTC) or timestamp (UTC unless it gives
 * an offset), or undefined when the text is neither.
 */
export function parseInstant(text: string): number | undefined {
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text}Z`;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The start of a range written as a date or timestamp (`2026-11-01`, `2026-11-01T08:00:00Z`) or as a duration
 * back from now (`7d`, `12h`), in epoch milliseconds.
 */
export function parseSince(text: string, nowMs: number, where: string): number {
  if (isDuration(text)) return nowMs - parseDuration(text, where);
  const ms = parseInstant(text);
  if (ms === undefined) {
    throw new SluiceError('CONFIG_INVALID', `${where}: ${JSON.stringify(text)} is neither a date (2026-11-01), a timestamp (2026-11-01T08:00:00Z) nor a duration back from now (7d, 12h)`);
  }
  return ms;
}
