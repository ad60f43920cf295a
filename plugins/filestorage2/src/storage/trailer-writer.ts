/** Writes a seal trailer (sorted index pages, page CRCs, fences, bloom, footer) after a segment's data. */
import {
  BLOOM_BITS_PER_KEY,
  BLOOM_K,
  ENTRIES_PER_PAGE,
  ENTRY_FLAG_DELETE,
  INDEX_ENTRY_SIZE,
  PAGE_SIZE,
} from './constants.js';
import { bloomAddHiLo } from './bloom.js';
import { crc32 } from './crc.js';
import type { FileIO } from './file-io.js';
import { encodeFooter } from './segment-format.js';

/** Summary facts the footer records beside the index. */
export interface TrailerFacts {
  readonly dataEnd: number;
  readonly minTid: bigint;
  readonly maxTid: bigint;
  readonly maxOid: bigint;
  readonly txnCount: number;
}

/** Index pages buffered before one write. */
const PAGES_PER_WRITE = 64;
const TWO_32 = 0x100000000;

/**
 * Streams sorted entries into index pages with number arithmetic (no BigInt per entry); memory is
 * a few pages plus bloom and fences.
 */
export class TrailerWriter {
  readonly indexOff: number;
  private readonly buf = Buffer.alloc(PAGE_SIZE * PAGES_PER_WRITE);
  private readonly view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  /** Entries in `buf` not yet written. */
  private inBuf = 0;
  private count = 0;
  private pos: number;
  private readonly pageCrcs: number[] = [];
  /** High and low halves of each page's first oid. */
  private readonly fences: number[] = [];
  private readonly bloomBits: number;
  private readonly bloom: Uint8Array;
  private lastHi = -1;
  private lastLo = -1;
  /** The last tid converted to halves (consecutive entries mostly share tids). */
  private tidValue = -1n;
  private tidHi = 0;
  private tidLo = 0;

  /** `maxCount` bounds the entries to come (sizes the bloom filter). */
  constructor(
    private readonly io: FileIO,
    private readonly fd: number,
    private readonly path: string,
    dataEnd: number,
    maxCount: number,
  ) {
    this.indexOff = Math.ceil(dataEnd / PAGE_SIZE) * PAGE_SIZE;
    this.pos = this.indexOff;
    this.bloomBits = Math.max(64, Math.ceil(maxCount * BLOOM_BITS_PER_KEY)) >>> 0;
    this.bloom = new Uint8Array(Math.ceil(this.bloomBits / 8));
    if (this.indexOff > dataEnd) io.writeAt(fd, Buffer.alloc(this.indexOff - dataEnd), dataEnd, path);
  }

  /** Adds the entry of oid `oidHi * 2^32 + oidLo`; oids must strictly increase. */
  add(oidHi: number, oidLo: number, tid: bigint, oldest: bigint, off: number, deleted: boolean): void {
    if (oidHi < this.lastHi || (oidHi === this.lastHi && oidLo <= this.lastLo)) {
      throw new Error(`index entries out of order at oid ${oidHi * TWO_32 + oidLo}`);
    }
    this.lastHi = oidHi;
    this.lastLo = oidLo;
    const v = this.view;
    const at = this.inBuf * INDEX_ENTRY_SIZE;
    if (this.count % ENTRIES_PER_PAGE === 0) this.fences.push(oidHi, oidLo);
    v.setUint32(at, oidHi);
    v.setUint32(at + 4, oidLo);
    this.setTid(at + 8, tid);
    this.setTid(at + 16, oldest);
    v.setUint16(at + 24, Math.floor(off / TWO_32));
    v.setUint32(at + 26, off >>> 0);
    v.setUint16(at + 30, deleted ? ENTRY_FLAG_DELETE : 0);
    bloomAddHiLo(this.bloom, this.bloomBits, BLOOM_K, oidHi, oidLo);
    this.inBuf++;
    this.count++;
    if (this.inBuf === ENTRIES_PER_PAGE * PAGES_PER_WRITE) this.flush();
  }

  private setTid(at: number, tid: bigint): void {
    if (tid !== this.tidValue) {
      this.tidValue = tid;
      this.tidHi = Number(tid >> 32n);
      this.tidLo = Number(tid & 0xffffffffn);
    }
    this.view.setUint32(at, this.tidHi);
    this.view.setUint32(at + 4, this.tidLo);
  }

  /** Writes the buffered entries; every page but the very last one is full. */
  private flush(): void {
    const bytes = this.buf.subarray(0, this.inBuf * INDEX_ENTRY_SIZE);
    for (let p = 0; p < bytes.length; p += PAGE_SIZE) this.pageCrcs.push(crc32(bytes.subarray(p, Math.min(p + PAGE_SIZE, bytes.length))));
    this.io.writeAt(this.fd, bytes, this.pos, this.path);
    this.pos += bytes.length;
    this.inBuf = 0;
  }

  /**
   * Writes page CRCs, fences and bloom; returns the file's final size and the footer, which the
   * caller writes at `size - FOOTER_SIZE` once everything before it is durable.
   */
  finish(facts: TrailerFacts): { size: number; footer: Buffer } {
    if (this.inBuf > 0) this.flush();
    const pages = this.pageCrcs.length;
    const meta = Buffer.alloc(pages * 12 + this.bloom.length);
    for (let i = 0; i < pages; i++) {
      meta.writeUInt32BE(this.pageCrcs[i]!, i * 4);
      meta.writeUInt32BE(this.fences[2 * i]!, pages * 4 + i * 8);
      meta.writeUInt32BE(this.fences[2 * i + 1]!, pages * 4 + i * 8 + 4);
    }
    meta.set(this.bloom, pages * 12);
    const footer = encodeFooter({
      dataEnd: facts.dataEnd,
      indexOff: this.indexOff,
      count: this.count,
      minTid: facts.minTid,
      maxTid: facts.maxTid,
      maxOid: facts.maxOid,
      txnCount: facts.txnCount,
      bloomBits: this.bloomBits,
      bloomK: BLOOM_K,
      metaCrc: crc32(meta),
    });
    this.io.writeAt(this.fd, meta, this.pos, this.path);
    return { size: this.pos + meta.length + footer.length, footer };
  }
}
