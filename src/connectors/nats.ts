// The NATS JetStream connector: a connection handle, stream declaration, acknowledged publishing and a
// durable batch source. Stream runtimes import from here.
export { openJetStream, parseNatsUrl, redactNatsUrl, type JetStreamHandle, type OpenJetStreamOptions } from './nats-connection.ts';
export { deleteStream, ensureStream, type EnsureStreamResult, type StreamSpec } from './jetstream-stream.ts';
export { publishEvents, type EventRecord, type PublishOptions } from './jetstream-publish.ts';
export {
  deleteConsumer,
  JetStreamSource,
  type BatchOptions,
  type ConsumerLag,
  type JetStreamBatch,
  type JetStreamSourceOptions,
  type StreamMessage,
} from './jetstream-source.ts';
