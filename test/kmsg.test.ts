/**
 * The kernel-log reader: record parsing, the stream splitter, upstream's
 * output format, the command line, the live /dev/kmsg, and memlogd behind the
 * launcher.
 *
 * test/fixtures/kmsg-records.txt: the records up to seq 344 were read from
 * this machine's /dev/kmsg as the kernel returned them (a selection, so seqs
 * jump). The last five (seq 345-349) are hand-written in exactly the kernel's
 * format, for what the capture lacked: a `\x5c` backslash, UTF-8 and an
 * invalid byte as `\xNN` escapes, a non-kernel facility, a `caller=` header
 * field, the `c` flag of older kernels, and a multi-line message with
 * continuation lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { KmsgSplitter, formatUpstream, parseKmsgRecord, type KmsgRecord } from '../src/kmsg/record.js';
import { readKmsg } from '../src/kmsg/reader.js';
import { BIN, ROOT, asNobody, dump, messagesOf, run, startDaemon, tmpdir, waitFor } from './helpers.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'kmsg-records.txt');
const fixture = fs.readFileSync(FIXTURE);

function split(chunks: Buffer[]): { records: Buffer[]; malformed: Buffer[] } {
  const records: Buffer[] = [];
  const malformed: Buffer[] = [];
  const splitter = new KmsgSplitter(
    (r) => records.push(r),
    (m) => malformed.push(m),
  );
  for (const c of chunks) splitter.push(c);
  splitter.end();
  return { records, malformed };
}

const raw = split([fixture]).records;
const records = raw.map((r) => parseKmsgRecord(r));
const bySeq = new Map(records.filter((r): r is KmsgRecord => r !== undefined).map((r) => [r.seq, r]));

function rec(seq: number): KmsgRecord {
  const r = bySeq.get(seq);
  assert.ok(r, `record ${seq} in the fixture`);
  return r;
}

test('every record of the fixture parses, in order', () => {
  assert.equal(raw.length, 33);
  assert.ok(records.every((r) => r !== undefined));
  const seqs = [...bySeq.keys()];
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  // The splitter hands out each record as one read() of the device would.
  assert.equal(raw[0].toString(), fixture.toString().split('\n')[0] + '\n');
  assert.equal(
    raw.find((r) => r.toString().startsWith('6,194,'))?.toString(),
    '6,194,290747,-;acpi PNP0A08:00: _OSC: OS supports [ExtendedConfig ASPM ClockPM Segments MSI HPX-Type3]\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A08:00\n',
  );
});

test('priority, facility, level, seq, usec and flags', () => {
  assert.deepEqual(rec(0), {
    priority: 5,
    facility: 0,
    level: 5,
    seq: 0,
    usecSinceBoot: 0,
    flags: '-',
    message: 'Linux version 6.18.44-fc-v657 (builder@sandboxing) (gcc (GCC) 15.3.0, GNU ld (GNU Binutils) 2.46) #1 SMP PREEMPT_DYNAMIC @0',
    fields: {},
  });
  assert.deepEqual([rec(113).level, rec(113).facility], [0, 0]);
  assert.deepEqual([rec(72).priority, rec(72).level, rec(72).usecSinceBoot], [7, 7, 108013]);
  assert.equal(rec(344).usecSinceBoot, 1323995);
  // Written to /dev/kmsg from user space: <14> is user.info, <30> daemon.info.
  assert.deepEqual([rec(345).priority, rec(345).facility, rec(345).level], [14, 1, 6]);
  assert.deepEqual([rec(346).priority, rec(346).facility, rec(346).level], [30, 3, 6]);
  assert.equal(rec(347).flags, '-'); // the caller= field after the flags is not part of them
  assert.equal(rec(348).flags, 'c');
  assert.equal(rec(73).message, 'pcpu-alloc: [0] 0 1 ', 'trailing space kept');
  assert.equal(rec(195).message, 'acpi PNP0A08:00: PCIe port services disabled; not requesting _OSC control', '; inside the message');
});

test('continuation lines become fields', () => {
  assert.deepEqual(rec(194).fields, { SUBSYSTEM: 'acpi', DEVICE: '+acpi:PNP0A08:00' });
  assert.deepEqual(rec(284).fields, { SUBSYSTEM: 'virtio', DEVICE: '+virtio:virtio1' });
  assert.deepEqual(rec(349).fields, { SUBSYSTEM: 'usb', DEVICE: 'c189:1', DRIVER: 'usb\\storage' });
  assert.equal(rec(284).message, 'virtio_blk virtio1: [vda] 536870912 512-byte logical blocks (275 GB/256 GiB)');
});

test('escapes are decoded: tabs, backslash, UTF-8, invalid bytes, multi-line messages', () => {
  assert.equal(rec(90).message, 'rcu: \tRCU restricting CPUs from NR_CPUS=256 to nr_cpu_ids=2.');
  assert.equal(rec(91).message, '\tTrampoline variant of Tasks RCU enabled.');
  assert.equal(rec(345).message, 'memlog-test: a backslash \\ and a semicolon; in a message written to /dev/kmsg');
  assert.equal(rec(346).message, 'systemd[1]: café costs 3 €, then a bad byte \uFFFD here');
  assert.equal(rec(347).message, 'with a caller field:\ttab and a CR\r');
  assert.equal(rec(287).message, 'amd_pstate: The CPPC feature is supported but currently disabled by the BIOS.\nPlease enable it if your BIOS has the CPPC option.');
  assert.equal(rec(349).message, 'usb 1-1: line one\nline two\nline three');
  // Not an escape: kept as is.
  assert.equal(parseKmsgRecord('6,1,2,-;a \\x4 b \\xzz \\')?.message, 'a \\x4 b \\xzz \\');
  assert.equal(parseKmsgRecord('6,1,2,-;\\x41\\x4a\\x4A')?.message, 'AJJ');
});

test('a string parses as its UTF-8 bytes would', () => {
  for (const r of raw) assert.deepEqual(parseKmsgRecord(r.toString('utf8')), parseKmsgRecord(r));
  assert.equal(parseKmsgRecord('6,1,2,-;raw é')?.message, 'raw é');
});

test('malformed records give undefined, never a throw', () => {
  const bad = [
    '',
    '\n',
    ';',
    'hello',
    '6,1,2;three header fields',
    '6,1,2,-',
    '6,1,2,-\n;semicolon on the next line',
    '-6,1,2,-;negative',
    '6,x,2,-;seq not a number',
    '6,1,2.5,-;usec not whole',
    '6,1,2,;empty flags',
    ' 6,1,2,-;starts with a space',
    '6,99999999999999999999,2,-;seq beyond 2^53',
    '6,1,2,-;two records\n7,2,3,-;run together',
  ];
  for (const text of bad) assert.equal(parseKmsgRecord(text), undefined, JSON.stringify(text));
  // Odd but harmless: an empty message, a continuation line without `=` (skipped).
  assert.equal(parseKmsgRecord('6,1,2,-;')?.message, '');
  assert.deepEqual(parseKmsgRecord('6,1,2,-;m\n NOEQUALS\n K=v=w\n')?.fields, { K: 'v=w' });
  assert.equal(parseKmsgRecord('6,1,2,-;m\n __proto__=x\n')?.fields['__proto__'], 'x');
  // Random mutations of real records.
  let seed = 42;
  const random = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const alphabet = Buffer.from(',;-\\x0aF \n=9');
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.from(raw[random(raw.length)]);
    for (let k = random(4); k >= 0; k--) {
      const at = random(b.length);
      b[at] = random(3) === 0 ? random(256) : alphabet[random(alphabet.length)];
    }
    const cut = b.subarray(0, random(b.length + 1));
    assert.doesNotThrow(() => parseKmsgRecord(cut));
    assert.doesNotThrow(() => parseKmsgRecord(cut.toString('latin1')));
  }
});

test('the splitter gives the same records for any chunking', () => {
  const expected = raw.map((r) => r.toString('latin1'));
  const same = (chunks: Buffer[], what: string): void => {
    const { records: got, malformed } = split(chunks);
    assert.deepEqual(got.map((r) => r.toString('latin1')), expected, what);
    assert.equal(malformed.length, 0, what);
  };
  // Two pieces, cut at every offset.
  for (let at = 0; at <= fixture.length; at++) same([fixture.subarray(0, at), fixture.subarray(at)], `cut at ${at}`);
  // Byte by byte, and in random sizes from the same reused buffer (as a reader's would be).
  same([...fixture].map((b) => Buffer.from([b])), 'byte by byte');
  for (let round = 0; round < 50; round++) {
    const reused = Buffer.alloc(64);
    const { records: got } = (() => {
      const out: Buffer[] = [];
      const splitter = new KmsgSplitter((r) => out.push(r));
      for (let pos = 0; pos < fixture.length; ) {
        const n = Math.min(1 + Math.floor(Math.random() * 64), fixture.length - pos);
        fixture.copy(reused, 0, pos, pos + n);
        splitter.push(reused.subarray(0, n));
        reused.fill(0x21);
        pos += n;
      }
      splitter.end();
      return { records: out };
    })();
    assert.deepEqual(got.map((r) => r.toString('latin1')), expected, `random chunks, round ${round}`);
  }
});

test('the splitter: when a record is complete, stray continuation lines, blank lines, no final newline', () => {
  const got: string[] = [];
  const bad: string[] = [];
  const splitter = new KmsgSplitter(
    (r) => got.push(r.toString()),
    (m) => bad.push(m.toString()),
  );
  splitter.push(Buffer.from(' ORPHAN=1\n6,1,1,-;one\n SUBSYSTEM=pci\n'));
  assert.deepEqual(bad, [' ORPHAN=1\n']);
  assert.deepEqual(got, [], 'more continuation lines may come');
  assert.ok(splitter.pending);
  splitter.push(Buffer.from('6'));
  assert.deepEqual(got, ['6,1,1,-;one\n SUBSYSTEM=pci\n'], 'the next record has started');
  splitter.push(Buffer.from(',2,2,-;two\n\n'));
  assert.equal(got.length, 2, 'a blank line ends the record and is skipped');
  splitter.push(Buffer.from('6,3,3,-;three, no newline'));
  splitter.flush();
  assert.equal(got.length, 2, 'flush hands out complete lines only');
  splitter.end();
  assert.deepEqual(got.slice(2), ['6,3,3,-;three, no newline']);
  assert.ok(!splitter.pending);
});

test('the splitter drops an endless line or record and goes on', () => {
  const got: string[] = [];
  let bad = 0;
  const splitter = new KmsgSplitter(
    (r) => got.push(r.toString()),
    () => bad++,
  );
  const huge = Buffer.alloc(100_000, 0x61);
  splitter.push(Buffer.from('6,1,1,-;'));
  splitter.push(huge);
  splitter.push(huge);
  splitter.push(Buffer.from('\n SUBSYSTEM=x\n6,2,2,-;after a long line\n'));
  splitter.push(Buffer.from('6,3,3,-;many continuation lines\n'));
  for (let i = 0; i < 10_000; i++) splitter.push(Buffer.from(` K${i}=v\n`));
  splitter.push(Buffer.from('6,4,4,-;after many lines\n'));
  splitter.end();
  assert.deepEqual(got, ['6,2,2,-;after a long line\n', '6,4,4,-;after many lines\n']);
  assert.equal(bad, 2);
});

test('upstream format: (<seq>) - <RFC3339Nano boot time + usec>: <message>', () => {
  const boot = 1550851463; // 2019-02-22T16:04:23Z
  assert.equal(
    formatUpstream(rec(0), boot, 123456789),
    '(0) - 2019-02-22T16:04:23.123456789Z: Linux version 6.18.44-fc-v657 (builder@sandboxing) (gcc (GCC) 15.3.0, GNU ld (GNU Binutils) 2.46) #1 SMP PREEMPT_DYNAMIC @0',
  );
  assert.equal(
    formatUpstream(rec(344), boot, 123456789),
    '(344) - 2019-02-22T16:04:24.447451789Z: EXT4-fs (vda): mounted filesystem 00000000-0000-0000-0000-000000000000 r/w without journal. Quota mode: none.',
  );
  // Nanoseconds carry into the seconds; trailing zeros of the fraction are trimmed; none at all without a fraction.
  assert.equal(formatUpstream(rec(119), boot, 900_000_000), '(119) - 2019-02-22T16:04:24.150985Z: Speculative Return Stack Overflow: IBPB-extending microcode not applied!');
  assert.equal(formatUpstream(rec(2), boot, 0), "(2) - 2019-02-22T16:04:23Z: [Firmware Bug]: TSC doesn't count with P0 frequency!");
  // A multi-line message is printed as is; the launcher makes one entry per line.
  assert.equal(
    formatUpstream(rec(287), boot, 0),
    '(287) - 2019-02-22T16:04:23.418428Z: amd_pstate: The CPPC feature is supported but currently disabled by the BIOS.\nPlease enable it if your BIOS has the CPPC option.',
  );
});

/**
 * The signal that ended a process. No timer of its own: a process that never
 * ends fails its test by the test's timeout, and is killed when the test ends.
 */
function exitSignal(t: { after(fn: () => void): void }, proc: ReturnType<typeof spawn>): Promise<NodeJS.Signals | null> {
  t.after(() => void proc.kill('SIGKILL'));
  return new Promise((resolve) => proc.once('exit', (_code, signal) => resolve(signal)));
}

/** Whether one of pid's threads sleeps in a system call on the fd it has open on device (a read of /dev/kmsg waiting for a record). */
function sleepsOn(pid: number, device: string): boolean {
  const fds = fs.readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === device;
    } catch {
      return false;
    }
  });
  const args = new Set(fds.map((fd) => `0x${Number(fd).toString(16)}`));
  // /proc/PID/task/TID/syscall: the call's number, then its arguments; the first argument of a read is the fd.
  return fs.readdirSync(`/proc/${pid}/task`).some((tid) => {
    try {
      return args.has(fs.readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'latin1').split(' ')[1]);
    } catch {
      return false;
    }
  });
}

/** The `(<seq>) - <time>: ` lines of the command's stderr. */
function recordLines(stderr: string): { seq: number; time: string; msg: string }[] {
  const out = [];
  for (const line of stderr.split('\n')) {
    const m = /^\((\d+)\) - (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z): (.*)$/s.exec(line);
    if (m) out.push({ seq: Number(m[1]), time: m[2], msg: m[3] });
  }
  return out;
}

test('memlog-kmsg -follow=false prints the records of a file to stderr and exits 0', async () => {
  const r = await run(process.execPath, [BIN('memlog-kmsg'), '-device', FIXTURE, '-follow=false']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  // Every record is a line, except that multi-line messages (287: 2 lines, 349: 3) print their lines as they are.
  const lines = r.stderr.split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, 33 + 1 + 2);
  const printed = recordLines(r.stderr);
  assert.deepEqual(printed.map((p) => p.seq), [...bySeq.keys()]);
  assert.equal(printed[0].msg, rec(0).message);
  const i287 = lines.findIndex((l) => l.startsWith('(287) - '));
  assert.match(lines[i287], /: amd_pstate: The CPPC feature is supported but currently disabled by the BIOS\.$/);
  assert.equal(lines[i287 + 1], 'Please enable it if your BIOS has the CPPC option.');
  // Times are this machine's boot time plus usec since boot.
  const t0 = Date.parse(printed[0].time);
  const t344 = printed.find((p) => p.seq === 344)?.time as string;
  assert.ok(Math.abs(Date.parse(t344) - t0 - 1324) <= 1, `${printed[0].time} .. ${t344}`);
  assert.ok(Math.abs(t0 - (Date.now() - fs.readFileSync('/proc/uptime', 'latin1').split(' ').map(Number)[0] * 1000)) < 2000);
});

test('memlog kmsg is the same command', async () => {
  const r = await run(process.execPath, [BIN('memlog'), 'kmsg', '-device', FIXTURE, '-follow=false']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(recordLines(r.stderr).length, 33);
});

test('a missing or unusable device is a one-line error, exit 1; bad flags exit 2', async (t) => {
  const dir = tmpdir(t);
  const missing = path.join(dir, 'nothing');
  const r = await run(process.execPath, [BIN('memlog-kmsg'), '-device', missing, '-follow=false']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `memlog-kmsg: cannot read ${missing}: no such file or directory\n`);
  const isDir = await run(process.execPath, [BIN('memlog-kmsg'), '-device', dir]);
  assert.equal(isDir.code, 1);
  assert.equal(isDir.stderr, `memlog-kmsg: cannot read ${dir}: is a directory\n`);
  const extra = await run(process.execPath, [BIN('memlog-kmsg'), '-follow=false', 'extra']);
  assert.equal(extra.code, 2);
  const badFlag = await run(process.execPath, [BIN('memlog-kmsg'), '-follow=maybe']);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /^memlog-kmsg: invalid boolean value "maybe" for flag -follow\n/);
  const help = await run(process.execPath, [BIN('memlog-kmsg'), '-help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /-device PATH\n.*\(default "\/dev\/kmsg"\)\n  -follow\n.*\(default true\)\n/);
});

const kmsgReadable = ((): string | undefined => {
  try {
    fs.accessSync('/dev/kmsg', fs.constants.R_OK);
    fs.closeSync(fs.openSync('/dev/kmsg', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK));
    return undefined;
  } catch (err) {
    return `/dev/kmsg is not readable here (${(err as Error).message})`;
  }
})();

test('reading the live /dev/kmsg with -follow=false: records with increasing seqs, then exit 0', async (t) => {
  if (kmsgReadable) return t.skip(kmsgReadable);
  const r = await run(process.execPath, [BIN('memlog-kmsg'), '-device', '/dev/kmsg', '-follow=false']);
  assert.equal(r.code, 0, r.stderr);
  const printed = recordLines(r.stderr);
  assert.ok(printed.length > 0, 'some records');
  for (let i = 1; i < printed.length; i++) assert.ok(printed[i].seq > printed[i - 1].seq, `seq ${printed[i].seq} after ${printed[i - 1].seq}`);
  assert.doesNotMatch(r.stderr, /^kmsg: /m, 'no warnings');
});

/** The size of every record now in the device, by seq: what one read() of it returns. */
function recordSizes(device: string): Map<number, number> {
  const sizes = new Map<number, number>();
  const fd = fs.openSync(device, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const buf = Buffer.alloc(16 * 1024);
  try {
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buf);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue; // overwritten meanwhile: read on from the oldest left
        if (code === 'EAGAIN') return sizes;
        throw err;
      }
      const record = parseKmsgRecord(buf.subarray(0, n));
      if (record) sizes.set(record.seq, n);
    }
  } finally {
    fs.closeSync(fd);
  }
}

test('the live device through the library: a buffer too small (EINVAL) grows instead of spinning', async (t) => {
  if (kmsgReadable) return t.skip(kmsgReadable);
  const before = recordSizes('/dev/kmsg');
  const warnings: string[] = [];
  const lines: string[] = [];
  const stats = await readKmsg({ path: '/dev/kmsg', follow: false, out: (l) => void lines.push(l), warn: (m) => warnings.push(m), readBufferSize: 8 });
  assert.ok(stats.records > 0 && stats.records === lines.length);
  assert.equal(stats.malformed, 0);
  // Every warning is one growth, by four, from the size the one before grew to: no size is tried twice.
  let size = 8;
  for (const w of warnings) {
    assert.equal(w, `a record did not fit in ${size} bytes (EINVAL); reading it again with ${size * 4}`);
    size *= 4;
  }
  // As many growths as the longest record needs, not one more: it fits in the final size, not in the one before.
  // (Some kernels move past a record that did not fit: the longest is taken over the device, up to the last record read.)
  const after = recordSizes('/dev/kmsg');
  const last = Number(/^\((\d+)\) - /.exec(lines.at(-1) as string)?.[1]);
  const longest = Math.max(...[...after].filter(([seq]) => seq <= last).map(([, n]) => n));
  const oldest = (m: Map<number, number>): number | undefined => m.keys().next().value;
  if (oldest(before) !== oldest(after)) return t.diagnostic('the kernel dropped old records meanwhile: growth not compared with record sizes');
  assert.ok(longest <= size && longest > size / 4, `${warnings.length} growths, to ${size} bytes, for a longest record of ${longest} bytes`);
});

test('following the live device: a SIGTERM ends the command at once, even while a read waits for the kernel', { timeout: 60_000 }, async (t) => {
  if (kmsgReadable) return t.skip(kmsgReadable);
  const proc = spawn(process.execPath, [BIN('memlog-kmsg'), '-device', '/dev/kmsg'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = exitSignal(t, proc);
  await waitFor('the first records', () => err.startsWith('('));
  await waitFor('a read of /dev/kmsg waiting for the next record', () => sleepsOn(proc.pid as number, '/dev/kmsg'), 30_000);
  assert.equal(proc.exitCode, null, 'still following');
  proc.kill('SIGTERM');
  // Ended by the signal itself: no handler that would wait for the pending read (which could wait for ever).
  assert.equal(await exited, 'SIGTERM');
});

test('following the live device with an AbortSignal: abort ends readKmsg and leaves nothing pending', { timeout: 60_000 }, async (t) => {
  if (kmsgReadable) return t.skip(kmsgReadable);
  // In a child that must then exit by itself: a read left pending would keep it alive. It aborts once it has
  // printed the last record the device held when it started, so that it is following at the end by then.
  const script = `
    import fs from 'node:fs';
    import { readKmsg } from ${JSON.stringify(path.join(ROOT, 'dist/src/kmsg/reader.js'))};
    import { parseKmsgRecord } from ${JSON.stringify(path.join(ROOT, 'dist/src/kmsg/record.js'))};
    const fd = fs.openSync('/dev/kmsg', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const buf = Buffer.alloc(16384);
    let last = -1;
    for (;;) {
      try { last = parseKmsgRecord(buf.subarray(0, fs.readSync(fd, buf)))?.seq ?? last; }
      catch (err) { if (err.code === 'EAGAIN') break; if (err.code !== 'EPIPE') throw err; }
    }
    fs.closeSync(fd);
    const ac = new AbortController();
    let n = 0;
    const done = readKmsg({ path: '/dev/kmsg', follow: true, signal: ac.signal, warn: () => {}, out: (line) => {
      n++;
      if (Number(/^\\((\\d+)\\)/.exec(line)[1]) >= last) setImmediate(() => ac.abort());
    } });
    const stats = await done;
    console.log(JSON.stringify({ n, records: stats.records }));
  `;
  const child = await run(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 50_000 });
  assert.equal(child.code, 0, child.stderr);
  const result = JSON.parse(child.stdout) as { n: number; records: number };
  assert.ok(result.n > 0 && result.n === result.records);
});

test('when its stderr goes away, the command dies of SIGTERM (upstream: of SIGPIPE)', { timeout: 60_000 }, async (t) => {
  const file = path.join(tmpdir(t), 'records.txt');
  fs.writeFileSync(file, '6,1,1,-;first\n');
  const proc = spawn(process.execPath, [BIN('memlog-kmsg'), '-device', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = exitSignal(t, proc);
  await new Promise((resolve) => proc.stderr.once('data', resolve));
  proc.stderr.destroy();
  fs.appendFileSync(file, '6,2,2,-;second\n');
  assert.equal(await exited, 'SIGTERM');
});

test('a permission error names CAP_SYSLOG in one line', async (t) => {
  const restricted = (() => {
    try {
      return fs.readFileSync('/proc/sys/kernel/dmesg_restrict', 'latin1').trim() === '1';
    } catch {
      return false;
    }
  })();
  if (!restricted) return t.skip('needs kernel.dmesg_restrict=1 for an unprivileged user to be refused');
  const nobody = await asNobody(t);
  if (typeof nobody === 'string') return t.skip(nobody);
  const r = await run(...nobody.command('memlog-kmsg', ['-device', '/dev/kmsg', '-follow=false']));
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, 'memlog-kmsg: cannot read /dev/kmsg: permission denied (reading the kernel log needs CAP_SYSLOG)\n');
});

test('following a file: appended records are printed, a record is held until complete, abort ends it', async (t) => {
  const file = path.join(tmpdir(t), 'records.txt');
  fs.writeFileSync(file, '6,1,1000000,-;first\n');
  const lines: string[] = [];
  const ac = new AbortController();
  const done = readKmsg({ path: file, follow: true, signal: ac.signal, out: (l) => void lines.push(l), warn: () => {}, bootTime: { sec: 1550851463, nsec: 0 } });
  await waitFor('the first record', () => lines.length === 1);
  assert.equal(lines[0], '(1) - 2019-02-22T16:04:24Z: first');
  fs.appendFileSync(file, '6,2,2000000,-;second\\x0awith two lines\n');
  fs.appendFileSync(file, ' SUBSYSTEM=pci\n6,5,2500000,-;third');
  fs.appendFileSync(file, ', after a gap\n');
  await waitFor('the appended records', () => lines.length === 3);
  assert.deepEqual(lines.slice(1), ['(2) - 2019-02-22T16:04:25Z: second\nwith two lines', '(5) - 2019-02-22T16:04:25.5Z: third, after a gap']);
  ac.abort();
  const stats = await done;
  assert.deepEqual(stats, { records: 3, skipped: 2, malformed: 0 });
});

test('memlog-kmsg under the launcher: entries with source kmsg in memlogd', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const r = await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'kmsg', process.execPath, BIN('memlog-kmsg'), '-device', FIXTURE, '-follow=false']);
  assert.equal(r.code, 0, r.stderr);
  const msgs = await waitFor('36 kmsg entries', async () => {
    const m = messagesOf(await dump(daemon.querySocket), 'kmsg');
    return m.length >= 36 && m;
  });
  assert.equal(msgs.length, 36);
  assert.deepEqual(recordLines(msgs.join('\n')).map((p) => p.seq), [...bySeq.keys()]);
  const i287 = msgs.findIndex((m) => m.startsWith('(287) - '));
  assert.equal(msgs[i287 + 1], 'Please enable it if your BIOS has the CPPC option.');
  assert.match(msgs.at(-3) as string, /^\(349\) - \S+Z: usb 1-1: line one$/);
  assert.deepEqual(msgs.slice(-2), ['line two', 'line three']);
  assert.deepEqual(messagesOf(await dump(daemon.querySocket), 'kmsg.out'), []);
});
