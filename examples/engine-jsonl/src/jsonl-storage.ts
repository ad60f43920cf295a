/**
 * A complete, durable Storage in one JSON-lines file: the example third-party engine.
 *
 * Every committed transaction is one checksummed line appended and fdatasync'd at `tpcFinish`;
 * open reads the file back (a torn last line is cut, damage anywhere else is a CorruptionError);
 * pack rewrites the file beside it and renames it over. Everything is also kept in memory (a map of
 * revisions per object), which is what makes it an example and not a production engine. The
 * commit lock, serial rules and defensive copies come from `@handlerton/framework/kit`; argument
 * validation is the framework's (RuntimeStorage), so the engine does not repeat it.
 */
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  CorruptionError,
  DatabaseNotFoundError,
  InvalidArgumentError,
  nextTid,
  PackInProgressError,
  POSKeyError,
  ReadOnlyError,
  StorageIOError,
  storageCapabilities,
  storageTransaction,
  tidToDate,
  toHex,
  ZERO_TID,
  type BlobRef,
  type Clock,
  type FileSystem,
  type HistoryEntry,
  type IteratedTransaction,
  type LoadedRecord,
  type LoadedRevision,
  type Oid,
  type PackObserver,
  type PackResult,
  type RecordInput,
  type Storage,
  type StorageCapabilities,
  type StorageTransaction,
  type StoreWrite,
  type Tid,
  type TransactionMeta,
} from '@handlerton/framework';
import { checkDeleteSerial, checkStoreSerial, CommitSlot, copyMetaIn, copyMetaOut, copyRecordIn, copyRecordOut } from '@handlerton/framework/kit';
import { decodeLine, encodeLine, headerFromJson, transactionFromJson, transactionToJson, type LoggedRecord, type LoggedTransaction } from './line-format.js';
import { readLines } from './line-reader.js';

/** One committed revision of an object (`record` null: a delete marker). */
interface Revision {
  readonly tid: Tid;
  readonly meta: TransactionMeta;
  readonly record: RecordInput | null;
}

/** The transaction holding the commit lock. */
interface Active {
  readonly txn: StorageTransaction;
  readonly tid: Tid;
  readonly meta: TransactionMeta;
  readonly writes: Map<Oid, RecordInput | null>;
  voted: boolean;
}

/** How to open a JsonlStorage. */
export interface JsonlStorageOptions {
  /** The database directory; the data is in `data.jsonl` inside it. */
  readonly directory: string;
  readonly readOnly: boolean;
  readonly fs: FileSystem;
  readonly clock: Clock;
}

/** The file holding the database inside its directory. */
const DATA_FILE = 'data.jsonl';

const capabilities = { mvcc: true, history: true, iterator: true, restore: true, pack: true, externalGC: true, durable: true, crashSafe: true };

/** The example engine's Storage. */
export class JsonlStorage implements Storage {
  /** What a writable JsonlStorage claims. */
  static readonly capabilities: StorageCapabilities = storageCapabilities(capabilities);
  /** What a read-only JsonlStorage claims. */
  static readonly readOnlyCapabilities: StorageCapabilities = storageCapabilities({ ...capabilities, readOnly: true });

  readonly name = 'jsonl';
  readonly capabilities: StorageCapabilities;
  readonly databaseId: bigint;

  readonly #options: JsonlStorageOptions;
  readonly #path: string;
  readonly #slot = new CommitSlot<Active>('jsonl');
  #revisions = new Map<Oid, Revision[]>();
  #log: LoggedTransaction[] = [];
  #file: FileHandle | null;
  #size: number;
  #lastTid: Tid;
  #lastIssuedTid: Tid;
  #packHorizon: Tid;
  #lastOid: Oid = 0n;
  #failed: unknown = null;
  #packing = false;

  private constructor(options: JsonlStorageOptions, path: string, state: { databaseId: bigint; packHorizon: Tid; file: FileHandle | null; size: number }) {
    this.#options = options;
    this.#path = path;
    this.capabilities = options.readOnly ? JsonlStorage.readOnlyCapabilities : JsonlStorage.capabilities;
    this.databaseId = state.databaseId;
    this.#packHorizon = state.packHorizon;
    this.#file = state.file;
    this.#size = state.size;
    this.#lastTid = ZERO_TID;
    this.#lastIssuedTid = ZERO_TID;
  }

  /** Opens (or, unless read-only, creates) the database file at `options.path`. */
  static async open(options: JsonlStorageOptions): Promise<JsonlStorage> {
    const { fs } = options;
    const path = join(options.directory, DATA_FILE);
    if (!fs.existsSync(path)) {
      if (options.readOnly) throw new DatabaseNotFoundError(`no jsonl database in ${options.directory}`);
      await fs.promises.mkdir(options.directory, { recursive: true });
      await writeFileDurably(fs, path, [encodeLine(header(randomBytes(8).readBigUInt64BE(0), ZERO_TID))]);
    }
    const loaded: LoggedTransaction[] = [];
    let first: { databaseId: bigint; packHorizon: Tid } | undefined;
    let torn: { offset: number } | undefined;
    let end = 0;
    for await (const line of readLines(fs, path)) {
      if (torn !== undefined) throw new CorruptionError('a damaged transaction line is followed by more lines', path, torn.offset);
      const value = line.complete ? decodeLine(line.bytes) : undefined;
      if (first === undefined) {
        const found = headerFromJson(value);
        if (found === undefined) throw new CorruptionError('the header line is damaged or not a jsonl database', path, 0);
        first = { databaseId: BigInt(`0x${found.databaseId}`), packHorizon: BigInt(`0x${(found as { packHorizon?: string }).packHorizon ?? '0'}`) };
      } else {
        const txn = value === undefined ? undefined : transactionFromJson(value);
        if (txn === undefined || (loaded.length > 0 && txn.tid <= loaded.at(-1)!.tid)) {
          torn = { offset: line.offset };
          continue;
        }
        loaded.push(txn);
      }
      end = line.offset + line.bytes.length + 1;
    }
    if (first === undefined) throw new CorruptionError('the file is empty: not a jsonl database', path, 0);
    // A torn last line is a commit that never returned: cut it (a read-only open just ignores it).
    let file: FileHandle | null = null;
    if (!options.readOnly) {
      file = await fs.promises.open(path, 'r+');
      if (torn !== undefined) {
        await file.truncate(torn.offset);
        await file.datasync();
        end = torn.offset;
      }
    }
    const storage = new JsonlStorage(options, path, { ...first, file, size: end });
    for (const txn of loaded) storage.#apply(txn);
    return storage;
  }

  async newOid(): Promise<Oid> {
    this.#slot.checkOpen();
    this.#lastOid += 1n;
    return this.#lastOid;
  }

  async load(oid: Oid): Promise<LoadedRecord> {
    const current = this.#revisionsOf(oid).at(-1);
    if (current?.record == null) throw new POSKeyError(`oid ${toHex(oid)} does not exist`, oid);
    return { oid, tid: current.tid, ...copyRecordOut(current.record) };
  }

  async loadSerial(oid: Oid, tid: Tid): Promise<LoadedRecord> {
    const found = this.#revisionsOf(oid).find((r) => r.tid === tid);
    if (found?.record == null) throw new POSKeyError(`oid ${toHex(oid)} has no revision ${toHex(tid)}`, oid);
    return { oid, tid, ...copyRecordOut(found.record) };
  }

  async loadBefore(oid: Oid, tid: Tid): Promise<LoadedRevision | null> {
    const revisions = this.#revisionsOf(oid);
    if (revisions.length === 0) throw new POSKeyError(`oid ${toHex(oid)} does not exist`, oid);
    let i = revisions.length - 1;
    while (i >= 0 && revisions[i]!.tid >= tid) i--;
    if (i < 0) return null;
    const found = revisions[i]!;
    if (found.record === null) throw new POSKeyError(`oid ${toHex(oid)} was deleted before ${toHex(tid)}`, oid);
    return { oid, tid: found.tid, ...copyRecordOut(found.record), nextTid: revisions[i + 1]?.tid ?? null };
  }

  packHorizon(): Tid {
    this.#slot.checkOpen();
    return this.#packHorizon;
  }

  lastTransaction(): Tid {
    this.#slot.checkOpen();
    return this.#lastTid;
  }

  async tpcBegin(txn: StorageTransaction, tid?: Tid): Promise<Tid> {
    this.#checkWritable();
    const meta = copyMetaIn(txn.meta);
    const state = await this.#slot.begin(txn, () => {
      this.#checkWritable();
      if (tid !== undefined && tid <= this.#lastTid) {
        throw new InvalidArgumentError(`explicit tid ${toHex(tid)} is not after the last transaction ${toHex(this.#lastTid)}`);
      }
      const chosen = tid ?? nextTid(this.#lastIssuedTid > this.#lastTid ? this.#lastIssuedTid : this.#lastTid, this.#options.clock.now());
      return { txn, tid: chosen, meta, writes: new Map(), voted: false };
    });
    if (state.tid > this.#lastIssuedTid) this.#lastIssuedTid = state.tid;
    return state.tid;
  }

  async store(oid: Oid, serial: Tid, record: RecordInput, txn: StorageTransaction): Promise<void> {
    await this.storeMany([{ oid, serial, record }], txn);
  }

  async deleteObject(oid: Oid, serial: Tid, txn: StorageTransaction): Promise<void> {
    await this.storeMany([{ oid, serial, record: null }], txn);
  }

  async storeMany(writes: readonly StoreWrite[], txn: StorageTransaction): Promise<void> {
    const active = this.#slot.writing(txn);
    for (const { oid, serial, record } of writes) {
      const current = this.#revisionsOf(oid).at(-1);
      const known = current === undefined ? undefined : { tid: current.tid, deleted: current.record === null };
      if (record === null) checkDeleteSerial(oid, known, serial);
      else checkStoreSerial(oid, known, serial);
      this.#write(active, oid, record === null ? null : copyRecordIn(record));
    }
  }

  async restore(oid: Oid, record: RecordInput | null, txn: StorageTransaction): Promise<void> {
    this.#write(this.#slot.writing(txn), oid, record === null ? null : copyRecordIn(record));
  }

  async tpcVote(txn: StorageTransaction): Promise<void> {
    this.#slot.writing(txn).voted = true;
  }

  async tpcFinish(txn: StorageTransaction): Promise<Tid> {
    const active = this.#slot.active(txn);
    const logged: LoggedTransaction = {
      tid: active.tid,
      status: ' ',
      meta: active.meta,
      records: [...active.writes].map(([oid, record]): LoggedRecord => ({ oid, record })),
    };
    try {
      await this.#append(encodeLine(transactionToJson(logged)));
    } catch (error) {
      this.#slot.end(txn);
      throw error;
    }
    this.#apply(logged);
    this.#slot.end(txn);
    return active.tid;
  }

  async tpcAbort(txn: StorageTransaction): Promise<void> {
    if (this.#slot.abort(txn) !== undefined) this.#slot.end(txn);
  }

  async history(oid: Oid, size = 1): Promise<HistoryEntry[]> {
    const revisions = this.#revisionsOf(oid);
    if (revisions.length === 0) throw new POSKeyError(`oid ${toHex(oid)} does not exist`, oid);
    return revisions
      .slice(-size)
      .reverse()
      .map((r) => ({ tid: r.tid, time: tidToDate(r.tid), ...copyMetaOut(r.meta), size: r.record?.data.length ?? 0, deleted: r.record === null }));
  }

  iterator(start: Tid = ZERO_TID, stop?: Tid): AsyncIterable<IteratedTransaction> {
    this.#slot.checkOpen();
    const snapshot = this.#log.filter((t) => t.tid >= start && (stop === undefined || t.tid <= stop));
    return (async function* () {
      for (const t of snapshot) {
        yield {
          tid: t.tid,
          status: t.status,
          meta: copyMetaOut(t.meta),
          records: t.records.map(({ oid, record }) => ({ oid, tid: t.tid, record: record === null ? null : copyRecordOut(record) })),
        };
      }
    })();
  }

  /** Rewrites the file without the revisions no view at or after `packTid` can read; commits wait meanwhile. */
  async pack(packTid: Tid, observer?: PackObserver): Promise<PackResult> {
    this.#checkWritable();
    if (this.#packing) throw new PackInProgressError('a pack is already running');
    this.#packing = true;
    const packTxn = storageTransaction({ description: 'pack' });
    try {
      await this.#slot.begin(packTxn, () => ({ txn: packTxn, tid: ZERO_TID, meta: packTxn.meta, writes: new Map(), voted: true }));
      try {
        return await this.#packLocked(packTid, observer);
      } finally {
        this.#slot.end(packTxn);
      }
    } finally {
      this.#packing = false;
    }
  }

  async close(): Promise<void> {
    if (this.#slot.closed) return;
    this.#slot.close();
    const file = this.#file;
    this.#file = null;
    this.#revisions = new Map();
    this.#log = [];
    await file?.close();
  }

  async #packLocked(packTid: Tid, observer: PackObserver | undefined): Promise<PackResult> {
    const cutoff = packTid < this.#lastTid ? packTid : this.#lastTid;
    const removed = new Map<Tid, Set<Oid>>();
    const released: BlobRef[] = [];
    let removedRevisions = 0;
    let removedObjects = 0;
    let reclaimedBytes = 0;
    const revisions = new Map<Oid, Revision[]>();
    for (const [oid, list] of this.#revisions) {
      let keepFrom = list.length - 1;
      while (keepFrom >= 0 && list[keepFrom]!.tid > cutoff) keepFrom--;
      if (keepFrom >= 0 && list[keepFrom]!.record === null) keepFrom += 1;
      if (keepFrom <= 0) {
        revisions.set(oid, list);
        continue;
      }
      for (const r of list.slice(0, keepFrom)) {
        removedRevisions += 1;
        reclaimedBytes += r.record?.data.length ?? 0;
        released.push(...(r.record?.refs.blobs ?? []));
        removed.set(r.tid, (removed.get(r.tid) ?? new Set<Oid>()).add(oid));
      }
      if (keepFrom === list.length) removedObjects += 1;
      else revisions.set(oid, list.slice(keepFrom));
    }
    const log = this.#log.flatMap((t): LoggedTransaction[] => {
      const gone = removed.get(t.tid);
      if (gone === undefined) return [t];
      const kept = t.records.filter((r) => !gone.has(r.oid));
      return kept.length === 0 ? [] : [{ ...t, status: 'p', records: kept }];
    });
    const horizon = cutoff > this.#packHorizon ? cutoff : this.#packHorizon;
    const lines = [encodeLine(header(this.databaseId, horizon)), ...log.map((t) => encodeLine(transactionToJson(t)))];
    const { fs } = this.#options;
    const path = this.#path;
    await this.#file?.close();
    this.#file = null;
    try {
      await writeFileDurably(fs, path, lines);
    } finally {
      this.#file = await fs.promises.open(path, 'r+');
    }
    this.#size = lines.reduce((sum, line) => sum + line.length, 0);
    this.#revisions = revisions;
    this.#log = log;
    this.#packHorizon = horizon;
    for (let i = 0; i < released.length; i += 1000) await observer?.releaseBlobRefs(released.slice(i, i + 1000));
    return { removedRevisions, removedObjects, reclaimedBytes };
  }

  /** Appends `line` at the end of the file and makes it durable; a failure stops all writes (fail-stop). */
  async #append(line: Buffer): Promise<void> {
    try {
      const { bytesWritten } = await this.#file!.write(line, 0, line.length, this.#size);
      if (bytesWritten !== line.length) throw new Error(`short write: ${bytesWritten} of ${line.length} bytes`);
      await this.#file!.datasync();
      this.#size += line.length;
    } catch (error) {
      // After a failed write or fsync nothing about the file is known: refuse every later write.
      this.#failed = error;
      throw new StorageIOError(`writing ${this.#path} failed; the storage accepts no more writes: ${String(error)}`, { cause: error });
    }
  }

  /** Makes a committed (or loaded) transaction visible. */
  #apply(txn: LoggedTransaction): void {
    for (const { oid, record } of txn.records) {
      const revision: Revision = { tid: txn.tid, meta: txn.meta, record };
      const list = this.#revisions.get(oid);
      if (list === undefined) this.#revisions.set(oid, [revision]);
      else list.push(revision);
      if (oid > this.#lastOid) this.#lastOid = oid;
    }
    this.#log.push(txn);
    this.#lastTid = txn.tid;
  }

  #write(active: Active, oid: Oid, record: RecordInput | null): void {
    active.writes.set(oid, record);
    if (oid > this.#lastOid) this.#lastOid = oid;
  }

  #revisionsOf(oid: Oid): readonly Revision[] {
    this.#slot.checkOpen();
    return this.#revisions.get(oid) ?? [];
  }

  #checkWritable(): void {
    this.#slot.checkOpen();
    if (this.#options.readOnly) throw new ReadOnlyError('the jsonl storage was opened read-only');
    if (this.#failed !== null) throw new StorageIOError(`an earlier write to ${this.#path} failed; reopen the storage`, { cause: this.#failed });
  }
}

/** The header line's value. */
function header(databaseId: bigint, packHorizon: Tid): unknown {
  return { format: 'handlerton-jsonl', version: 1, databaseId: databaseId.toString(16), packHorizon: packHorizon.toString(16) };
}

/** Writes `lines` to a temporary file, syncs it, renames it over `path` and syncs the directory. */
async function writeFileDurably(fs: FileSystem, path: string, lines: readonly Buffer[]): Promise<void> {
  const temporary = `${path}.tmp`;
  const handle = await fs.promises.open(temporary, 'w');
  try {
    for (const line of lines) await handle.write(line);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(temporary, path);
  const dir = await fs.promises.open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
