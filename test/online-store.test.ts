// The online store contract: one suite run against every implementation (a SQLite file, a real Redis).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testRedisUrl } from '../src/config.ts';
import { seededRandom } from '../src/random.ts';
import { SluiceError } from '../src/errors.ts';
import type { OnlineRecord, OnlineStore, StoredValues } from '../src/store/online/online-store.ts';
import { openOnlineStore } from '../src/store/online/open-online-store.ts';
import { deleteRedisPrefix } from './helpers/redis.ts';
import { makeTempDir, repoRoot } from './helpers/temp.ts';

const temp = makeTempDir('sluice-online-');
const runPrefix = `sluice-test-${process.pid}-${Math.random().toString(36).slice(2, 10)}:`;
const DAY_MS = 86_400_000;
const T0 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z in microseconds

interface Backend {
  readonly name: 'sqlite' | 'redis';
  /** A fresh store's URL; opening it twice gives two clients of the same data. */
  readonly freshUrl: (test: number) => string;
}

const backends: Backend[] = [
  { name: 'sqlite', freshUrl: (test) => `sqlite:${path.join(temp.dir, `online-${test}.db`)}` },
  { name: 'redis', freshUrl: (test) => `${testRedisUrl()}?prefix=${encodeURIComponent(`${runPrefix}${test}:`)}` },
];

afterAll(async () => {
  temp.cleanup();
  await deleteRedisPrefix(runPrefix);
});

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

const key = (...parts: (number | string)[]): string => JSON.stringify(parts);

let testNumber = 0;

describe.each(backends)('online store on $name', (backend) => {
  let url: string;
  let store: OnlineStore;
  const opened: OnlineStore[] = [];

  const open = async (): Promise<OnlineStore> => {
    const s = await openOnlineStore(url);
    opened.push(s);
    return s;
  };

  beforeEach(async () => {
    testNumber += 1;
    url = backend.freshUrl(testNumber);
    store = await open();
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });

  it('reads back what it wrote: values and event time', async () => {
    expect(store.kind).toBe(backend.name);
    const result = await store.write('user', [
      { key: key(1), eventTimeMicros: T0, values: { age: 31, country: 'PT' } },
      { key: key(2), eventTimeMicros: T0 + 5, values: { age: 47, country: 'NO' } },
    ]);
    expect(result).toEqual({ written: 2, stale: 0 });
    const [rows] = await store.read([{ view: 'user', keys: [key(2), key(1)] }]);
    expect(rows).toEqual([
      { eventTimeMicros: T0 + 5, values: { age: 47, country: 'NO' } },
      { eventTimeMicros: T0, values: { age: 31, country: 'PT' } },
    ]);
  });

  it('never lets an older write replace a newer one; an equal event time replaces the whole record', async () => {
    await store.write('user', [{ key: key(1), eventTimeMicros: T0 + 200, values: { a: 1, b: 2 } }]);
    expect(await store.write('user', [{ key: key(1), eventTimeMicros: T0 + 100, values: { a: 9, b: 9 } }])).toEqual({ written: 0, stale: 1 });
    expect((await store.read([{ view: 'user', keys: [key(1)] }]))[0]).toEqual([{ eventTimeMicros: T0 + 200, values: { a: 1, b: 2 } }]);

    // Equal event time overwrites, and a feature missing from the new record is gone.
    expect(await store.write('user', [{ key: key(1), eventTimeMicros: T0 + 200, values: { a: 3 } }])).toEqual({ written: 1, stale: 0 });
    expect((await store.read([{ view: 'user', keys: [key(1)] }]))[0]).toEqual([{ eventTimeMicros: T0 + 200, values: { a: 3 } }]);

    // Mixed batch: stale and fresh records counted separately, duplicates of a key within one call included.
    const mixed = await store.write('user', [
      { key: key(1), eventTimeMicros: T0 + 150, values: { a: 0 } },
      { key: key(1), eventTimeMicros: T0 + 300, values: { a: 4 } },
      { key: key(1), eventTimeMicros: T0 + 250, values: { a: 5 } },
      { key: key(2), eventTimeMicros: T0, values: { a: 6 } },
    ]);
    expect(mixed).toEqual({ written: 2, stale: 2 });
    expect((await store.read([{ view: 'user', keys: [key(1), key(2)] }]))[0]).toEqual([
      { eventTimeMicros: T0 + 300, values: { a: 4 } },
      { eventTimeMicros: T0, values: { a: 6 } },
    ]);
  });

  it('ends in the same state whatever order the records arrive in', async () => {
    const random = seededRandom(42);
    const records: OnlineRecord[] = [];
    for (let k = 0; k < 30; k++) {
      // Distinct event times per key: with ties the last write wins, which is order dependent by design.
      const times = shuffled(Array.from({ length: 8 }, (_, i) => T0 + i * 1000 + Math.floor(random() * 1000)), random);
      for (const t of times) records.push({ key: key(k, `e${k}`), eventTimeMicros: t, values: { t, k, r: random() } });
    }
    const keys = Array.from({ length: 30 }, (_, k) => key(k, `e${k}`));
    const expected = keys.map((encoded) => {
      const latest = records.filter((r) => r.key === encoded).reduce((a, b) => (b.eventTimeMicros > a.eventTimeMicros ? b : a));
      return { eventTimeMicros: latest.eventTimeMicros, values: latest.values };
    });

    const states: (StoredValues | undefined)[][] = [];
    for (const [i, order] of [records, shuffled(records, random), [...records].reverse()].entries()) {
      const view = `v${i}`;
      // In batches of 17, so that the order spans calls as well as records within a call.
      let written = 0;
      for (let start = 0; start < order.length; start += 17) written += (await store.write(view, order.slice(start, start + 17))).written;
      expect(written).toBeGreaterThanOrEqual(keys.length);
      const [state = []] = await store.read([{ view, keys }]);
      states.push(state);
    }
    for (const state of states) expect(state).toEqual(expected);
  });

  it('reads several views and keys in one call, aligned with the requests', async () => {
    await store.write('user', [
      { key: key(1), eventTimeMicros: T0, values: { age: 31 } },
      { key: key(2), eventTimeMicros: T0, values: { age: 47 } },
    ]);
    await store.write('merchant', [{ key: key('m_1'), eventTimeMicros: T0 + 1, values: { risk: 0.2 } }]);
    const result = await store.read([
      { view: 'user', keys: [key(2), key(99), key(1), key(2)] },
      { view: 'merchant', keys: [key('m_1')] },
      { view: 'never_written', keys: [key(1), key(2)] },
      { view: 'user', keys: [] },
      { view: 'merchant', keys: [key('m_2')] },
    ]);
    expect(result).toEqual([
      [
        { eventTimeMicros: T0, values: { age: 47 } },
        undefined,
        { eventTimeMicros: T0, values: { age: 31 } },
        { eventTimeMicros: T0, values: { age: 47 } },
      ],
      [{ eventTimeMicros: T0 + 1, values: { risk: 0.2 } }],
      [undefined, undefined],
      [],
      [undefined],
    ]);
    expect(await store.read([])).toEqual([]);
  });

  it('returns only the requested features, leaving out those it does not hold', async () => {
    await store.write('user', [{ key: key(1), eventTimeMicros: T0, values: { a: 1, b: 'two', c: null, d: [4] } }]);
    const [subset, none, many] = (await store.read([
      { view: 'user', keys: [key(1)], features: ['d', 'c', 'missing'] },
      { view: 'user', keys: [key(1)], features: [] },
      { view: 'user', keys: [key(1), key(2)], features: ['b'] },
    ])).map((rows) => rows[0]);
    expect(subset).toEqual({ eventTimeMicros: T0, values: { d: [4], c: null } });
    expect(Object.keys(subset?.values ?? {})).not.toContain('missing');
    // A stored entity with none of the requested features is still found, with its event time.
    expect(none).toEqual({ eventTimeMicros: T0, values: {} });
    expect(many).toEqual({ eventTimeMicros: T0, values: { b: 'two' } });
  });

  it('round-trips every JSON type, and keys with quotes, colons and non-ASCII characters', async () => {
    const values = {
      int: 42,
      negative: -7,
      big: 9_007_199_254_740_991,
      float: 0.1 + 0.2,
      tiny: 1e-300,
      string: 'plain',
      empty: '',
      unicode: 'naïve café 日本語 🚀 \u0000 "quoted" \\ back',
      yes: true,
      no: false,
      nothing: null,
      array: [1, 'two', null, [3], { four: 4 }],
      nested: { a: { b: { c: [true, false] } }, 'key with "quotes" and: colons': 1 },
      emptyObject: {},
      emptyArray: [],
    };
    const odd = key('he said "hi": ok', 'a:b:c', 'ü');
    await store.write('typed', [
      { key: odd, eventTimeMicros: T0, values },
      { key: key(-1, ''), eventTimeMicros: T0, values: { x: 1 } },
    ]);
    const [[all, some, empty] = []] = await store.read([{ view: 'typed', keys: [odd, odd, key(-1, '')] }]);
    expect(all).toEqual({ eventTimeMicros: T0, values });
    expect(some).toEqual(all);
    expect(empty).toEqual({ eventTimeMicros: T0, values: { x: 1 } });
    const [[picked] = []] = await store.read([{ view: 'typed', keys: [odd], features: ['float', 'nested', 'unicode', 'nothing'] }]);
    expect(picked?.values).toEqual({ float: values.float, nested: values.nested, unicode: values.unicode, nothing: null });
    expect(await store.sampleKeys('typed', 10)).toEqual(expect.arrayContaining([odd, key(-1, '')]));
  });

  it('samples, counts and drops a view, leaving other views alone', async () => {
    const records = Array.from({ length: 50 }, (_, i) => ({ key: key(i), eventTimeMicros: T0 + i, values: { i } }));
    await store.write('user', records);
    // A view whose name starts with the other's: dropping `user` must not touch it.
    await store.write('user_2', records.slice(0, 5));
    expect(await store.count('user')).toBe(50);
    expect(await store.count('user_2')).toBe(5);

    const sample = await store.sampleKeys('user', 10);
    expect(sample).toHaveLength(10);
    expect(new Set(sample).size).toBe(10);
    for (const k of sample) expect(records.map((r) => r.key)).toContain(k);
    expect((await store.sampleKeys('user', 500)).sort()).toEqual(records.map((r) => r.key).sort());
    expect(await store.sampleKeys('user', 0)).toEqual([]);

    expect(await store.count('never_written')).toBe(0);
    expect(await store.sampleKeys('never_written', 5)).toEqual([]);
    await store.dropView('never_written');

    await store.dropView('user');
    expect(await store.count('user')).toBe(0);
    expect(await store.sampleKeys('user', 5)).toEqual([]);
    expect(await store.read([{ view: 'user', keys: [key(1)] }])).toEqual([[undefined]]);
    expect(await store.count('user_2')).toBe(5);

    // Deleting keys removes exactly those (erasure), in this view only.
    expect(await store.deleteKeys('user_2', [key(1), key(2), key(99)])).toBe(2);
    expect(await store.read([{ view: 'user_2', keys: [key(0), key(1), key(2)] }, { view: 'user', keys: [key(1)] }])).toEqual([[{ eventTimeMicros: T0, values: { i: 0 } }, undefined, undefined], [undefined]]);
    expect(await store.count('user_2')).toBe(3);
    expect((await store.sampleKeys('user_2', 10)).sort()).toEqual([key(0), key(3), key(4)].sort());
    expect(await store.deleteKeys('never_written', [key(1)])).toBe(0);
    expect(await store.deleteKeys('user_2', [])).toBe(0);

    // A dropped view can be written again.
    expect(await store.write('user', records.slice(0, 3))).toEqual({ written: 3, stale: 0 });
    expect(await store.count('user')).toBe(3);
  });

  it('writes a large batch in one call', async () => {
    const records = Array.from({ length: 2500 }, (_, i) => ({ key: key(i), eventTimeMicros: T0 + i, values: { i, s: `v${i}` } }));
    expect(await store.write('big', records)).toEqual({ written: 2500, stale: 0 });
    const older = records.map((r) => ({ ...r, eventTimeMicros: r.eventTimeMicros - 1 }));
    expect(await store.write('big', older)).toEqual({ written: 0, stale: 2500 });
    const keys = records.filter((_, i) => i % 7 === 0).map((r) => r.key);
    const [rows = []] = await store.read([{ view: 'big', keys, features: ['s'] }]);
    expect(rows.map((r) => r?.values.s)).toEqual(keys.map((k) => `v${(JSON.parse(k) as number[])[0]}`));
    expect(await store.count('big')).toBe(2500);
  });

  it('shares data between two clients of the same store', async () => {
    const other = await open();
    expect(other.location).toBe(store.location);
    await store.write('user', [{ key: key(1), eventTimeMicros: T0, values: { a: 1 } }]);
    expect(await other.read([{ view: 'user', keys: [key(1)] }])).toEqual([[{ eventTimeMicros: T0, values: { a: 1 } }]]);
    expect(await other.write('user', [{ key: key(1), eventTimeMicros: T0 - 1, values: { a: 0 } }])).toEqual({ written: 0, stale: 1 });
    await other.write('user', [{ key: key(2), eventTimeMicros: T0, values: { a: 2 } }]);
    expect(await store.count('user')).toBe(2);
    await other.dropView('user');
    expect(await store.read([{ view: 'user', keys: [key(1), key(2)] }])).toEqual([[undefined, undefined]]);
    // The first client had the view cached: it writes it again after the other dropped it.
    expect(await store.write('user', [{ key: key(3), eventTimeMicros: T0, values: { a: 3 } }])).toEqual({ written: 1, stale: 0 });
    expect(await other.count('user')).toBe(1);
  });

  it('keeps the latest record per key when several processes write at once', async () => {
    const script = path.join(temp.dir, `writer-${testNumber}.mts`);
    writeFileSync(
      script,
      [
        `import { openOnlineStore } from ${JSON.stringify(path.join(repoRoot, 'src/store/online/open-online-store.ts'))};`,
        'const [url, worker] = process.argv.slice(2);',
        'const store = await openOnlineStore(url);',
        'try {',
        '  for (let batch = 0; batch < 10; batch++) {',
        // Every worker writes every key; worker w's event times are w, w+4, w+8...: the highest belongs to worker 3.
        '    const records = Array.from({ length: 200 }, (_, k) => ({ key: JSON.stringify([k]), eventTimeMicros: 1000 + batch * 4 + Number(worker), values: { worker: Number(worker), batch } }));',
        "    await store.write('shared', records);",
        '  }',
        '} finally {',
        '  await store.close();',
        '}',
      ].join('\n'),
    );
    const run = promisify(execFile);
    await Promise.all([0, 1, 2, 3].map((worker) => run(process.execPath, ['--import', 'tsx', script, url, String(worker)], { cwd: repoRoot })));
    expect(await store.count('shared')).toBe(200);
    const [rows = []] = await store.read([{ view: 'shared', keys: Array.from({ length: 200 }, (_, k) => key(k)) }]);
    for (const row of rows) expect(row).toEqual({ eventTimeMicros: 1000 + 9 * 4 + 3, values: { worker: 3, batch: 9 } });
  });

});

describe('the Redis online store', () => {
  let url: string;
  let store: OnlineStore;

  beforeEach(async () => {
    testNumber += 1;
    url = (backends[1] as Backend).freshUrl(testNumber);
    store = await openOnlineStore(url);
  });
  afterEach(async () => {
    await store.close();
  });

  it('expires Redis keys at event time + ttl + grace, and forgets them in count and sampleKeys', async () => {
    const raw = new Redis(testRedisUrl());
    try {
      const prefix = new URL(url).searchParams.get('prefix') ?? '';
      const nowMicros = Date.now() * 1000;
      const hour = 3_600_000;
      await store.write('short', [{ key: key(1), eventTimeMicros: nowMicros, values: { a: 1 } }], { ttlMs: hour });
      await store.write('long', [{ key: key(1), eventTimeMicros: nowMicros, values: { a: 1 } }], { ttlMs: 3 * DAY_MS });
      await store.write('forever', [{ key: key(1), eventTimeMicros: nowMicros, values: { a: 1 } }]);
      // Grace is max(ttl, 1 day): the reader can still see (and call expired) a value for that long.
      const short = await raw.pttl(`${prefix}short:${key(1)}`);
      expect(short).toBeGreaterThan(hour + DAY_MS - 60_000);
      expect(short).toBeLessThanOrEqual(hour + DAY_MS);
      const long = await raw.pttl(`${prefix}long:${key(1)}`);
      expect(long).toBeGreaterThan(6 * DAY_MS - 60_000);
      expect(long).toBeLessThanOrEqual(6 * DAY_MS);
      expect(await raw.pttl(`${prefix}forever:${key(1)}`)).toBe(-1);

      // A newer write without TTL makes the key permanent again.
      await store.write('short', [{ key: key(1), eventTimeMicros: nowMicros + 1, values: { a: 2 } }]);
      expect(await raw.pttl(`${prefix}short:${key(1)}`)).toBe(-1);

      // A record written after its TTL ran out (a backfill) stays for the grace period from now, so a reader
      // can still call it expired; once Redis drops it, it is neither counted nor sampled.
      const old = nowMicros - 10 * DAY_MS * 1000;
      await store.write('mixed', [
        { key: key(1), eventTimeMicros: old, values: { a: 1 } },
        { key: key(2), eventTimeMicros: nowMicros, values: { a: 2 } },
        { key: key(3), eventTimeMicros: nowMicros, values: { a: 3 } },
      ], { ttlMs: hour });
      const backfilled = await raw.pttl(`${prefix}mixed:${key(1)}`);
      expect(backfilled).toBeGreaterThan(DAY_MS - 60_000);
      expect(backfilled).toBeLessThanOrEqual(DAY_MS);
      expect(await store.count('mixed')).toBe(3);
      await raw.pexpire(`${prefix}mixed:${key(1)}`, 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect((await store.sampleKeys('mixed', 10)).sort()).toEqual([key(2), key(3)]);
      // A hash removed behind the store's back (eviction) is skipped by sampleKeys.
      await raw.del(`${prefix}mixed:${key(3)}`);
      expect(await store.sampleKeys('mixed', 10)).toEqual([key(2)]);
      expect(await store.count('mixed')).toBe(1);
    } finally {
      await raw.quit();
    }
  });

  it('trims expired entities from the index on write at most once a second, and counts only live ones meanwhile', async () => {
    const raw = new Redis(testRedisUrl());
    try {
      const prefix = new URL(url).searchParams.get('prefix') ?? '';
      const index = `${prefix}trimmed:__keys`;
      const nowMicros = Date.now() * 1000;
      const write = (k: number): Promise<unknown> => store.write('trimmed', [{ key: key(k), eventTimeMicros: nowMicros, values: { a: k } }], { ttlMs: 3_600_000 });
      await write(1);
      // An entity whose deadline has passed (its hash is gone), left in the index.
      await raw.zadd(index, Date.now() - 1, key(99));
      await write(2);
      expect(await raw.zscore(index, key(99))).not.toBeNull();
      expect(await store.count('trimmed')).toBe(2);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await write(3);
      expect(await raw.zscore(index, key(99))).toBeNull();
      expect(await store.count('trimmed')).toBe(3);
    } finally {
      await raw.quit();
    }
  });

  it('keeps credentials out of its location', async () => {
    expect(store.location).toMatch(/^redis:\/\/127\.0\.0\.1:6379\/0\?prefix=/);
    const failure = await openOnlineStore('redis://someone:hunter2@127.0.0.1:1/0').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SluiceError);
    expect(String((failure as Error).message)).not.toContain('hunter2');
  });
});

describe('the SQLite online store', () => {
  let url: string;
  let store: OnlineStore;

  beforeEach(async () => {
    testNumber += 1;
    url = (backends[0] as Backend).freshUrl(testNumber);
    store = await openOnlineStore(url);
  });
  afterEach(async () => {
    await store.close();
  });

  it('accepts a TTL and keeps everything (the reader decides expiry)', async () => {
    await store.write('user', [{ key: key(1), eventTimeMicros: 1, values: { a: 1 } }], { ttlMs: 1 });
    expect(await store.read([{ view: 'user', keys: [key(1)] }])).toEqual([[{ eventTimeMicros: 1, values: { a: 1 } }]]);
    expect(store.location).toBe(`sqlite:${path.join(temp.dir, `online-${testNumber}.db`)}`);
  });
});

describe('openOnlineStore', () => {
  it('rejects an unknown scheme with CONFIG_INVALID', async () => {
    for (const url of ['mysql://127.0.0.1/x', 'online.db', 'sqlite:', 'redis://127.0.0.1:6379/zero', 'redis://127.0.0.1:6379?db=1']) {
      const error = await openOnlineStore(url).catch((e: unknown) => e);
      expect(error, url).toBeInstanceOf(SluiceError);
      expect((error as SluiceError).code, url).toBe('CONFIG_INVALID');
    }
    const error = (await openOnlineStore('postgres://u:secret@h/db').catch((e: unknown) => e)) as SluiceError;
    expect(error.message).toMatch(/sqlite:<path>.*redis:\/\//);
    expect(error.message).not.toContain('secret');
  });

  it('fails quickly and clearly when Redis cannot be reached', async () => {
    const started = Date.now();
    const error = (await openOnlineStore('redis://127.0.0.1:1').catch((e: unknown) => e)) as SluiceError;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error).toBeInstanceOf(SluiceError);
    expect(error.code).toBe('ONLINE_STORE');
    expect(error.message).toContain('cannot reach the online store at redis://127.0.0.1:1');
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('creates the directories of a SQLite file', async () => {
    const file = path.join(temp.dir, 'nested', 'deeper', 'online.db');
    const store = await openOnlineStore(`sqlite:${file}`);
    try {
      expect(store.location).toBe(`sqlite:${file}`);
      expect(await store.count('anything')).toBe(0);
    } finally {
      await store.close();
    }
  });
});
