// API keys for the serving API: parsed once from `key=service1|service2,key2=*` (SLUICE_API_KEYS), looked up
// per request by a hash of the presented key, so no comparison ever runs over the secret itself.
import { createHash } from 'node:crypto';
import { SluiceError } from '../errors.ts';
import { isValidName } from '../sql/identifiers.ts';

/** What one key may read: every service, or the services named. */
export type KeyGrant = '*' | ReadonlySet<string>;

/** Grants by the SHA-256 (hex) of each key. */
export interface ApiKeyConfig {
  readonly grants: ReadonlyMap<string, KeyGrant>;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
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
