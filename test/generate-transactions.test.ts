// The fraud example's transaction generator: deterministic, with the duplicates and disorder real feeds have,
// within the bounds it promises; the CLI writes NDJSON that DuckDB reads back.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { transactions, type TransactionEvent } from '../src/generate/transactions.ts';
import { duck, makeTempDir, runCli } from './helpers/temp.ts';

function take(n: number, seed: number): TransactionEvent[] {
  const out: TransactionEvent[] = [];
  for (const event of transactions({ cards: 500, seed, startMs: Date.UTC(2026, 10, 1), rate: 2000 })) {
    out.push(event);
    if (out.length === n) break;
  }
  return out;
}

describe('generate transactions', () => {
  it('is deterministic, skewed, and redelivers or delays a bounded share of events', () => {
    const a = take(50_000, 7);
    expect(take(50_000, 7)).toEqual(a);
    expect(take(100, 8)).not.toEqual(a.slice(0, 100));
    const ids = new Map<string, TransactionEvent>();
    let duplicates = 0;
    let outOfOrder = 0;
    let maxLag = 0;
    let newest = 0;
    for (const e of a) {
      const known = ids.get(e.txn_id);
      if (known !== undefined) {
        duplicates += 1;
        expect(e).toEqual(known); // a redelivery is the same event
      }
      ids.set(e.txn_id, e);
      const t = Date.parse(e.ts);
      if (t < newest) outOfOrder += 1;
      maxLag = Math.max(maxLag, newest - t);
      newest = Math.max(newest, t);
      expect(e.amount).toBeGreaterThan(0);
      expect(e.card_id).toBeGreaterThanOrEqual(1);
      expect(e.card_id).toBeLessThanOrEqual(500);
    }
    expect(duplicates / a.length).toBeGreaterThan(0.005);
    expect(duplicates / a.length).toBeLessThan(0.02);
    expect(outOfOrder).toBeGreaterThan(0);
    expect(maxLag).toBeLessThanOrEqual(2000); // delays stay within maxDelayMs
    // Skewed activity: the busiest 10% of cards make well over 10% of the transactions.
    const perCard = new Map<number, number>();
    for (const e of a) perCard.set(e.card_id, (perCard.get(e.card_id) ?? 0) + 1);
    const counts = [...perCard.values()].sort((x, y) => y - x);
    const top = counts.slice(0, 50).reduce((s, c) => s + c, 0);
    expect(top / a.length).toBeGreaterThan(0.25);
    // Event time advances at the requested rate: 50k events at 2000/s span about 25 s.
    expect((newest - Date.UTC(2026, 10, 1)) / 1000).toBeGreaterThan(22);
    expect((newest - Date.UTC(2026, 10, 1)) / 1000).toBeLessThan(28);
  });

  it('writes NDJSON from the CLI that DuckDB reads', async () => {
    const { dir, cleanup } = makeTempDir('sluice-txns-');
    try {
      const file = path.join(dir, 'txns.ndjson');
      const result = await runCli(['generate', 'transactions', '--count', '3000', '--rate', '500', '--cards', '100', '--start', '2026-11-01T00:00:00Z', '--out', file]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/wrote 3,000 transactions/);
      const [row] = await duck<{ n: bigint; cards: bigint; first: Date }>(`SELECT count(*) AS n, count(DISTINCT card_id) AS cards, min(ts::TIMESTAMP) AS first FROM read_json('${file}', format = 'newline_delimited')`);
      expect(row?.n).toBe(3000n);
      expect(Number(row?.cards)).toBeGreaterThan(50);
      expect(row?.first.getTime()).toBeGreaterThanOrEqual(Date.UTC(2026, 10, 1));
    } finally {
      cleanup();
    }
  });
});
