// Admission of stream events by event time: a watermark (max event time seen minus the allowed disorder), late
// events rejected with a reason for the dead-letter store, and duplicates dropped by event id within a horizon.
import { SluiceError } from '../errors.ts';

export interface EventTimeGateOptions {
  /** How far behind the newest event an event may arrive and still be on time (the watermark's lag). */
  readonly allowedDisorderMs: number;
  /** How far behind the watermark an event may still be accepted. */
  readonly allowedLatenessMs: number;
  /** Ids of events older than the watermark minus this are forgotten; at least the allowed lateness. */
  readonly dedupHorizonMs?: number;
}

/** Why an event was not admitted; `reason` is for the dead-letter store. */
export interface GateRejection {
  readonly kind: 'late' | 'duplicate';
  readonly reason: string;
}

export interface EventTimeGateSnapshot {
  readonly format: 'sluice.gate/1';
  /** Newest event time seen (epoch microseconds), or null before the first event. */
  readonly maxSeen: number | null;
  /** Remembered ids with their event times, in arrival order. */
  readonly ids: readonly (readonly [string, number])[];
}

export class EventTimeGate {
  private readonly disorderUs: number;
  private readonly latenessUs: number;
  private readonly horizonUs: number;
  private maxSeen = Number.NEGATIVE_INFINITY;
  private readonly seen = new Map<string, number>();
  // Arrival-order queue of remembered ids; pruned from the front, compacted when half is consumed.
  private queueIds: string[] = [];
  private queueTimes: number[] = [];
  private head = 0;
  /** Arrival number of queueIds[0]: ids are numbered 0, 1, ... in arrival order, forgotten or not. */
  private base = 0;

  constructor(readonly options: EventTimeGateOptions) {
    const horizonMs = options.dedupHorizonMs ?? options.allowedLatenessMs;
    for (const [name, value] of [['allowedDisorderMs', options.allowedDisorderMs], ['allowedLatenessMs', options.allowedLatenessMs], ['dedupHorizonMs', horizonMs]] as const) {
      if (!Number.isFinite(value) || value < 0) throw new SluiceError('CONFIG_INVALID', `event-time gate: ${name} must be a non-negative number of milliseconds, got ${value}`);
    }
    // A shorter horizon would forget ids while their duplicates could still be accepted as on time.
    if (horizonMs < options.allowedLatenessMs) {
      throw new SluiceError('CONFIG_INVALID', `event-time gate: the dedup horizon (${horizonMs} ms) must be at least the allowed lateness (${options.allowedLatenessMs} ms)`);
    }
    this.disorderUs = options.allowedDisorderMs * 1000;
    this.latenessUs = options.allowedLatenessMs * 1000;
    this.horizonUs = horizonMs * 1000;
  }

  /** Max event time seen minus the allowed disorder (epoch microseconds); -Infinity before the first event. */
  get watermarkMicros(): number {
    return this.maxSeen - this.disorderUs;
  }

  /** Ids remembered for deduplication now. */
  get rememberedIds(): number {
    return this.seen.size;
  }

  /** Newest event time seen (epoch microseconds), or null before the first event. */
  get maxSeenMicros(): number | null {
    return Number.isFinite(this.maxSeen) ? this.maxSeen : null;
  }

  /** The oldest event time admitted now (epoch microseconds): older events are late. */
  get admitsFromMicros(): number {
    return this.maxSeen - this.disorderUs - this.latenessUs;
  }

  /** Ids taken so far (the arrival number of the next one). */
  get idsTaken(): number {
    return this.base + this.queueIds.length;
  }

  /** Ids forgotten so far: every id with an arrival number below this. */
  get idsForgotten(): number {
    return this.base + this.head;
  }

  /** Remembered ids with their event times from arrival number `from` on, for incremental checkpoints. */
  idsFrom(from: number): [string, number][] {
    const ids: [string, number][] = [];
    for (let i = Math.max(from - this.base, this.head); i < this.queueIds.length; i++) ids.push([this.queueIds[i] as string, this.queueTimes[i] as number]);
    return ids;
  }

  /** Admit an event (undefined) or say why not. Events without an id are never treated as duplicates. */
  admit(eventId: string | undefined, eventTimeMicros: number): GateRejection | undefined {
    const watermark = this.maxSeen - this.disorderUs;
    if (eventTimeMicros < watermark - this.latenessUs) {
      return {
        kind: 'late',
        reason: `late event: event time ${new Date(eventTimeMicros / 1000).toISOString()} is more than ${this.options.allowedLatenessMs} ms behind the watermark ${new Date(watermark / 1000).toISOString()}`,
      };
    }
    if (eventId !== undefined) {
      if (this.seen.has(eventId)) return { kind: 'duplicate', reason: `duplicate event id ${JSON.stringify(eventId)}` };
      this.seen.set(eventId, eventTimeMicros);
      this.queueIds.push(eventId);
      this.queueTimes.push(eventTimeMicros);
    }
    if (eventTimeMicros > this.maxSeen) {
      this.maxSeen = eventTimeMicros;
      this.forget();
    }
    return undefined;
  }

  snapshot(): EventTimeGateSnapshot {
    return { format: 'sluice.gate/1', maxSeen: this.maxSeenMicros, ids: this.idsFrom(0) };
  }

  static restore(options: EventTimeGateOptions, snapshot: EventTimeGateSnapshot): EventTimeGate {
    if (snapshot.format !== 'sluice.gate/1') throw new SluiceError('CONFIG_INVALID', `event-time gate: checkpoint format ${JSON.stringify(snapshot.format)} is not sluice.gate/1; discard the checkpoint`);
    const gate = new EventTimeGate(options);
    gate.maxSeen = snapshot.maxSeen ?? Number.NEGATIVE_INFINITY;
    for (const [id, time] of snapshot.ids) {
      gate.seen.set(id, time);
      gate.queueIds.push(id);
      gate.queueTimes.push(time);
    }
    gate.forget();
    return gate;
  }

  /**
   * Forget ids older than the watermark minus the horizon, from the front of the arrival queue. An id stuck
   * behind a newer one at the front stays a little longer; memory is still bounded by the events arriving within
   * horizon + disorder + lateness of event time.
   */
  private forget(): void {
    const cutoff = this.maxSeen - this.disorderUs - this.horizonUs;
    while (this.head < this.queueIds.length && (this.queueTimes[this.head] as number) < cutoff) {
      this.seen.delete(this.queueIds[this.head] as string);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.queueIds.length) {
      this.queueIds = this.queueIds.slice(this.head);
      this.queueTimes = this.queueTimes.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }
}
