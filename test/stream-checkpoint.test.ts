// Incremental stream checkpoints: after several checkpoints, each saving only the keys changed since the last
// saved one (and deleting keys gone idle and forgotten dedupe ids), a processor restored from the catalog has
// exactly the state of the one that kept running. Over both catalog backends.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { WindowedFeatureView } from '../src/define/features.ts';
import type { Catalog } from '../src/store/catalog/catalog.ts';
import { openCatalog } from '../src/store/catalog/open-catalog.ts';
import { CheckpointThread } from '../src/stream/checkpoint-thread.ts';
import { StreamProcessor } from '../src/stream/processor.ts';
import { SluiceError } from '../src/errors.ts';
import { fraudProject } from './helpers/fraud-project.ts';
import { makeTempDir } from './helpers/temp.ts';
import { catalogSchemas } from './helpers/postgres.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 20, 8);
const views = [...fraudProject().featureViews.values()].filter((v): v is WindowedFeatureView => v.type === 'windowed');
const stream = views[0]?.stream as NonNullable<WindowedFeatureView['stream']>;

let serial = 0;
function event(card: number, ms: number, amount: number, id = `t${++serial}`): string {
  return JSON.stringify({ txn_id: id, card_id: card, merchant_id: `m${(card * 7 + serial) % 5}`, amount, ts: new Date(ms).toISOString() });
}

/** Feed events and write their values away, as a job does between checkpoints. */
function feed(p: StreamProcessor, events: readonly string[]): void {
  for (const e of events) p.process(e);
  p.drain();
}

const temp = makeTempDir('sluice-stream-checkpoint-');
const pgSchemas = catalogSchemas('sluice_test_ckpt');
const backends: { name: string; url: () => string }[] = [
  { name: 'sqlite', url: () => `sqlite:${path.join(temp.dir, `${randomBytes(4).toString('hex')}.db`)}` },
  { name: 'postgres', url: () => pgSchemas.freshUrl() },
];

afterAll(async () => {
  temp.cleanup();
  await pgSchemas.cleanup();
});

describe.each(backends)('incremental stream checkpoints ($name)', ({ url }) => {
  it('restores exactly the state after checkpoints that each saved only what changed', async () => {
    const catalog: Catalog = await openCatalog(url());
    try {
      const running = new StreamProcessor(stream, views);
      let sequence = 0;
      const save = async (events: readonly string[]): Promise<{ put: string[]; deleted: string[] }> => {
        feed(running, events);
        sequence += events.length;
        const checkpoint = running.checkpoint(sequence);
        expect(await catalog.saveCheckpoint({ job: 'fraud', partition: 'all', sequence, ...checkpoint })).toBe(true);
        running.checkpointSaved();
        return { put: checkpoint.put.map((e) => e.key).sort(), deleted: [...checkpoint.delete].sort() };
      };
      const key = (card: number): string => `view:card_activity:[${card}]`;

      // 1: cards 1-3.
      const first = await save([event(1, T0, 10), event(2, T0 + 1000, 20), event(3, T0 + 2000, 30), event(1, T0 + 61_000, 5)]);
      expect(first.put).toEqual(['gate:4', key(1), key(2), key(3)]);
      // 2: only card 2 changed (and a redelivery, dropped by the gate's ids restored from entry gate:4).
      const second = await save([event(2, T0 + 120_000, 7), event(1, T0, 10, 't1')]);
      expect(second.put).toEqual(['gate:6', key(2)]);
      // A checkpoint the catalog did not save: its changes go with the next one.
      feed(running, [event(3, T0 + 180_000, 1)]);
      sequence += 1;
      running.checkpoint(sequence);
      running.checkpointRefused();
      // 3: a day later card 4 arrives and card 2 comes back: cards 1 and 3 are idle past every window and their
      // entries are deleted; card 2 keeps only its new tile; the old dedupe ids are forgotten, their entries too.
      const third = await save([event(4, T0 + 25 * HOUR, 40), event(2, T0 + 25 * HOUR + 500, 8), event(4, T0 + 25 * HOUR + 90_000, 2)]);
      expect(third.deleted).toEqual(['gate:4', 'gate:6', key(1), key(3)]);
      expect(third.put).toEqual(['gate:10', key(2), key(4)]);
      // 4: card 4 only.
      expect((await save([event(4, T0 + 25 * HOUR + 200_000, 3)])).put).toEqual(['gate:11', key(4)]);

      const saved = await catalog.loadCheckpoint('fraud', 'all');
      expect(saved?.sequence).toBe(11);
      expect(saved?.entries.map((e) => e.key)).toEqual(['gate:10', 'gate:11', key(2), key(4)]);
      const restored = new StreamProcessor(stream, views, saved);
      expect(restored.snapshot()).toEqual(running.snapshot());
      expect(restored.checkpoint(sequence).put).toEqual([]);

      // Both go on identically, a redelivered id still dropped and an emptied key starting afresh.
      const more = [event(4, T0 + 25 * HOUR + 200_000, 3, `t${serial}`), event(1, T0 + 25 * HOUR + 300_000, 9), event(2, T0 + 25 * HOUR + 301_000, 1)];
      for (const e of more) expect(restored.process(e)).toEqual(running.process(e));
      expect(restored.counts).toMatchObject({ applied: 2, duplicate: 1 });
      expect(restored.drain()).toEqual(running.drain());
      expect(restored.snapshot()).toEqual(running.snapshot());
    } finally {
      await catalog.close();
    }
  });
});

it('saves a key as of the checkpoint even when an event changes it while the checkpoint is being written', () => {
  const p = new StreamProcessor(stream, views);
  feed(p, [event(7, T0, 10), event(8, T0, 20)]);
  const before = JSON.parse(JSON.stringify(p.snapshot().views[0]?.keys)) as unknown[];
  const checkpoint = p.checkpoint(2);
  // Processing goes on before the catalog encodes the entries.
  feed(p, [event(7, T0 + 1000, 5), event(7, T0 + 3 * 60_000, 1)]);
  const saved = JSON.parse(JSON.stringify(checkpoint.put.filter((e) => e.key.startsWith('view:')).map((e) => e.state))) as unknown[];
  expect(saved).toEqual(before);
  p.checkpointSaved();
  // The key changed after the checkpoint was taken, so the next one saves it again.
  expect(p.checkpoint(4).put.map((e) => e.key)).toEqual(['view:card_activity:[7]', 'gate:4']);
});

describe('the checkpoint thread (SQLite)', () => {
  it('saves checkpoints with its own connection, in order, refusing a stale one; a restore reads them back', async () => {
    const url = `sqlite:${path.join(temp.dir, `thread-${randomBytes(4).toString('hex')}.db`)}`;
    const catalog = await openCatalog(url);
    const thread = new CheckpointThread(url);
    try {
      const running = new StreamProcessor(stream, views);
      feed(running, [event(1, T0, 10), event(2, T0 + 1000, 20)]);
      const first = running.checkpoint(2);
      // Sent before the first is saved: the thread saves them in order.
      const firstSaved = thread.saveCheckpoint({ job: 'fraud', partition: 'all', sequence: 2, ...first });
      expect(await firstSaved).toBe(true);
      running.checkpointSaved();
      feed(running, [event(2, T0 + 120_000, 7), event(3, T0 + 130_000, 1)]);
      const second = running.checkpoint(4);
      expect(await thread.saveCheckpoint({ job: 'fraud', partition: 'all', sequence: 4, ...second })).toBe(true);
      running.checkpointSaved();
      // A stale worker's checkpoint changes nothing.
      expect(await thread.saveCheckpoint({ job: 'fraud', partition: 'all', sequence: 3, state: first.state, put: first.put, delete: [] })).toBe(false);
      const saved = await catalog.loadCheckpoint('fraud', 'all');
      expect(saved?.sequence).toBe(4);
      expect(new StreamProcessor(stream, views, saved).snapshot()).toEqual(running.snapshot());
    } finally {
      await thread.close();
      await catalog.close();
    }
  });

  it('reports a thread that cannot open its catalog as a failed save', async () => {
    const thread = new CheckpointThread(`sqlite:${path.join(temp.dir, 'missing-dir', '\0', 'x.db')}`);
    try {
      const failure = await thread.saveCheckpoint({ job: 'fraud', partition: 'all', sequence: 1, state: {}, put: [], delete: [] }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(SluiceError);
    } finally {
      await thread.close();
    }
  });
});
