// Personal-data policies at run time: the secret, the keys derived from it, the session variables the SQL
// reads them from, the vault of tokens, and the protected relations of sources and assets.
//
// One secret (SLUICE_PII_KEY, or settings.pii.keyEnv / keyFile) gives three keys by HKDF-SHA256: one for keyed
// hashes, one for tokens, one that seals the vault (AES-256-GCM). Hashes and tokens are computed in DuckDB
// (sql/pii-sql.ts); only the vault's encryption runs in JS, over the distinct new values of a column.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ColumnInfo, Session } from '../engine/engine.ts';
import type { Asset } from '../define/asset.ts';
import { needsKey, type ColumnProtection } from '../define/pii.ts';
import type { Project } from '../define/project.ts';
import type { FileSource } from '../define/source.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { quoteIdent } from '../sql/identifiers.ts';
import { keyVariables, protectSql, tokenSql, type KeyPurpose } from '../sql/pii-sql.ts';
import type { Catalog, VaultEntry } from '../store/catalog/catalog.ts';
import { recordAction } from '../access/audit.ts';
import { authorize } from '../access/principals.ts';
import { readPrincipalsFile } from '../access/principals-file.ts';
import { principalsFilePath } from '../access/serving-access.ts';
import type { Workspace } from '../workspace.ts';

export const DEFAULT_PII_KEY_ENV = 'SLUICE_PII_KEY';
const MIN_SECRET_BYTES = 16;
const HMAC_BLOCK = 64;

export interface PiiKeys {
  /** A short fingerprint of the secret (not of any key): recorded in step fingerprints so a new secret rebuilds. */
  readonly id: string;
  readonly hash: Buffer;
  readonly token: Buffer;
  readonly vault: Buffer;
}

const loaded = new Map<string, PiiKeys | undefined>();

/** Where the project's secret comes from, for messages. */
function secretSource(project: Project): string {
  const file = project.settings.pii?.keyFile;
  return file === undefined ? `the environment variable ${project.settings.pii?.keyEnv ?? DEFAULT_PII_KEY_ENV}` : `the key file ${file}`;
}

/** Where a project on embedded defaults keeps the secret it generated for itself. */
export const LOCAL_SECRET_FILE = 'pii.key';

/**
 * On embedded defaults (a SQLite catalog in the state directory, no `settings.pii`, no SLUICE_PII_KEY), the secret
 * is generated once into `<state>/pii.key` (mode 0600), so a project works from its first run; the file goes with
 * the state it protects. A shared catalog never gets one: every machine must use the same configured secret.
 */
export interface LocalSecret {
  readonly stateDir: string;
  readonly embedded: boolean;
}

function localSecret(local: LocalSecret): Buffer {
  const target = path.join(local.stateDir, LOCAL_SECRET_FILE);
  if (!fs.existsSync(target)) {
    fs.mkdirSync(local.stateDir, { recursive: true });
    const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(temp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    try {
      fs.linkSync(temp, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      fs.rmSync(temp, { force: true });
    }
  }
  return Buffer.from(fs.readFileSync(target, 'utf8').trim(), 'utf8');
}

/** Where the secret of this project comes from, for `sluice pii`. */
export function piiSecretSource(project: Project, local?: LocalSecret, env: NodeJS.ProcessEnv = process.env): string {
  const envName = project.settings.pii?.keyEnv ?? DEFAULT_PII_KEY_ENV;
  if (project.settings.pii?.keyFile === undefined && (env[envName] ?? '') === '' && project.settings.pii === undefined && local?.embedded === true) {
    return `${path.join(local.stateDir, LOCAL_SECRET_FILE)} (generated for this project's embedded state; back it up with .sluice, or set ${DEFAULT_PII_KEY_ENV})`;
  }
  return secretSource(project);
}

/** The project's keys, or undefined when no secret is configured (then no policy may need one). */
export function piiKeys(project: Project, projectDir: string, local?: LocalSecret, env: NodeJS.ProcessEnv = process.env): PiiKeys | undefined {
  const file = project.settings.pii?.keyFile;
  const envName = project.settings.pii?.keyEnv ?? DEFAULT_PII_KEY_ENV;
  let secret: Buffer | undefined;
  if (file === undefined && (env[envName] ?? '') === '' && project.settings.pii === undefined && local?.embedded === true) {
    secret = localSecret(local);
  } else if (file !== undefined) {
    const where = path.resolve(projectDir, file);
    try {
      secret = Buffer.from(fs.readFileSync(where, 'utf8').trim(), 'utf8');
    } catch (error) {
      throw new SluiceError('CONFIG_INVALID', `settings.pii.keyFile ${where} cannot be read (${errorMessage(error)}); create it with a random secret, e.g. \`openssl rand -hex 32 > ${file}\`, readable only by the pipeline's user`, { file: where });
    }
  } else if (env[envName] !== undefined && env[envName] !== '') {
    secret = Buffer.from(env[envName], 'utf8');
  }
  if (secret === undefined) return undefined;
  const cacheKey = createHash('sha256').update(secret).digest('hex');
  if (loaded.has(cacheKey)) return loaded.get(cacheKey);
  if (secret.length < MIN_SECRET_BYTES) {
    throw new SluiceError('CONFIG_INVALID', `the PII secret from ${secretSource(project)} is ${secret.length} bytes; use at least ${MIN_SECRET_BYTES} random bytes, e.g. \`openssl rand -hex 32\``);
  }
  const derive = (info: string): Buffer => Buffer.from(hkdfSync('sha256', secret, 'sluice-pii-v1', info, 32));
  const keys = { id: derive('key id').toString('hex').slice(0, 16), hash: derive('keyed hash'), token: derive('token'), vault: derive('vault') };
  loaded.set(cacheKey, keys);
  return keys;
}

/** Every protection of the project that needs the secret, as `source "x" column "y"`. */
function keyedColumns(entries: readonly [string, Readonly<Record<string, ColumnProtection>>][]): string[] {
  return entries.flatMap(([where, protections]) => Object.entries(protections).filter(([, p]) => needsKey(p.policy)).map(([column]) => `${where} column "${column}"`));
}

/** The keys a definition's protections need: throws, naming the column and where the secret goes, when there are none. */
export function requireKeys(project: Project, projectDir: string, where: string, protections: Readonly<Record<string, ColumnProtection>>, local?: LocalSecret): PiiKeys | undefined {
  const keyed = keyedColumns([[where, protections]]);
  if (keyed.length === 0) return undefined;
  const keys = piiKeys(project, projectDir, local);
  if (keys === undefined) {
    throw new SluiceError('CONFIG_INVALID', `${keyed[0] ?? where} is hashed or tokenised with a secret key, but no secret is set: set ${secretSource(project)} to at least ${MIN_SECRET_BYTES} random bytes (e.g. \`export ${project.settings.pii?.keyEnv ?? DEFAULT_PII_KEY_ENV}=$(openssl rand -hex 32)\`), kept out of the project's files`);
  }
  return keys;
}

/** What a step's output depends on besides its SQL and inputs: its sources' and its own policies, and the secret. */
export function protectionFingerprint(project: Project, projectDir: string, asset: Asset, sources: readonly FileSource[], local?: LocalSecret): string {
  const parts: [string, Readonly<Record<string, ColumnProtection>>][] = sources.filter((s) => Object.keys(s.protect).length > 0).map((s) => [`source "${s.name}"`, s.protect]);
  if (asset.protect !== undefined) parts.push([`asset "${asset.name}"`, asset.protect]);
  if (parts.length === 0) return '';
  const keyed = keyedColumns(parts).length > 0;
  return JSON.stringify({ parts, key: keyed ? piiKeys(project, projectDir, local)?.id ?? 'none' : null });
}

/** Embedded defaults: the catalog is SQLite (one machine, or workers sharing its state directory). */
export function localSecretOf(env: { stateDir: string; catalog?: Catalog | undefined }): LocalSecret {
  return { stateDir: env.stateDir, embedded: env.catalog?.dialect === 'sqlite' };
}

/** Put the padded HMAC keys into the session's variables, from parameters (never in SQL text). */
async function setKeyVariables(session: Session, keys: PiiKeys): Promise<void> {
  for (const purpose of ['hash', 'token'] as const satisfies readonly KeyPurpose[]) {
    const key = Buffer.alloc(HMAC_BLOCK);
    keys[purpose].copy(key);
    const vars = keyVariables(purpose);
    await session.query(`SET VARIABLE ${vars.ipad} = unhex($1)`, [Buffer.from(key.map((b) => b ^ 0x36)).toString('hex')]);
    await session.query(`SET VARIABLE ${vars.opad} = unhex($1)`, [Buffer.from(key.map((b) => b ^ 0x5c)).toString('hex')]);
  }
}

function seal(key: Buffer, value: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

function unseal(key: Buffer, sealed: string): string {
  const bytes = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
  decipher.setAuthTag(bytes.subarray(12, 28));
  return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
}

/** Add the distinct values of a tokenised column that the vault lacks (sealed); returns how many were new. */
async function fillVault(session: Session, catalog: Catalog | undefined, keys: PiiKeys, relation: string, column: string, protection: ColumnProtection, where: string): Promise<number> {
  if (catalog === undefined) throw new SluiceError('CONFIG_INVALID', `${where} column "${column}" is tokenised, which needs the catalog's vault, but this step runs without a catalog`);
  const c = quoteIdent(column);
  let added = 0;
  for await (const rows of session.stream(`SELECT DISTINCT ${tokenSql(c)} AS token, CAST(${c} AS VARCHAR) AS value FROM ${relation} WHERE ${c} IS NOT NULL`)) {
    const pairs = rows as { token: string; value: string }[];
    const known = new Set((await catalog.vaultEntries(pairs.map((p) => p.token))).map((e) => e.token));
    const fresh: VaultEntry[] = pairs.filter((p) => !known.has(p.token)).map((p) => ({ token: p.token, pii: protection.pii, sealed: seal(keys.vault, p.value) }));
    await catalog.putVaultEntries(fresh);
    added += fresh.length;
  }
  return added;
}

/**
 * Create `view` as `relation` with `protections` applied (columns typed as `columns` says): keys set in the
 * session, tokenised values added to the vault. `where` names the source or asset in messages.
 */
export async function createProtectedView(
  session: Session,
  env: { project: Project; projectDir: string; stateDir: string; catalog?: Catalog | undefined },
  where: string,
  protections: Readonly<Record<string, ColumnProtection>>,
  relation: string,
  columns: readonly ColumnInfo[],
  view: string,
): Promise<void> {
  const present = new Set(columns.map((c) => c.name));
  const missing = Object.keys(protections).filter((column) => !present.has(column));
  if (missing.length > 0) {
    throw new SluiceError('DEFINITION_INVALID', `${where} classifies column "${missing[0]}" as personal data, but it has no such column; its columns are ${columns.map((c) => c.name).join(', ')}`, { column: missing[0] });
  }
  const keys = requireKeys(env.project, env.projectDir, where, protections, localSecretOf(env));
  if (keys !== undefined) await setKeyVariables(session, keys);
  for (const [column, protection] of Object.entries(protections)) {
    if (protection.policy?.kind === 'tokenize' && keys !== undefined) await fillVault(session, env.catalog, keys, relation, column, protection, where);
  }
  let select: string;
  try {
    select = protectSql(relation, columns, protections);
  } catch (error) {
    throw new SluiceError('DEFINITION_INVALID', `${where}: ${errorMessage(error)}`);
  }
  await session.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(view)} AS ${select}`);
}

/**
 * Detokenise as the process's principal (SLUICE_PRINCIPAL, or the OS user): with a principals file, that principal
 * needs `grants.detokenize` for each token's class; without one, holding the secret is the only gate. Recorded in
 * the audit log (token counts per class, never a value).
 */
export async function detokenizeAs(ws: Workspace, tokens: readonly string[]): Promise<Map<string, { value: string; pii: string }>> {
  const values = await detokenize({ project: ws.project, projectDir: ws.projectDir, stateDir: ws.stateDir, catalog: ws.catalog }, tokens);
  const classes = [...new Set([...values.values()].map((v) => v.pii))].sort();
  const file = principalsFilePath(ws.settings);
  if (fs.existsSync(file)) {
    const principal = readPrincipalsFile(file).principals.find((p) => p.name === ws.settings.principal);
    const denied = classes.map((pii) => (principal === undefined ? { allowed: false as const, missing: `a principal named "${ws.settings.principal}"` } : authorize(principal, { action: 'detokenize', pii }))).find((d) => !d.allowed);
    if (denied !== undefined && !denied.allowed) {
      await recordAction(ws.catalog, ws.settings.principal, 'denied', 'detokenize', { classes, tokens: tokens.length });
      throw new SluiceError('ACCESS_DENIED', `detokenize: principal "${ws.settings.principal}" lacks ${denied.missing} in ${file}; an admin adds it (grants.detokenize lists the personal-data classes it may read)`);
    }
  }
  await recordAction(ws.catalog, ws.settings.principal, 'detokenize', `pii:${classes.join(',') || 'none'}`, { tokens: tokens.length, found: values.size });
  return values;
}

/** The values of tokens, from the vault (tokens it does not hold are left out). */
export async function detokenize(env: { project: Project; projectDir: string; stateDir: string; catalog: Catalog }, tokens: readonly string[]): Promise<Map<string, { value: string; pii: string }>> {
  const keys = piiKeys(env.project, env.projectDir, localSecretOf(env));
  if (keys === undefined) throw new SluiceError('CONFIG_INVALID', `detokenising needs the secret the tokens were made with: set ${secretSource(env.project)}`);
  const out = new Map<string, { value: string; pii: string }>();
  for (const entry of await env.catalog.vaultEntries(tokens)) {
    try {
      out.set(entry.token, { value: unseal(keys.vault, entry.sealed), pii: entry.pii });
    } catch {
      throw new SluiceError('CONFIG_INVALID', `token ${entry.token} cannot be opened with the secret from ${secretSource(env.project)}: it was sealed under another secret`);
    }
  }
  return out;
}
