// Turns NATS client failures into SluiceErrors: network trouble is TRANSIENT (retry), a refused request names
// what JetStream said, and no message ever carries credentials.
import { JetStreamApiError } from '@nats-io/jetstream';
import { errorMessage, isTransient, SluiceError, type ErrorCode, type ErrorContext } from '../errors.ts';

/** JetStream API error codes sluice reacts to (nats-server's `JSErrCodes`). */
export const JS_STREAM_NOT_FOUND = 10059;
export const JS_CONSUMER_NOT_FOUND = 10014;
export const JS_STREAM_NAME_IN_USE = 10058;

const TRANSIENT_NAMES = new Set([
  'ConnectionError',
  'TimeoutError',
  'ClosedConnectionError',
  'DrainingConnectionError',
  'NoRespondersError',
  'RequestError',
]);

export function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/** Wrap `error` from an operation described by `what` ("publish to events.1"); `fallback` is used when it is not transient. */
export function natsError(error: unknown, what: string, context: ErrorContext, fallback: ErrorCode = 'CONFIG_INVALID'): SluiceError {
  if (error instanceof SluiceError) return error;
  const name = error instanceof Error ? error.name : '';
  const transient = TRANSIENT_NAMES.has(name) || isTransient(error);
  const detail = error instanceof JetStreamApiError ? `${error.message} (JetStream error ${error.code})` : errorMessage(error);
  return new SluiceError(transient ? 'TRANSIENT' : fallback, `${what} failed: ${detail}`, context, { cause: error });
}
