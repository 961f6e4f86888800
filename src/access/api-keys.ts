// The older form of API keys, `key=service1|service2,key2=*` (SLUICE_API_KEYS, settings.apiKeys): parsed once,
// kept by hash only, and turned into principals so the server has one way to check every key.
import { SluiceError } from '../errors.ts';
import { isValidName } from '../sql/identifiers.ts';
import { hashKey, type Principal } from './principals.ts';

/** What one key may read: every service, or the services named. */
export type KeyGrant = '*' | ReadonlySet<string>;

/** Grants by the SHA-256 (hex) of each key. */
export interface ApiKeyConfig {
  readonly grants: ReadonlyMap<string, KeyGrant>;
}

/**
 * Parse `key=service1|service2,key2=*`. Whitespace around parts is ignored and a key may itself contain `=`
 * (base64 padding): the last `=` of an entry separates it from its services. Messages name the entry's
 * position, never the key. An empty value means no keys (an open server).
 */
export function parseApiKeys(raw: string): ApiKeyConfig {
  const grants = new Map<string, KeyGrant>();
  const entries = raw.split(',').map((e) => e.trim());
  const format = 'the format is key=service1|service2,key2=* (* grants every service)';
  entries.forEach((entry, i) => {
    if (entry === '' && (i === entries.length - 1 || entries.length === 1)) return; // a trailing comma, or nothing at all
    const where = `SLUICE_API_KEYS entry ${i + 1}`;
    const eq = entry.lastIndexOf('=');
    if (eq === -1) throw new SluiceError('CONFIG_INVALID', `${where} has no "=": ${format}`);
    const key = entry.slice(0, eq).trim();
    const services = entry.slice(eq + 1).trim();
    if (key === '') throw new SluiceError('CONFIG_INVALID', `${where} has an empty key: ${format}`);
    if (services === '') throw new SluiceError('CONFIG_INVALID', `${where} names no services after "=": ${format}`);
    const hash = hashKey(key);
    if (grants.has(hash)) throw new SluiceError('CONFIG_INVALID', `${where} repeats the key of an earlier entry: give each key once, with all its services`);
    if (services === '*') {
      grants.set(hash, '*');
      return;
    }
    const names = services.split('|').map((s) => s.trim());
    for (const name of names) {
      if (!isValidName(name)) throw new SluiceError('CONFIG_INVALID', `${where}: ${JSON.stringify(name)} is not a feature service name (or *): ${format}`);
    }
    grants.set(hash, new Set(names));
  });
  return { grants };
}

/** The services a configuration names that the project does not define, for a start-up error. */
export function unknownServices(config: ApiKeyConfig, services: ReadonlySet<string> | ReadonlyMap<string, unknown>): string[] {
  const unknown = new Set<string>();
  for (const grant of config.grants.values()) {
    if (grant === '*') continue;
    for (const name of grant) if (!services.has(name)) unknown.add(name);
  }
  return [...unknown];
}

/**
 * Each key as a principal named for where it came from (`SLUICE_API_KEYS entry 2`): a reader of the services it
 * names; a key that names an event stream, or `*`, may also send events to it, so it is an operator limited to
 * those streams (no assets). This keeps every key working as it did before principals.
 */
export function legacyPrincipals(config: ApiKeyConfig, label: string, streams: ReadonlySet<string>): Principal[] {
  return [...config.grants].map(([sha256, grant], i) => {
    const names = grant === '*' ? ['*'] : [...grant];
    const streamNames = grant === '*' ? ['*'] : names.filter((n) => streams.has(n));
    return {
      name: `${label} entry ${i + 1}`,
      role: streamNames.length > 0 ? 'operator' : 'reader',
      grants: { services: grant === '*' ? ['*'] : names.filter((n) => !streams.has(n)), streams: streamNames, assets: [], detokenize: [] },
      keys: [{ sha256 }],
    };
  });
}
