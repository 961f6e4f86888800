// The online feature store: the latest value of each feature view per entity, for low-latency reads.
// Implementations (SQLite file, Redis) share this interface and one contract test suite.

/** One entity's values of one feature view, as written by materialisation or a stream job. */
export interface OnlineRecord {
  /** The encoded entity key (see features/keys.ts). */
  readonly key: string;
  /** Event time of the values, epoch microseconds (UTC). */
  readonly eventTimeMicros: number;
  /** Feature name to JSON-compatible value (numbers, strings, booleans, null, arrays, objects). */
  readonly values: Readonly<Record<string, unknown>>;
}

/** What a read finds for one key: its values and event time, or nothing. */
export interface StoredValues {
  readonly eventTimeMicros: number;
  readonly values: Readonly<Record<string, unknown>>;
}

export interface WriteOptions {
  /** The view's TTL: stores that expire keys keep them at least this long past the event time (plus a grace period). */
  readonly ttlMs?: number | undefined;
}

export interface WriteResult {
  /** Records stored (new, or at least as new as what was there). */
  readonly written: number;
  /** Records ignored because the store already held a newer event time for the key. */
  readonly stale: number;
}

export interface ReadRequest {
  readonly view: string;
  readonly keys: readonly string[];
  /** Fields to return; all stored fields when absent. */
  readonly features?: readonly string[] | undefined;
}

export interface OnlineStore {
  readonly kind: 'sqlite' | 'redis';
  /** Where the store is, without credentials: for messages and for keying incremental state. */
  readonly location: string;
  /**
   * Upsert records of one view. A record whose event time is older than the stored one for its key is
   * ignored (idempotent, order-independent); an equal event time overwrites.
   */
  write(view: string, records: readonly OnlineRecord[], options?: WriteOptions): Promise<WriteResult>;
  /** Read several views' keys in one round trip; results align with requests and their keys. */
  read(requests: readonly ReadRequest[]): Promise<(StoredValues | undefined)[][]>;
  /** Up to `limit` keys stored for a view, in no particular order (a sample for skew checks). */
  sampleKeys(view: string, limit: number): Promise<string[]>;
  /** Number of keys stored for a view. */
  count(view: string): Promise<number>;
  /** Delete every key of a view. */
  dropView(view: string): Promise<void>;
  /** Delete these keys of a view (erasure); how many were there. */
  deleteKeys(view: string, keys: readonly string[]): Promise<number>;
  /** Resolves when the store answers (a health check); rejects with the reason it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
