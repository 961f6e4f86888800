// One stream partition's processing, without I/O: parse and check each raw event against its stream's schema,
// admit it by event time (watermark, lateness, duplicates), and fold it into the state of every windowed view
// the stream feeds. Rejected events come back with their reason for the dead-letter store; changed values
// come out per view on drain; the whole state (gate and views) snapshots to JSON for checkpoints.
import type { WindowedFeatureView } from '../define/features.ts';
import type { EventStream } from '../define/stream.ts';
import { SluiceError } from '../errors.ts';
import type { OnlineRecord } from '../store/online/online-store.ts';
import { encodeKeyOf } from '../features/keys.ts';
import { parseEvent } from './event-schema.ts';
import { EventTimeGate, type EventTimeGateSnapshot } from './event-time-gate.ts';
import { WindowedViewState, type WindowStateSnapshot } from './windows.ts';

export type ProcessResult =
  | { readonly status: 'applied' }
  | { readonly status: 'invalid' | 'late' | 'duplicate' | 'expired'; readonly reason: string; readonly field: string | null };

export interface ProcessorSnapshot {
  readonly format: 'sluice.stream/1';
  readonly gate: EventTimeGateSnapshot;
  readonly views: readonly WindowStateSnapshot[];
}

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

  constructor(readonly stream: EventStream, readonly views: readonly WindowedFeatureView[], snapshot?: ProcessorSnapshot) {
    for (const view of views) {
      if (view.stream !== stream) throw new SluiceError('DEFINITION_INVALID', `feature view "${view.name}" is not fed by stream "${stream.name}"`);
    }
    const gateOptions = { allowedDisorderMs: stream.allowedDisorderMs, allowedLatenessMs: stream.allowedLatenessMs, dedupHorizonMs: stream.dedupeHorizonMs };
    if (snapshot === undefined) {
      this.gate = new EventTimeGate(gateOptions);
      this.states = views.map((view) => new WindowedViewState(view));
    } else {
      if (snapshot.format !== 'sluice.stream/1') throw new SluiceError('CONFIG_INVALID', `stream "${stream.name}": checkpoint format ${JSON.stringify(snapshot.format)} is not sluice.stream/1`);
      this.gate = EventTimeGate.restore(gateOptions, snapshot.gate);
      this.states = views.map((view) => {
        const saved = snapshot.views.find((v) => v.view === view.name);
        return saved === undefined ? new WindowedViewState(view) : WindowedViewState.restore(view, saved);
      });
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

  snapshot(): ProcessorSnapshot {
    return { format: 'sluice.stream/1', gate: this.gate.snapshot(), views: this.states.map((s) => s.snapshot()) };
  }
}
