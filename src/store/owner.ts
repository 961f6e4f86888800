// Which process holds something (a lease, a lock file): `<host>:<pid>`, and whether such a holder is gone.
import os from 'node:os';

/** This process, as recorded on the leases and locks it takes. */
export const PROCESS_OWNER = `${os.hostname()}:${process.pid}`;

/**
 * Whether an owner is a process on this host that no longer exists (killed, crashed): what it holds can be
 * taken at once. Owners on other hosts, or alive, are waited for.
 */
export function ownerIsGone(owner: string | null | undefined): boolean {
  if (owner === null || owner === undefined) return false;
  const at = owner.lastIndexOf(':');
  const host = owner.slice(0, at);
  const pid = Number(owner.slice(at + 1));
  if (host !== os.hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
