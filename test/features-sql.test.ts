// A windowed view's rows from viewRowsSql against a brute-force oracle, for exact windows (e - w, e] and for
// tiled windows [tileStart(e) - w + tile, e], on seeded random events with ties and several keys.
import { describe, expect, it } from 'vitest';
import { entity, featureView } from '../src/index.ts';
import { Engine } from '../src/engine/engine.ts';
import { viewRowsSql } from '../src/sql/features-sql.ts';
import { seededRandom } from '../src/random.ts';
import { thrownSluiceError } from './helpers/errors.ts';

const MIN = 60_000;
const card = entity('card', { keys: { card_id: 'int' } });

interface Event { card_id: number; ts: number; amount: number | null; merchant: string }

function events(seed: number, n: number): Event[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => ({
    card_id: 1 + Math.floor(random() * 4),
    // seconds within 6 hours, so ties and tile boundaries both happen
    ts: Date.UTC(2026, 10, 1) + Math.floor(random() * 6 * 3600) * 1000,
    amount: random() < 0.1 ? null : Math.round(random() * 1000) / 10,
    merchant: `m${Math.floor(random() * 5)}`,
  }));
}

function oracle(all: Event[], windowStart: (e: number, w: number) => number): Map<string, Record<string, number | string | null>> {
  const out = new Map<string, Record<string, number | string | null>>();
  for (const e of all) {
    const own = all.filter((x) => x.card_id === e.card_id && x.ts <= e.ts);
    const inWindow = (w: number): Event[] => own.filter((x) => x.ts >= windowStart(e.ts, w));
    const hour = inWindow(60 * MIN);
    const amounts = hour.map((x) => x.amount).filter((a): a is number => a !== null);
    const atE = own.filter((x) => x.ts === e.ts).map((x) => x.merchant).sort();
    out.set(`${e.card_id}@${e.ts}`, {
      n_1h: hour.length,
      sum_1h: amounts.length === 0 ? null : amounts.reduce((a, b) => a + b, 0),
      max_1h: amounts.length === 0 ? null : Math.max(...amounts),
      distinct_2h: new Set(inWindow(120 * MIN).map((x) => x.merchant)).size,
      last_m: atE.at(-1) ?? null,
    });
  }
  return out;
}

async function viewRows(view: ReturnType<typeof featureView>, all: Event[]): Promise<Map<string, Record<string, unknown>>> {
  const engine = await Engine.open();
  try {
    return await engine.withSession(async (s) => {
      const values = all.map((e) => `(${e.card_id}, make_timestamp(${e.ts * 1000}::BIGINT), ${e.amount ?? 'NULL'}::DOUBLE, '${e.merchant}')`).join(', ');
      const rows = await s.query(`SELECT card_id, epoch_ms(__event_ts) AS ms, * EXCLUDE (card_id, __event_ts) FROM (${viewRowsSql(view, `SELECT * FROM (VALUES ${values}) t(card_id, ts, amount, merchant)`)})`);
      return new Map(rows.map((r) => [`${Number(r['card_id'])}@${Number(r['ms'])}`, r]));
    });
  } finally {
    engine.close();
  }
}

const aggregations = {
  n_1h: { function: 'count', window: '1h' },
  sum_1h: { function: 'sum', column: 'amount', window: '1h' },
  max_1h: { function: 'max', column: 'amount', window: '1h' },
  distinct_2h: { function: 'count_distinct', column: 'merchant', window: '2h' },
  last_m: { function: 'last', column: 'merchant', window: '1h' },
} as const;

describe('windowed view rows', () => {
  for (const [name, tile, windowStart] of [
    ['exact windows (e - w, e]', undefined, (e: number, w: number) => e - w + 1],
    ['15-minute tiles', '15m', (e: number, w: number) => e - (e % (15 * MIN)) - w + 15 * MIN],
  ] as const) {
    it(`computes ${name} as the oracle does`, async () => {
      const view = featureView('txn', { entity: card, source: 'txns', timestamp: 'ts', aggregations, ...(tile === undefined ? {} : { tile }) });
      const all = events(tile === undefined ? 11 : 12, 400);
      const expected = oracle(all, windowStart);
      const got = await viewRows(view, all);
      expect(got.size).toBe(expected.size);
      for (const [key, want] of expected) {
        const row = got.get(key);
        expect(Number(row?.['n_1h']), key).toBe(want['n_1h']);
        if (want['sum_1h'] === null) expect(row?.['sum_1h'], key).toBeNull(); else expect(row?.['sum_1h'] as number, key).toBeCloseTo(want['sum_1h'] as number, 6);
        expect(row?.['max_1h'], key).toBe(want['max_1h']);
        expect(Number(row?.['distinct_2h']), key).toBe(want['distinct_2h']);
        expect(row?.['last_m'], key).toBe(want['last_m']);
      }
    });
  }

  it('rejects windows that are not whole tiles', () => {
    expect(thrownSluiceError(() => featureView('v', { entity: card, source: 's', timestamp: 'ts', tile: '7m', aggregations: { n: { function: 'count', window: '1h' } } })).message)
      .toMatch(/feature "n": window 1h is not a whole number of 7m tiles/);
  });
});
