/**
 * The priority prefix of a line (`-stream-priority-prefix`): `<N>` with N from
 * 0 to 7, as sd-daemon(3) has programs write it on stderr, or a whole syslog
 * PRI, `<NN>` or `<NNN>` from 0 to 191 (facility * 8 + severity), without
 * leading zeros. Anything else is not a prefix and stays part of the line.
 */
const LT = 60;
const GT = 62;

/**
 * -1 when buf[start, end) does not begin with a prefix; else the prefix's
 * length in bytes times 256, plus its value (the level, or the PRI).
 */
export function priorityPrefix(buf: Uint8Array, start: number, end: number): number {
  if (end - start < 3 || buf[start] !== LT) return -1;
  let value = 0;
  let i = start + 1;
  for (; i < end && i < start + 4; i++) {
    const c = buf[i];
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
  }
  const digits = i - start - 1;
  if (digits === 0 || i >= end || buf[i] !== GT) return -1;
  if (digits === 1 ? value > 7 : buf[start + 1] === 48 || value > 191) return -1;
  return (digits + 2) * 256 + value;
}
