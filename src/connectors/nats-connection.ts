// A connection to NATS with its JetStream client and manager: the one handle every JetStream helper takes.
// The first connect fails fast (bounded timeout, no retry loop) so a wrong URL is reported at once.
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { errorMessage, SluiceError } from '../errors.ts';

export interface JetStreamHandle {
  /** The URL without credentials, for messages and logs. */
  readonly url: string;
  readonly connection: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Flushes what is buffered (acks included) and closes the connection. */
  close(): Promise<void>;
}

export interface OpenJetStreamOptions {
  /** Time allowed for the first connection's handshake; default 2000 ms. */
  readonly connectTimeoutMs?: number;
  /** Timeout of JetStream API requests and publish acks; default 5000 ms. */
  readonly requestTimeoutMs?: number;
  /** Client name shown by the server's monitoring. */
  readonly name?: string;
}

interface ParsedUrl {
  readonly server: string;
  readonly redacted: string;
  readonly auth: Pick<NodeConnectionOptions, 'user' | 'pass' | 'token' | 'tls'>;
}

/** `nats://user:pass@host:port` or `nats://token@host:port`; the client wants credentials as options. */
export function parseNatsUrl(url: string): ParsedUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SluiceError('CONFIG_INVALID', `invalid NATS URL '${redactNatsUrl(url)}': expected nats://host:port`);
  }
  if (parsed.protocol !== 'nats:' && parsed.protocol !== 'tls:') {
    throw new SluiceError('CONFIG_INVALID', `invalid NATS URL '${redactNatsUrl(url)}': the scheme must be nats:// or tls://`);
  }
  const host = `${parsed.hostname}:${parsed.port === '' ? '4222' : parsed.port}`;
  const user = decodeURIComponent(parsed.username);
  const pass = decodeURIComponent(parsed.password);
  const auth: ParsedUrl['auth'] = {
    ...(user !== '' && pass !== '' ? { user, pass } : user !== '' ? { token: user } : {}),
    ...(parsed.protocol === 'tls:' ? { tls: {} } : {}),
  };
  return { server: host, redacted: `${parsed.protocol}//${host}`, auth };
}

export function redactNatsUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

export async function openJetStream(url: string, options: OpenJetStreamOptions = {}): Promise<JetStreamHandle> {
  const { server, redacted, auth } = parseNatsUrl(url);
  const requestTimeout = options.requestTimeoutMs ?? 5000;
  let connection: NatsConnection;
  try {
    connection = await connect({
      servers: server,
      ...auth,
      timeout: options.connectTimeoutMs ?? 2000,
      // Once connected, ride out server restarts; operations time out on their own meanwhile.
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      waitOnFirstConnect: false,
      ...(options.name === undefined ? {} : { name: options.name }),
    });
  } catch (error) {
    throw new SluiceError('TRANSIENT', `cannot reach NATS at ${redacted}: ${errorMessage(error)}; is nats-server running (with -js)?`, { url: redacted }, { cause: error });
  }
  try {
    const jsm = await jetstreamManager(connection, { timeout: requestTimeout });
    const js = jetstream(connection, { timeout: requestTimeout });
    return {
      url: redacted,
      connection,
      js,
      jsm,
      async close() {
        if (connection.isClosed()) return;
        try {
          await connection.drain();
        } catch {
          await connection.close();
        }
      },
    };
  } catch (error) {
    await connection.close();
    const message = errorMessage(error);
    if (/not enabled/i.test(message)) {
      throw new SluiceError('CONFIG_INVALID', `NATS at ${redacted} has no JetStream: start nats-server with -js (or enable it for this account)`, { url: redacted }, { cause: error });
    }
    throw new SluiceError('TRANSIENT', `cannot reach JetStream at ${redacted}: ${message}`, { url: redacted }, { cause: error });
  }
}
