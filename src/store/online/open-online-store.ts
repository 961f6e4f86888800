// Opens the online store named by a URL: `sqlite:<path>` (one file, created with its directories) or
// `redis://[user:password@]host:port[/db][?prefix=p:]` (`rediss://` for TLS, `&ca=<PEM file>` to trust a private CA;
// the prefix defaults to `sluice:`,
// and to `sluice:<project>:` when a command opens it for a project, so projects sharing a Redis do not collide).
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SluiceError, errorMessage, isTransient, redactUrl } from '../../errors.ts';
import type { OnlineStore } from './online-store.ts';
import { RedisOnlineStore } from './redis-online-store.ts';
import { SqliteOnlineStore } from './sqlite-online-store.ts';

const DEFAULT_PREFIX = 'sluice:';
const DEFAULT_REDIS_PORT = 6379;

export interface OpenOnlineStoreOptions {
  /** Redis key prefix when the URL gives none (default `sluice:`); commands pass `sluice:<project>:`. */
  readonly defaultPrefix?: string;
}

export async function openOnlineStore(url: string, options: OpenOnlineStoreOptions = {}): Promise<OnlineStore> {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length));
  if (/^rediss?:\/\//.test(url)) return openRedis(url, options.defaultPrefix ?? DEFAULT_PREFIX);
  throw new SluiceError(
    'CONFIG_INVALID',
    `online store URL ${JSON.stringify(redactUrl(url))} is not supported; use sqlite:<path> (for example sqlite:.sluice/online.db) ` +
      'or redis://host:6379/0?prefix=sluice: (rediss:// for TLS) in SLUICE_ONLINE_URL',
    { url: redactUrl(url) },
  );
}

function openSqlite(file: string): OnlineStore {
  if (file === '') {
    throw new SluiceError('CONFIG_INVALID', 'online store URL sqlite: names no file; use sqlite:<path>, for example sqlite:.sluice/online.db', { url: 'sqlite:' });
  }
  const absolute = path.resolve(file);
  try {
    mkdirSync(path.dirname(absolute), { recursive: true });
    return new SqliteOnlineStore(absolute);
  } catch (error) {
    throw openFailure(`sqlite:${absolute}`, error, 'check that the directory is writable');
  }
}

async function openRedis(url: string, defaultPrefix: string): Promise<OnlineStore> {
  const options = parseRedisUrl(url, defaultPrefix);
  try {
    return await RedisOnlineStore.connect(options);
  } catch (error) {
    throw openFailure(options.location, error, 'check that Redis is running and that SLUICE_ONLINE_URL has the right host, port and credentials');
  }
}

function parseRedisUrl(url: string, defaultPrefix: string): Parameters<typeof RedisOnlineStore.connect>[0] {
  const invalid = (reason: string): SluiceError =>
    new SluiceError('CONFIG_INVALID', `online store URL ${redactUrl(url)}: ${reason}; expected redis://[user:password@]host:port[/db][?prefix=p:]`, {
      url: redactUrl(url),
    });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('not a valid URL');
  }
  const dbText = parsed.pathname.replace(/^\//, '');
  if (!/^\d*$/.test(dbText)) throw invalid(`the database "${dbText}" must be a number`);
  const db = dbText === '' ? 0 : Number(dbText);
  for (const name of parsed.searchParams.keys()) {
    if (name !== 'prefix' && name !== 'ca') throw invalid(`unknown parameter "${name}" (prefix and, with rediss://, ca are supported)`);
  }
  const prefix = parsed.searchParams.get('prefix') ?? defaultPrefix;
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw invalid('no host');
  const port = parsed.port === '' ? DEFAULT_REDIS_PORT : Number(parsed.port);
  const tls = parsed.protocol === 'rediss:';
  const caFile = parsed.searchParams.get('ca') ?? undefined;
  if (caFile !== undefined && !tls) throw invalid('ca= needs TLS: use rediss://');
  let ca: Buffer | undefined;
  try {
    ca = caFile === undefined ? undefined : readFileSync(caFile);
  } catch (error) {
    throw invalid(`cannot read the CA file ${caFile ?? ''} (${errorMessage(error)})`);
  }
  // No credentials in the location: it appears in messages and keys incremental state.
  const location = `${parsed.protocol}//${parsed.host}/${db}${prefix === DEFAULT_PREFIX ? '' : `?prefix=${prefix}`}`;
  return {
    host,
    port,
    db,
    username: parsed.username === '' ? undefined : decodeURIComponent(parsed.username),
    password: parsed.password === '' ? undefined : decodeURIComponent(parsed.password),
    tls,
    ca,
    prefix,
    location,
  };
}

function openFailure(location: string, error: unknown, hint: string): SluiceError {
  return new SluiceError('ONLINE_STORE', `cannot reach the online store at ${location}: ${describeError(error)}; ${hint}`, { store: location }, {
    cause: error,
    transient: isTransient(error),
  });
}

/** Socket errors can have an empty message (an AggregateError of each address tried); the code still says it. */
function describeError(error: unknown): string {
  const message = errorMessage(error);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (message !== '') return message;
  return code ?? 'unknown error';
}
