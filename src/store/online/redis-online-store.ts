// The online store in Redis: one hash per view and entity (`<prefix><view>:<entityKey>`: `__ts` plus one
// JSON-encoded field per feature), written by a guarded Lua script, and one sorted set per view indexing
// its entities for sampleKeys and count.
import { Redis } from 'ioredis';
import type { ChainableCommander, ClientContext, Result } from 'ioredis';
import { SluiceError, errorMessage, isTransient } from '../../errors.ts';
import type { OnlineRecord, OnlineStore, ReadRequest, StoredValues, WriteOptions, WriteResult } from './online-store.ts';

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    /** PUT_SCRIPT: how many records were written (the others had a newer stored event time). */
    sluiceOnlinePut(numberOfKeys: number, keysAndArgs: readonly string[]): Result<number, Context>;
  }
}

/**
 * Several records of one view per call (one command each cost the client more than Redis: a command object,
 * a promise and a reply per record). KEYS[1] the view's index, KEYS[2..] the records' hashes; per record in
 * ARGV: event micros, the expiry deadline in epoch ms (or +inf), the entity key, the number of features n,
 * then n field, value pairs. A record is skipped when its hash holds a newer event time. Replacing the whole
 * hash (DEL, then HSET) makes features dropped from a view disappear. Lua numbers are doubles, exact for
 * epoch microseconds (below 2^53). unpack() limits a view to a few thousand features.
 */
const PUT_SCRIPT = `
local written = 0
local a = 1
for i = 2, #KEYS do
  local n = tonumber(ARGV[a + 3])
  local stored = redis.call('HGET', KEYS[i], '__ts')
  if not (stored and tonumber(stored) > tonumber(ARGV[a])) then
    redis.call('DEL', KEYS[i])
    redis.call('HSET', KEYS[i], '__ts', ARGV[a], unpack(ARGV, a + 4, a + 3 + 2 * n))
    if ARGV[a + 1] ~= '+inf' then redis.call('PEXPIREAT', KEYS[i], ARGV[a + 1]) end
    redis.call('ZADD', KEYS[1], ARGV[a + 1], ARGV[a + 2])
    written = written + 1
  end
  a = a + 4 + 2 * n
end
return written
`;

const TS_FIELD = '__ts';
/**
 * The view's index, `<prefix><view>:__keys` (entity keys are JSON arrays, so it cannot collide with one): a
 * sorted set of entity keys scored by their hash's expiry deadline (+inf without TTL). A plain SET would keep
 * expired entities: with deadlines, count is an exact ZCOUNT of live hashes and expired members are pruned
 * with one ZREMRANGEBYSCORE, never by reading the hashes.
 */
const INDEX_SUFFIX = '__keys';
/** Records per pipeline when writing: large enough to amortise round trips, small enough to bound memory. */
const WRITE_CHUNK = 1000;
/** Records per script call: short enough that Redis serves reads between calls. */
const RECORDS_PER_CALL = 100;
const SCAN_COUNT = 1000;
/** Trim a view's index of expired entities at most this often from write(). */
const TRIM_INTERVAL_MS = 1000;
const DAY_MS = 86_400_000;

export interface RedisConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly tls: boolean;
  /** With `tls`: PEM certificate authorities to trust besides the system's (a private CA). */
  readonly ca?: Buffer | undefined;
  /** Prepended to every key, e.g. `sluice:`. */
  readonly prefix: string;
  /** Where the store is, without credentials. */
  readonly location: string;
  /** How long the first connection may take before it fails. */
  readonly connectTimeoutMs?: number | undefined;
}

export class RedisOnlineStore implements OnlineStore {
  readonly kind = 'redis';
  readonly location: string;
  readonly #redis: Redis;
  readonly #prefix: string;
  /** When write() last trimmed each index (epoch ms). */
  readonly #trimmedAt = new Map<string, number>();

  /**
   * Connect, failing at once if the server cannot be reached (the socket's error is thrown). Once connected,
   * a dropped connection is retried with backoff, and a command fails after a few attempts, never hangs.
   */
  static async connect(options: RedisConnectOptions): Promise<RedisOnlineStore> {
    let connected = false;
    let lastError: unknown;
    const redis = new Redis({
      host: options.host,
      port: options.port,
      db: options.db,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.tls ? { tls: { servername: options.host, ...(options.ca === undefined ? {} : { ca: options.ca }) } } : {}),
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs ?? 3000,
      retryStrategy: (attempt) => (connected ? Math.min(attempt * 100, 2000) : null),
      maxRetriesPerRequest: 3,
      commandTimeout: 10_000,
    });
    // Without a listener ioredis prints connection errors; the commands that fail report them instead.
    redis.on('error', (error) => {
      lastError = error;
    });
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      throw lastError ?? error;
    }
    connected = true;
    return new RedisOnlineStore(redis, options.prefix, options.location);
  }

  /** Wrap a connected client; the store owns it from now on and quits it on close(). */
  constructor(redis: Redis, prefix: string, location: string) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.location = location;
    redis.defineCommand('sluiceOnlinePut', { lua: PUT_SCRIPT });
  }

  async write(view: string, records: readonly OnlineRecord[], options: WriteOptions = {}): Promise<WriteResult> {
    const base = this.#viewPrefix(view);
    const index = base + INDEX_SUFFIX;
    const { ttlMs } = options;
    // Redis deletes a hash at max(eventTime + ttl, now) + grace, not at eventTime + ttl: the reader decides
    // whether a value is expired, and during the grace period it can still say "expired" rather than "never
    // seen". A record written after its TTL ran out (a backfill of old data) stays for the grace period too, so
    // materialising history gives the same answers on Redis as on SQLite until Redis reclaims the memory.
    const graceMs = ttlMs === undefined ? 0 : Math.max(ttlMs, DAY_MS);
    const now = Date.now();
    let written = 0;
    // Two chunks in flight: the client encodes the next while Redis runs the previous one's scripts.
    let previous: Promise<number> = Promise.resolve(0);
    for (let start = 0; start < records.length; start += WRITE_CHUNK) {
      const pipeline = this.#redis.pipeline();
      const end = Math.min(start + WRITE_CHUNK, records.length);
      for (let call = start; call < end; call += RECORDS_PER_CALL) {
        const last = Math.min(call + RECORDS_PER_CALL, end);
        const keys: string[] = [index];
        const args: string[] = [];
        for (let i = call; i < last; i++) {
          const record = records[i] as OnlineRecord;
          const deadline = ttlMs === undefined ? '+inf' : String(Math.max(Math.floor(record.eventTimeMicros / 1000) + ttlMs, now) + graceMs);
          keys.push(base + record.key);
          args.push(String(record.eventTimeMicros), deadline, record.key, '');
          const counted = args.length - 1;
          args[counted] = String(encodeValues(record.values, args));
        }
        pipeline.sluiceOnlinePut(keys.length, [...keys, ...args]);
      }
      const sent = this.#exec(pipeline).then(sumPuts);
      try {
        written += await previous;
      } catch (error) {
        await sent.catch(() => undefined);
        throw error;
      }
      previous = sent;
    }
    written += await previous;
    // Entities past their deadline leave the index here (at most every TRIM_INTERVAL_MS per view: a stream
    // job writes many times a second, and each trim was a second round trip) and in sampleKeys; count()
    // counts only live deadlines, so a lazy trim changes no answer, only how long an expired member stays.
    if (ttlMs !== undefined && now - (this.#trimmedAt.get(index) ?? -Infinity) >= TRIM_INTERVAL_MS) {
      this.#trimmedAt.set(index, now);
      await this.#run(() => this.#redis.zremrangebyscore(index, '-inf', `(${Date.now()}`));
    }
    return { written, stale: records.length - written };
  }

  async read(requests: readonly ReadRequest[]): Promise<(StoredValues | undefined)[][]> {
    const pipeline = this.#redis.pipeline();
    for (const { view, keys, features } of requests) {
      const base = this.#viewPrefix(view);
      if (features === undefined) {
        for (const key of keys) pipeline.hgetall(base + key);
      } else {
        const fields = [TS_FIELD, ...features];
        for (const key of keys) pipeline.hmget(base + key, ...fields);
      }
    }
    const replies = await this.#exec(pipeline);
    let next = 0;
    return requests.map(({ keys, features }) =>
      keys.map(() => {
        const reply = replies[next++];
        return features === undefined ? decodeHash(reply as Record<string, string>) : decodeFields(reply as (string | null)[], features);
      }),
    );
  }

  async sampleKeys(view: string, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const base = this.#viewPrefix(view);
    const index = base + INDEX_SUFFIX;
    const [, sampled] = await this.#exec(this.#redis.pipeline().zremrangebyscore(index, '-inf', `(${Date.now()}`).zrandmember(index, limit));
    const keys = sampled as string[];
    if (keys.length === 0) return [];
    // The index outlives hashes removed behind its back (eviction under maxmemory, a concurrent dropView).
    const check = this.#redis.pipeline();
    for (const key of keys) check.exists(base + key);
    const exists = await this.#exec(check);
    const missing = keys.filter((_, i) => exists[i] === 0);
    if (missing.length > 0) await this.#run(() => this.#redis.zrem(index, ...missing));
    return keys.filter((_, i) => exists[i] !== 0);
  }

  /** Entities whose hash has not reached its expiry deadline (hashes evicted by Redis are still counted). */
  count(view: string): Promise<number> {
    return this.#run(() => this.#redis.zcount(this.#viewPrefix(view) + INDEX_SUFFIX, `(${Date.now()}`, '+inf'));
  }

  async dropView(view: string): Promise<void> {
    const pattern = `${escapeGlob(this.#viewPrefix(view))}*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.#run(() => this.#redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT));
      if (keys.length > 0) await this.#run(() => this.#redis.unlink(...keys));
      cursor = next;
    } while (cursor !== '0');
  }

  async deleteKeys(view: string, keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const base = this.#viewPrefix(view);
    const [deleted] = (await this.#exec(this.#redis.pipeline().unlink(...keys.map((k) => base + k)).zrem(base + INDEX_SUFFIX, ...keys))) as [number, number];
    return deleted;
  }

  async ping(): Promise<void> {
    // Without waiting for a reconnect: a down Redis is reported at once, not after the command timeout.
    if (this.#redis.status !== 'ready') throw new Error(`Redis at ${this.location} is not connected (${this.#redis.status})`);
    await this.#run(() => this.#redis.ping());
  }

  async close(): Promise<void> {
    if (this.#redis.status === 'ready') {
      await this.#redis.quit().catch(() => this.#redis.disconnect());
    } else {
      this.#redis.disconnect();
    }
  }

  #viewPrefix(view: string): string {
    return `${this.#prefix}${view}:`;
  }

  /** Run a pipeline and return its replies, throwing the first command error as ONLINE_STORE. */
  async #exec(pipeline: ChainableCommander): Promise<unknown[]> {
    const results = await this.#run(() => pipeline.exec());
    if (results === null) throw this.#failure(new Error('the pipeline was discarded'));
    const replies: unknown[] = new Array<unknown>(results.length);
    for (let i = 0; i < results.length; i++) {
      const [error, reply] = results[i] as [Error | null, unknown];
      if (error !== null) throw this.#failure(error);
      replies[i] = reply;
    }
    return replies;
  }

  async #run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw this.#failure(error);
    }
  }

  #failure(error: unknown): SluiceError {
    const transient = isTransient(error) || /max retries|Connection is closed|isn't writeable/i.test(errorMessage(error));
    return new SluiceError('ONLINE_STORE', `online store at ${this.location}: ${errorMessage(error)}`, { store: this.location }, { cause: error, transient });
  }
}

/** The number of records written: each script replies 1 (written) or 0 (stale). */
function sumPuts(replies: readonly unknown[]): number {
  let written = 0;
  for (const reply of replies) written += reply as number;
  return written;
}

/** Append feature name, JSON value, feature name, JSON value... to `args` (undefined values are left out, as JSON does); returns how many features. */
function encodeValues(values: Readonly<Record<string, unknown>>, args: string[]): number {
  let features = 0;
  for (const name of Object.keys(values)) {
    const encoded = JSON.stringify(values[name]) as string | undefined;
    if (encoded !== undefined) {
      args.push(name, encoded);
      features++;
    }
  }
  return features;
}

function decodeFields(reply: readonly (string | null)[], features: readonly string[]): StoredValues | undefined {
  const ts = reply[0];
  if (ts === null || ts === undefined) return undefined;
  const values: Record<string, unknown> = {};
  for (let i = 0; i < features.length; i++) {
    const raw = reply[i + 1];
    if (raw !== null && raw !== undefined) values[features[i] as string] = JSON.parse(raw);
  }
  return { eventTimeMicros: Number(ts), values };
}

function decodeHash(hash: Readonly<Record<string, string>>): StoredValues | undefined {
  const ts = hash[TS_FIELD];
  if (ts === undefined) return undefined;
  const values: Record<string, unknown> = {};
  for (const field of Object.keys(hash)) {
    if (field !== TS_FIELD) values[field] = JSON.parse(hash[field] as string);
  }
  return { eventTimeMicros: Number(ts), values };
}

/** Escape Redis glob characters so that a prefix matches only itself. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
