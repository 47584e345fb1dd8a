import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ring } from '../src/ring/ring.js';
import { SourceTable } from '../src/ring/sources.js';
import { LineSplitter } from '../src/inputs/line-splitter.js';

function newRing(maxLines: number, maxBytes: number, maxLineLen = 1024): Ring {
  return new Ring({ maxLines, maxBytes, maxLineLen }, new SourceTable());
}

function held(ring: Ring): string[] {
  const out: string[] = [];
  for (let seq = ring.first; seq < ring.next; seq++) out.push(ring.message(seq).toString());
  return out;
}

function appendText(ring: Ring, source: number, text: string): void {
  const b = Buffer.from(text);
  ring.append(source, 1, 0, b, 0, b.length);
}

test('the ring keeps the newest max-lines entries, oldest dropped first', () => {
  const ring = newRing(3, 1 << 20);
  const src = ring.sources.acquire('a').id;
  for (let i = 0; i < 10; i++) appendText(ring, src, `line ${i}`);
  assert.deepEqual(held(ring), ['line 7', 'line 8', 'line 9']);
  assert.equal(ring.first, 7);
  assert.equal(ring.next, 10);
  assert.equal(ring.evicted, 7);
});

test('the ring keeps within max-bytes, wrapping its arena, whatever the sizes', () => {
  const ring = newRing(1000, 100, 40);
  const src = ring.sources.acquire('a').id;
  const all: string[] = [];
  for (let i = 0; i < 500; i++) {
    const text = `${i}:` + 'x'.repeat((i * 7919) % 38);
    all.push(text);
    appendText(ring, src, text);
    assert.ok(ring.bytes <= 100, `holds ${ring.bytes} bytes`);
    const h = held(ring);
    // What is held is always the newest entries, intact and in order.
    assert.deepEqual(h, all.slice(all.length - h.length));
  }
});

test('empty messages are entries too, and never corrupt their neighbours', () => {
  const ring = newRing(50, 64, 16);
  const src = ring.sources.acquire('a').id;
  const all: string[] = [];
  for (let i = 0; i < 300; i++) {
    const text = i % 3 === 0 ? '' : `m${i}`;
    all.push(text);
    appendText(ring, src, text);
    const h = held(ring);
    assert.deepEqual(h, all.slice(all.length - h.length));
  }
});

test('a source name is freed once no stream, no entry and no loss record refers to it', () => {
  const ring = newRing(2, 1024);
  const a = ring.sources.acquire('a');
  appendText(ring, a.id, 'one');
  ring.sources.release(a.id); // the stream ended; the entry still holds it
  assert.equal(ring.sources.get(a.id).name, 'a');
  const b = ring.sources.acquire('b').id;
  const c = ring.sources.acquire('c').id;
  appendText(ring, b, 'two');
  appendText(ring, b, 'three'); // pushes out the entry of "a"
  // Its name is still needed to say whose entries were dropped.
  assert.deepEqual([...ring.dropped(0, 1).bySource], [['a', 1]]);
  // Once thousands of later drops have pushed that record out, the name goes.
  for (let i = 0; i < 5000; i++) appendText(ring, i % 2 === 0 ? b : c, `x${i}`);
  assert.equal(ring.sources.size, 2);
  assert.equal(ring.dropped(0, 1).unknown, 1);
});

function split(chunks: (string | Buffer)[], maxLineLen = 1024): string[] {
  const ring = newRing(10_000, 1 << 20, maxLineLen);
  const src = ring.sources.acquire('s').id;
  const splitter = new LineSplitter(ring, src, maxLineLen);
  for (const c of chunks) splitter.push(typeof c === 'string' ? Buffer.from(c) : c, 1, 0);
  splitter.end(1, 0);
  return held(ring);
}

test('lines split the same however the stream is chunked', () => {
  const text = 'alpha\nbeta\n\ngamma delta\nfinal fragment';
  const whole = split([text]);
  assert.deepEqual(whole, ['alpha', 'beta', '', 'gamma delta', 'final fragment']);
  for (let size = 1; size <= text.length; size++) {
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
    assert.deepEqual(split(chunks), whole, `chunks of ${size}`);
  }
});

test('a line longer than max-line-len keeps its first max-line-len bytes, the rest is dropped', () => {
  const line = 'a'.repeat(10) + 'b'.repeat(10);
  for (let size = 1; size <= 25; size++) {
    const text = `short\n${line}\nafter\n${'c'.repeat(10)}\n${'d'.repeat(11)}`;
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
    assert.deepEqual(split(chunks, 10), ['short', 'a'.repeat(10), 'after', 'c'.repeat(10), 'd'.repeat(10)], `chunks of ${size}`);
  }
});

test('a writer that never sends a newline costs at most max-line-len bytes', () => {
  const ring = newRing(100, 1 << 16, 1024);
  const splitter = new LineSplitter(ring, ring.sources.acquire('s').id, 1024);
  const chunk = Buffer.alloc(65536, 0x78);
  for (let i = 0; i < 1024; i++) splitter.push(chunk, 1, 0); // 64 MiB
  assert.equal(ring.count, 1);
  assert.equal(ring.message(0).length, 1024);
  assert.equal(splitter.truncated, 1);
});

test('every entry keeps its own receipt time, whatever runs of shared times and evictions', () => {
  const ring = newRing(50, 4096, 64);
  const src = ring.sources.acquire('t').id;
  const times: [number, number][] = [];
  let sec = 1000;
  let nsec = 0;
  for (let i = 0; i < 2000; i++) {
    if ((i * 7919) % 5 === 0) nsec += 1 + (i % 3); // runs of 1 to 5 entries share a time
    if (nsec >= 1e9) {
      sec++;
      nsec = 0;
    }
    const b = Buffer.from(`e${i}`);
    ring.append(src, sec, nsec, b, 0, b.length);
    times.push([sec, nsec]);
    // Look entries up in order and out of order, as readers do.
    const seqs = [ring.first, ring.next - 1, ring.first + ((i * 31) % ring.count)];
    for (let s = ring.first; s < ring.next; s++) seqs.push(s);
    for (const s of seqs) assert.deepEqual([ring.sec(s), ring.nsec(s)], times[s], `entry ${s} after ${i + 1} appends`);
  }
});

test('more than 65,536 sources: ids past 16 bits widen the ring, and every entry keeps its source', () => {
  const ring = newRing(10, 1 << 20);
  const first = ring.sources.acquire('first').id;
  appendText(ring, first, 'from the first source');
  let last = first;
  for (let i = 0; i < 70_000; i++) last = ring.sources.acquire(`s${i}`).id;
  assert.ok(last > 0xffff, `id ${last}`);
  appendText(ring, last, 'from the last source');
  assert.equal(ring.sources.get(ring.sourceId(ring.first)).name, 'first');
  assert.equal(ring.sources.get(ring.sourceId(ring.first + 1)).name, 's69999');
});
