// Streaming state of one tiled windowed feature view: per entity key, pre-aggregated tiles covering the longest
// window, so that the value as of the key's latest event equals viewRowsSql's (the batch definition) at that event.
import type { AggregationFunction, WindowedFeatureView } from '../define/features.ts';
import { SluiceError } from '../errors.ts';
import type { OnlineRecord, StoredValues } from '../store/online/online-store.ts';

/** `applied`: the event is in the key's tiles; `expired`: its tile is older than any future window of the key. */
export type ApplyStatus = 'applied' | 'expired';

/** JSON form of a view's state; `restore` accepts it only for the same view definition. */
export interface WindowStateSnapshot {
  readonly format: 'sluice.windows/1';
  readonly view: string;
  /** The aggregations the state was built for (function, column, window, tile); must match on restore. */
  readonly layout: string;
  /** Keys changed since the last drain when the snapshot was taken. */
  readonly dirty: readonly string[];
  readonly keys: readonly KeySnapshot[];
}

export interface KeySnapshot {
  readonly key: string;
  readonly latest: number;
  readonly last: readonly unknown[];
  /** Per tile: the numeric slots, then the value slots (min/max or null, distinct sets as arrays). */
  readonly tiles: readonly (readonly [readonly number[], readonly unknown[]])[];
}

/** Per column: what the view's aggregations need from it, and where it lives in a tile. */
interface ColumnPlan {
  readonly name: string;
  /** Index of the non-null count in a tile's numeric slots; the sum follows it. */
  readonly num: number;
  readonly sum: boolean;
  /** Index in a tile's value slots, or -1. */
  readonly min: number;
  readonly max: number;
  readonly distinct: number;
}

interface AggregationPlan {
  readonly name: string;
  readonly fn: AggregationFunction;
  /** Index into `columns`, or -1 for count(*). */
  readonly column: number;
  /** Window length in tiles. */
  readonly tiles: number;
  /** For `last`: index into a key's last values. */
  readonly last: number;
}

const NUM_HEADER = 2;
/** Slots of a key's first block; blocks double as the key's live tiles grow. */
const INITIAL_SLOTS = 4;
const INITIAL_ARENA_SLOTS = 1 << 12;
const INITIAL_KEYS = 1 << 10;
/**
 * Up to this many tiles in the longest window, a key's block is a ring of that many slots (slot = tile mod
 * window): an event writes its slot without moving tiles, at about the cost of the sparse layout's usual
 * blocks. Longer windows (24h of 1m tiles: 1,440) keep the live tiles only, sorted.
 */
const RING_MAX_TILES = 64;

/*
 * One key's state, by key id: a row of `meta` (below) and its live tiles in ascending tile order, packed in
 * slots [base + head, base + head + count) of its block [base, base + capacity) in the view's shared arena
 * (`nums`: numStride numbers per slot, `objs`: objStride values per slot). Most keys hold a few tiles even when
 * the longest window spans hundreds (24h of 1m tiles), so a key costs what it holds; events (nearly in order)
 * touch the last slot. Typed rows rather than an object and a typed array per key: an event then touches the
 * key map, one 64-byte meta row and one arena slot (100k keys: per-key objects and arrays ran at 0.5-0.8M
 * events/s, cache misses most of it).
 */
const META = 8;
/** Tile of the key's latest event, its offset in the tile (microseconds; -1 before the first event). */
const TOP = 0;
const OFFSET = 1;
/** The key's oldest live tile (read per event, so not from the block's front, a cache line from its back). */
const OLDEST = 2;
const BASE = 3;
const CAPACITY = 4;
const HEAD = 5;
const COUNT = 6;
const FLAGS = 7;
/** Changed since the last drain (values to write). */
const DIRTY = 1;
/** Changed since the last checkpoint that was saved (state to save). */
const CHANGED = 2;
/** Taken by a checkpoint and not yet encoded: freeze it before changing the key. */
const SAVING = 4;

/**
 * A key's state as of a checkpoint, encoded lazily (JSON.stringify calls toJSON) while the checkpoint is
 * written, so that taking a checkpoint costs no encoding; a key about to change is encoded first.
 */
export class KeyCapture {
  private frozen: KeySnapshot | undefined;

  constructor(
    readonly key: string,
    private readonly take: () => KeySnapshot,
    private readonly release: () => void,
  ) {}

  /** Encode now (the key is about to change, or the checkpoint is being written). */
  freeze(): void {
    if (this.frozen !== undefined) return;
    this.frozen = this.take();
    this.release();
  }

  toJSON(): KeySnapshot {
    this.freeze();
    return this.frozen as KeySnapshot;
  }
}

/** The keys changed since the last saved checkpoint: their state, and the keys dropped since. */
export interface WindowStateChanges {
  readonly put: readonly KeyCapture[];
  readonly removed: readonly string[];
}

/**
 * Per entity key, the tiles of the longest window before its latest event (see META). Values are computed from
 * the live tiles only; a tile falls out when a newer one of the same key pushes it past the longest window.
 */
export class WindowedViewState {
  readonly view: WindowedFeatureView;
  private readonly tileUs: number;
  private readonly maxTiles: number;
  private readonly columns: readonly ColumnPlan[];
  private readonly aggregations: readonly AggregationPlan[];
  /** Columns of `last` aggregations, in the order of a key's last values. */
  private readonly lastColumns: readonly string[];
  private readonly numStride: number;
  private readonly objStride: number;
  private readonly layout: string;
  /** Blocks are rings of maxTiles slots (see RING_MAX_TILES); else sorted live tiles, as the block's COUNT says. */
  private readonly ring: boolean;
  /** Key id by entity key; ids of dropped keys are reused. */
  private readonly ids = new Map<string, number>();
  private readonly freeIds: number[] = [];
  private names: string[] = [];
  private meta = new Float64Array(INITIAL_KEYS * META);
  /** Per key id, its `last` values (lastColumns.length each). */
  private lasts: unknown[] = [];
  private readonly captures = new Map<number, KeyCapture>();
  /** The arena: every key's block; slots past `used` are free, and freed blocks wait in `free` by size. */
  private nums: Float64Array;
  private objs: unknown[];
  private used = 0;
  private readonly free = new Map<number, number[]>();
  /** Ids marked DIRTY / CHANGED, in marking order (an id may repeat once dropped and reused: the flag decides). */
  private dirty: number[] = [];
  private changed: number[] = [];
  private readonly removed = new Set<string>();

  constructor(view: WindowedFeatureView) {
    if (view.tileMs === undefined) {
      throw new SluiceError('DEFINITION_INVALID', `feature view "${view.name}": a stream keeps windows as tiles; give the view a tile (e.g. tile: '1m')`);
    }
    this.view = view;
    this.tileUs = view.tileMs * 1000;
    const tileMs = view.tileMs;
    this.maxTiles = Math.max(...view.aggregations.map((a) => a.windowMs / tileMs));
    const names = [...new Set(view.aggregations.flatMap((a) => (a.column === undefined || a.function === 'last' ? [] : [a.column])))];
    let objStride = 0;
    const slot = (needed: boolean): number => (needed ? objStride++ : -1);
    this.columns = names.map((name, i) => {
      const uses = (fns: readonly AggregationFunction[]): boolean => view.aggregations.some((a) => a.column === name && fns.includes(a.function));
      return { name, num: NUM_HEADER + 2 * i, sum: uses(['sum', 'avg']), min: slot(uses(['min'])), max: slot(uses(['max'])), distinct: slot(uses(['count_distinct'])) };
    });
    this.objStride = objStride;
    this.numStride = NUM_HEADER + 2 * names.length;
    this.lastColumns = [...new Set(view.aggregations.filter((a) => a.function === 'last').map((a) => a.column as string))];
    this.aggregations = view.aggregations.map((a) => ({
      name: a.name,
      fn: a.function,
      column: a.column === undefined || a.function === 'last' ? -1 : names.indexOf(a.column),
      tiles: a.windowMs / tileMs,
      last: a.function === 'last' ? this.lastColumns.indexOf(a.column as string) : -1,
    }));
    this.layout = JSON.stringify([tileMs, view.aggregations.map((a) => [a.name, a.function, a.column ?? null, a.windowMs])]);
    this.ring = this.maxTiles <= RING_MAX_TILES;
    this.nums = new Float64Array(INITIAL_ARENA_SLOTS * this.numStride);
    this.objs = this.objStride === 0 ? [] : new Array<unknown>(INITIAL_ARENA_SLOTS * this.objStride).fill(null);
  }

  /** Keys with state. */
  get size(): number {
    return this.ids.size;
  }

  /** Bytes of the tile arena and the key rows (typed arrays, which the JS heap figures do not include), free slots included. */
  get arenaBytes(): number {
    return this.nums.byteLength + this.meta.byteLength;
  }

  /** Live tiles a key holds now (at most the longest window in tiles). */
  tileCount(key: string): number {
    const id = this.ids.get(key);
    if (id === undefined) return 0;
    return this.ring ? this.ringTiles(id).length : (this.meta[id * META + COUNT] as number);
  }

  /** Add one event of `key` (event time in epoch microseconds; `row` holds the aggregated columns). */
  apply(key: string, eventTimeMicros: number, row: Readonly<Record<string, unknown>>): ApplyStatus {
    const tile = Math.floor(eventTimeMicros / this.tileUs);
    const id = this.ids.get(key) ?? this.addKey(key, tile);
    const m = id * META;
    if (((this.meta[m + FLAGS] as number) & SAVING) !== 0) this.captures.get(id)?.freeze();
    const meta = this.meta;
    const top = meta[m + TOP] as number;
    if (tile <= top - this.maxTiles) return 'expired';
    const lastCount = this.lastColumns.length;
    const offset = eventTimeMicros - tile * this.tileUs;
    if (tile > top || (tile === top && offset > (meta[m + OFFSET] as number))) {
      meta[m + OFFSET] = offset;
      for (let i = 0; i < lastCount; i++) this.lasts[id * lastCount + i] = row[this.lastColumns[i] as string] ?? null;
      if (tile > top) {
        meta[m + TOP] = tile;
        // Tiles no window of the key's latest event reaches are dropped from the front.
        if (!this.ring && meta[m + COUNT] !== 0 && (meta[m + OLDEST] as number) <= tile - this.maxTiles) this.dropOld(m, tile);
      }
    } else if (tile === top && offset === meta[m + OFFSET]) {
      // Among events at the latest time, `last` is the greatest non-null value.
      for (let i = 0; i < lastCount; i++) {
        const v = row[this.lastColumns[i] as string];
        const cur = this.lasts[id * lastCount + i];
        if (v !== null && v !== undefined && (cur === null || (v as number) > (cur as number))) this.lasts[id * lastCount + i] = v;
      }
    }
    const stride = this.numStride;
    const s = this.ring ? this.ringSlot(m, tile) : this.slotFor(m, tile);
    const nums = this.nums;
    const n = s * stride;
    nums[n + 1] = (nums[n + 1] as number) + 1;
    const columns = this.columns;
    for (let c = 0; c < columns.length; c++) {
      const col = columns[c] as ColumnPlan;
      const v = row[col.name];
      if (v === null || v === undefined) continue;
      const b = n + col.num;
      nums[b] = (nums[b] as number) + 1;
      if (col.sum) nums[b + 1] = (nums[b + 1] as number) + (v as number);
      if (this.objStride !== 0) this.updateObjects(this.objs, s * this.objStride, col, v);
    }
    const flags = meta[m + FLAGS] as number;
    if ((flags & (DIRTY | CHANGED)) !== (DIRTY | CHANGED)) {
      if ((flags & DIRTY) === 0) this.dirty.push(id);
      if ((flags & CHANGED) === 0) this.changed.push(id);
      meta[m + FLAGS] = flags | DIRTY | CHANGED;
    }
    return 'applied';
  }

  /** The aggregates as of the key's latest event, as DuckDB's to_json gives them on the batch path. */
  valueOf(key: string): StoredValues | undefined {
    const id = this.ids.get(key);
    return id === undefined ? undefined : { eventTimeMicros: this.latestOf(id), values: this.values(id) };
  }

  /** Keys changed since the last drain, once each; clears the set. */
  drainDirtyKeys(): string[] {
    const keys = this.dirtyIds().map((id) => this.names[id] as string);
    this.clearDirty();
    return keys;
  }

  /** Records for the keys changed since the last drain (one per key), ready for OnlineStore.write; clears the set. */
  drain(): OnlineRecord[] {
    const records = this.dirtyIds().map((id) => ({ key: this.names[id] as string, eventTimeMicros: this.latestOf(id), values: this.values(id) }));
    this.clearDirty();
    return records;
  }

  /**
   * Drop keys whose every tile is older than any window of an event from `fromMicros` on: once the gate admits
   * no event before `fromMicros`, the key's next event starts afresh with the same values as with its state.
   * Keys with values still to drain stay. Returns how many were dropped.
   */
  evictIdle(fromMicros: number): number {
    const before = Math.floor(fromMicros / this.tileUs) - this.maxTiles;
    const meta = this.meta;
    let dropped = 0;
    for (const [key, id] of this.ids) {
      const m = id * META;
      if ((meta[m + TOP] as number) > before || ((meta[m + FLAGS] as number) & DIRTY) !== 0) continue;
      // A checkpoint being written reads the key from its block and row, which another key may take from now on.
      this.captures.get(id)?.freeze();
      this.release(meta[m + BASE] as number, meta[m + CAPACITY] as number);
      meta[m + FLAGS] = 0;
      this.ids.delete(key);
      this.freeIds.push(id);
      this.removed.add(key);
      dropped++;
    }
    return dropped;
  }

  /**
   * Keys changed or dropped since the last checkpoint, as sparse key snapshots; they count as unchanged from
   * now on (events applied while the checkpoint is being saved mark their keys again). If the checkpoint is
   * not saved, give them back with `restoreChanges`.
   */
  takeChanges(): WindowStateChanges {
    const put: KeyCapture[] = [];
    const meta = this.meta;
    for (const id of this.changed) {
      const m = id * META;
      const flags = meta[m + FLAGS] as number;
      if ((flags & CHANGED) === 0) continue;
      meta[m + FLAGS] = (flags & ~CHANGED) | SAVING;
      const capture: KeyCapture = new KeyCapture(this.names[id] as string, () => this.keySnapshot(id), () => {
        if (this.captures.get(id) !== capture) return;
        this.captures.delete(id);
        this.meta[id * META + FLAGS] = (this.meta[id * META + FLAGS] as number) & ~SAVING;
      });
      this.captures.set(id, capture);
      put.push(capture);
    }
    const removed = [...this.removed].filter((key) => !this.ids.has(key));
    this.changed = [];
    this.removed.clear();
    return { put, removed };
  }

  /** Changes taken for a checkpoint that was not saved count as changed again. */
  restoreChanges(changes: WindowStateChanges): void {
    for (const { key } of changes.put) {
      const id = this.ids.get(key);
      if (id !== undefined) this.markChanged(id);
    }
    for (const key of changes.removed) if (!this.ids.has(key)) this.removed.add(key);
  }

  /** Count every key as changed (the state came from a checkpoint that is not saved as entries). */
  markAllChanged(): void {
    for (const id of this.ids.values()) this.markChanged(id);
  }

  private markChanged(id: number): void {
    const flags = this.meta[id * META + FLAGS] as number;
    if ((flags & CHANGED) !== 0) return;
    this.meta[id * META + FLAGS] = flags | CHANGED;
    this.changed.push(id);
  }

  private commitChanges(): void {
    for (const id of this.changed) this.meta[id * META + FLAGS] = (this.meta[id * META + FLAGS] as number) & ~CHANGED;
    this.changed = [];
    this.removed.clear();
  }

  /** Keys changed since the last drain, for a checkpoint taken before the drain. */
  dirtyKeys(): string[] {
    return this.dirtyIds().map((id) => this.names[id] as string);
  }

  snapshot(): WindowStateSnapshot {
    const keys = [...this.ids.values()].map((id) => this.keySnapshot(id));
    return { format: 'sluice.windows/1', view: this.view.name, layout: this.layout, dirty: this.dirtyKeys(), keys };
  }

  /** State from a snapshot taken by a state of the same view definition (or assembled from saved key snapshots). */
  static restore(view: WindowedFeatureView, snapshot: WindowStateSnapshot): WindowedViewState {
    const state = new WindowedViewState(view);
    if (snapshot.format !== 'sluice.windows/1' || snapshot.view !== view.name || snapshot.layout !== state.layout) {
      throw new SluiceError('DEFINITION_INVALID', `feature view "${view.name}": the stream checkpoint was taken for a different definition of the view (tile or aggregations changed); discard the checkpoint and replay the stream from the start of the longest window`);
    }
    const lastCount = state.lastColumns.length;
    for (const saved of snapshot.keys) {
      const id = state.addKey(saved.key, Math.floor(saved.latest / state.tileUs));
      const m = id * META;
      state.meta[m + OFFSET] = saved.latest - (state.meta[m + TOP] as number) * state.tileUs;
      saved.last.forEach((v, i) => { state.lasts[id * lastCount + i] = v; });
      for (const [nums, objs] of saved.tiles) {
        const s = state.ring ? state.ringSlot(m, nums[0] as number) : state.slotFor(m, nums[0] as number);
        state.nums.set(nums, s * state.numStride);
        const o = s * state.objStride;
        for (const col of state.columns) {
          if (col.min >= 0) state.objs[o + col.min] = objs[col.min] ?? null;
          if (col.max >= 0) state.objs[o + col.max] = objs[col.max] ?? null;
          if (col.distinct >= 0) state.objs[o + col.distinct] = new Set(objs[col.distinct] as unknown[]);
        }
      }
    }
    for (const key of snapshot.dirty) {
      const id = state.ids.get(key);
      if (id === undefined) continue;
      const flags = state.meta[id * META + FLAGS] as number;
      if ((flags & DIRTY) !== 0) continue;
      state.meta[id * META + FLAGS] = flags | DIRTY;
      state.dirty.push(id);
    }
    // What was restored is what the checkpoint holds.
    state.commitChanges();
    return state;
  }

  /** The view's layout check and name, for assembling a snapshot from saved keys. */
  get identity(): { readonly view: string; readonly layout: string } {
    return { view: this.view.name, layout: this.layout };
  }

  /** Exact: the offset is the difference of two numbers within a factor of two of each other. */
  private latestOf(id: number): number {
    return (this.meta[id * META + TOP] as number) * this.tileUs + (this.meta[id * META + OFFSET] as number);
  }

  /** Slots of the key's live tiles, oldest first. */
  private liveSlots(id: number): number[] {
    if (this.ring) return this.ringTiles(id);
    const m = id * META;
    const first = (this.meta[m + BASE] as number) + (this.meta[m + HEAD] as number);
    return Array.from({ length: this.meta[m + COUNT] as number }, (_, i) => first + i);
  }

  /** Ring slots holding a tile of the key's longest window, oldest first. */
  private ringTiles(id: number): number[] {
    const m = id * META;
    const base = this.meta[m + BASE] as number;
    const after = (this.meta[m + TOP] as number) - this.maxTiles;
    const slots: number[] = [];
    for (let s = base; s < base + this.maxTiles; s++) if ((this.nums[s * this.numStride] as number) > after) slots.push(s);
    return slots.sort((x, y) => (this.nums[x * this.numStride] as number) - (this.nums[y * this.numStride] as number));
  }

  /** The ring slot of tile `tile` of the key at meta row `m`, reset (zeroed) when it held an older tile. */
  private ringSlot(m: number, tile: number): number {
    const stride = this.numStride;
    const nums = this.nums;
    const s = (this.meta[m + BASE] as number) + (((tile % this.maxTiles) + this.maxTiles) % this.maxTiles);
    // A tile other than `tile` in its slot is at least a window older than the key's latest event: expired.
    if (nums[s * stride] !== tile) {
      nums[s * stride] = tile;
      for (let i = s * stride + 1; i < (s + 1) * stride; i++) nums[i] = 0;
      for (let i = s * this.objStride; i < (s + 1) * this.objStride; i++) this.objs[i] = null;
    }
    return s;
  }

  private keySnapshot(id: number): KeySnapshot {
    const tiles: [number[], unknown[]][] = [];
    for (const s of this.liveSlots(id)) {
      const objs = this.objs.slice(s * this.objStride, (s + 1) * this.objStride).map((v) => (v instanceof Set ? [...(v as Set<unknown>)] : v ?? null));
      tiles.push([Array.from(this.nums.subarray(s * this.numStride, (s + 1) * this.numStride)), objs]);
    }
    const lastCount = this.lastColumns.length;
    return { key: this.names[id] as string, latest: this.latestOf(id), last: this.lasts.slice(id * lastCount, (id + 1) * lastCount), tiles };
  }

  /** Drop the tiles of the key at meta row `m` that no window of tile `tile` reaches, from the front. */
  private dropOld(m: number, tile: number): void {
    const meta = this.meta;
    const nums = this.nums;
    const stride = this.numStride;
    const base = meta[m + BASE] as number;
    let head = meta[m + HEAD] as number;
    let count = meta[m + COUNT] as number;
    do {
      head++;
      count--;
    } while (count > 0 && (nums[(base + head) * stride] as number) <= tile - this.maxTiles);
    meta[m + HEAD] = head;
    meta[m + COUNT] = count;
    if (count > 0) meta[m + OLDEST] = nums[(base + head) * stride] as number;
  }

  /** The arena slot holding tile `tile` of the key at meta row `m`, inserted in order (zeroed) when it has none. */
  private slotFor(m: number, tile: number): number {
    const stride = this.numStride;
    const nums = this.nums;
    const base = this.meta[m + BASE] as number;
    const first = base + (this.meta[m + HEAD] as number);
    let s = first + (this.meta[m + COUNT] as number) - 1;
    while (s >= first && (nums[s * stride] as number) > tile) s--;
    if (s >= first && nums[s * stride] === tile) return s;
    return this.insertSlot(m, s + 1 - base, tile);
  }

  /** Insert a zeroed tile at block offset `at` (head <= at <= head + count) of the key at row `m`; returns its slot. */
  private insertSlot(m: number, at: number, tile: number): number {
    const stride = this.numStride;
    const objStride = this.objStride;
    let head = this.meta[m + HEAD] as number;
    const count = this.meta[m + COUNT] as number;
    const capacity = this.meta[m + CAPACITY] as number;
    if (head + count === capacity) {
      if (head * 2 >= capacity) {
        // Half the block is before the head (dropped tiles): move the live ones to the front.
        const base = this.meta[m + BASE] as number;
        this.nums.copyWithin(base * stride, (base + head) * stride, (base + head + count) * stride);
        if (objStride !== 0) this.objs.copyWithin(base * objStride, (base + head) * objStride, (base + head + count) * objStride);
      } else {
        const moved = this.allocate(capacity * 2);
        // allocate() may have packed the arena (moving this key's block too): read both after it.
        const from = (this.meta[m + BASE] as number) + head;
        this.nums.copyWithin(moved * stride, from * stride, (from + count) * stride);
        if (objStride !== 0) this.objs.copyWithin(moved * objStride, from * objStride, (from + count) * objStride);
        this.release(this.meta[m + BASE] as number, capacity);
        this.meta[m + BASE] = moved;
        this.meta[m + CAPACITY] = capacity * 2;
      }
      at -= head;
      head = 0;
      this.meta[m + HEAD] = 0;
    }
    // Plain loops: the builtins' call overhead dominates on a few slots.
    const nums = this.nums;
    const base = this.meta[m + BASE] as number;
    const slot = base + at;
    const end = base + head + count;
    for (let i = end * stride - 1; i >= slot * stride; i--) nums[i + stride] = nums[i] as number;
    nums[slot * stride] = tile;
    if (at === head) this.meta[m + OLDEST] = tile;
    for (let i = slot * stride + 1; i < (slot + 1) * stride; i++) nums[i] = 0;
    if (objStride !== 0) {
      const objs = this.objs;
      for (let i = end * objStride - 1; i >= slot * objStride; i--) objs[i + objStride] = objs[i];
      for (let i = slot * objStride; i < (slot + 1) * objStride; i++) objs[i] = null;
    }
    this.meta[m + COUNT] = count + 1;
    return slot;
  }

  /** A block of `capacity` slots: a freed one of that size, else from the free end of the arena (packed and grown if full). */
  private allocate(capacity: number): number {
    const reused = this.free.get(capacity)?.pop();
    if (reused !== undefined) return reused;
    if (this.used + capacity > this.nums.length / this.numStride) this.grow(capacity);
    const base = this.used;
    this.used += capacity;
    return base;
  }

  /** Give a block back (its values cleared, so that distinct sets can be collected). */
  private release(base: number, capacity: number): void {
    if (capacity === 0) return;
    if (this.objStride !== 0) this.objs.fill(null, base * this.objStride, (base + capacity) * this.objStride);
    const list = this.free.get(capacity);
    if (list === undefined) this.free.set(capacity, [base]);
    else list.push(base);
  }

  /**
   * Make room for a block of `capacity` slots: copy every key's block, packed, into an arena 1.5 times the size
   * in use (freed blocks are dropped, so that blocks keys outgrew do not pile up).
   */
  private grow(capacity: number): void {
    const meta = this.meta;
    let live = capacity;
    for (const id of this.ids.values()) live += meta[id * META + CAPACITY] as number;
    const slots = Math.max(INITIAL_ARENA_SLOTS, Math.ceil(live * 1.5));
    const stride = this.numStride;
    const objStride = this.objStride;
    const nums = new Float64Array(slots * stride);
    const objs = objStride === 0 ? [] : new Array<unknown>(slots * objStride).fill(null);
    let used = 0;
    for (const id of this.ids.values()) {
      const m = id * META;
      const size = meta[m + CAPACITY] as number;
      if (size === 0) continue;
      const base = meta[m + BASE] as number;
      nums.set(this.nums.subarray(base * stride, (base + size) * stride), used * stride);
      for (let i = 0; i < size * objStride; i++) objs[used * objStride + i] = this.objs[base * objStride + i];
      meta[m + BASE] = used;
      used += size;
    }
    this.nums = nums;
    this.objs = objs;
    this.used = used;
    this.free.clear();
  }

  /** A key without tiles yet, its first event in tile `tile`; returns its id. */
  private addKey(key: string, tile: number): number {
    let id = this.freeIds.pop();
    if (id === undefined) {
      id = this.names.length;
      if ((id + 1) * META > this.meta.length) {
        const meta = new Float64Array(this.meta.length * 2);
        meta.set(this.meta);
        this.meta = meta;
      }
    }
    this.names[id] = key;
    const lastCount = this.lastColumns.length;
    for (let i = 0; i < lastCount; i++) this.lasts[id * lastCount + i] = null;
    const m = id * META;
    const meta = this.meta;
    meta[m + TOP] = tile;
    meta[m + OFFSET] = -1;
    meta[m + OLDEST] = tile;
    meta[m + BASE] = 0;
    meta[m + CAPACITY] = 0;
    meta[m + HEAD] = 0;
    meta[m + COUNT] = 0;
    meta[m + FLAGS] = 0;
    this.ids.set(key, id);
    // Allocated once the key is in the map, so that packing the arena moves its block too (it has none yet).
    const capacity = this.ring ? this.maxTiles : INITIAL_SLOTS;
    const base = this.allocate(capacity);
    this.meta[m + BASE] = base;
    this.meta[m + CAPACITY] = capacity;
    // A ring's slots hold no tile until written (NaN matches no tile and falls in no window).
    if (this.ring) for (let s = base; s < base + capacity; s++) this.nums[s * this.numStride] = Number.NaN;
    return id;
  }

  /** Ids still marked DIRTY, once each, in marking order. */
  private dirtyIds(): number[] {
    const out: number[] = [];
    const seen = new Set<number>();
    for (const id of this.dirty) {
      if (((this.meta[id * META + FLAGS] as number) & DIRTY) === 0 || seen.has(id)) continue;
      seen.add(id);
      out.push(id);
    }
    return out;
  }

  private clearDirty(): void {
    for (const id of this.dirty) this.meta[id * META + FLAGS] = (this.meta[id * META + FLAGS] as number) & ~DIRTY;
    this.dirty = [];
  }

  private updateObjects(objs: unknown[], base: number, col: ColumnPlan, v: unknown): void {
    if (col.min >= 0) {
      const cur = objs[base + col.min];
      if (cur === null || (v as number) < (cur as number)) objs[base + col.min] = v;
    }
    if (col.max >= 0) {
      const cur = objs[base + col.max];
      if (cur === null || (v as number) > (cur as number)) objs[base + col.max] = v;
    }
    if (col.distinct >= 0) {
      const set = objs[base + col.distinct];
      if (set instanceof Set) set.add(v);
      else objs[base + col.distinct] = new Set([v]);
    }
  }

  private values(id: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const nums = this.nums;
    const stride = this.numStride;
    const m = id * META;
    const base = this.meta[m + BASE] as number;
    const first = base + (this.meta[m + HEAD] as number);
    const end = first + (this.meta[m + COUNT] as number);
    const top = this.meta[m + TOP] as number;
    const lastCount = this.lastColumns.length;
    const max = this.maxTiles;
    for (const a of this.aggregations) {
      if (a.fn === 'last') {
        out[a.name] = this.lasts[id * lastCount + a.last] ?? null;
        continue;
      }
      // Tiles in (latestTile - window, latestTile], oldest first; the newest holds only events up to the latest one.
      const col = a.column < 0 ? undefined : this.columns[a.column];
      let count = 0;
      let sum = 0;
      let best: unknown = null;
      const union = a.fn === 'count_distinct' ? new Set<unknown>() : undefined;
      // Sparse: the tail of the sorted live tiles. Ring: each tile of the window in order (sums add up in tile
      // order either way), skipping slots that hold another tile.
      let from = end;
      if (!this.ring) while (from > first && (nums[(from - 1) * stride] as number) > top - a.tiles) from--;
      const steps = this.ring ? a.tiles : end - from;
      for (let j = 0; j < steps; j++) {
        let s = from + j;
        if (this.ring) {
          const t = top - a.tiles + 1 + j;
          s = base + (((t % max) + max) % max);
          if (nums[s * stride] !== t) continue;
        }
        const n = s * stride;
        if (col === undefined) {
          count += nums[n + 1] as number;
          continue;
        }
        count += nums[n + col.num] as number;
        sum += nums[n + col.num + 1] as number;
        const o = s * this.objStride;
        if (a.fn === 'min' || a.fn === 'max') {
          const v = this.objs[o + (a.fn === 'min' ? col.min : col.max)];
          if (v !== null && v !== undefined && (best === null || (a.fn === 'min' ? (v as number) < (best as number) : (v as number) > (best as number)))) best = v;
        } else if (union !== undefined) {
          const set = this.objs[o + col.distinct];
          if (set instanceof Set) for (const v of set) union.add(v);
        }
      }
      switch (a.fn) {
        case 'count': out[a.name] = count; break;
        case 'sum': out[a.name] = count === 0 ? null : sum; break;
        case 'avg': out[a.name] = count === 0 ? null : sum / count; break;
        case 'min': case 'max': out[a.name] = best; break;
        case 'count_distinct': out[a.name] = union?.size ?? 0; break;
      }
    }
    return out;
  }
}
