// Who holds a presented API key: the principals of the principals file and of the older key settings, checked by
// comparing SHA-256 hashes in constant time. The file is re-read when it changes, so keys rotate without a restart.
import { timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { SluiceError, errorMessage } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { hashKey, keyId, unknownGrants, type Principal } from './principals.ts';
import { readPrincipalsFile } from './principals-file.ts';

export type Authentication =
  | { readonly ok: true; readonly principal: Principal; readonly keyId: string }
  | { readonly ok: false; readonly reason: string };

export interface KeyRingOptions {
  /** The principals file; re-read when its size, mtime or inode changes. */
  readonly file?: string | undefined;
  /** Principals that do not come from the file (SLUICE_API_KEYS, settings.apiKeys). */
  readonly fixed?: readonly Principal[] | undefined;
  /** What the project defines: grants naming anything else are refused at open and on reload. */
  readonly known?: { readonly services: ReadonlySet<string>; readonly assets: ReadonlySet<string>; readonly streams: ReadonlySet<string> } | undefined;
  /** How often to look at the file (default 1 s). */
  readonly refreshMs?: number | undefined;
  readonly logger?: Logger | undefined;
}

interface Entry {
  readonly hash: Buffer;
  readonly principal: Principal;
  readonly keyId: string;
  readonly expiresMs: number | undefined;
}

export class KeyRing {
  /** No keys anywhere when it opened: the API is open to anyone (decided once, so deleting the file never opens it). */
  readonly open: boolean;
  readonly #options: KeyRingOptions;
  #entries: readonly Entry[];
  #stamp: string;
  #timer: NodeJS.Timeout | undefined;
  /** Principals the file held at the last successful read. */
  #filePrincipals = 0;

  constructor(options: KeyRingOptions) {
    this.#options = options;
    this.#stamp = fileStamp(options.file);
    this.#entries = this.#load();
    this.open = this.#entries.length === 0 && this.#filePrincipals === 0;
    if (options.file !== undefined) {
      this.#timer = setInterval(() => this.refresh(), options.refreshMs ?? 1_000);
      this.#timer.unref();
    }
  }

  #load(): Entry[] {
    const fromFile = this.#options.file === undefined ? [] : readPrincipalsFile(this.#options.file).principals;
    const principals = [...(this.#options.fixed ?? []), ...fromFile];
    if (this.#options.known !== undefined) {
      const unknown = unknownGrants(principals, this.#options.known);
      if (unknown.length > 0) {
        throw new SluiceError('CONFIG_INVALID', `access grants name what the project does not define: ${unknown.join('; ')}; fix ${this.#options.file ?? 'the key settings'} (names are feature services, assets and event streams, or *)`);
      }
    }
    this.#filePrincipals = fromFile.length;
    return principals.flatMap((principal) => principal.keys.map((key) => ({
      hash: Buffer.from(key.sha256, 'hex'),
      principal,
      keyId: keyId(key.sha256),
      expiresMs: key.expires === undefined ? undefined : Date.parse(key.expires),
    })));
  }

  /** Re-read the file if it changed; a file that does not parse leaves the keys as they were (and says so). */
  refresh(): void {
    const stamp = fileStamp(this.#options.file);
    if (stamp === this.#stamp) return;
    try {
      this.#entries = this.#load();
      this.#stamp = stamp;
      this.#options.logger?.info({ file: this.#options.file, keys: this.#entries.length }, 'principals file re-read');
    } catch (error) {
      this.#stamp = stamp;
      this.#options.logger?.warn({ file: this.#options.file, err: errorMessage(error) }, 'principals file changed but cannot be used; the keys read before stay in force');
    }
  }

  /** The principal holding `key`. Every stored hash is compared, in constant time, whichever matches. */
  authenticate(key: string, nowMs: number = Date.now()): Authentication {
    const presented = Buffer.from(hashKey(key), 'hex');
    let found: Entry | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(entry.hash, presented) && found === undefined) found = entry;
    }
    if (found === undefined) return { ok: false, reason: 'the API key is not valid' };
    if (found.expiresMs !== undefined && nowMs >= found.expiresMs) {
      return { ok: false, reason: `the API key ${found.keyId} of principal "${found.principal.name}" expired at ${new Date(found.expiresMs).toISOString()}; ask an admin for a new one (sluice access add-key)` };
    }
    return { ok: true, principal: found.principal, keyId: found.keyId };
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function fileStamp(file: string | undefined): string {
  if (file === undefined) return '';
  try {
    const stat = fs.statSync(file);
    return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  } catch {
    return 'absent';
  }
}
