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
const INITIAL_SLOTS = 2;

/**
 * One key's state: its live tiles in ascending tile order, packed in slots [head, head + count) of its own
 * arrays (`nums`: numStride numbers per slot, `objs`: objStride values per slot). Most keys hold a few tiles
 * even when the longest window spans hundreds (24h of 1m tiles), so a key costs what it holds, and events
 * (nearly in order) touch the last slot.
 */
interface KeyTiles {
  readonly key: string;
  /** Latest event time (epoch microseconds) and its tile index. */
  latest: number;
  top: number;
  nums: Float64Array;
  objs: unknown[];
  head: number;
  count: number;
  readonly last: unknown[];
  /** Changed since the last drain (values to write). */
  dirty: boolean;
  /** Changed since the last checkpoint that was saved (state to save). */
  changed: boolean;
  /** Taken by a checkpoint and not yet encoded: freeze it before changing the key. */
  saving: KeyCapture | undefined;
}

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
 * Per entity key, the tiles of the longest window before its latest event (see KeyTiles). Values are computed
 * from the live tiles only; a tile falls out when a newer one of the same key pushes it past the longest window.
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
  private readonly keys = new Map<string, KeyTiles>();
  private dirty: KeyTiles[] = [];
  private changed: KeyTiles[] = [];
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
  }

  /** Keys with state. */
  get size(): number {
    return this.keys.size;
  }

  /** Bytes of the keys' tile arrays (typed arrays, which the JS heap figures do not include). */
  get arenaBytes(): number {
    let bytes = 0;
    for (const k of this.keys.values()) bytes += k.nums.byteLength;
    return bytes;
  }

  /** Live tiles a key holds now (at most the longest window in tiles). */
  tileCount(key: string): number {
    return this.keys.get(key)?.count ?? 0;
  }

  /** Add one event of `key` (event time in epoch microseconds; `row` holds the aggregated columns). */
  apply(key: string, eventTimeMicros: number, row: Readonly<Record<string, unknown>>): ApplyStatus {
    const k = this.keys.get(key) ?? this.addKey(key);
    k.saving?.freeze();
    const tile = Math.floor(eventTimeMicros / this.tileUs);
    if (tile <= k.top - this.maxTiles) return 'expired';
    const lastCount = this.lastColumns.length;
    if (eventTimeMicros > k.latest) {
      k.latest = eventTimeMicros;
      for (let i = 0; i < lastCount; i++) k.last[i] = row[this.lastColumns[i] as string] ?? null;
      if (tile > k.top) {
        k.top = tile;
        // Tiles no window of the key's latest event reaches are dropped from the front.
        const stride = this.numStride;
        while (k.count > 0 && (k.nums[k.head * stride] as number) <= tile - this.maxTiles) {
          k.head++;
          k.count--;
        }
      }
    } else if (eventTimeMicros === k.latest) {
      // Among events at the latest time, `last` is the greatest non-null value.
      for (let i = 0; i < lastCount; i++) {
        const v = row[this.lastColumns[i] as string];
        const cur = k.last[i];
        if (v !== null && v !== undefined && (cur === null || (v as number) > (cur as number))) k.last[i] = v;
      }
    }
    const stride = this.numStride;
    const s = this.slotFor(k, tile);
    const nums = k.nums;
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
      if (this.objStride !== 0) this.updateObjects(k.objs, s * this.objStride, col, v);
    }
    if (!k.dirty) {
      k.dirty = true;
      this.dirty.push(k);
    }
    if (!k.changed) {
      k.changed = true;
      this.changed.push(k);
    }
    return 'applied';
  }

  /** The aggregates as of the key's latest event, as DuckDB's to_json gives them on the batch path. */
  valueOf(key: string): StoredValues | undefined {
    const k = this.keys.get(key);
    return k === undefined ? undefined : { eventTimeMicros: k.latest, values: this.values(k) };
  }

  /** Keys changed since the last drain, once each; clears the set. */
  drainDirtyKeys(): string[] {
    const keys = this.dirty.map((k) => k.key);
    this.clearDirty();
    return keys;
  }

  /** Records for the keys changed since the last drain (one per key), ready for OnlineStore.write; clears the set. */
  drain(): OnlineRecord[] {
    const records = this.dirty.map((k) => ({ key: k.key, eventTimeMicros: k.latest, values: this.values(k) }));
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
    let dropped = 0;
    for (const k of this.keys.values()) {
      if (k.top > before || k.dirty) continue;
      this.keys.delete(k.key);
      this.removed.add(k.key);
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
    const put = this.changed.filter((k) => this.keys.get(k.key) === k).map((k) => {
      const capture = new KeyCapture(k.key, () => this.keySnapshot(k), () => {
        if (k.saving === capture) k.saving = undefined;
      });
      k.saving = capture;
      return capture;
    });
    const removed = [...this.removed].filter((key) => !this.keys.has(key));
    this.commitChanges();
    return { put, removed };
  }

  /** Changes taken for a checkpoint that was not saved count as changed again. */
  restoreChanges(changes: WindowStateChanges): void {
    for (const { key } of changes.put) {
      const k = this.keys.get(key);
      if (k !== undefined && !k.changed) {
        k.changed = true;
        this.changed.push(k);
      }
    }
    for (const key of changes.removed) if (!this.keys.has(key)) this.removed.add(key);
  }

  /** Count every key as changed (the state came from a checkpoint that is not saved as entries). */
  markAllChanged(): void {
    for (const k of this.keys.values()) {
      if (k.changed) continue;
      k.changed = true;
      this.changed.push(k);
    }
  }

  private commitChanges(): void {
    for (const k of this.changed) k.changed = false;
    this.changed = [];
    this.removed.clear();
  }

  /** Keys changed since the last drain, for a checkpoint taken before the drain. */
  dirtyKeys(): string[] {
    return this.dirty.map((k) => k.key);
  }

  snapshot(): WindowStateSnapshot {
    const keys = [...this.keys.values()].map((k) => this.keySnapshot(k));
    return { format: 'sluice.windows/1', view: this.view.name, layout: this.layout, dirty: this.dirtyKeys(), keys };
  }

  /** State from a snapshot taken by a state of the same view definition (or assembled from saved key snapshots). */
  static restore(view: WindowedFeatureView, snapshot: WindowStateSnapshot): WindowedViewState {
    const state = new WindowedViewState(view);
    if (snapshot.format !== 'sluice.windows/1' || snapshot.view !== view.name || snapshot.layout !== state.layout) {
      throw new SluiceError('DEFINITION_INVALID', `feature view "${view.name}": the stream checkpoint was taken for a different definition of the view (tile or aggregations changed); discard the checkpoint and replay the stream from the start of the longest window`);
    }
    for (const saved of snapshot.keys) {
      const k = state.addKey(saved.key);
      k.latest = saved.latest;
      k.top = Math.floor(saved.latest / state.tileUs);
      saved.last.forEach((v, i) => { k.last[i] = v; });
      for (const [nums, objs] of saved.tiles) {
        const s = state.slotFor(k, nums[0] as number);
        k.nums.set(nums, s * state.numStride);
        const o = s * state.objStride;
        for (const col of state.columns) {
          if (col.min >= 0) k.objs[o + col.min] = objs[col.min] ?? null;
          if (col.max >= 0) k.objs[o + col.max] = objs[col.max] ?? null;
          if (col.distinct >= 0) k.objs[o + col.distinct] = new Set(objs[col.distinct] as unknown[]);
        }
      }
    }
    for (const key of snapshot.dirty) {
      const k = state.keys.get(key);
      if (k !== undefined && !k.dirty) {
        k.dirty = true;
        state.dirty.push(k);
      }
    }
    // What was restored is what the checkpoint holds.
    state.commitChanges();
    return state;
  }

  /** The view's layout check and name, for assembling a snapshot from saved keys. */
  get identity(): { readonly view: string; readonly layout: string } {
    return { view: this.view.name, layout: this.layout };
  }

  private keySnapshot(k: KeyTiles): KeySnapshot {
    const tiles: [number[], unknown[]][] = [];
    for (let s = k.head; s < k.head + k.count; s++) {
      const objs = k.objs.slice(s * this.objStride, (s + 1) * this.objStride).map((v) => (v instanceof Set ? [...(v as Set<unknown>)] : v ?? null));
      tiles.push([Array.from(k.nums.subarray(s * this.numStride, (s + 1) * this.numStride)), objs]);
    }
    return { key: k.key, latest: k.latest, last: [...k.last], tiles };
  }

  /** The slot holding tile `tile` of key `k`, inserted in order (zeroed) when the key has none. */
  private slotFor(k: KeyTiles, tile: number): number {
    const stride = this.numStride;
    let s = k.head + k.count - 1;
    while (s >= k.head && (k.nums[s * stride] as number) > tile) s--;
    if (s >= k.head && k.nums[s * stride] === tile) return s;
    return this.insertSlot(k, s + 1, tile);
  }

  private insertSlot(k: KeyTiles, at: number, tile: number): number {
    const stride = this.numStride;
    const objStride = this.objStride;
    let end = k.head + k.count;
    if (end * stride === k.nums.length) {
      const capacity = k.nums.length / stride;
      if (k.head * 2 >= capacity) {
        // Half the slots are before the head (dropped tiles): move the live ones to the front.
        k.nums.copyWithin(0, k.head * stride, end * stride);
        if (objStride !== 0) k.objs.copyWithin(0, k.head * objStride, end * objStride);
      } else {
        const nums = new Float64Array(capacity * 2 * stride);
        nums.set(k.nums.subarray(k.head * stride, end * stride));
        k.nums = nums;
        if (objStride !== 0) {
          const objs: unknown[] = k.objs.slice(k.head * objStride, end * objStride);
          objs.length = capacity * 2 * objStride;
          k.objs = objs.fill(null, (end - k.head) * objStride);
        }
      }
      at -= k.head;
      end -= k.head;
      k.head = 0;
    }
    // Plain loops: the builtins' call overhead dominates on a few slots.
    const nums = k.nums;
    for (let i = end * stride - 1; i >= at * stride; i--) nums[i + stride] = nums[i] as number;
    nums[at * stride] = tile;
    for (let i = at * stride + 1; i < (at + 1) * stride; i++) nums[i] = 0;
    if (objStride !== 0) {
      const objs = k.objs;
      for (let i = end * objStride - 1; i >= at * objStride; i--) objs[i + objStride] = objs[i];
      for (let i = at * objStride; i < (at + 1) * objStride; i++) objs[i] = null;
    }
    k.count++;
    return at;
  }

  private addKey(key: string): KeyTiles {
    const k: KeyTiles = {
      key,
      latest: Number.NEGATIVE_INFINITY,
      top: Number.NEGATIVE_INFINITY,
      nums: new Float64Array(INITIAL_SLOTS * this.numStride),
      objs: this.objStride === 0 ? [] : new Array<unknown>(INITIAL_SLOTS * this.objStride).fill(null),
      head: 0,
      count: 0,
      last: new Array<unknown>(this.lastColumns.length).fill(null),
      dirty: false,
      changed: false,
      saving: undefined,
    };
    this.keys.set(key, k);
    return k;
  }

  private clearDirty(): void {
    for (const k of this.dirty) k.dirty = false;
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

  private values(k: KeyTiles): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const nums = k.nums;
    const stride = this.numStride;
    const end = k.head + k.count;
    for (const a of this.aggregations) {
      if (a.fn === 'last') {
        out[a.name] = k.last[a.last] ?? null;
        continue;
      }
      // Tiles in (latestTile - window, latestTile], oldest first; the newest holds only events up to the latest one.
      const col = a.column < 0 ? undefined : this.columns[a.column];
      let count = 0;
      let sum = 0;
      let best: unknown = null;
      const union = a.fn === 'count_distinct' ? new Set<unknown>() : undefined;
      let first = end;
      while (first > k.head && (nums[(first - 1) * stride] as number) > k.top - a.tiles) first--;
      for (let s = first; s < end; s++) {
        const n = s * stride;
        if (col === undefined) {
          count += nums[n + 1] as number;
          continue;
        }
        count += nums[n + col.num] as number;
        sum += nums[n + col.num + 1] as number;
        const o = s * this.objStride;
        if (a.fn === 'min' || a.fn === 'max') {
          const v = k.objs[o + (a.fn === 'min' ? col.min : col.max)];
          if (v !== null && v !== undefined && (best === null || (a.fn === 'min' ? (v as number) < (best as number) : (v as number) > (best as number)))) best = v;
        } else if (union !== undefined) {
          const set = k.objs[o + col.distinct];
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
