/** Writes a seal trailer (sorted index pages, page CRCs, fences, bloom, footer) after a segment's data. */
import {
  BLOOM_BITS_PER_KEY,
  BLOOM_K,
  ENTRIES_PER_PAGE,
  INDEX_ENTRY_SIZE,
  PAGE_SIZE,
} from './constants.js';
import { bloomAdd } from './bloom.js';
import { crc32 } from './crc.js';
import type { FileIO } from './file-io.js';
import { writeEntry, type IndexEntry } from './index-entry.js';
import { encodeFooter } from './segment-format.js';

/** Summary facts the footer records beside the index. */
export interface TrailerFacts {
  readonly dataEnd: number;
  readonly minTid: bigint;
  readonly maxTid: bigint;
  readonly maxOid: bigint;
  readonly txnCount: number;
}

/** Streams sorted entries into index pages; memory is one page plus bloom and fences. */
export class TrailerWriter {
  readonly indexOff: number;
  private readonly page = Buffer.alloc(PAGE_SIZE);
  private inPage = 0;
  private count = 0;
  private pos: number;
  private readonly pageCrcs: number[] = [];
  private readonly fences: bigint[] = [];
  private readonly bloomBits: number;
  private readonly bloom: Uint8Array;
  private lastOid = -1n;

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
    this.bloomBits = Math.max(64, Math.ceil(maxCount * BLOOM_BITS_PER_KEY));
    this.bloom = new Uint8Array(Math.ceil(this.bloomBits / 8));
    if (this.indexOff > dataEnd) io.writeAt(fd, Buffer.alloc(this.indexOff - dataEnd), dataEnd, path);
  }

  /** Adds the next entry; oids must strictly increase. */
  add(e: IndexEntry): void {
    if (e.oid <= this.lastOid) throw new Error(`index entries out of order at oid ${e.oid}`);
    this.lastOid = e.oid;
    if (this.inPage === 0) this.fences.push(e.oid);
    writeEntry(this.page, this.inPage * INDEX_ENTRY_SIZE, e);
    bloomAdd(this.bloom, this.bloomBits, BLOOM_K, e.oid);
    this.inPage++;
    this.count++;
    if (this.inPage === ENTRIES_PER_PAGE) this.flushPage();
  }

  private flushPage(): void {
    const bytes = this.page.subarray(0, this.inPage * INDEX_ENTRY_SIZE);
    this.pageCrcs.push(crc32(bytes));
    this.io.writeAt(this.fd, bytes, this.pos, this.path);
    this.pos += bytes.length;
    this.inPage = 0;
  }

  /** Writes page CRCs, fences, bloom and footer; returns the file's final size. */
  finish(facts: TrailerFacts): number {
    if (this.inPage > 0) this.flushPage();
    const pages = this.pageCrcs.length;
    const meta = Buffer.alloc(pages * 12 + this.bloom.length);
    for (let i = 0; i < pages; i++) meta.writeUInt32BE(this.pageCrcs[i]!, i * 4);
    for (let i = 0; i < pages; i++) meta.writeBigUInt64BE(this.fences[i]!, pages * 4 + i * 8);
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
    this.io.writeAt(this.fd, Buffer.concat([meta, footer]), this.pos, this.path);
    return this.pos + meta.length + footer.length;
  }
}
