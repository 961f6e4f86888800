// Event streams: definitions are checked when made, and each raw event is checked against the declared
// schema with a reason naming the field, so a bad record can go to the dead-letter store.
import { describe, expect, it } from 'vitest';
import { eventStream } from '../src/define/stream.ts';
import { parseEvent } from '../src/stream/event-schema.ts';
import { thrownSluiceError } from './helpers/errors.ts';

const txns = eventStream('transactions', {
  fields: { txn_id: 'string', card_id: 'int', merchant_id: 'string', amount: 'float', ts: 'timestamp', online: 'bool' },
  timestamp: 'ts',
  id: 'txn_id',
  required: ['card_id'],
  allowedDisorder: '5s',
  allowedLateness: '1m',
});

describe('event streams', () => {
  it('declares subjects, durations and required fields', () => {
    expect(txns.jetStream).toEqual({ stream: 'transactions', subject: 'transactions' });
    expect(txns.allowedDisorderMs).toBe(5000);
    expect(txns.allowedLatenessMs).toBe(60_000);
    expect(txns.required).toEqual(['ts', 'txn_id', 'card_id']);
    expect(thrownSluiceError(() => eventStream('s', { fields: { t: 'timestamp' }, timestamp: 'ts' })).message).toMatch(/timestamp field "ts" is not a declared field \(t\)/);
    expect(thrownSluiceError(() => eventStream('s', { fields: { t: 'string' }, timestamp: 't' })).message).toMatch(/must have type timestamp/);
    expect(thrownSluiceError(() => eventStream('s', { fields: { t: 'decimal' as 'int' }, timestamp: 't' })).message).toMatch(/field "t": type "decimal" is not one of/);
    expect(thrownSluiceError(() => eventStream('s', { fields: { t: 'timestamp' }, timestamp: 't', subject: 'a..b' })).message).toMatch(/subject "a..b"/);
  });

  it('accepts valid events, with event time in microseconds', () => {
    const ok = parseEvent(txns, '{"txn_id":"t1","card_id":7,"merchant_id":"m","amount":12.5,"ts":"2026-11-01T10:00:00.123456Z"}');
    expect(ok).toEqual({ ok: true, id: 't1', eventTimeMicros: Date.UTC(2026, 10, 1, 10) * 1000 + 123_456, record: expect.objectContaining({ card_id: 7, amount: 12.5 }) });
    const fromBytes = parseEvent(txns, new TextEncoder().encode('{"txn_id":"t2","card_id":1,"ts":1793700000000}'));
    expect(fromBytes.ok && fromBytes.eventTimeMicros).toBe(1_793_700_000_000_000);
    const spaced = parseEvent(txns, '{"txn_id":"t3","card_id":1,"ts":"2026-11-01 10:00:00"}');
    expect(spaced.ok && spaced.eventTimeMicros).toBe(Date.UTC(2026, 10, 1, 10) * 1000);
  });

  it('rejects bad events with a reason naming the field', () => {
    const reasons = [
      ['{"txn_id":"t1","card_id":7', /^not JSON: /, null],
      ['[1,2]', /^not a JSON object$/, null],
      ['{"txn_id":"t1","ts":"2026-11-01T10:00:00Z"}', /^required field "card_id" is missing$/, 'card_id'],
      ['{"txn_id":"t1","card_id":"7","ts":"2026-11-01T10:00:00Z"}', /^field "card_id": expected int, got the string "7"$/, 'card_id'],
      ['{"txn_id":"t1","card_id":7.5,"ts":"2026-11-01T10:00:00Z"}', /^field "card_id": expected int, got the number 7.5$/, 'card_id'],
      ['{"txn_id":"t1","card_id":7,"ts":"yesterday"}', /^field "ts": expected timestamp, got the string "yesterday"$/, 'ts'],
      ['{"txn_id":"t1","card_id":7,"ts":"2026-11-01T10:00:00Z","online":"yes"}', /^field "online": expected bool/, 'online'],
      ['{"card_id":7,"ts":"2026-11-01T10:00:00Z"}', /^required field "txn_id" is missing$/, 'txn_id'],
    ] as const;
    for (const [raw, reason, field] of reasons) {
      const result = parseEvent(txns, raw);
      expect(result.ok, raw).toBe(false);
      if (!result.ok) {
        expect(result.reason, raw).toMatch(reason);
        expect(result.field, raw).toBe(field);
      }
    }
  });
});
