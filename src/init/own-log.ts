/**
 * The init's own entries (starts, exits, restarts, shutdown): to memlogd as
 * source `init`, through a socketpair whose read end memlogd reads, or to
 * LOGDIR/init.log without memlogd.
 *
 * Never blocks: the write end is non-blocking with a bounded queue, and a line
 * that finds the queue full (memlogd slow, or gone and not yet replaced) goes
 * to a file instead: LOGDIR/memlogd-down/init.log, with the lines the init
 * reads itself while memlogd is down (not LOGDIR/init.log, which is the
 * persister's file for source `init`). An init blocked in a write would stop
 * supervising, reaping and shutting down.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** Bytes the init lets wait for memlogd before its lines go to the file. */
const MAX_QUEUED = 256 * 1024;

export class OwnLog {
  private socket: net.Socket | undefined;
  private file: number | undefined;
  private fileFailed = false;

  constructor(
    private filePath: string,
    /** Told when the file cannot be written (once). */
    private readonly warn: (msg: string) => void,
  ) {}

  /** From now on, lines go to memlogd through fd, the write end of a socketpair (owned from now on); those that cannot, to overflowPath. */
  attach(fd: number, overflowPath: string): void {
    if (this.file !== undefined) fs.closeSync(this.file);
    this.file = undefined;
    this.filePath = overflowPath;
    const socket = new net.Socket({ fd, readable: false, writable: true });
    socket.on('error', () => socket.destroy());
    this.socket = socket;
  }

  write(line: string): void {
    const text = `${line}\n`;
    const socket = this.socket;
    if (socket && !socket.destroyed && socket.writableLength < MAX_QUEUED) {
      socket.write(text);
      return;
    }
    this.toFile(text);
  }

  private toFile(text: string): void {
    try {
      if (this.file === undefined) {
        fs.mkdirSync(path.dirname(this.filePath), { recursive: true });
        this.file = fs.openSync(this.filePath, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o640);
      }
      fs.writeSync(this.file, text);
    } catch (err) {
      if (!this.fileFailed) this.warn(`cannot write ${this.filePath}: ${(err as Error).message}`);
      this.fileFailed = true;
    }
  }

  /** Writes out what is queued for memlogd (for a bounded time), then closes. */
  async close(timeoutMs = 1000): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          socket.destroy();
          resolve();
        }, timeoutMs);
        socket.end(() => {
          clearTimeout(timer);
          socket.destroy();
          resolve();
        });
      });
    }
    if (this.file !== undefined) fs.closeSync(this.file);
    this.file = undefined;
  }
}
