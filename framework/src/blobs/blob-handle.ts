/**
 * The BlobHandle the application gets from `Blob.open`: a position over a byte source (a committed
 * revision or this transaction's draft), with positioned reads and writes, seek/tell, truncate,
 * flush and Node streams. Memory use is bounded by the largest single read or chunk.
 */
import { Readable, Writable } from 'node:stream';
import type { BlobHandle, BlobMode, SeekWhence } from '../contracts/database.js';
import {
  HandleClosedError,
  InvalidArgumentError,
  NotSupportedError,
  ReadOnlyError,
  TransactionClosedError,
} from '../contracts/errors.js';
import { MAX_BLOB_SIZE } from '../contracts/blob-handlerton.js';
import type { Locator } from '../contracts/locator.js';
import { assertNonNegativeInteger, assertOptionsObject, describeValue } from '../util/validate.js';
import type { ByteSink, ByteSource } from './byte-source.js';

/** Default size of one read() and of stream chunks: 1 MiB (measured best for Node streams here). */
export const DEFAULT_CHUNK = 1024 * 1024;
const DEFAULT_READ = 64 * 1024;
/** Largest `read()` length and stream `highWaterMark`: one call never allocates more (64 MiB); stream for more. */
export const MAX_READ_LENGTH = 64 * 1024 * 1024;

/** How a handle talks back to the blob that opened it. */
export interface HandleOwner {
  /** Called once when the handle closes (explicitly or because its transaction ended). */
  handleClosed(handle: BlobHandleImpl): Promise<void>;
  /** Called by flush() on a writer; commits for handlertons that are not data-transactional. */
  flushWriter(handle: BlobHandleImpl): Promise<void>;
  /** Name of the engine, for NotSupportedError. */
  readonly engineName: string;
  /** Whether the handlerton supports seek and truncate. */
  readonly features: { readonly seek: boolean; readonly truncate: boolean };
}

type HandleState = 'open' | 'closed' | 'expired';

/** A positioned handle over one blob's bytes. */
export class BlobHandleImpl implements BlobHandle {
  readonly mode: BlobMode;
  readonly locator: Locator;
  readonly #source: ByteSource | ByteSink;
  readonly #owner: HandleOwner;
  #position = 0;
  #state: HandleState = 'open';
  #queue: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;

  constructor(mode: BlobMode, source: ByteSource | ByteSink, locator: Locator, owner: HandleOwner) {
    this.mode = mode;
    this.#source = source;
    this.locator = locator;
    this.#owner = owner;
  }

  get open(): boolean {
    return this.#state === 'open';
  }

  /** True for 'w', 'a' and 'r+'. */
  get writable(): boolean {
    return this.mode !== 'r';
  }

  async read(length: number = DEFAULT_READ): Promise<Uint8Array> {
    this.#usable();
    this.#assertReadable();
    assertNonNegativeInteger(length, 'length');
    if (length > MAX_READ_LENGTH) throw new InvalidArgumentError(`length ${length} is over ${MAX_READ_LENGTH} bytes (64 MiB) per read; use createReadStream() for more`);
    return this.#serially(() => this.#read(length));
  }

  async #read(length: number): Promise<Uint8Array> {
    this.#usable();
    const available = Math.max(0, this.#source.size() - this.#position);
    const target = new Uint8Array(Math.min(length, available));
    let filled = 0;
    while (filled < target.length) {
      const n = await this.#source.read(target.subarray(filled), this.#position + filled);
      if (n === 0) break;
      filled += n;
    }
    this.#position += filled;
    return filled === target.length ? target : target.subarray(0, filled);
  }

  async write(data: Uint8Array | string): Promise<number> {
    this.#usable();
    const sink = this.#sink();
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('write() takes a Uint8Array or a string');
    return this.#serially(() => this.#write(sink, bytes));
  }

  async #write(sink: ByteSink, bytes: Uint8Array): Promise<number> {
    this.#usable();
    if (this.mode === 'a') this.#position = sink.size();
    assertWithinMaxSize(this.#position + bytes.length, 'write');
    await sink.write(bytes, this.#position);
    this.#position += bytes.length;
    return bytes.length;
  }

  seek(offset: number, whence: SeekWhence = 'start'): number {
    this.#usable();
    if (!this.#owner.features.seek) throw new NotSupportedError('seek', this.#owner.engineName);
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) throw new InvalidArgumentError('offset must be an integer');
    const base = whence === 'start' ? 0 : whence === 'current' ? this.#position : whence === 'end' ? this.#source.size() : NaN;
    if (Number.isNaN(base)) throw new InvalidArgumentError(`whence must be 'start', 'current' or 'end', got ${describeValue(whence)}`);
    const target = base + offset;
    if (target < 0) throw new InvalidArgumentError(`cannot seek to negative position ${target}`);
    this.#position = target;
    return target;
  }

  tell(): number {
    this.#usable();
    return this.#position;
  }

  size(): number {
    this.#usable();
    return this.#source.size();
  }

  async truncate(size?: number): Promise<void> {
    this.#usable();
    if (!this.#owner.features.truncate) throw new NotSupportedError('truncate', this.#owner.engineName);
    const sink = this.#sink();
    if (size !== undefined) assertNonNegativeInteger(size, 'size');
    const target = size ?? this.#position;
    assertWithinMaxSize(target, 'truncate size');
    await this.#serially(() => sink.truncate(target));
  }

  async flush(): Promise<void> {
    this.#usable();
    if (this.writable) await this.#serially(() => this.#owner.flushWriter(this));
  }

  close(): Promise<void> {
    if (this.#state !== 'open') return this.#closing ?? Promise.resolve();
    this.#state = 'closed';
    this.#closing = this.#finish();
    return this.#closing;
  }

  /** Ends the handle because its transaction ended: later use raises TransactionClosedError. */
  expire(): Promise<void> {
    if (this.#state !== 'open') return this.#closing ?? Promise.resolve();
    this.#state = 'expired';
    this.#closing = this.#finish();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  createReadStream(options: { start?: number; end?: number; highWaterMark?: number } = {}): Readable {
    this.#usable();
    this.#assertReadable();
    assertOptionsObject(options, 'options', ['start', 'end', 'highWaterMark']);
    const start = options.start ?? 0;
    assertNonNegativeInteger(start, 'options.start');
    if (options.end !== undefined) assertNonNegativeInteger(options.end, 'options.end');
    const chunk = options.highWaterMark ?? DEFAULT_CHUNK;
    if (typeof chunk !== 'number' || !Number.isSafeInteger(chunk) || chunk < 1 || chunk > MAX_READ_LENGTH) {
      throw new InvalidArgumentError(`options.highWaterMark must be an integer from 1 to ${MAX_READ_LENGTH}, got ${describeValue(chunk)}`);
    }
    let position = start;
    const source = this.#source;
    const isOpen = (): boolean => this.#state === 'open';
    const closedError = (): Error => this.#closedError();
    return new Readable({
      highWaterMark: chunk,
      read(this: Readable, size: number) {
        if (!isOpen()) {
          this.destroy(closedError());
          return;
        }
        const end = Math.min(options.end ?? Infinity, source.size());
        const want = Math.min(Math.max(size, 1), chunk, end - position);
        if (want <= 0) {
          this.push(null);
          return;
        }
        const target = new Uint8Array(want);
        source.read(target, position).then(
          (n) => {
            position += n;
            this.push(n === 0 ? null : target.subarray(0, n));
          },
          (error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))),
        );
      },
    });
  }

  createWriteStream(): Writable {
    this.#usable();
    return new Writable({
      highWaterMark: DEFAULT_CHUNK,
      write: (chunk: Buffer, _encoding, callback) => {
        this.write(chunk).then(() => callback(), callback);
      },
      // Ending the stream flushes: for handlertons that commit on flush, pipeline() then stores the data.
      final: (callback) => {
        this.flush().then(() => callback(), callback);
      },
    });
  }

  async #finish(): Promise<void> {
    try {
      await this.#source.release();
    } finally {
      await this.#owner.handleClosed(this);
    }
  }

  /** Runs handle operations one after another, so unawaited writes land in call order. */
  #serially<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(operation, operation);
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  #assertReadable(): void {
    if (this.mode === 'w' || this.mode === 'a') {
      throw new InvalidArgumentError(`a handle opened with '${this.mode}' is not readable; use 'r+'`);
    }
  }

  #sink(): ByteSink {
    if (!this.writable) throw new ReadOnlyError("a handle opened with 'r' is read-only");
    return this.#source as ByteSink;
  }

  #usable(): void {
    if (this.#state !== 'open') throw this.#closedError();
  }

  #closedError(): Error {
    return this.#state === 'expired'
      ? new TransactionClosedError('the transaction of this blob handle has ended; open the blob again in a new transaction')
      : new HandleClosedError('blob handle is closed');
  }
}

/** InvalidArgumentError when a blob would end past MAX_BLOB_SIZE. */
function assertWithinMaxSize(end: number, what: string): void {
  if (end > MAX_BLOB_SIZE) throw new InvalidArgumentError(`${what} would make the blob ${end} bytes; the maximum blob size is ${MAX_BLOB_SIZE} bytes (2^48)`);
}
