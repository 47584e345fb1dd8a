/**
 * Making a socket path ours: a socket file left by a daemon that died is
 * replaced, but one that something still listens on is never taken over, and a
 * path that is not a socket at all is never removed.
 */
import fs from 'node:fs';
import net from 'node:net';

/** True if something is bound to the socket at path (stream or datagram). */
function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      probe.destroy();
      // A datagram socket answers a stream connect with EPROTOTYPE: it is bound, so alive.
      resolve(err.code === 'EPROTOTYPE');
    });
  });
}

export async function claimSocketPath(path: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; not replacing it`);
  if (await socketIsLive(path)) throw new Error(`${path} is in use by another running daemon`);
  fs.unlinkSync(path);
}
