/** A fixed-size LRU of index pages shared by the sealed segments of one storage, in one preallocated slab. */
import { PAGE_SIZE } from './constants.js';

/** Page numbers per segment uid in the key space. */
export const PAGE_KEY_SPAN = 2 ** 30;

/** LRU map from a numeric page key to a slot of the slab; no allocation per page. */
export class PageCache {
  private readonly slab: Buffer;
  /** key -> slot, in least- to most-recently-used order. */
  private readonly slots = new Map<number, number>();
  private readonly lengths: Uint16Array;
  private readonly free: number[] = [];

  constructor(capacity: number) {
    // not zero-filled: the OS commits the slab's memory only as pages are cached
    this.slab = Buffer.allocUnsafeSlow(capacity * PAGE_SIZE);
    this.lengths = new Uint16Array(capacity);
    for (let i = capacity - 1; i >= 0; i--) this.free.push(i);
  }

  /** The cached page (a view valid until the next `reserve`), refreshed as most recently used. */
  get(key: number): Buffer | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    this.slots.delete(key);
    this.slots.set(key, slot);
    const at = slot * PAGE_SIZE;
    return this.slab.subarray(at, at + this.lengths[slot]!);
  }

  /** A slot for `key` of `length` bytes (evicting the least recently used); fill it, then `commit` it. */
  reserve(length: number): { slot: number; bytes: Buffer } {
    let slot = this.free.pop();
    if (slot === undefined) {
      const [oldKey, oldSlot] = this.slots.entries().next().value as [number, number];
      this.slots.delete(oldKey);
      slot = oldSlot;
    }
    const at = slot * PAGE_SIZE;
    return { slot, bytes: this.slab.subarray(at, at + length) };
  }

  /** Publishes a filled slot under `key`. */
  commit(key: number, slot: number, length: number): void {
    this.lengths[slot] = length;
    this.slots.set(key, slot);
  }

  /** Gives back a reserved slot that was not filled (a failed read). */
  abandon(slot: number): void {
    this.free.push(slot);
  }

  /** Drops every page of a segment (its key prefix). */
  dropSegment(uid: number): void {
    for (const [key, slot] of this.slots) {
      if (Math.floor(key / PAGE_KEY_SPAN) === uid) {
        this.slots.delete(key);
        this.free.push(slot);
      }
    }
  }
}
