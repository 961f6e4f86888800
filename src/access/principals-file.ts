// The principals file on disk: read it, and change it atomically (a new key, a revoked key, a principal's role and
// grants). A new key is random, returned once to be shown to its owner, and stored only as its SHA-256.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../errors.ts';
import { hashKey, keyId, parsePrincipals, unknownGrants, type Grants, type Principal, type PrincipalsFile, type Role } from './principals.ts';

/** The file's principals; none when it does not exist. */
export function readPrincipalsFile(file: string): PrincipalsFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { principals: [] };
    throw new SluiceError('CONFIG_INVALID', `cannot read the principals file ${file}: ${(error as Error).message}`, { file });
  }
  return parsePrincipals(text, file);
}

/** Replace the file in one rename, readable by its owner only: a server re-reading it sees the old or the new file whole. */
function writePrincipalsFile(file: string, contents: PrincipalsFile): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(temp, `${JSON.stringify(contents, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(temp, file);
}

export interface AddKeyOptions {
  /** Needed when the principal is new; changes the role of an existing one. */
  readonly role?: Role | undefined;
  /** Grants to add to the principal's. */
  readonly grants?: Partial<Grants> | undefined;
  /** ISO time after which the key is refused. */
  readonly expires?: string | undefined;
  readonly now?: Date | undefined;
  /** What the project defines: grants naming anything else are refused. */
  readonly known?: Parameters<typeof unknownGrants>[1] | undefined;
}

export interface NewKey {
  readonly principal: Principal;
  /** Shown once; only its hash is on disk. */
  readonly key: string;
  readonly keyId: string;
}

/** Give `name` a new key (creating the principal with `role`); its other keys stay valid until revoked (rotation). */
export function addKey(file: string, name: string, options: AddKeyOptions = {}): NewKey {
  const current = readPrincipalsFile(file);
  const key = `sk_${randomBytes(32).toString('base64url')}`;
  const sha256 = hashKey(key);
  const existing = current.principals.find((p) => p.name === name);
  if (existing === undefined && options.role === undefined) {
    throw new SluiceError('CONFIG_INVALID', `principal "${name}" is not in ${file}: give it a role to create it, e.g. \`sluice access add-key ${name} --role reader --service <name>\``, { file });
  }
  const base: Principal = existing ?? { name, role: options.role ?? 'reader', grants: { services: [], assets: [], streams: [], detokenize: [] }, keys: [] };
  const merge = (have: readonly string[], add: readonly string[] | undefined): string[] => [...new Set([...have, ...(add ?? [])])];
  const grants = options.grants ?? {};
  const principal: Principal = {
    name,
    role: options.role ?? base.role,
    grants: {
      services: merge(base.grants.services, grants.services),
      assets: merge(base.grants.assets, grants.assets),
      streams: merge(base.grants.streams, grants.streams),
      detokenize: merge(base.grants.detokenize, grants.detokenize),
    },
    keys: [...base.keys, { sha256, created: (options.now ?? new Date()).toISOString(), ...(options.expires === undefined ? {} : { expires: options.expires }) }],
  };
  // Parse what is about to be written, so a bad grant name is refused here rather than by the server later.
  const next = parsePrincipals(JSON.stringify({ principals: [...current.principals.filter((p) => p.name !== name), principal] }), file);
  const unknown = options.known === undefined ? [] : unknownGrants([principal], options.known);
  if (unknown.length > 0) throw new SluiceError('CONFIG_INVALID', `grants name what the project does not define: ${unknown.join('; ')}; name its feature services, assets and event streams (or *)`, { file });
  writePrincipalsFile(file, next);
  return { principal, key, keyId: keyId(sha256) };
}

/** Remove one key of `name` (by its id), or all of them; returns the ids removed. */
export function revokeKeys(file: string, name: string, which: { readonly keyId?: string | undefined; readonly all?: boolean | undefined }): string[] {
  const current = readPrincipalsFile(file);
  const principal = current.principals.find((p) => p.name === name);
  if (principal === undefined) {
    throw new SluiceError('CONFIG_INVALID', `principal "${name}" is not in ${file}; \`sluice access list\` shows the principals`, { file });
  }
  if (which.keyId === undefined && which.all !== true) {
    throw new SluiceError('CONFIG_INVALID', `say which key of "${name}" to revoke: --key <id> (one of ${principal.keys.map((k) => keyId(k.sha256)).join(', ') || 'none'}) or --all`, { file });
  }
  const removed = principal.keys.filter((k) => which.all === true || keyId(k.sha256) === which.keyId);
  if (removed.length === 0) {
    throw new SluiceError('CONFIG_INVALID', `principal "${name}" has no key ${which.keyId ?? ''}; its keys: ${principal.keys.map((k) => keyId(k.sha256)).join(', ') || 'none'}`, { file });
  }
  const kept = principal.keys.filter((k) => !removed.includes(k));
  writePrincipalsFile(file, { principals: current.principals.map((p) => (p === principal ? { ...p, keys: kept } : p)) });
  return removed.map((k) => keyId(k.sha256));
}
