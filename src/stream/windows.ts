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

interface KeySnapshot {
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
const META = 3;
const INITIAL_KEYS = 1024;

/**
 * Tiles live in one ring per key, `maxTiles` slots, slot = tile index mod maxTiles, all keys' rings in one
 * arena: `tiles` holds `numStride` numbers per slot (tile index, event count, then per column its non-null
 * count and sum), `objs` holds `objStride` values per slot (min, max, distinct sets). A slot whose tile index is
 * not the one a window asks for holds an evicted tile and is overwritten on reuse, so eviction costs nothing
 * and an event touches a few cache lines only (a packed, growable tile array per key measured about 3x slower
 * at 100k keys: more objects per key, more cache misses).
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
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  private capacity = 0;
  /** Per key, side by side so an event touches one cache line: latest event time, its tile, dirty flag. */
  private meta = new Float64Array(0);
  private tiles = new Float64Array(0);
  private readonly objs: unknown[] = [];
  private readonly last: unknown[] = [];
  private dirty: number[] = [];

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
    return this.names.length;
  }

  /** Bytes of the typed-array arena (tiles and per-key times), which the JS heap figures do not include. */
  get arenaBytes(): number {
    return this.tiles.byteLength + this.meta.byteLength;
  }

  /** Live tiles a key holds now (at most the longest window in tiles). */
  tileCount(key: string): number {
    const id = this.ids.get(key);
    if (id === undefined) return 0;
    let n = 0;
    const top = this.meta[id * META + 1] as number;
    for (let t = top - this.maxTiles + 1; t <= top; t++) if (this.tiles[this.slotOf(id, t)] === t) n++;
    return n;
  }

  /** Add one event of `key` (event time in epoch microseconds; `row` holds the aggregated columns). */
  apply(key: string, eventTimeMicros: number, row: Readonly<Record<string, unknown>>): ApplyStatus {
    let id = this.ids.get(key);
    if (id === undefined) id = this.addKey(key);
    const tile = Math.floor(eventTimeMicros / this.tileUs);
    const latestTile = this.meta[id * META + 1] as number;
    if (tile <= latestTile - this.maxTiles) return 'expired';
    const latest = this.meta[id * META] as number;
    const lastCount = this.lastColumns.length;
    if (eventTimeMicros > latest) {
      this.meta[id * META] = eventTimeMicros;
      if (tile > latestTile) this.meta[id * META + 1] = tile;
      for (let i = 0; i < lastCount; i++) this.last[id * lastCount + i] = row[this.lastColumns[i] as string] ?? null;
    } else if (eventTimeMicros === latest) {
      // Among events at the latest time, `last` is the greatest non-null value.
      for (let i = 0; i < lastCount; i++) {
        const v = row[this.lastColumns[i] as string];
        const cur = this.last[id * lastCount + i];
        if (v !== null && v !== undefined && (cur === null || (v as number) > (cur as number))) this.last[id * lastCount + i] = v;
      }
    }
    const stride = this.numStride;
    const tiles = this.tiles;
    const n = this.slotOf(id, tile);
    if (tiles[n] !== tile) {
      // The slot held an evicted tile (at least maxTiles older; a newer one would have made this event expired).
      tiles[n] = tile;
      for (let i = n + 1; i < n + stride; i++) tiles[i] = 0;
      if (this.objStride !== 0) for (let i = (n / stride) * this.objStride, end = i + this.objStride; i < end; i++) this.objs[i] = null;
    }
    tiles[n + 1] = (tiles[n + 1] as number) + 1;
    const columns = this.columns;
    for (let c = 0; c < columns.length; c++) {
      const col = columns[c] as ColumnPlan;
      const v = row[col.name];
      if (v === null || v === undefined) continue;
      const b = n + col.num;
      tiles[b] = (tiles[b] as number) + 1;
      if (col.sum) tiles[b + 1] = (tiles[b + 1] as number) + (v as number);
      if (this.objStride !== 0) this.updateObjects((n / stride) * this.objStride, col, v);
    }
    if (this.meta[id * META + 2] === 0) {
      this.meta[id * META + 2] = 1;
      this.dirty.push(id);
    }
    return 'applied';
  }

  /** The aggregates as of the key's latest event, as DuckDB's to_json gives them on the batch path. */
  valueOf(key: string): StoredValues | undefined {
    const id = this.ids.get(key);
    return id === undefined ? undefined : { eventTimeMicros: this.meta[id * META] as number, values: this.values(id) };
  }

  /** Keys changed since the last drain, once each; clears the set. */
  drainDirtyKeys(): string[] {
    const keys = this.dirty.map((id) => this.names[id] as string);
    this.clearDirty();
    return keys;
  }

  /** Records for the keys changed since the last drain (one per key), ready for OnlineStore.write; clears the set. */
  drain(): OnlineRecord[] {
    const records = this.dirty.map((id) => ({ key: this.names[id] as string, eventTimeMicros: this.meta[id * META] as number, values: this.values(id) }));
    this.clearDirty();
    return records;
  }

  snapshot(): WindowStateSnapshot {
    const keys: KeySnapshot[] = [];
    const lastCount = this.lastColumns.length;
    for (const [id, key] of this.names.entries()) {
      const tiles: [number[], unknown[]][] = [];
      const top = this.meta[id * META + 1] as number;
      for (let t = top - this.maxTiles + 1; t <= top; t++) {
        const n = this.slotOf(id, t);
        if (this.tiles[n] !== t) continue;
        const o = (n / this.numStride) * this.objStride;
        const objs = this.objs.slice(o, o + this.objStride).map((v) => (v instanceof Set ? [...(v as Set<unknown>)] : v ?? null));
        tiles.push([Array.from(this.tiles.subarray(n, n + this.numStride)), objs]);
      }
      keys.push({ key, latest: this.meta[id * META] as number, last: this.last.slice(id * lastCount, (id + 1) * lastCount), tiles });
    }
    return { format: 'sluice.windows/1', view: this.view.name, layout: this.layout, dirty: this.dirty.map((id) => this.names[id] as string), keys };
  }

  /** State from a snapshot taken by a state of the same view definition. */
  static restore(view: WindowedFeatureView, snapshot: WindowStateSnapshot): WindowedViewState {
    const state = new WindowedViewState(view);
    if (snapshot.format !== 'sluice.windows/1' || snapshot.view !== view.name || snapshot.layout !== state.layout) {
      throw new SluiceError('DEFINITION_INVALID', `feature view "${view.name}": the stream checkpoint was taken for a different definition of the view (tile or aggregations changed); discard the checkpoint and replay the stream from the start of the longest window`);
    }
    const lastCount = state.lastColumns.length;
    for (const k of snapshot.keys) {
      const id = state.addKey(k.key);
      state.meta[id * META] = k.latest;
      state.meta[id * META + 1] = Math.floor(k.latest / state.tileUs);
      k.last.forEach((v, i) => { state.last[id * lastCount + i] = v; });
      for (const [nums, objs] of k.tiles) {
        const n = state.slotOf(id, nums[0] as number);
        state.tiles.set(nums, n);
        const o = (n / state.numStride) * state.objStride;
        for (const col of state.columns) {
          if (col.min >= 0) state.objs[o + col.min] = objs[col.min] ?? null;
          if (col.max >= 0) state.objs[o + col.max] = objs[col.max] ?? null;
          if (col.distinct >= 0) state.objs[o + col.distinct] = new Set(objs[col.distinct] as unknown[]);
        }
      }
    }
    for (const key of snapshot.dirty) {
      const id = state.ids.get(key);
      if (id !== undefined && state.meta[id * META + 2] === 0) {
        state.meta[id * META + 2] = 1;
        state.dirty.push(id);
      }
    }
    return state;
  }

  /** Index in `tiles` of the slot for tile index `tile` of key `id`. */
  private slotOf(id: number, tile: number): number {
    let m = tile % this.maxTiles;
    if (m < 0) m += this.maxTiles;
    return (id * this.maxTiles + m) * this.numStride;
  }

  private addKey(key: string): number {
    const id = this.names.length;
    if (id === this.capacity) this.grow(Math.max(INITIAL_KEYS, this.capacity * 2));
    this.ids.set(key, id);
    this.names.push(key);
    for (let i = 0; i < this.lastColumns.length; i++) this.last.push(null);
    return id;
  }

  private grow(capacity: number): void {
    const grown = (from: Float64Array, size: number, fill: number): Float64Array<ArrayBuffer> => {
      const to = new Float64Array(size);
      to.set(from);
      to.fill(fill, from.length);
      return to;
    };
    this.meta = grown(this.meta, capacity * META, Number.NEGATIVE_INFINITY);
    for (let id = this.capacity; id < capacity; id++) this.meta[id * META + 2] = 0;
    // NaN tile indices mark never-used slots: no tile index equals NaN.
    this.tiles = grown(this.tiles, capacity * this.maxTiles * this.numStride, Number.NaN);
    if (this.objStride !== 0) for (let i = this.objs.length; i < capacity * this.maxTiles * this.objStride; i++) this.objs.push(null);
    this.capacity = capacity;
  }

  private clearDirty(): void {
    for (const id of this.dirty) this.meta[id * META + 2] = 0;
    this.dirty = [];
  }

  private updateObjects(base: number, col: ColumnPlan, v: unknown): void {
    if (col.min >= 0) {
      const cur = this.objs[base + col.min];
      if (cur === null || (v as number) < (cur as number)) this.objs[base + col.min] = v;
    }
    if (col.max >= 0) {
      const cur = this.objs[base + col.max];
      if (cur === null || (v as number) > (cur as number)) this.objs[base + col.max] = v;
    }
    if (col.distinct >= 0) {
      const set = this.objs[base + col.distinct];
      if (set instanceof Set) set.add(v);
      else this.objs[base + col.distinct] = new Set([v]);
    }
  }

  private values(id: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const tiles = this.tiles;
    const top = this.meta[id * META + 1] as number;
    for (const a of this.aggregations) {
      if (a.fn === 'last') {
        out[a.name] = this.last[id * this.lastColumns.length + a.last] ?? null;
        continue;
      }
      // Tiles in (latestTile - window, latestTile]; the newest holds only events up to the latest one.
      const col = a.column < 0 ? undefined : this.columns[a.column];
      let count = 0;
      let sum = 0;
      let best: unknown = null;
      const union = a.fn === 'count_distinct' ? new Set<unknown>() : undefined;
      for (let t = top - a.tiles + 1; t <= top; t++) {
        const n = this.slotOf(id, t);
        if (tiles[n] !== t) continue;
        if (col === undefined) {
          count += tiles[n + 1] as number;
          continue;
        }
        count += tiles[n + col.num] as number;
        sum += tiles[n + col.num + 1] as number;
        const o = (n / this.numStride) * this.objStride;
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
