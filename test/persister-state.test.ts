import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { StateStore, STATE_FILES } from '../src/persist/state.js';
import { tmpdir } from './helpers.js';

test('the resume state survives a torn save: the other slot is used', (t) => {
  const dir = tmpdir(t);
  const store = new StateStore(dir);
  store.load(() => {});
  for (let seq = 1; seq <= 3; seq++) store.save({ daemon: 'd', seq, files: { svc: { size: seq * 10, seq } } });
  store.close();
  assert.equal(new StateStore(dir).load(() => {}).seq, 3);
  // Tear the newest record (generation 3 lives in slot 1) as a crash mid-write would.
  const newest = path.join(dir, STATE_FILES[1]);
  fs.writeFileSync(newest, fs.readFileSync(newest, 'utf8').slice(0, 20));
  const warnings: string[] = [];
  const loaded = new StateStore(dir).load((m) => warnings.push(m));
  assert.deepEqual(loaded, { daemon: 'd', seq: 2, files: { svc: { size: 20, seq: 2 } } });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /not usable \(bad checksum\)/);
});

test('no state at all is an empty state; a new save after loading goes on from the newest generation', (t) => {
  const dir = tmpdir(t);
  const store = new StateStore(dir);
  assert.deepEqual(store.load(() => {}), { seq: -1, files: {} });
  store.save({ seq: 7, files: {} });
  store.close();
  const again = new StateStore(dir);
  assert.equal(again.load(() => {}).seq, 7);
  again.save({ seq: 8, files: {} });
  again.close();
  assert.equal(new StateStore(dir).load(() => {}).seq, 8);
});
