/** Argument parsing for the node:fs call forms the recording layer wraps, and the calls it refuses. */
import * as nodeFs from 'node:fs';
import { InvalidArgumentError, type FileSystem } from '@handlerton/framework';

/** Mutating node:fs functions the layer does not model: they fail instead of escaping the log. */
export const UNSUPPORTED: readonly string[] = [
  'appendFile', 'appendFileSync', 'symlink', 'symlinkSync', 'createWriteStream', 'cp', 'cpSync',
];

/** Thrown when the recorded code uses a mutating call the layer cannot model. */
export function unsupported(name: string): never {
  throw Object.assign(new Error(`ENOTSUP: the power-loss recording layer does not model fs.${name}`), { code: 'ENOTSUP' });
}

/** The mutating functions of fs.promises fail: the layer records the sync and callback forms only. */
export function guardedPromises(promises: FileSystem['promises']): FileSystem['promises'] {
  const mutating = new Set(['open', 'writeFile', 'appendFile', 'rename', 'unlink', 'rmdir', 'rm', 'mkdir', 'link', 'symlink', 'copyFile', 'cp', 'truncate', 'mkdtemp']);
  return new Proxy(promises, {
    get(target, name, receiver) {
      if (typeof name === 'string' && mutating.has(name)) return () => Promise.reject(Object.assign(new Error(`ENOTSUP: the power-loss recording layer does not model fs.promises.${name}`), { code: 'ENOTSUP' }));
      return Reflect.get(target, name, receiver) as unknown;
    },
  });
}

/** create / truncate / append of node open flags (string or numeric). */
export function parseFlags(flags: unknown): { create: boolean; truncate: boolean; append: boolean } {
  if (typeof flags === 'number') {
    const c = nodeFs.constants;
    return { create: (flags & c.O_CREAT) !== 0, truncate: (flags & c.O_TRUNC) !== 0, append: (flags & c.O_APPEND) !== 0 };
  }
  const text = typeof flags === 'string' ? flags : 'r';
  return { create: /[wa]/.test(text), truncate: text.startsWith('w'), append: text.startsWith('a') };
}

/** The bytes of a string (in `encoding`, default utf8) or of a Buffer / typed array. */
export function toBytes(data: unknown, encoding?: string): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, (encoding ?? 'utf8') as BufferEncoding);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new InvalidArgumentError('data must be a string, a Buffer or a typed array');
}

/** The bytes and position of the write(fd, buffer, [offset, length, position] | options | position, encoding) forms. */
export function writeArgs(data: unknown, rest: unknown[]): { bytes: Uint8Array; position: unknown } {
  if (typeof data === 'string') return { bytes: toBytes(data, typeof rest[1] === 'string' ? rest[1] : undefined), position: rest[0] };
  const whole = toBytes(data);
  const first = rest[0];
  if (typeof first === 'object' && first !== null) {
    const o = first as { offset?: number; length?: number; position?: number | null };
    const offset = o.offset ?? 0;
    return { bytes: whole.subarray(offset, offset + (o.length ?? whole.length - offset)), position: o.position };
  }
  const offset = typeof first === 'number' ? first : 0;
  const length = typeof rest[1] === 'number' ? rest[1] : whole.length - offset;
  return { bytes: whole.subarray(offset, offset + length), position: rest[2] };
}
