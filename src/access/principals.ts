// Principals, their roles and grants, and the one rule that says whether a principal may do something. Pure: the
// principals file's shape (parsed once with zod), key hashing, and `authorize`; reading the file is key-ring.ts's.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import { isValidName } from '../sql/identifiers.ts';

/** reader: read granted services; operator: also ingest into granted streams and run, backfill, delete granted assets; admin: everything. */
export type Role = 'reader' | 'operator' | 'admin';
export const ROLES: readonly Role[] = ['reader', 'operator', 'admin'];

/** Names, or '*' for every one. `detokenize` is never implied: not by '*' elsewhere, not by the admin role. */
export interface Grants {
  readonly services: readonly string[];
  readonly assets: readonly string[];
  readonly streams: readonly string[];
  readonly detokenize: readonly string[];
}

export interface PrincipalKey {
  /** SHA-256 (hex) of the key; the key itself is never stored. */
  readonly sha256: string;
  readonly created?: string | undefined;
  /** ISO time after which the key is refused. */
  readonly expires?: string | undefined;
}

export interface Principal {
  readonly name: string;
  readonly role: Role;
  readonly grants: Grants;
  readonly keys: readonly PrincipalKey[];
}

export interface PrincipalsFile {
  readonly principals: readonly Principal[];
}

/** What a request or command wants to do, and to what. */
export type AccessRequest =
  | { readonly action: 'read'; readonly service: string }
  | { readonly action: 'ingest'; readonly stream: string }
  | { readonly action: 'run' | 'backfill' | 'delete'; readonly asset: string }
  /** Tokens of a personal-data class (`id`, `email`): `grants.detokenize` names the classes. */
  | { readonly action: 'detokenize'; readonly pii: string }
  /** Operational endpoints (metrics): any principal with a valid key. */
  | { readonly action: 'observe' };

/** Allowed, or the grant that is missing, said as it is written in the principals file. */
export type Decision = { readonly allowed: true } | { readonly allowed: false; readonly missing: string };

const ALLOWED: Decision = { allowed: true };

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The short, public name of a key in audit entries and listings: the start of its hash. */
export function keyId(sha256: string): string {
  return sha256.slice(0, 12);
}

const covers = (names: readonly string[], name: string): boolean => names.includes('*') || names.includes(name);

export function authorize(principal: Principal, request: AccessRequest): Decision {
  const { role, grants } = principal;
  switch (request.action) {
    case 'observe':
      return ALLOWED;
    case 'detokenize':
      return covers(grants.detokenize, request.pii) ? ALLOWED : { allowed: false, missing: `grants.detokenize: ["${request.pii}"]` };
    case 'read':
      return role === 'admin' || covers(grants.services, request.service) ? ALLOWED : { allowed: false, missing: `grants.services: ["${request.service}"]` };
    case 'ingest':
      if (role === 'admin') return ALLOWED;
      if (role === 'reader') return { allowed: false, missing: `role "operator" (ingest into stream "${request.stream}"; this principal is a reader)` };
      return covers(grants.streams, request.stream) ? ALLOWED : { allowed: false, missing: `grants.streams: ["${request.stream}"]` };
    case 'run':
    case 'backfill':
    case 'delete':
      if (role === 'admin') return ALLOWED;
      if (role === 'reader') return { allowed: false, missing: `role "operator" (${request.action} asset "${request.asset}"; this principal is a reader)` };
      return covers(grants.assets, request.asset) ? ALLOWED : { allowed: false, missing: `grants.assets: ["${request.asset}"]` };
  }
}

const grantName = z.string().refine((n) => n === '*' || isValidName(n), 'a name (letters, digits, underscores) or *');
const grantsSchema = z.object({
  services: z.array(grantName).default([]),
  assets: z.array(grantName).default([]),
  streams: z.array(grantName).default([]),
  detokenize: z.array(grantName).default([]),
}).strict();
const principalSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$/, 'letters, digits, _ . @ -'),
  role: z.enum(['reader', 'operator', 'admin']),
  grants: grantsSchema.default({ services: [], assets: [], streams: [], detokenize: [] }),
  keys: z.array(z.object({
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'the SHA-256 of the key, 64 hex digits (never the key itself)'),
    created: z.string().optional(),
    expires: z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'an ISO time').optional(),
  }).strict()).default([]),
}).strict();
const fileSchema = z.object({ principals: z.array(principalSchema) }).strict();

/** Parse the principals file's text; messages name the file and the offending field, never a key. */
export function parsePrincipals(text: string, file: string): PrincipalsFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SluiceError('CONFIG_INVALID', `principals file ${file} is not valid JSON (${(error as Error).message}); fix it, or recreate it with \`sluice access add-key <principal> --role reader\``, { file });
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
    throw new SluiceError('CONFIG_INVALID', `principals file ${file}${where}: ${issue?.message ?? 'invalid'}; the format is { "principals": [{ "name", "role": "reader|operator|admin", "grants": { "services", "assets", "streams", "detokenize" }, "keys": [{ "sha256", "expires"? }] }] }`, { file });
  }
  const names = new Set<string>();
  const hashes = new Set<string>();
  for (const principal of parsed.data.principals) {
    if (names.has(principal.name)) throw new SluiceError('CONFIG_INVALID', `principals file ${file}: principal "${principal.name}" appears twice; give each principal once`, { file });
    names.add(principal.name);
    for (const key of principal.keys) {
      if (hashes.has(key.sha256)) throw new SluiceError('CONFIG_INVALID', `principals file ${file}: principal "${principal.name}" has a key (${keyId(key.sha256)}) that another key already has; revoke one`, { file });
      hashes.add(key.sha256);
    }
  }
  return parsed.data;
}

/** Grant names that the project does not define, as `services: x` and so on, for a start-up error. */
export function unknownGrants(principals: readonly Principal[], known: { readonly services: ReadonlySet<string>; readonly assets: ReadonlySet<string>; readonly streams: ReadonlySet<string> }): string[] {
  const unknown = new Set<string>();
  for (const { name, grants } of principals) {
    const check = (kind: string, names: readonly string[], defined: ReadonlySet<string>): void => {
      for (const n of names) if (n !== '*' && !defined.has(n)) unknown.add(`${name}: ${kind} "${n}"`);
    };
    check('services', grants.services, known.services);
    check('detokenize', grants.detokenize, known.services);
    check('assets', grants.assets, known.assets);
    check('streams', grants.streams, known.streams);
  }
  return [...unknown];
}
