// The NATS JetStream connector against a real nats-server: streams, acknowledged publishing, durable batch
// consumption with at-least-once redelivery, start positions, subject partitioning and lag.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testNatsUrl } from '../src/config.ts';
import {
  deleteStream,
  ensureStream,
  JetStreamSource,
  openJetStream,
  parseNatsUrl,
  publishEvents,
  type JetStreamHandle,
  type StreamMessage,
} from '../src/connectors/nats.ts';
import { SluiceError } from '../src/errors.ts';

const run = `sluice_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const streams: string[] = [];
let handle: JetStreamHandle;
const decoder = new TextDecoder();

beforeAll(async () => {
  handle = await openJetStream(testNatsUrl());
});

afterAll(async () => {
  try {
    for (const stream of streams) await deleteStream(handle, stream);
  } finally {
    await handle.close();
  }
});

/** A fresh stream capturing `<name>.>`; its name doubles as the subject prefix. */
async function freshStream(tag: string): Promise<string> {
  const stream = `${run}_${tag}`;
  streams.push(stream);
  await ensureStream(handle, { stream, subjects: [`${stream}.>`] });
  return stream;
}

function records(count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

interface Consumed {
  readonly messages: StreamMessage[];
  readonly unacked: StreamMessage[];
}

/**
 * Read batches until `count` messages were seen (or 15 s passed), acking each batch; with `leaveLastUnacked`
 * the batch that reaches the count is not acked. Stops the source either way.
 */
async function consume(source: JetStreamSource, count: number, options: { maxMessages?: number; leaveLastUnacked?: boolean } = {}): Promise<Consumed> {
  const messages: StreamMessage[] = [];
  const unacked: StreamMessage[] = [];
  const deadline = Date.now() + 15_000;
  for await (const batch of source.batches({ maxMessages: options.maxMessages ?? 500, expiresMs: 1000 })) {
    messages.push(...batch.messages);
    const done = messages.length >= count;
    if (done && options.leaveLastUnacked === true) unacked.push(...batch.messages);
    else await batch.ack();
    if (done || Date.now() > deadline) await source.stop();
  }
  return { messages, unacked };
}

describe('ensureStream', () => {
  it('creates, leaves alone, and updates a stream declaratively', async () => {
    const stream = `${run}_declare`;
    streams.push(stream);
    const spec = { stream, subjects: [`${stream}.a`, `${stream}.b`] };
    expect((await ensureStream(handle, spec)).action).toBe('created');
    expect((await ensureStream(handle, spec)).action).toBe('unchanged');
    expect((await ensureStream(handle, { ...spec, maxAgeMs: 3_600_000, maxBytes: 1 << 20 })).action).toBe('updated');
    expect((await ensureStream(handle, { ...spec, maxAgeMs: 3_600_000, maxBytes: 1 << 20 })).action).toBe('unchanged');
    const info = await handle.jsm.streams.info(stream);
    expect(info.config.max_age).toBe(3_600_000 * 1_000_000);
    expect(info.config.max_bytes).toBe(1 << 20);
  });

  it('rejects invalid names and subjects before asking the server', async () => {
    await expect(ensureStream(handle, { stream: 'a.b', subjects: ['x'] })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(ensureStream(handle, { stream: `${run}_bad`, subjects: ['a..b'] })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(ensureStream(handle, { stream: `${run}_bad`, subjects: ['a.>.b'] })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('publishEvents', () => {
  it('returns consecutive sequences and lets JetStream drop duplicate ids', async () => {
    const stream = await freshStream('dedupe');
    const withIds = records(100, 'e').map((data, i) => ({ data, id: `id-${i}` }));
    const first = await publishEvents(handle, `${stream}.x`, withIds);
    expect(first).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const again = await publishEvents(handle, `${stream}.x`, withIds.slice(40, 60));
    expect(again).toEqual(first.slice(40, 60));
    expect((await handle.jsm.streams.info(stream)).state.messages).toBe(100);
  });

  it('names the missing stream when no stream captures the subject', async () => {
    await expect(publishEvents(handle, `${run}_nostream.x`, ['a'])).rejects.toMatchObject({ code: 'SOURCE_NOT_FOUND' });
  });
});

describe('JetStreamSource', () => {
  it('delivers every record once, in order, with its stream sequence', async () => {
    const stream = await freshStream('order');
    const sent = records(5000, 'r');
    const sequences = await publishEvents(handle, `${stream}.events`, sent);
    expect(sequences).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));

    const source = await JetStreamSource.open(handle, { stream, durable: 'worker' });
    const { messages } = await consume(source, 5000);
    expect(messages.map((m) => m.streamSequence)).toEqual(sequences);
    expect(messages.map((m) => decoder.decode(m.data))).toEqual(sent);
    expect(messages.every((m) => m.subject === `${stream}.events` && !m.redelivered)).toBe(true);
    expect(await source.lag()).toMatchObject({ pending: 0, ackPending: 0, ackFloorSequence: 5000 });
  });

  it('redelivers the unacked batch to a restarted source and never an acked one', async () => {
    const stream = await freshStream('restart');
    await publishEvents(handle, `${stream}.events`, records(300, 'r'));

    const first = await JetStreamSource.open(handle, { stream, durable: 'worker' });
    const before = await consume(first, 150, { maxMessages: 50, leaveLastUnacked: true });
    expect(before.unacked.length).toBeGreaterThan(0);
    const acked = new Set(before.messages.filter((m) => !before.unacked.includes(m)).map((m) => m.streamSequence));

    // The default ack wait is 30 s: finishing quickly shows the stop handed the messages back.
    const started = Date.now();
    const second = await JetStreamSource.open(handle, { stream, durable: 'worker' });
    const after = await consume(second, 300 - acked.size);
    expect(Date.now() - started).toBeLessThan(10_000);
    const seen = after.messages.map((m) => m.streamSequence);
    expect(seen.filter((s) => acked.has(s))).toEqual([]);
    expect([...acked, ...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(after.messages.slice(0, before.unacked.length).map((m) => m.streamSequence)).toEqual(before.unacked.map((m) => m.streamSequence));
    expect(after.messages.slice(0, before.unacked.length).every((m) => m.redelivered)).toBe(true);
    expect(await second.lag()).toMatchObject({ pending: 0, ackPending: 0 });
  });

  it('redelivers after the ack wait when the consuming process dies without stopping', async () => {
    const stream = await freshStream('crash');
    await publishEvents(handle, `${stream}.events`, records(20, 'r'));
    const doomed = await openJetStream(testNatsUrl());
    const crashed = await JetStreamSource.open(doomed, { stream, durable: 'worker', ackWaitMs: 1500 });
    const iterator = crashed.batches({ maxMessages: 20 })[Symbol.asyncIterator]();
    const got = await iterator.next();
    expect(got.done).toBe(false);
    await doomed.connection.close(); // no stop, no nak: as if the process had been killed

    const survivor = await JetStreamSource.open(handle, { stream, durable: 'worker', ackWaitMs: 1500 });
    const { messages } = await consume(survivor, 20);
    expect(messages.map((m) => m.streamSequence)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(messages.every((m) => m.redelivered)).toBe(true);
  });

  it('starts a fresh durable at a checkpointed sequence; an existing durable keeps its position', async () => {
    const stream = await freshStream('start');
    await publishEvents(handle, `${stream}.events`, records(100, 'r'));
    const source = await JetStreamSource.open(handle, { stream, durable: 'resumed', startSequence: 61 });
    expect((await source.lag()).pending).toBe(40);
    const { messages } = await consume(source, 40);
    expect(messages.map((m) => m.streamSequence)).toEqual(Array.from({ length: 40 }, (_, i) => i + 61));

    const reopened = await JetStreamSource.open(handle, { stream, durable: 'resumed', startSequence: 1 });
    expect(await reopened.lag()).toMatchObject({ pending: 0, ackFloorSequence: 100 });
    await expect(JetStreamSource.open(handle, { stream, durable: 'resumed', startSequence: 0 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('splits a stream between workers by filter subject with no overlap', async () => {
    const stream = await freshStream('partition');
    for (let round = 0; round < 5; round++) {
      for (const partition of [0, 1]) await publishEvents(handle, `${stream}.events.${partition}`, records(40, `p${partition}-${round}`));
    }
    const workers = await Promise.all(
      [0, 1].map((partition) => JetStreamSource.open(handle, { stream, durable: `worker_${partition}`, filterSubject: `${stream}.events.${partition}` })),
    );
    expect((await workers[0]?.lag())?.pending).toBe(200);
    const [zero, one] = await Promise.all(workers.map((worker) => consume(worker, 200, { maxMessages: 64 })));
    expect(zero?.messages.every((m) => m.subject === `${stream}.events.0`)).toBe(true);
    expect(one?.messages.every((m) => m.subject === `${stream}.events.1`)).toBe(true);
    const all = [...(zero?.messages ?? []), ...(one?.messages ?? [])].map((m) => m.streamSequence).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));

    await expect(JetStreamSource.open(handle, { stream, durable: 'worker_0', filterSubject: `${stream}.events.1` })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('reports the backlog as it is consumed', async () => {
    const stream = await freshStream('lag');
    await publishEvents(handle, `${stream}.events`, records(50, 'r'));
    const source = await JetStreamSource.open(handle, { stream, durable: 'worker' });
    expect(await source.lag()).toMatchObject({ pending: 50, ackPending: 0, deliveredSequence: 0, ackFloorSequence: 0 });
    const { unacked } = await consume(source, 50, { leaveLastUnacked: true });
    expect(unacked.length).toBeGreaterThan(0);
    await publishEvents(handle, `${stream}.events`, records(7, 'more'));
    const lag = await source.lag();
    expect(lag.pending).toBe(7);
    expect(lag.ackFloorSequence).toBe(50 - unacked.length);
  });

  it('yields an empty batch when the stream is idle, so the caller can act on time', async () => {
    const stream = await freshStream('idle');
    const source = await JetStreamSource.open(handle, { stream, durable: 'worker' });
    const started = Date.now();
    for await (const batch of source.batches({ expiresMs: 1000 })) {
      expect(batch.messages).toEqual([]);
      await batch.ack();
      await source.stop();
    }
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('says which stream is missing', async () => {
    await expect(JetStreamSource.open(handle, { stream: `${run}_missing`, durable: 'worker' })).rejects.toMatchObject({ code: 'SOURCE_NOT_FOUND' });
  });
});

describe('openJetStream', () => {
  it('fails fast and transiently when the server is unreachable, without leaking credentials', async () => {
    const started = Date.now();
    const error = await openJetStream('nats://sluice:s3cret@127.0.0.1:1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toMatchObject({ code: 'TRANSIENT', transient: true });
    expect((error as SluiceError).message).toContain('cannot reach NATS at nats://127.0.0.1:1');
    expect((error as SluiceError).message).not.toContain('s3cret');
  });

  it('passes credentials from the URL as options and keeps them out of the URL it reports', () => {
    expect(parseNatsUrl('nats://ann:p%40ss@nats.example:4223')).toEqual({ server: 'nats.example:4223', redacted: 'nats://nats.example:4223', auth: { user: 'ann', pass: 'p@ss' } });
    expect(parseNatsUrl('nats://t0ken@127.0.0.1')).toEqual({ server: '127.0.0.1:4222', redacted: 'nats://127.0.0.1:4222', auth: { token: 't0ken' } });
    expect(parseNatsUrl('tls://host:4443').auth).toEqual({ tls: {} });
  });

  it('rejects a URL that is not nats://', async () => {
    await expect(openJetStream('http://127.0.0.1:4222')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
