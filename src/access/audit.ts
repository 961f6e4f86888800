// The audit log's two writers: request counts kept in memory per (principal, key, action, target, minute) and
// flushed periodically and on close, never a write per request; and one entry per command action (run, backfill,
// delete, vacuum, and the PII actions forget and detokenize), recorded where each of them goes through.
import { createHash, randomBytes } from 'node:crypto';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { AuditAction, AuditEntry, Catalog } from '../store/catalog/catalog.ts';

const MINUTE_MS = 60_000;

/** The start of the minute holding `ms`, as ISO text. */
export function minuteOf(ms: number): string {
  return new Date(Math.floor(ms / MINUTE_MS) * MINUTE_MS).toISOString();
}

export interface RequestAuditOptions {
  readonly catalog: Catalog;
  /** How often counts go to the catalog (default 10 s). */
  readonly flushMs?: number | undefined;
  readonly logger?: Logger | undefined;
}

/** Counts requests per principal, key, action, target and minute; whoever creates it closes it (a last flush). */
export class RequestAudit {
  readonly #catalog: Catalog;
  readonly #logger: Logger | undefined;
  #pending = new Map<string, AuditEntry>();
  #flushing: Promise<void> = Promise.resolve();
  readonly #timer: NodeJS.Timeout;

  constructor(options: RequestAuditOptions) {
    this.#catalog = options.catalog;
    this.#logger = options.logger;
    this.#timer = setInterval(() => { void this.flush(); }, options.flushMs ?? 10_000);
    this.#timer.unref();
  }

  count(principal: string, keyId: string | null, action: AuditAction, target: string, nowMs: number = Date.now()): void {
    const at = minuteOf(nowMs);
    // The same id in every process and flush, so the catalog adds the counts of one minute together.
    const id = `${action}:${createHash('sha256').update(JSON.stringify([principal, keyId, target, at])).digest('hex').slice(0, 24)}`;
    const entry = this.#pending.get(id);
    this.#pending.set(id, { id, at, principal, keyId, action, target, count: (entry?.count ?? 0) + 1, detail: {} });
  }

  /** Write what was counted since the last flush; a failure is logged and the counts are kept for the next one. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#pending.size === 0) return;
      const batch = this.#pending;
      this.#pending = new Map();
      try {
        await this.#catalog.recordAudit([...batch.values()]);
      } catch (error) {
        for (const [id, entry] of batch) {
          const later = this.#pending.get(id);
          this.#pending.set(id, later === undefined ? entry : { ...later, count: later.count + entry.count });
        }
        this.#logger?.warn({ err: errorMessage(error), entries: batch.size }, 'could not write request counts to the audit log; retrying at the next flush');
      }
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}

/** One audit entry for an action a command took (who: the workspace's principal). */
export async function recordAction(catalog: Catalog, principal: string, action: AuditAction, target: string, detail: Readonly<Record<string, unknown>> = {}, nowMs: number = Date.now()): Promise<void> {
  const at = new Date(nowMs).toISOString();
  await catalog.recordAudit([{ id: `${action}:${at}:${randomBytes(6).toString('hex')}`, at, principal, keyId: null, action, target, count: 1, detail }]);
}
