/**
 * Runs the fuzz's call sequences against one open database: every call must resolve or reject with
 * a HandlertonError within CALL_TIMEOUT_MS; after a sequence everything it opened is closed or
 * aborted and the committed baseline must read back unchanged.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import fc from 'fast-check';
import {
  isHandlertonError,
  openDatabase,
  ROOT_OID,
  type BlobHandle,
  type Database,
  type DatabaseImpl,
  type Oid,
  type Snapshot,
  type Tid,
  type Transaction,
} from '@handlerton/framework';
import { ConfigText, MutatedLocator, Ref, type Command, type HandleAction, type RefName } from './arbitraries.js';

/** HANDLERTON_FUZZ_TRACE=1 prints every call slower than 300 ms (to find what makes a run slow). */
const TRACE = process.env['HANDLERTON_FUZZ_TRACE'] === '1' || process.env['HANDLERTON_FUZZ_TRACE'] === 'all';
const TRACE_ALL = process.env['HANDLERTON_FUZZ_TRACE'] === 'all';

/** How long one call may take before the fuzz calls it a hang. */
export const CALL_TIMEOUT_MS = 5000;

/** Raised to fail the property: an untyped error, a hang or a changed baseline. */
export class FuzzFailure extends Error {}

/** One committed object of the baseline as a snapshot reads it. */
interface BaselineRecord {
  readonly data: Uint8Array;
  readonly refs: readonly Oid[];
  readonly tid: Tid;
}

/** The known state committed before the fuzz and the values Refs resolve to. */
export interface Baseline {
  readonly records: ReadonlyMap<Oid, BaselineRecord>;
  readonly blobOid: Oid;
  readonly blobBytes: Uint8Array;
  readonly refs: Readonly<Record<Exclude<RefName, 'lastTid' | 'freshDir'>, Oid | string>>;
}

/** One engine under fuzz. */
export interface FuzzTarget {
  readonly db: DatabaseImpl & Database;
  readonly baseline: Baseline;
  /** Where `freshDir` paths are made. */
  readonly scratchDir: string;
}

/** What one run of the fuzz counted. */
export interface FuzzCounts {
  calls: number;
  refused: number;
}

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Commits the baseline: a root referencing two records and a blob with two revisions; returns what reads back. */
export async function commitBaseline(db: DatabaseImpl & Database): Promise<Baseline> {
  const first = await db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    const h = await blob.open('w');
    await h.write('first revision of the blob');
    await h.close();
    const a = await tx.create(enc('record a'));
    const b = await tx.create(enc('record b'), { refs: [a] });
    await tx.write(ROOT_OID, enc('root'), { refs: [a, b, blob.oid] });
    return { a, b, blobOid: blob.oid };
  });
  const old = await db.snapshot();
  const locOld = (await old.blob(first.blobOid)).locator().toString();
  await old.close();
  const blobBytes = enc('second revision of the blob, the current one');
  await db.transaction(async (tx) => {
    const h = await (await tx.blob(first.blobOid)).open('w');
    await h.write(blobBytes);
    await h.close();
  });
  const tx = db.begin();
  const locW = (await tx.blob(first.blobOid)).locator({ write: true, append: true }).toString();
  await tx.abort();
  const snapshot = await db.snapshot();
  const locR = (await snapshot.blob(first.blobOid)).locator().toString();
  const records = new Map<Oid, BaselineRecord>();
  for (const oid of [ROOT_OID, first.a, first.b, first.blobOid]) {
    const record = await snapshot.read(oid);
    records.set(oid, { data: record.data, refs: [...record.refs], tid: record.tid });
  }
  await snapshot.close();
  return {
    records,
    blobOid: first.blobOid,
    blobBytes,
    refs: { root: ROOT_OID, a: first.a, b: first.b, blob: first.blobOid, missing: 987_654_321n, locR, locW, locOld },
  };
}

/** Checks that the baseline reads back exactly as committed (data, refs, serial, blob bytes). */
export async function checkBaseline(target: FuzzTarget): Promise<void> {
  const { db, baseline } = target;
  await guard('baseline check', async () => {
    const snapshot = await db.snapshot();
    try {
      for (const [oid, expected] of baseline.records) {
        const record = await snapshot.read(oid);
        if (!sameBytes(record.data, expected.data) || record.tid !== expected.tid || record.refs.join() !== expected.refs.join()) {
          throw new FuzzFailure(`baseline record ${oid} changed: tid ${record.tid} (was ${expected.tid}), refs [${record.refs.join()}] (were [${expected.refs.join()}])`);
        }
      }
      const h = await (await snapshot.blob(baseline.blobOid)).open('r');
      const bytes = await h.read(1024);
      await h.close();
      if (!sameBytes(bytes, baseline.blobBytes)) throw new FuzzFailure(`baseline blob changed: ${JSON.stringify(new TextDecoder().decode(bytes))}`);
    } finally {
      await snapshot.close();
    }
  });
}

/** Runs one call sequence, then closes what it opened and checks the baseline. */
export async function runSequence(target: FuzzTarget, commands: readonly Command[], counts: FuzzCounts): Promise<void> {
  const run = new SequenceRun(target, counts);
  try {
    for (const command of commands) await run.execute(command);
  } finally {
    await run.cleanup();
  }
  await checkBaseline(target);
}

/** Runs `fn` with a timeout; a HandlertonError is a refusal (returned as { ok: false }), anything else fails. */
async function guard<T>(label: string, fn: () => T | Promise<T>, counts?: FuzzCounts): Promise<{ ok: true; value: T } | { ok: false }> {
  if (counts !== undefined) counts.calls++;
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FuzzFailure(`${label} did not settle within ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
  });
  const started = Date.now();
  if (TRACE_ALL) process.stderr.write(`fuzz: call ${label.slice(0, 2000)}\n`);
  try {
    return { ok: true, value: await Promise.race([Promise.resolve().then(fn), hang]) };
  } catch (error) {
    if (error instanceof FuzzFailure) throw error;
    if (isHandlertonError(error)) {
      if (counts !== undefined) counts.refused++;
      return { ok: false };
    }
    throw new FuzzFailure(`${label} raised an untyped error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
  } finally {
    clearTimeout(timer);
    if (TRACE && Date.now() - started > 300) process.stderr.write(`fuzz: ${Date.now() - started} ms: ${label}\n`);
  }
}

class SequenceRun {
  readonly #target: FuzzTarget;
  readonly #counts: FuzzCounts;
  readonly #txs: Transaction[] = [];
  readonly #snapshots: Snapshot[] = [];
  readonly #handles: BlobHandle[] = [];

  constructor(target: FuzzTarget, counts: FuzzCounts) {
    this.#target = target;
    this.#counts = counts;
  }

  async execute(command: Command): Promise<void> {
    const db = this.#target.db;
    const label = `${command.op} ${fc.stringify(command)}`;
    const call = <T>(fn: () => T | Promise<T>, what = label) => guard(what, fn, this.#counts);
    const r = (value: unknown): never => this.#resolve(value, 0) as never;
    switch (command.op) {
      case 'open': {
        const config: unknown = r(command.config);
        const opened = await call(() => openDatabase(config as never, r(command.overrides)));
        if (opened.ok) await call(() => opened.value.close(), `close after ${label}`);
        return;
      }
      case 'begin': {
        const begun = await call(() => db.begin(r(command.options)));
        if (begun.ok) this.#txs.push(begun.value);
        return;
      }
      case 'transaction': {
        const fn = command.fn === 'reader' ? async (tx: Transaction) => tx.tryRead(ROOT_OID) : command.fn;
        await call(() => db.transaction(fn as never, r(command.options)));
        return;
      }
      case 'commitScratch':
        return this.#commitScratch(r(command.meta), label);
      case 'read': {
        const tx = this.#tx(command.tx);
        await call((): Promise<unknown> => tx[command.kind](r(command.oid)));
        return;
      }
      case 'write':
        await call(() => this.#tx(command.tx).write(r(command.oid), r(command.data), r(command.options)));
        return;
      case 'create':
        await call(() => this.#tx(command.tx).create(r(command.data), r(command.options)));
        return;
      case 'delete':
        await call(() => this.#tx(command.tx).delete(r(command.oid)));
        return;
      case 'createBlob':
        await call(() => this.#tx(command.tx).createBlob());
        return;
      case 'txOpenLocator': {
        const opened = await call(() => this.#tx(command.tx).openLocator(r(command.locator), r(command.mode)));
        if (opened.ok) this.#handles.push(opened.value);
        return;
      }
      case 'blobOpen': {
        const view = command.inSnapshot ? await this.#snapshot(command.tx) : this.#tx(command.tx);
        const blob = await call(() => view.blob(r(command.oid)));
        if (!blob.ok) return;
        const opened = await call(() => blob.value.open(r(command.mode)));
        if (opened.ok) this.#handles.push(opened.value);
        return;
      }
      case 'blobLocator': {
        const tx = this.#tx(command.tx);
        const blob = await call(() => tx.blob(r(command.oid)));
        if (blob.ok) await call(() => blob.value.locator(r(command.access)));
        return;
      }
      case 'handle':
        return this.#handleCall(command.h, command.action, r(command.a), r(command.b), label);
      case 'snapshot': {
        const taken = await call(() => db.snapshot(r(command.at)));
        if (taken.ok) this.#snapshots.push(taken.value);
        return;
      }
      case 'snapshotRead': {
        const snapshot = await this.#snapshot(command.s);
        await call(() => snapshot.tryRead(r(command.oid)));
        return;
      }
      case 'dbOpenLocator': {
        const opened = await call(() => db.openLocator(r(command.locator)));
        if (opened.ok) this.#handles.push(opened.value);
        return;
      }
      case 'pack':
        await call(() => db.pack(r(command.at)));
        return;
      case 'gc':
        await call(() => db.collectGarbage());
        return;
      case 'abort':
        await call(() => this.#tx(command.tx).abort());
        return;
    }
  }

  /** Closes handles and snapshots and aborts transactions; every one of these calls must succeed. */
  async cleanup(): Promise<void> {
    for (const handle of this.#handles) await this.#mustSucceed('close a handle', () => handle.close());
    for (const tx of this.#txs) await this.#mustSucceed('abort a transaction', () => tx.abort());
    for (const snapshot of this.#snapshots) await this.#mustSucceed('close a snapshot', () => snapshot.close());
  }

  async #mustSucceed(label: string, fn: () => Promise<void>): Promise<void> {
    const done = await guard(label, fn, this.#counts);
    if (!done.ok) throw new FuzzFailure(`${label} raised a typed error; cleanup must always succeed`);
  }

  /** A transaction whose metadata `begin` accepted must commit on every engine and read back the same. */
  async #commitScratch(meta: unknown, label: string): Promise<void> {
    const db = this.#target.db;
    const begun = await guard(label, () => db.begin({ meta } as never), this.#counts);
    if (!begun.ok) return;
    const tx = begun.value;
    const committed = await guard(`commit of ${label}`, async () => {
      const oid = await tx.create(enc('scratch'));
      return { oid, tid: await tx.commit() };
    }, this.#counts);
    if (!committed.ok) throw new FuzzFailure(`${label}: begin accepted the metadata but the commit was refused`);
    if (!db.capabilities.storage.history) return;
    const [entry] = await db.storage.history(committed.value.oid, 1);
    const expected = meta as { user?: string; description?: string; extension?: object } | undefined;
    const same =
      entry !== undefined &&
      entry.user === (expected?.user ?? '') &&
      entry.description === (expected?.description ?? '') &&
      JSON.stringify(entry.extension) === JSON.stringify(expected?.extension ?? {});
    if (!same) throw new FuzzFailure(`${label}: the committed metadata reads back as ${fc.stringify(entry)}`);
  }

  async #handleCall(index: number, action: HandleAction, a: unknown, b: unknown, label: string): Promise<void> {
    const handle = this.#handles.length === 0 ? await this.#defaultHandle() : this.#handles[index % this.#handles.length]!;
    const call = <T>(fn: () => T | Promise<T>, what = label) => guard(what, fn, this.#counts);
    switch (action) {
      case 'read':
        await call(() => handle.read(a as never));
        return;
      case 'write':
        await call(() => handle.write(a as never));
        return;
      case 'seek':
        await call(() => handle.seek(a as never, b as never));
        return;
      case 'tell':
        await call(() => handle.tell());
        return;
      case 'size':
        await call(() => handle.size());
        return;
      case 'truncate':
        await call(() => handle.truncate(a as never));
        return;
      case 'flush':
        await call(() => handle.flush());
        return;
      case 'close':
        await call(() => handle.close());
        return;
      case 'stream': {
        const stream = await call(() => handle.createReadStream(a as never));
        if (!stream.ok) return;
        // At most 1 MiB is read: a large sparse blob is not read to its end.
        await call(async () => {
          let seen = 0;
          for await (const chunk of stream.value) {
            seen += (chunk as Buffer).length;
            if (seen > 1024 * 1024) break;
          }
        }, `consuming the stream of ${label}`);
        return;
      }
      case 'writeStream': {
        const stream = await call(() => handle.createWriteStream());
        if (!stream.ok) return;
        await call(async () => {
          stream.value.end(Buffer.from(a as Uint8Array));
          await finished(stream.value);
        }, `writing through the stream of ${label}`);
        return;
      }
    }
  }

  #tx(index: number): Transaction {
    if (this.#txs.length === 0) this.#txs.push(this.#target.db.begin());
    return this.#txs[index % this.#txs.length]!;
  }

  async #snapshot(index: number): Promise<Snapshot> {
    if (this.#snapshots.length === 0) this.#snapshots.push(await this.#target.db.snapshot());
    return this.#snapshots[index % this.#snapshots.length]!;
  }

  /** With no handle open yet: the baseline blob opened 'r+' in a new transaction (aborted at cleanup). */
  async #defaultHandle(): Promise<BlobHandle> {
    const tx = this.#target.db.begin();
    this.#txs.push(tx);
    const handle = await (await tx.blob(this.#target.baseline.blobOid)).open('r+');
    this.#handles.push(handle);
    return handle;
  }

  /** Replaces Refs, mutated locators and config texts (also inside plain objects and arrays) with their run-time values. */
  #resolve(value: unknown, depth: number): unknown {
    if (value instanceof Ref) return this.#ref(value.name);
    if (value instanceof MutatedLocator) return mutate(this.#target.baseline.refs.locR as string, value);
    if (value instanceof ConfigText) {
      const path = this.#resolve(value.path, depth + 1);
      return `${value.engine}${value.sep}${typeof path === 'string' ? path : ''}`;
    }
    if (depth > 4 || typeof value !== 'object' || value === null || !containsSymbolic(value, depth)) return value;
    if (Array.isArray(value)) return value.map((item: unknown) => this.#resolve(item, depth + 1));
    const copy = Object.create(Object.getPrototypeOf(value) as object | null) as Record<string, unknown>;
    for (const [key, item] of Object.entries(value)) copy[key] = this.#resolve(item, depth + 1);
    return copy;
  }

  #ref(name: RefName): unknown {
    if (name === 'lastTid') return this.#target.db.lastTransaction();
    if (name === 'freshDir') return join(mkdtempSync(join(this.#target.scratchDir, 'open-')), 'store');
    return this.#target.baseline.refs[name];
  }
}

function containsSymbolic(value: object, depth: number): boolean {
  if (depth > 4) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return false;
  return Object.values(value).some(
    (item: unknown) => item instanceof Ref || item instanceof MutatedLocator || item instanceof ConfigText || (typeof item === 'object' && item !== null && containsSymbolic(item, depth + 1)),
  );
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A locator string with one character replaced (or cut there). */
function mutate(locator: string, m: MutatedLocator): string {
  const index = m.index % locator.length;
  if (m.cut) return locator.slice(0, index);
  return locator.slice(0, index) + BASE64URL[m.char % BASE64URL.length]! + locator.slice(index + 1);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** A fresh temporary directory under `parent`. */
export function freshDir(parent: string, prefix: string): string {
  return mkdtempSync(join(parent, prefix));
}
