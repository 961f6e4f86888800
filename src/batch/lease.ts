// Leases on asset partitions: a step holds `asset:<name>/<partition>` in the catalog while it runs, so two runs
// never write one partition at once. Renewed while the step runs; a crashed holder's lease goes stale and is taken.
import { SluiceError } from '../errors.ts';
import type { Catalog, LeaseRecord } from '../store/catalog/catalog.ts';
import { ownerIsGone, PROCESS_OWNER } from '../store/owner.ts';

const OWNER = PROCESS_OWNER;

/**
 * Whether a lease's owner is a process on this host that no longer exists (killed, crashed): its lease can be
 * taken at once instead of after its term. Owners on other hosts, or alive, are waited for.
 */
export function ownerIsDead(lease: LeaseRecord | undefined): boolean {
  return ownerIsGone(lease?.owner);
}

/**
 * Long enough that renewals (every quarter of it) survive a slow catalog; short enough that a crashed run's
 * partitions are free again soon: a step waits for a held lease until it expires, so this bounds the wait.
 */
export const LEASE_TTL_MS = 10_000;
/** How often a waiting step tries a held lease again. */
const LEASE_POLL_MS = 250;

export function partitionLease(asset: string, partition: string): string {
  return `asset:${asset}/${partition}`;
}

async function leaseHeld(catalog: Catalog, resource: string, asset: string, partition: string): Promise<SluiceError> {
  const lease = await catalog.getLease(resource);
  const where = `asset "${asset}"${partition === '' ? '' : ` partition ${partition}`}`;
  const holder = lease === undefined ? 'another run' : `step ${lease.holder} (lease ${resource} until ${new Date(lease.expiresAtMs).toISOString()})`;
  return new SluiceError('LEASE_HELD', `${where} is being written by ${holder}; this step waits and retries`, { asset, partition, holder: lease?.holder });
}

/**
 * Take the lease, waiting while it is held for at most its current term: a holder that releases it early lets
 * us in at once, a crashed holder's lease goes stale at the end of the term, and a live holder renews it (then
 * this attempt fails with LEASE_HELD and the step's retries decide how long to keep waiting).
 */
async function acquireWaiting(catalog: Catalog, resource: string, holder: string, ttlMs: number, asset: string, partition: string): Promise<void> {
  if (await catalog.acquireLease(resource, holder, ttlMs, { owner: OWNER })) return;
  const term = await catalog.getLease(resource);
  // A holder that died on this host (a killed run) frees the partition now, not at the end of its term.
  if (term !== undefined && term.owner !== null && ownerIsDead(term) && await catalog.acquireLease(resource, holder, ttlMs, { owner: OWNER, takeOverFrom: term.owner })) return;
  const until = (term?.expiresAtMs ?? Date.now()) + LEASE_POLL_MS;
  while (Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, LEASE_POLL_MS));
    if (await catalog.acquireLease(resource, holder, ttlMs, { owner: OWNER })) return;
  }
  throw await leaseHeld(catalog, resource, asset, partition);
}

/**
 * Run `fn` holding the partition's lease as `holder` (a step id: a retry or a re-delivered job of the same step
 * renews its own lease at once). `fn` gets `check`, which confirms the lease is still held: call it before
 * committing. Throws LEASE_HELD (transient) when another holder keeps it for a whole term.
 */
export async function withPartitionLease<T>(
  catalog: Catalog,
  target: { readonly asset: string; readonly partition: string },
  holder: string,
  fn: (check: () => Promise<void>) => Promise<T>,
  ttlMs: number = LEASE_TTL_MS,
): Promise<T> {
  const { asset, partition } = target;
  const resource = partitionLease(asset, partition);
  await acquireWaiting(catalog, resource, holder, ttlMs, asset, partition);
  let lost: SluiceError | undefined;
  let renewal: Promise<void> = Promise.resolve();
  const renew = async (): Promise<void> => {
    try {
      if (!(await catalog.acquireLease(resource, holder, ttlMs, { owner: OWNER }))) lost ??= await leaseHeld(catalog, resource, asset, partition);
    } catch {
      // A catalog hiccup: the next renewal, or the check before the commit, decides.
    }
  };
  const timer = setInterval(() => { renewal = renewal.then(renew); }, Math.max(10, Math.floor(ttlMs / 4)));
  timer.unref();
  const check = async (): Promise<void> => {
    await renewal;
    if (lost !== undefined) throw lost;
    if (!(await catalog.acquireLease(resource, holder, ttlMs, { owner: OWNER }))) throw await leaseHeld(catalog, resource, asset, partition);
  };
  try {
    return await fn(check);
  } finally {
    clearInterval(timer);
    await renewal;
    // If this fails the lease simply goes stale after its TTL; the step's own outcome stands.
    await catalog.releaseLease(resource, holder).catch(() => undefined);
  }
}
