/** Waiting for a memlogd to have taken in what was written: its status, polled. */
import { sleep } from './children.js';
import type { Daemon } from './daemon.js';
import { queryStatus } from '../src/clients/query-client.js';
import type { DaemonStatus } from '../src/protocol/wire.js';

const POLL_MS = 50;
const TIMEOUT_MS = 120_000;

/**
 * Resolves with the daemon's status once its ring's next sequence number is
 * at least atLeast and has not moved between two polls (everything written is
 * in, the daemon's own entries too); throws if the daemon dies or 120 s pass.
 */
export async function ringSettled(daemon: Daemon, atLeast: number): Promise<DaemonStatus> {
  const query = daemon.requireQuery();
  const deadline = Date.now() + TIMEOUT_MS;
  for (let next = -1; ; await sleep(POLL_MS)) {
    const status = await queryStatus(query, 10_000);
    daemon.assertAlive();
    if (status.ring.next === next && next >= atLeast) return status;
    if (Date.now() > deadline) throw new Error(`the ring's next is ${status.ring.next} after ${TIMEOUT_MS / 1000} s, expected at least ${atLeast}`);
    next = status.ring.next;
  }
}
