// One stream partition's processing, without I/O: parse and check each raw event against its stream's schema,
// admit it by event time (watermark, lateness, duplicates), and fold it into the state of every windowed view
// the stream feeds. Rejected events come back with their reason for the dead-letter store; changed values
// come out per view on drain; checkpoints carry what changed since the last saved one, as keyed entries.
import type { WindowedFeatureView } from '../define/features.ts';
import type { EventStream } from '../define/stream.ts';
import { SluiceError } from '../errors.ts';
import type { StreamStateEntry } from '../store/catalog/catalog.ts';
import type { OnlineRecord } from '../store/online/online-store.ts';
import { encodeKeyOf } from '../features/keys.ts';
import { parseEvent } from './event-schema.ts';
import { EventTimeGate, type EventTimeGateSnapshot } from './event-time-gate.ts';
import { WindowedViewState, type KeySnapshot, type WindowStateChanges, type WindowStateSnapshot } from './windows.ts';

export type ProcessResult =
  | { readonly status: 'applied' }
  | { readonly status: 'invalid' | 'late' | 'duplicate' | 'expired'; readonly reason: string; readonly field: string | null };

export interface ProcessorSnapshot {
  readonly format: 'sluice.stream/1';
  readonly gate: EventTimeGateSnapshot;
  readonly views: readonly WindowStateSnapshot[];
}

/**
 * The checkpoint row of an incremental checkpoint. The rest is keyed entries: `view:<view>:<entity key>` holds
 * a key's tiles, `gate:<sequence>` the ids the gate took in the checkpoint up to that sequence.
 */
export interface ProcessorCheckpointState {
  readonly format: 'sluice.stream/2';
  /** Newest event time seen (epoch microseconds), or null before the first event. */
  readonly maxSeen: number | null;
  /** Per view: its layout (checked on restore) and the keys whose values were not yet written. */
  readonly views: readonly { readonly view: string; readonly layout: string; readonly dirty: readonly string[] }[];
}

/** What a checkpoint saves: the row, the entries changed since the last saved checkpoint, the entries gone. */
export interface ProcessorCheckpoint {
  readonly state: ProcessorCheckpointState;
  readonly put: readonly StreamStateEntry[];
  readonly delete: readonly string[];
}

/** A saved checkpoint to resume from: the row's state and every saved entry. */
export interface ProcessorRestore {
  readonly state: unknown;
  readonly entries: readonly StreamStateEntry[];
}

const VIEW_ENTRY = 'view:';
const GATE_ENTRY = 'gate:';

export interface ProcessorCounts {
  applied: number;
  invalid: number;
  late: number;
  duplicate: number;
  expired: number;
}

export class StreamProcessor {
  readonly counts: ProcessorCounts = { applied: 0, invalid: 0, late: 0, duplicate: 0, expired: 0 };
  private readonly gate: EventTimeGate;
  private readonly states: WindowedViewState[];

  /** Saved gate entries (by name) with the arrival number their ids end at, oldest first. */
  private gateEntries: { readonly key: string; readonly end: number }[] = [];
  /** Ids up to this arrival number are in saved gate entries. */
  private gateSaved = 0;
  /** The checkpoint being saved: its gate entry, how many old gate entries it deletes, its views' changes. */
  private pending: { readonly gateEntry: { readonly key: string; readonly end: number } | undefined; readonly dropped: number; readonly taken: number; readonly views: readonly WindowStateChanges[] } | undefined;

  constructor(readonly stream: EventStream, readonly views: readonly WindowedFeatureView[], restore?: ProcessorRestore) {
    for (const view of views) {
      if (view.stream !== stream) throw new SluiceError('DEFINITION_INVALID', `feature view "${view.name}" is not fed by stream "${stream.name}"`);
    }
    const gateOptions = { allowedDisorderMs: stream.allowedDisorderMs, allowedLatenessMs: stream.allowedLatenessMs, dedupHorizonMs: stream.dedupeHorizonMs };
    const format = (restore?.state as { format?: unknown } | undefined)?.format;
    if (restore === undefined) {
      this.gate = new EventTimeGate(gateOptions);
      this.states = views.map((view) => new WindowedViewState(view));
    } else if (format === 'sluice.stream/1') {
      // A whole-state checkpoint of an earlier version: the next checkpoint saves every key as entries.
      const snapshot = restore.state as ProcessorSnapshot;
      this.gate = EventTimeGate.restore(gateOptions, snapshot.gate);
      this.states = views.map((view) => {
        const saved = snapshot.views.find((v) => v.view === view.name);
        return saved === undefined ? new WindowedViewState(view) : WindowedViewState.restore(view, saved);
      });
      for (const state of this.states) state.markAllChanged();
    } else if (format === 'sluice.stream/2') {
      const state = restore.state as ProcessorCheckpointState;
      const keys = new Map<string, KeySnapshot[]>();
      const gateIds: { key: string; sequence: number; ids: [string, number][] }[] = [];
      for (const entry of restore.entries) {
        if (entry.key.startsWith(GATE_ENTRY)) {
          gateIds.push({ key: entry.key, sequence: Number(entry.key.slice(GATE_ENTRY.length)), ids: entry.state as [string, number][] });
        } else if (entry.key.startsWith(VIEW_ENTRY)) {
          const view = entry.key.slice(VIEW_ENTRY.length, entry.key.indexOf(':', VIEW_ENTRY.length));
          const list = keys.get(view) ?? [];
          list.push(entry.state as KeySnapshot);
          keys.set(view, list);
        }
      }
      gateIds.sort((x, y) => x.sequence - y.sequence);
      let end = 0;
      for (const g of gateIds) {
        end += g.ids.length;
        this.gateEntries.push({ key: g.key, end });
      }
      this.gateSaved = end;
      this.gate = EventTimeGate.restore(gateOptions, { format: 'sluice.gate/1', maxSeen: state.maxSeen, ids: gateIds.flatMap((g) => g.ids) });
      this.states = views.map((view) => {
        const saved = state.views.find((v) => v.view === view.name);
        const fresh = new WindowedViewState(view);
        if (saved === undefined) return fresh;
        return WindowedViewState.restore(view, { format: 'sluice.windows/1', view: view.name, layout: saved.layout, dirty: saved.dirty, keys: keys.get(view.name) ?? [] });
      });
    } else {
      throw new SluiceError('CONFIG_INVALID', `stream "${stream.name}": checkpoint format ${JSON.stringify(format)} is not sluice.stream/2; discard the checkpoint`);
    }
  }

  process(raw: string | Uint8Array): ProcessResult {
    const parsed = parseEvent(this.stream, raw);
    if (!parsed.ok) {
      this.counts.invalid += 1;
      return { status: 'invalid', reason: parsed.reason, field: parsed.field };
    }
    const rejection = this.gate.admit(parsed.id, parsed.eventTimeMicros);
    if (rejection !== undefined) {
      this.counts[rejection.kind] += 1;
      return { status: rejection.kind, reason: rejection.reason, field: rejection.kind === 'late' ? this.stream.timestamp : this.stream.id ?? null };
    }
    let expired = false;
    for (let i = 0; i < this.states.length; i++) {
      const view = this.views[i] as WindowedFeatureView;
      let key: string;
      try {
        key = encodeKeyOf(view.entity.keys, parsed.record);
      } catch (error) {
        this.counts.invalid += 1;
        return { status: 'invalid', reason: error instanceof Error ? error.message : String(error), field: (error as SluiceError).context?.column ?? null };
      }
      if ((this.states[i] as WindowedViewState).apply(key, parsed.eventTimeMicros, parsed.record) === 'expired') expired = true;
    }
    if (expired) {
      this.counts.expired += 1;
      return { status: 'expired', reason: `event time ${new Date(parsed.eventTimeMicros / 1000).toISOString()} is older than every window its entity can still show`, field: this.stream.timestamp };
    }
    this.counts.applied += 1;
    return { status: 'applied' };
  }

  /** Changed values per view since the last drain, one record per entity. */
  drain(): { view: WindowedFeatureView; records: OnlineRecord[] }[] {
    return this.states.map((state, i) => ({ view: this.views[i] as WindowedFeatureView, records: state.drain() }));
  }

  get watermarkMicros(): number {
    return this.gate.watermarkMicros;
  }

  /**
   * What the next checkpoint saves: keys dropped as idle (no admitted event can reach their tiles any more)
   * are deleted, keys changed since the last saved checkpoint are put, and the ids the gate took since then
   * go in one gate entry named for `sequence`; gate entries whose ids are all forgotten are deleted. Events
   * may be processed while it is saved; then call `checkpointSaved()`, or `checkpointRefused()` when the
   * catalog did not save it, so that the next checkpoint carries it all again. One checkpoint at a time.
   */
  checkpoint(sequence: number): ProcessorCheckpoint {
    if (this.pending !== undefined) throw new SluiceError('CONFIG_INVALID', `stream "${this.stream.name}": a checkpoint is already being saved`);
    const put: StreamStateEntry[] = [];
    const deleted: string[] = [];
    const views: WindowStateChanges[] = [];
    for (const state of this.states) {
      state.evictIdle(this.gate.admitsFromMicros);
      const prefix = `${VIEW_ENTRY}${state.view.name}:`;
      const changes = state.takeChanges();
      views.push(changes);
      for (const key of changes.removed) deleted.push(prefix + key);
      for (const k of changes.put) put.push({ key: prefix + k.key, state: k });
    }
    const forgotten = this.gate.idsForgotten;
    let dropped = 0;
    for (const entry of this.gateEntries) {
      if (entry.end > forgotten) break;
      deleted.push(entry.key);
      dropped++;
    }
    const taken = this.gate.idsTaken;
    const ids = this.gate.idsFrom(this.gateSaved);
    let gateEntry: { key: string; end: number } | undefined;
    if (ids.length > 0) {
      gateEntry = { key: `${GATE_ENTRY}${sequence}`, end: taken };
      put.push({ key: gateEntry.key, state: ids });
    }
    this.pending = { gateEntry, dropped, taken, views };
    return {
      state: { format: 'sluice.stream/2', maxSeen: this.gate.maxSeenMicros, views: this.states.map((s) => ({ ...s.identity, dirty: s.dirtyKeys() })) },
      put,
      delete: deleted,
    };
  }

  /** The last `checkpoint()` is saved: what it carried no longer counts as changed. */
  checkpointSaved(): void {
    if (this.pending === undefined) return;
    const { gateEntry, dropped, taken } = this.pending;
    this.gateEntries.splice(0, dropped);
    if (gateEntry !== undefined) this.gateEntries.push(gateEntry);
    this.gateSaved = taken;
    this.pending = undefined;
  }

  /** The last `checkpoint()` was not saved: what it carried counts as changed again. */
  checkpointRefused(): void {
    if (this.pending === undefined) return;
    this.pending.views.forEach((changes, i) => (this.states[i] as WindowedViewState).restoreChanges(changes));
    this.pending = undefined;
  }

  snapshot(): ProcessorSnapshot {
    return { format: 'sluice.stream/1', gate: this.gate.snapshot(), views: this.states.map((s) => s.snapshot()) };
  }
}
