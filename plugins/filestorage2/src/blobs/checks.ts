/** Argument checks shared by drafts and readers. */
import { InvalidArgumentError, MAX_BLOB_SIZE } from '@handlerton/framework';

/** Throws InvalidArgumentError unless `value` is a byte offset or size (a safe non-negative integer). */
export function assertOffset(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`${what} must be a non-negative safe integer, got ${String(value)}`);
  }
}

/** Throws InvalidArgumentError unless `value` is a Uint8Array. */
export function assertBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${what} must be a Uint8Array`);
  }
}

/** Throws InvalidArgumentError when a blob would end past MAX_BLOB_SIZE (2^48 bytes). */
export function assertMaxSize(end: number, what: string): void {
  if (end > MAX_BLOB_SIZE) {
    throw new InvalidArgumentError(`${what} would make the blob ${end} bytes; the maximum blob size is ${MAX_BLOB_SIZE} bytes (2^48)`);
  }
}
