/** On-disk constants of the FileStorage2 format (see FORMAT.md, "Constants"). */

/** Magic at byte 0 of every segment file. */
export const SEGMENT_MAGIC = Buffer.from('HFS2SEG\0', 'latin1');
/** Magic at byte 0 of the footer of a sealed segment. */
export const FOOTER_MAGIC = Buffer.from('HFS2IDX\0', 'latin1');
/** Format version written in segment headers. */
export const FORMAT_VERSION = 2;
/** Size of the segment header. */
export const SEGMENT_HEADER_SIZE = 64;
/** Size of the footer ending a sealed segment. */
export const FOOTER_SIZE = 80;
/** Magic of a transaction record: ASCII "TXN2" read as a big-endian u32. */
export const TXN_MAGIC = 0x54584e32;
/** Fixed part of a transaction record before its metadata. */
export const TXN_HEADER_SIZE = 30;
/** crc u32 + total length u32 after the data records of a transaction. */
export const TXN_TRAILER_SIZE = 8;
/** Fixed part of a data record before its payload. */
export const RECORD_HEADER_SIZE = 41;
/** The crc u32 closing every data record. */
export const RECORD_TRAILER_SIZE = 4;
/** Data record flag: this revision is a delete marker. */
export const RECORD_FLAG_DELETE = 1;
/** Segment header flag: written by pack. */
export const SEGMENT_FLAG_PACKED = 1;
/**
 * Segment header flag: the transactions of this segment record sync boundaries
 * (TXN_FLAG_SYNCED_BEFORE), so that recovery can cut a torn write batch (FORMAT.md §9).
 */
export const SEGMENT_FLAG_SYNC_MARKS = 2;
/**
 * Segment header flag: the header's u32 at byte 56 holds the low 32 bits of the data end of the
 * segment `prevSeq` when commits moved on to this one, so that open can tell an interrupted seal
 * from an earlier segment that lost transactions at its end (FORMAT.md §9, step 6).
 */
export const SEGMENT_FLAG_PREV_END = 4;
/**
 * Transaction flag (byte 17): every byte of the segment before this transaction was durable
 * (an fdatasync had completed) before this transaction's write was issued.
 */
export const TXN_FLAG_SYNCED_BEFORE = 1;
/** Offset of the transaction flags byte in a transaction header. */
export const TXN_FLAGS_AT = 17;
/** Transaction status of a normal commit. */
export const STATUS_COMMITTED = 0x20; // ' '
/** Transaction status of a transaction rewritten by pack. */
export const STATUS_PACKED = 0x70; // 'p'
/** Size of an index page. */
export const PAGE_SIZE = 4096;
/** Size of one index entry: oid, newest tid, oldest tid, offset (48 bit) + flags (16 bit). */
export const INDEX_ENTRY_SIZE = 32;
/** Index entries per page. */
export const ENTRIES_PER_PAGE = PAGE_SIZE / INDEX_ENTRY_SIZE;
/** Index entry flag: the newest revision in this segment is a delete marker. */
export const ENTRY_FLAG_DELETE = 1;
/** Bloom filter bits per key. */
export const BLOOM_BITS_PER_KEY = 10;
/** Bloom filter probes per key. */
export const BLOOM_K = 7;
/** Active segments grow their preallocated size (ftruncate) by this much at a time. */
export const PREALLOC_CHUNK = 4 * 1024 * 1024;
/** Default size after which the active segment is sealed. */
export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;
/** Largest user or description length (u16 field). */
export const MAX_META_FIELD = 0xffff;
/** Largest data or refs payload of one record. */
export const MAX_PAYLOAD = 0x7fffffff;
/** Largest offset an index entry can hold (48 bits). */
export const MAX_OFFSET = 2 ** 48 - 1;
/** Name of the lock file in a storage directory. */
export const LOCK_FILE = 'LOCK';
