// Card transactions for the fraud example: a deterministic stream of events (same seed, same events) with
// a realistic shape: card activity is skewed (a few cards are busy), amounts are log-normal, each card
// shops at a handful of merchants, and some cards have fraud bursts (many transactions at many merchants in
// minutes). A share of events is redelivered (same txn_id) or arrives out of order, as real feeds do.
import { seededRandom } from '../random.ts';

export interface TransactionEvent {
  readonly txn_id: string;
  readonly card_id: number;
  readonly merchant_id: string;
  readonly amount: number;
  /** Event time, ISO-8601 UTC with milliseconds. */
  readonly ts: string;
}

export interface TransactionOptions {
  readonly cards: number;
  readonly seed: number;
  /** Event time of the first event, epoch ms. */
  readonly startMs: number;
  /** Mean events per second of event time. */
  readonly rate: number;
  /** Share of events delivered twice (default 0.01). */
  readonly duplicateShare?: number;
  /** Share of events delayed (out of order) by up to `maxDelayMs` (default 0.02, 2 s). */
  readonly delayedShare?: number;
  readonly maxDelayMs?: number;
}

/**
 * Events in delivery order: event times advance at `rate` per second on average; delayed events are delivered
 * after later ones; duplicates follow their original within half a second. Infinite: take what you need.
 */
export function* transactions(options: TransactionOptions): Generator<TransactionEvent> {
  const random = seededRandom(options.seed);
  const duplicateShare = options.duplicateShare ?? 0.01;
  const delayedShare = options.delayedShare ?? 0.02;
  const maxDelayMs = options.maxDelayMs ?? 2000;
  const gapMs = 1000 / options.rate;
  // Skewed activity: card = floor(cards * u^2) makes low ids busier.
  const pickCard = (): number => 1 + Math.floor(options.cards * random() * random());
  const merchantOf = (card: number): string => `m${(card * 7919 + Math.floor(random() * 4) * 104_729) % 5000}`;
  const held: Held[] = [];
  let clock = options.startMs;
  let n = 0;
  let burst: { card: number; left: number } | undefined;
  for (;;) {
    clock += -Math.log(1 - random()) * gapMs;
    n += 1;
    let card: number;
    let merchant: string;
    if (burst !== undefined && burst.left > 0) {
      card = burst.card;
      merchant = `m${Math.floor(random() * 5000)}`;
      burst.left -= 1;
    } else {
      burst = random() < 0.0005 ? { card: pickCard(), left: 5 + Math.floor(random() * 20) } : undefined;
      card = pickCard();
      merchant = merchantOf(card);
    }
    const amount = Math.round(Math.exp(3 + 1.1 * gaussian(random)) * 100) / 100;
    const event: TransactionEvent = { txn_id: `t${options.seed}-${n}`, card_id: card, merchant_id: merchant, amount, ts: new Date(Math.floor(clock)).toISOString() };
    // Deliver the held-back events that are due, then this one (unless it is held back itself).
    while (held.length > 0 && (held[0] as Held).due <= clock) yield (held.shift() as Held).event;
    if (random() < delayedShare) hold(held, { due: clock + random() * maxDelayMs, event });
    else yield event;
    if (random() < duplicateShare) hold(held, { due: clock + random() * 500, event });
  }
}

interface Held {
  readonly due: number;
  readonly event: TransactionEvent;
}

/** Insert keeping `held` sorted by due time (it stays small: the delayed share of a few seconds of events). */
function hold(held: Held[], item: Held): void {
  let lo = 0;
  let hi = held.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((held[mid] as Held).due <= item.due) lo = mid + 1; else hi = mid;
  }
  held.splice(lo, 0, item);
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
