/**
 * Source names, interned. The ring stores a small id per entry instead of the
 * name; the table keeps each name once, already JSON-escaped for the wire.
 * A name is freed when no live stream and no entry in the ring refers to it, so
 * a sender inventing a new name per datagram cannot grow the table forever.
 */
import { escapeJsonBuffer } from '../entry/json-escape.js';

export interface Source {
  readonly id: number;
  /** Who handed the stream over (kernel-reported), when known. */
  readonly sender?: { pid: number; uid: number; gid: number };
  /** Extra JSON fields of its entries (`,"pid":1,"uid":0,"gid":0`), or empty. */
  readonly extra: Buffer;
  /** The name as text (invalid UTF-8 already replaced). */
  readonly name: string;
  /** Name and sender: what tells this source from another of the same name. */
  readonly key: string;
  /** The name as a JSON string body, ready to copy into an entry. */
  readonly json: Buffer;
}

const RECENT_SLOTS = 64;

export class SourceTable {
  private readonly byName = new Map<string, Source>();
  private byId: (Source | undefined)[] = [];
  private refs = new Int32Array(64);
  private readonly freeIds: number[] = [];
  /** Goes up whenever an id is freed, so that caches keyed by id know to forget it. */
  generation = 0;
  /**
   * Sources with a sender lately acquired, by a hash of pid and name: a
   * sender's next message finds its source without building the key string
   * (syslog datagrams acquire once per message). A slot is trusted only while
   * its source is still the one registered under its id.
   */
  private readonly recent: (Source | undefined)[] = new Array<Source | undefined>(RECENT_SLOTS).fill(undefined);

  /** Returns the source for a name, with one more reference held by the caller. */
  /**
   * The source for a name (and sender: streams of one name from different
   * senders are different sources, each entry saying who sent it), with one
   * more reference held by the caller.
   */
  acquire(name: string, sender?: readonly [number, number, number]): Source {
    let slot = -1;
    if (sender) {
      slot = (sender[0] ^ name.length) & (RECENT_SLOTS - 1);
      const hit = this.recent[slot];
      const from = hit?.sender;
      if (hit !== undefined && from !== undefined && this.byId[hit.id] === hit && from.pid === sender[0] && from.uid === sender[1] && from.gid === sender[2] && hit.name === name) {
        this.refs[hit.id]++;
        return hit;
      }
    }
    const key = sender ? `${name}\0${sender[0]}\0${sender[1]}\0${sender[2]}` : name;
    let source = this.byName.get(key);
    if (!source) {
      const id = this.freeIds.length > 0 ? (this.freeIds.pop() as number) : this.byId.length;
      source = {
        id,
        name,
        key,
        json: escapeJsonBuffer(Buffer.from(name, 'utf8')),
        sender: sender ? { pid: sender[0], uid: sender[1], gid: sender[2] } : undefined,
        extra: Buffer.from(sender ? `,"pid":${sender[0]},"uid":${sender[1]},"gid":${sender[2]}` : ''),
      };
      if (id >= this.refs.length) {
        const grown = new Int32Array(this.refs.length * 2);
        grown.set(this.refs);
        this.refs = grown;
      }
      this.byId[id] = source;
      this.byName.set(key, source);
    }
    this.refs[source.id]++;
    if (slot >= 0) this.recent[slot] = source;
    return source;
  }

  /** Adds a reference by id (the ring calls this once per stored entry). */
  retain(id: number): void {
    this.refs[id]++;
  }

  release(id: number): void {
    if (--this.refs[id] === 0) {
      const source = this.byId[id] as Source;
      this.byName.delete(source.key);
      this.byId[id] = undefined;
      this.freeIds.push(id);
      this.generation++;
    }
  }

  get(id: number): Source {
    const source = this.byId[id];
    if (!source) throw new Error(`no source with id ${id}`);
    return source;
  }

  get size(): number {
    return this.byName.size;
  }
}
