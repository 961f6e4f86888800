// Streaming windowed state against the batch definition: seeded events with ties and out-of-order arrival go
// through the event-time gate and WindowedViewState; each key's value must equal viewRowsSql's latest row in DuckDB.
import { describe, expect, it } from 'vitest';
import { entity, featureView, type WindowedFeatureView } from '../src/define/features.ts';
import { Engine } from '../src/engine/engine.ts';
import { encodeKeyOf } from '../src/features/keys.ts';
import { seededRandom } from '../src/random.ts';
import { EVENT_TS, latestPerEntitySql, viewRowsSql } from '../src/sql/features-sql.ts';
import { EventTimeGate, type EventTimeGateSnapshot } from '../src/stream/event-time-gate.ts';
import { WindowedViewState, type WindowStateSnapshot } from '../src/stream/windows.ts';
import { thrownSluiceError } from './helpers/errors.ts';

const MIN = 60_000;
const card = entity('card', { keys: { card_id: 'int' } });

// 2h of 5m tiles keeps each key's tiles in a ring; 2h of 1m tiles (120) keeps its live tiles only, sorted.
const txnView = (tile: '5m' | '1m'): WindowedFeatureView => featureView('txn', {
  entity: card,
  source: 'txns',
  timestamp: 'ts',
  tile,
  aggregations: {
    n_1h: { function: 'count', window: '1h' },
    n_amount_1h: { function: 'count', column: 'amount', window: '1h' },
    sum_1h: { function: 'sum', column: 'amount', window: '1h' },
    avg_30m: { function: 'avg', column: 'amount', window: '30m' },
    min_1h: { function: 'min', column: 'amount', window: '1h' },
    max_2h: { function: 'max', column: 'amount', window: '2h' },
    distinct_2h: { function: 'count_distinct', column: 'merchant', window: '2h' },
    min_merchant_1h: { function: 'min', column: 'merchant', window: '1h' },
    last_m: { function: 'last', column: 'merchant', window: '1h' },
    last_amount: { function: 'last', column: 'amount', window: '1h' },
  },
}) as WindowedFeatureView;
const view = txnView('5m');
const layouts = [
  { layout: 'ring', view, longestTiles: 24 },
  { layout: 'sparse', view: txnView('1m'), longestTiles: 120 },
];

// A type alias (not an interface) so an Event is a Record<string, unknown> row.
type Event = { id: string; card_id: number; ts: number; amount: number | null; merchant: string | null };

/** Events in arrival order: event times at whole seconds (ties), arrival shuffled within `disorderMs`. */
function events(seed: number, n: number, disorderMs: number): Event[] {
  const random = seededRandom(seed);
  const start = Date.UTC(2026, 10, 1);
  const made = Array.from({ length: n }, (_, i) => ({
    id: `e${i}`,
    card_id: 1 + Math.floor(random() * 6),
    ts: start + Math.floor(random() * 8 * 3600) * 1000,
    amount: random() < 0.15 ? null : Math.round(random() * 10_000) / 100 - 20,
    merchant: random() < 0.1 ? null : `m${Math.floor(random() * 7)}`,
  }));
  const arrival = new Map(made.map((e) => [e, e.ts + random() * disorderMs]));
  return made.sort((a, b) => (arrival.get(a) as number) - (arrival.get(b) as number));
}

const keyOf = (e: Event): string => encodeKeyOf(card.keys, e);

/** Batch values as of each key's latest event, through the same to_json materialisation uses. */
async function batchLatest(view: WindowedFeatureView, all: readonly Event[]): Promise<Map<string, { eventTimeMicros: number; values: Record<string, unknown> }>> {
  const engine = await Engine.open();
  try {
    return await engine.withSession(async (s) => {
      const literal = (v: string | null): string => (v === null ? 'NULL' : `'${v}'`);
      const values = all.map((e) => `(${e.card_id}, make_timestamp(${e.ts * 1000}::BIGINT), ${e.amount ?? 'NULL'}::DOUBLE, ${literal(e.merchant)}::VARCHAR)`).join(', ');
      const rows = viewRowsSql(view, `SELECT * FROM (VALUES ${values}) t(card_id, ts, amount, merchant)`);
      const packed = view.features.map((f) => `"${f}" := "${f}"`).join(', ');
      const result = await s.query(`SELECT card_id, epoch_us(${EVENT_TS}) AS micros, to_json(struct_pack(${packed}))::VARCHAR AS v FROM (${latestPerEntitySql(view, rows)})`);
      return new Map(result.map((r) => [encodeKeyOf(card.keys, r), { eventTimeMicros: Number(r['micros']), values: JSON.parse(r['v'] as string) as Record<string, unknown> }]));
    });
  } finally {
    engine.close();
  }
}

function expectSameValues(got: Record<string, unknown>, want: Record<string, unknown>, where: string): void {
  expect(Object.keys(got).sort(), where).toEqual(Object.keys(want).sort());
  for (const [name, w] of Object.entries(want)) {
    const g = got[name];
    if (typeof w === 'number' && !Number.isInteger(w) && typeof g === 'number') {
      expect(Math.abs(g - w), `${where} ${name}: ${g} vs ${w}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(w)));
    } else {
      expect(g, `${where} ${name}`).toEqual(w);
    }
  }
}

interface Pipeline { gate: EventTimeGate; state: WindowedViewState; late: string[]; duplicates: number; expired: number }

function feed(p: Pipeline, batch: readonly Event[]): void {
  for (const e of batch) {
    const rejected = p.gate.admit(e.id, e.ts * 1000);
    if (rejected?.kind === 'late') p.late.push(rejected.reason);
    else if (rejected?.kind === 'duplicate') p.duplicates++;
    else if (p.state.apply(keyOf(e), e.ts * 1000, e) === 'expired') p.expired++;
  }
}

const gateOptions = { allowedDisorderMs: 10 * MIN, allowedLatenessMs: 0 };

describe.each(layouts)('WindowedViewState ($layout tiles)', ({ view, longestTiles }) => {
  it('gives every key the batch value as of its latest event, with ties, disorder and duplicates', async () => {
    const all = events(7, 3000, 9 * MIN);
    // Every 10th event arrives twice; the gate drops the copy.
    const arrivals = all.flatMap((e, i) => (i % 10 === 0 ? [e, { ...e }] : [e]));
    const p: Pipeline = { gate: new EventTimeGate(gateOptions), state: new WindowedViewState(view), late: [], duplicates: 0, expired: 0 };
    feed(p, arrivals);
    expect(p.late).toEqual([]);
    expect(p.expired).toBe(0);
    expect(p.duplicates).toBe(300);

    const batch = await batchLatest(view, all);
    expect(p.state.size).toBe(batch.size);
    for (const [key, want] of batch) {
      const got = p.state.valueOf(key);
      expect(got?.eventTimeMicros, key).toBe(want.eventTimeMicros);
      expectSameValues(got?.values as Record<string, unknown>, want.values, key);
    }
    expect(p.state.drainDirtyKeys().sort()).toEqual([...batch.keys()].sort());
    expect(p.state.drain()).toEqual([]);
  });

  it('resumes from a JSON snapshot midway with the same final values', () => {
    const all = events(21, 4000, 9 * MIN);
    const straight: Pipeline = { gate: new EventTimeGate(gateOptions), state: new WindowedViewState(view), late: [], duplicates: 0, expired: 0 };
    feed(straight, all);

    const first: Pipeline = { gate: new EventTimeGate(gateOptions), state: new WindowedViewState(view), late: [], duplicates: 0, expired: 0 };
    feed(first, all.slice(0, 1700));
    const drainedBefore = first.state.drainDirtyKeys();
    feed(first, all.slice(1700, 2100));
    const checkpoint = JSON.parse(JSON.stringify({ gate: first.gate.snapshot(), state: first.state.snapshot() })) as { gate: EventTimeGateSnapshot; state: WindowStateSnapshot };
    const resumed: Pipeline = { gate: EventTimeGate.restore(gateOptions, checkpoint.gate), state: WindowedViewState.restore(view, checkpoint.state), late: [], duplicates: 0, expired: 0 };
    expect(resumed.state.drainDirtyKeys().sort()).toEqual(first.state.drainDirtyKeys().sort());
    // Replayed events from before the checkpoint are dropped: as duplicates, or as late once their ids are forgotten.
    feed(resumed, all.slice(2000, 2100));
    expect(resumed.duplicates).toBeGreaterThan(0);
    expect(resumed.duplicates + resumed.late.length).toBe(100);
    feed(resumed, all.slice(2100));

    expect(drainedBefore.length).toBeGreaterThan(0);
    expect(resumed.state.size).toBe(straight.state.size);
    for (const key of straight.state.drainDirtyKeys()) expect(resumed.state.valueOf(key), key).toEqual(straight.state.valueOf(key));
    expect(resumed.state.drainDirtyKeys().length).toBe(resumed.state.size);
    expect(resumed.state.snapshot()).toEqual(straight.state.snapshot());
  });

  it('keeps at most the longest window in tiles per key and reports events for evicted tiles', () => {
    const state = new WindowedViewState(view);
    const random = seededRandom(3);
    const start = Date.UTC(2026, 0, 1) * 1000;
    let maxTiles = 0;
    for (let i = 0; i < 20_000; i++) {
      // 3 days of events for 3 keys, a minute apart on average, up to 5 minutes out of order.
      const t = start + i * 13_000_000 - Math.floor(random() * 300) * 1_000_000;
      const key = `[${i % 3}]`;
      expect(state.apply(key, t, { amount: 1, merchant: `m${i % 50}` })).toBe('applied');
      maxTiles = Math.max(maxTiles, state.tileCount(key));
    }
    // The longest window is 2h.
    expect(maxTiles).toBeLessThanOrEqual(longestTiles);
    expect(maxTiles).toBeGreaterThan(longestTiles * 0.8);
    const latest = state.valueOf('[0]')?.eventTimeMicros as number;
    expect(state.apply('[0]', latest - 3 * 3600 * 1_000_000, { amount: 1, merchant: 'x' })).toBe('expired');
    expect(state.valueOf('[0]')?.values['n_1h']).toBe(state.valueOf('[0]')?.values['n_amount_1h']);
    // Tiles before the epoch (negative tile indices) and at tile index 0 are ordinary tiles.
    state.apply('[epoch]', -1, { amount: 2, merchant: 'a' });
    state.apply('[epoch]', 0, { amount: 3, merchant: 'b' });
    expect(state.valueOf('[epoch]')).toMatchObject({ eventTimeMicros: 0, values: { n_1h: 2, sum_1h: 5, distinct_2h: 2, last_m: 'b' } });
  });

  it('drops idle keys, and a key that takes a dropped key\'s block starts afresh', () => {
    const state = new WindowedViewState(view);
    const t0 = Date.UTC(2026, 0, 1) * 1000;
    const hour = 3600 * 1_000_000;
    state.apply('[1]', t0, { amount: 5, merchant: 'a' });
    state.apply('[2]', t0 + 60_000_000, { amount: 7, merchant: 'b' });
    state.drain();
    // Taken by a checkpoint, encoded only when written: after the key is dropped and its block reused.
    const taken = state.takeChanges();
    expect(taken.put.map((c) => c.key).sort()).toEqual(['[1]', '[2]']);
    expect(state.evictIdle(t0 + 3 * hour)).toBe(2);
    expect(state.takeChanges().removed.slice().sort()).toEqual(['[1]', '[2]']);
    state.apply('[3]', t0 + 3 * hour, { amount: 1, merchant: 'c' });
    expect(state.valueOf('[3]')?.values).toMatchObject({ n_1h: 1, sum_1h: 1, distinct_2h: 1, last_m: 'c' });
    const saved = JSON.parse(JSON.stringify(taken.put)) as { key: string; latest: number; tiles: [number[], unknown[]][] }[];
    expect(saved.find((k) => k.key === '[1]')).toMatchObject({ latest: t0, tiles: [[[Math.floor(t0 / (view.tileMs as number) / 1000), 1, 1, 5, 1, 0], [5, 5, 'a', ['a']]]] });
    expect(state.size).toBe(1);
  });
});

describe('WindowedViewState', () => {
  it('refuses a view without a tile and a snapshot of another definition', () => {
    const untiled = featureView('plain', { entity: card, source: 's', timestamp: 'ts', aggregations: { n: { function: 'count', window: '1h' } } }) as WindowedFeatureView;
    const error = thrownSluiceError(() => new WindowedViewState(untiled));
    expect(error.code).toBe('DEFINITION_INVALID');
    expect(error.message).toMatch(/give the view a tile/);
    const other = featureView('txn', { entity: card, source: 's', timestamp: 'ts', tile: '1m', aggregations: { n: { function: 'count', window: '1h' } } }) as WindowedFeatureView;
    expect(thrownSluiceError(() => WindowedViewState.restore(other, new WindowedViewState(view).snapshot())).message).toMatch(/different definition/);
  });
});

describe('EventTimeGate', () => {
  it('rejects events beyond the allowed lateness with a reason', () => {
    const gate = new EventTimeGate({ allowedDisorderMs: 60_000, allowedLatenessMs: 30_000 });
    const t0 = Date.UTC(2026, 0, 1) * 1000;
    expect(gate.admit('a', t0)).toBeUndefined();
    expect(gate.watermarkMicros).toBe(t0 - 60_000_000);
    // Exactly at watermark - lateness is still on time.
    expect(gate.admit('b', t0 - 90_000_000)).toBeUndefined();
    const late = gate.admit('c', t0 - 90_000_001);
    expect(late?.kind).toBe('late');
    expect(late?.reason).toMatch(/late event: event time 2025-12-31T23:58:29\.999Z is more than 30000 ms behind the watermark 2025-12-31T23:59:00\.000Z/);
    expect(gate.admit('a', t0)?.kind).toBe('duplicate');
    expect(gate.admit(undefined, t0)).toBeUndefined();
    expect(gate.admit(undefined, t0)).toBeUndefined();
  });

  it('keeps memory bounded and never forgets an id whose duplicate could still be on time', () => {
    const gate = new EventTimeGate({ allowedDisorderMs: 10_000, allowedLatenessMs: 5_000, dedupHorizonMs: 20_000 });
    const random = seededRandom(9);
    const t0 = Date.UTC(2026, 0, 1) * 1000;
    let peak = 0;
    const admitted: [string, number][] = [];
    for (let i = 0; i < 200_000; i++) {
      // 1000 events per second of event time, up to 10 s out of order.
      const t = t0 + i * 1000 - Math.floor(random() * 10_000_000);
      if (gate.admit(`id${i}`, t) === undefined) admitted.push([`id${i}`, t]);
      peak = Math.max(peak, gate.rememberedIds);
    }
    // Horizon + disorder + lateness is 35 s of event time, 35k events.
    expect(peak).toBeLessThanOrEqual(36_000);
    for (const [id, t] of admitted.slice(-50_000)) expect(gate.admit(id, t)?.kind).toMatch(/duplicate|late/);
    expect(() => new EventTimeGate({ allowedDisorderMs: 0, allowedLatenessMs: 10, dedupHorizonMs: 5 })).toThrow(/at least the allowed lateness/);
  });
});
