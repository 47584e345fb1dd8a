/** The bundle's kernel log: read once (no follow) into a temporary file, as memlog kmsg prints it. */
import fs from 'node:fs';
import { readKmsg } from '../kmsg/reader.js';
import { describe, endStream } from './files.js';

/** Warnings about the kernel log copied into the notes, at most. */
const MAX_KMSG_WARNINGS = 3;

export async function captureKmsg(
  device: string,
  file: string,
  notes: string[],
  signal: AbortSignal | undefined,
): Promise<{ included: boolean; note?: string; records: number }> {
  const out = fs.createWriteStream(file);
  let writeError: Error | undefined;
  out.on('error', (err) => (writeError ??= err));
  let records = 0;
  let warnings = 0;
  let failure: string | undefined;
  try {
    await readKmsg({
      path: device,
      follow: false,
      signal,
      out: (line) => {
        if (writeError) throw writeError;
        records++;
        if (out.write(line + '\n')) return;
        return new Promise<void>((resolve) => out.once('drain', resolve));
      },
      warn: (msg) => {
        if (++warnings <= MAX_KMSG_WARNINGS) notes.push(`kmsg: ${msg}`);
      },
    });
  } catch (err) {
    failure = err instanceof Error ? err.message : String(err);
  }
  try {
    await endStream(out);
  } catch (err) {
    failure ??= `cannot write a temporary copy of ${device}: ${describe(err)}`;
    records = 0;
  }
  if (failure !== undefined && records === 0) {
    const note = `kmsg not included: ${failure}`;
    notes.push(note);
    return { included: false, note, records: 0 };
  }
  if (failure !== undefined) {
    const note = `kmsg.txt is partial: ${failure}`;
    notes.push(note);
    return { included: true, note, records };
  }
  return { included: true, records };
}
