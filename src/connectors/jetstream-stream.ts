// Declares a JetStream stream: created when missing, updated when its limits or subjects differ, left alone
// otherwise, so every worker can call it at start-up.
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig, type StreamInfo } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { SluiceError } from '../errors.ts';
import type { JetStreamHandle } from './nats-connection.ts';
import { isApiError, JS_STREAM_NAME_IN_USE, JS_STREAM_NOT_FOUND, natsError } from './nats-errors.ts';
import { checkName, checkSubject } from './nats-subjects.ts';

export interface StreamSpec {
  readonly stream: string;
  readonly subjects: readonly string[];
  /** Messages older than this are dropped; default: kept forever. */
  readonly maxAgeMs?: number;
  /** The oldest messages are dropped past this size; default: unlimited. */
  readonly maxBytes?: number;
  /** How long JetStream remembers `Nats-Msg-Id`s for deduplication; default 2 minutes. */
  readonly duplicateWindowMs?: number;
}

export interface EnsureStreamResult {
  readonly action: 'created' | 'updated' | 'unchanged';
  readonly messages: number;
  readonly firstSequence: number;
  readonly lastSequence: number;
}

export async function ensureStream(handle: JetStreamHandle, spec: StreamSpec): Promise<EnsureStreamResult> {
  checkName('stream', spec.stream);
  if (spec.subjects.length === 0) throw new SluiceError('CONFIG_INVALID', `stream '${spec.stream}' needs at least one subject`, { source: spec.stream });
  for (const subject of spec.subjects) checkSubject(subject, true);
  const wanted = {
    subjects: [...spec.subjects],
    max_age: nanos(spec.maxAgeMs ?? 0),
    max_bytes: spec.maxBytes ?? -1,
    duplicate_window: nanos(spec.duplicateWindowMs ?? 120_000),
  };
  const context = { source: spec.stream, url: handle.url };
  try {
    let info = await streamInfo(handle, spec.stream);
    if (info === undefined) {
      try {
        info = await handle.jsm.streams.add({
          name: spec.stream,
          ...wanted,
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          discard: DiscardPolicy.Old,
        });
        return result('created', info);
      } catch (error) {
        // Another worker created it between our look-up and our add: fall through to the comparison.
        if (!isApiError(error, JS_STREAM_NAME_IN_USE)) throw error;
        info = await handle.jsm.streams.info(spec.stream);
      }
    }
    if (sameConfig(info.config, wanted)) return result('unchanged', info);
    const updated = await handle.jsm.streams.update(spec.stream, { ...wanted });
    return result('updated', updated);
  } catch (error) {
    throw natsError(error, `declaring JetStream stream '${spec.stream}'`, context);
  }
}

export async function deleteStream(handle: JetStreamHandle, stream: string): Promise<boolean> {
  try {
    return await handle.jsm.streams.delete(stream);
  } catch (error) {
    if (isApiError(error, JS_STREAM_NOT_FOUND)) return false;
    throw natsError(error, `deleting JetStream stream '${stream}'`, { source: stream, url: handle.url });
  }
}

async function streamInfo(handle: JetStreamHandle, stream: string): Promise<StreamInfo | undefined> {
  try {
    return await handle.jsm.streams.info(stream);
  } catch (error) {
    if (isApiError(error, JS_STREAM_NOT_FOUND)) return undefined;
    throw error;
  }
}

function sameConfig(current: StreamConfig, wanted: Pick<StreamConfig, 'subjects' | 'max_age' | 'max_bytes' | 'duplicate_window'>): boolean {
  const subjects = [...current.subjects].sort().join('\n') === [...wanted.subjects].sort().join('\n');
  return subjects && current.max_age === wanted.max_age && current.max_bytes === wanted.max_bytes && current.duplicate_window === wanted.duplicate_window;
}

function result(action: EnsureStreamResult['action'], info: StreamInfo): EnsureStreamResult {
  return { action, messages: info.state.messages, firstSequence: info.state.first_seq, lastSequence: info.state.last_seq };
}
