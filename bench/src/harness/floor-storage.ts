/**
 * The commit floor: what a durable commit of the benchmark's shape costs with no storage engine at
 * all. The same harness calls (newOid and store per record, tpcBegin, tpcVote, tpcFinish, each
 * awaited) reach an object that only counts the bytes a record would take; tpcFinish writes that
 * many bytes into a zero-filled file and fdatasyncs them on the calling thread. No engine can
 * commit faster through the async Storage API than this.
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import type { Oid, RecordInput, StorageTransaction, Tid } from '@handlerton/framework';
import type { CommitApi } from './records.js';

/** Bytes a FileStorage2 data record adds around its data (header, empty refs, checksum). */
const RECORD_OVERHEAD = 53;
/** Bytes of a FileStorage2 transaction's header, metadata and trailer, as the benchmark commits them. */
const TXN_OVERHEAD = 48;
/** Zero-filled bytes prepared ahead of the writes. */
const PREPARED = 256 * 1024 * 1024;

/** A Storage-shaped object that only writes and fdatasyncs each commit's byte count. */
export class FloorStorage implements CommitApi {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(4 * 1024 * 1024, 0x5a);
  private nextOid = 1n;
  private pending = 0;
  private pos = 0;

  constructor(file: string) {
    this.fd = openSync(file, 'w+');
    const zeros = Buffer.alloc(1024 * 1024);
    for (let at = 0; at < PREPARED; at += zeros.length) writeSync(this.fd, zeros, 0, zeros.length, at);
    fdatasyncSync(this.fd);
  }

  async newOid(): Promise<Oid> {
    return this.nextOid++;
  }

  async tpcBegin(_txn: StorageTransaction): Promise<Tid> {
    this.pending = TXN_OVERHEAD;
    return 1n;
  }

  async store(_oid: Oid, _serial: Tid, record: RecordInput, _txn: StorageTransaction): Promise<void> {
    this.pending += RECORD_OVERHEAD + record.data.length;
  }

  async tpcVote(_txn: StorageTransaction): Promise<void> {}

  async tpcFinish(_txn: StorageTransaction): Promise<Tid> {
    const n = Math.min(this.pending, this.buf.length);
    if (this.pos + n > PREPARED) this.pos = 0;
    writeSync(this.fd, this.buf, 0, n, this.pos);
    this.pos += n;
    fdatasyncSync(this.fd);
    await new Promise<void>((resolve) => setImmediate(resolve));
    return 1n;
  }

  async tpcAbort(_txn: StorageTransaction): Promise<void> {}

  /** Closes the file (the caller removes it). */
  close(): void {
    closeSync(this.fd);
  }
}
