/**
 * The read ends the init handed to memlogd, of which it keeps a copy: so that
 * a writer never gets EPIPE when memlogd dies, and a new memlogd gets every
 * stream again.
 *
 * A kept read end must never be left to fill up: a writer whose pipe is full
 * blocks. While memlogd is down, the keeper reads every stream itself and
 * appends its lines, stamped as the persister does (`<time> <source> <msg>`),
 * to LOGDIR/memlogd-down/<source>.log; when a memlogd is back, it stops
 * reading and hands the streams over again. A stream that cannot be handed
 * over stays drained to its file until the next attempt.
 *
 * Not the files a persister writes (LOGDIR/<source>.log): its crash recovery
 * cuts those back to the sizes it saved, and would cut away what the init
 * put there.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { dupFd, sendFdsAsync } from '../native.js';
import { closeQuietly } from '../fds.js';
import { LineReader } from '../clients/query-client.js';
import { formatRfc3339Seconds } from '../entry/rfc3339.js';

/** Under the log directory: what the init read itself while memlogd was down. */
export const OUTAGE_DIR = 'memlogd-down';
/** A line longer than this is cut there, as memlogd would cut it much sooner. */
const MAX_LINE = 64 * 1024;
/** Bytes of one stream's outage file before it becomes `.log.1` (replacing the one before): at most twice this per stream. */
export const MAX_OUTAGE_FILE_BYTES = 16 * 1024 * 1024;

export interface KeptStream {
  /** The source name memlogd reads it as. */
  readonly name: string;
  /** The init's copy of the read end. */
  readonly fd: number;
}

interface Kept extends KeptStream {
  /** Reading it into its file: a duplicate of fd, so that fd stays for the next memlogd. */
  drain?: net.Socket;
  lines?: LineReader;
  file?: number;
  /** Bytes in the open file. */
  written: number;
  /** The last hand-over to memlogd failed: it is read into its file until one succeeds. */
  notTaken: boolean;
}

/** Where the init puts a stream's lines while memlogd is down (names are the config's: letters, digits, `.`, `_`, `-`). */
export function outageFile(logDir: string, name: string): string {
  return path.join(logDir, OUTAGE_DIR, `${name}.log`);
}

export class StreamKeeper {
  private readonly kept = new Set<Kept>();

  constructor(
    private readonly logDir: string,
    private readonly log: (line: string) => void,
    private readonly maxFileBytes = MAX_OUTAGE_FILE_BYTES,
  ) {}

  get size(): number {
    return this.kept.size;
  }

  /** Keeps a read end (already handed to memlogd); returns how to let it go once its program is gone for good. */
  keep(stream: KeptStream): () => void {
    const kept: Kept = { ...stream, written: 0, notTaken: false };
    this.kept.add(kept);
    return () => {
      this.stopDraining(kept);
      this.kept.delete(kept);
      closeQuietly(kept.fd);
    };
  }

  /** Whether some stream is being read into its file (memlogd is down, or did not take it). */
  get draining(): boolean {
    for (const k of this.kept) if (k.drain) return true;
    return false;
  }

  /** memlogd is down: read every stream into its fallback file, so that no writer fills its pipe. */
  drainAll(): void {
    for (const k of this.kept) this.startDraining(k);
  }

  /**
   * A memlogd is up: stop reading the streams and hand them to it: every one
   * to a new memlogd, or only those it did not take before (`onlyNotTaken`).
   * Returns how many it took, and the names of those it did not (they stay
   * drained to their files, for a later call).
   */
  async handAll(logSocket: string, onlyNotTaken = false): Promise<{ taken: number; failed: string[] }> {
    let taken = 0;
    const failed: string[] = [];
    for (const k of [...this.kept]) {
      if (!this.kept.has(k) || (onlyNotTaken && !k.notTaken)) continue; // let go meanwhile, or memlogd has it
      this.stopDraining(k);
      try {
        await sendFdsAsync(logSocket, Buffer.from(k.name), [k.fd]);
        k.notTaken = false;
        taken++;
      } catch (err) {
        k.notTaken = true;
        failed.push(`${k.name} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        if (this.kept.has(k)) this.startDraining(k);
      }
    }
    return { taken, failed };
  }

  /** Shutdown: stop reading and let every stream go. */
  close(): void {
    for (const k of this.kept) {
      this.stopDraining(k);
      closeQuietly(k.fd);
    }
    this.kept.clear();
  }

  private startDraining(k: Kept): void {
    if (k.drain) return;
    let file: string | undefined;
    try {
      file = outageFile(this.logDir, k.name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      this.openFile(k, file);
      const drain = new net.Socket({ fd: dupFd(k.fd), readable: true, writable: false });
      k.drain = drain;
      k.lines = new LineReader(MAX_LINE);
      drain.on('data', (chunk: Buffer) => this.append(k, chunk));
      // The program closed its end: nothing more to read; the copy goes when the program is let go.
      drain.on('end', () => this.stopDraining(k));
      drain.on('error', (err) => {
        this.log(`reading ${k.name} into ${file}: ${err.message}`);
        this.stopDraining(k);
      });
    } catch (err) {
      this.log(`cannot read ${k.name} into ${file ?? this.logDir}: ${(err as Error).message}`);
      this.stopDraining(k);
    }
  }

  /** Writes the chunk's complete lines, each stamped with the time it was read. */
  private append(k: Kept, chunk: Buffer): void {
    const head = `${formatRfc3339Seconds(Math.floor(Date.now() / 1000))} ${k.name} `;
    const out: string[] = [];
    k.lines?.push(chunk, (line) => out.push(head, line.toString('utf8'), '\n'));
    this.write(k, out.join(''));
  }

  private openFile(k: Kept, file: string): void {
    k.file = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o640);
    k.written = fs.fstatSync(k.file).size;
  }

  /** Appends whole lines, starting the file anew (the old one becoming `.1`) where the next line would not fit. */
  private write(k: Kept, text: string): void {
    if (k.file === undefined || text === '') return;
    const file = outageFile(this.logDir, k.name);
    try {
      let rest = Buffer.from(text);
      while (rest.length > 0) {
        const room = this.maxFileBytes - k.written;
        // As many whole lines as fit; a single line longer than the bound goes whole into a file of its own.
        let cut = rest.length <= room ? rest.length : room > 0 ? rest.lastIndexOf(10, room - 1) + 1 : 0;
        if (cut === 0 && k.written > 0) {
          this.startAgain(k, file);
          continue;
        }
        if (cut === 0) cut = rest.indexOf(10) + 1 || rest.length;
        fs.writeSync(k.file as number, rest, 0, cut);
        k.written += cut;
        rest = rest.subarray(cut);
      }
    } catch (err) {
      // A full or broken disk: what was read is lost, but the writer is not blocked.
      this.log(`writing ${k.name}'s lines to ${file}: ${(err as Error).message}`);
    }
  }

  /** Bounded however long memlogd stays away: the file becomes `.1`, the older half goes. */
  private startAgain(k: Kept, file: string): void {
    if (k.file !== undefined) closeQuietly(k.file);
    k.file = undefined;
    fs.renameSync(file, `${file}.1`);
    this.openFile(k, file);
  }

  private stopDraining(k: Kept): void {
    k.drain?.destroy();
    k.drain = undefined;
    // The start of a line whose end memlogd will read: kept here as it is.
    const rest = k.lines?.takeRest();
    if (rest) this.write(k, `${formatRfc3339Seconds(Math.floor(Date.now() / 1000))} ${k.name} ${rest.toString('utf8')}\n`);
    k.lines = undefined;
    if (k.file !== undefined) closeQuietly(k.file);
    k.file = undefined;
  }
}
