/**
 * Generators of the API fuzz (fuzz-api.test.ts): sequences of calls with random and hostile
 * arguments. Values that only exist at run time (the baseline's oids, its locators, fresh
 * directories) are symbolic `Ref`s the interpreter resolves.
 */
import fc from 'fast-check';

/** A value known only at run time: a baseline oid or locator, a fresh path, the last tid. */
export class Ref {
  constructor(readonly name: RefName) {}
  [fc.toStringMethod](): string {
    return `Ref(${this.name})`;
  }
}

/** The names a Ref can take. */
export type RefName = 'root' | 'a' | 'b' | 'blob' | 'missing' | 'lastTid' | 'locR' | 'locW' | 'locOld' | 'freshDir';

/** A valid locator string changed at one character (`index`, `char` taken modulo the lengths). */
export class MutatedLocator {
  constructor(readonly index: number, readonly char: number, readonly cut: boolean) {}
  [fc.toStringMethod](): string {
    return `MutatedLocator(${this.index}, ${this.char}, ${this.cut})`;
  }
}

/** The string form of a config, `${engine}${sep}${path}`, built at run time (the path may be a fresh directory). */
export class ConfigText {
  constructor(readonly engine: string, readonly sep: string, readonly path: unknown) {}
  [fc.toStringMethod](): string {
    return `ConfigText(${fc.stringify(this.engine)}, ${fc.stringify(this.sep)}, ${fc.stringify(this.path)})`;
  }
}

const ref = (...names: RefName[]): fc.Arbitrary<Ref> => fc.constantFrom(...names).map((name) => new Ref(name));

/** Values no argument should take: every JS type, edge numbers and bigints, odd strings and objects. */
export const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    undefined, null, true, false, NaN, -1, 0, 1, 1.5, -0, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 48, 2 ** 48 + 1, 2 ** 53, 2 ** 64,
    -1n, 0n, 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n, -(2n ** 64n),
    '', 'x', '\0', 'r', 'w', 'a', 'r+', 'rw', 'R', '/proc/x', '@bad:x', '/etc/passwd:', './data', '__proto__', 'constructor', '\uD800',
  ),
  fc.constant(null).map(() => []),
  fc.constant(null).map(() => ({})),
  fc.constant(null).map(() => Object.create(null) as object),
  fc.constant(null).map(() => new Date(NaN)),
  fc.constant(null).map(() => [1n, null]),
  fc.constant(null).map(() => () => 1),
  fc.constant(null).map(() => Symbol('fuzz')),
  fc.bigInt(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 12 }),
  fc.uint8Array({ maxLength: 16 }),
  fc.anything({ maxDepth: 2, maxKeys: 3, withBigInt: true, withDate: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true, withMap: true, withSet: true, withBoxedValues: true }),
);

/** Oids: the baseline's (most often), absent ones, out-of-range bigints, and hostile values. */
export const oidArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: ref('root', 'a', 'b', 'blob', 'missing') },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(-1n, 2n ** 64n, 2n ** 64n - 1n, 1, 0, '0', '1') },
  { weight: 2, arbitrary: hostile },
);

/** Record data: bytes (mostly), strings, arrays of numbers, a large buffer, hostile values. */
export const dataArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.uint8Array({ maxLength: 512 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: -1, max: 300 }), { maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constant(null).map(() => new Uint8Array(256 * 1024)) },
  { weight: 2, arbitrary: hostile },
);

/** Options of create / write. */
export const writeOptionsArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.record({ refs: fc.array(oidArg, { maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ refs: hostile }) },
  { weight: 1, arbitrary: fc.record({ ref: fc.array(oidArg, { maxLength: 2 }) }) },
  { weight: 2, arbitrary: hostile },
);

/** Blob open modes. */
export const modeArg: fc.Arbitrary<unknown> = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('r', 'w', 'a', 'r+') }, { weight: 1, arbitrary: hostile });

/** Offsets, sizes and lengths: small valid ones, the edges the API must refuse or survive, hostile values. */
export const offsetArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 5000 }) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(NaN, -1, 2 ** 53, 2 ** 48 + 1, 2 ** 48, 2 ** 48 - 1, 2 ** 40, 2 ** 26 + 3, 2 ** 32, 64 * 2 ** 20 + 1, 1.5, -0, Infinity, 5n, '5') },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: hostile },
);

/** Seek whence. */
export const whenceArg: fc.Arbitrary<unknown> = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(undefined, 'start', 'current', 'end') }, { weight: 1, arbitrary: hostile });

/** createReadStream options. */
export const streamOptionsArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.record({ start: offsetArg, end: offsetArg, highWaterMark: offsetArg }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: hostile },
);

/** Locators: the baseline's, mutated or cut ones, random strings and bytes, hostile values. */
export const locatorArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: ref('locR', 'locW', 'locOld') },
  { weight: 3, arbitrary: fc.tuple(fc.nat(), fc.nat(), fc.boolean()).map(([i, c, cut]) => new MutatedLocator(i, c, cut)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 100 }).map((s) => `hl1.${s}`) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 60, maxLength: 68 }) },
  { weight: 2, arbitrary: hostile },
);

/** Pack times: valid, invalid and far dates, tids, hostile values. */
export const packAtArg: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(undefined, new Date(NaN), new Date(8.64e15), new Date(-8.64e15), new Date(0)),
  fc.date({ noInvalidDate: false }),
  fc.bigInt({ min: -1n, max: 2n ** 64n }),
  ref('lastTid'),
  hostile,
);

/** Snapshot tids. */
export const tidArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: ref('lastTid') },
  { weight: 2, arbitrary: fc.bigInt({ min: -(2n ** 64n), max: 2n ** 65n }) },
  { weight: 1, arbitrary: hostile },
);

const textArg = fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 40, unit: 'binary' }) }, { weight: 1, arbitrary: fc.constant('x'.repeat(70_000)) }, { weight: 2, arbitrary: hostile });
const extensionArg = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), fc.anything({ maxDepth: 2, withBigInt: true, withDate: true, withSparseArray: true }), { maxKeys: 3 }) },
  { weight: 1, arbitrary: hostile },
);

/** Transaction metadata. */
export const metaArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.record({ user: textArg, description: textArg, extension: extensionArg }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: hostile },
);

/** Options of begin / transaction. */
export const txOptionsArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.record({ meta: metaArg, retries: fc.oneof(fc.nat(3), hostile) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: hostile },
);

const engineNames = fc.constantFrom<unknown>(
  'memory', 'filestorage2', 'sqlite', 'sqlite-blobs', '@bad', '@bad/', '/etc/passwd', './data', '../x', 'fs', 'node:fs', 'zz-no-such-engine',
  '@zz/no-such-engine', '', ' ', 'a b', 'Memory', 'data:text/javascript,1',
);
const pathArg = fc.oneof(
  { weight: 4, arbitrary: ref('freshDir') },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(undefined, '', ' ', 'a\0b', '/proc/x', '/proc/x/y', '/dev/null/x') },
  { weight: 1, arbitrary: hostile },
);
const optionKeys = fc.constantFrom(
  'chunkSize', 'blobMode', 'syncMode', 'segmentSize', 'readOnly', 'archivePacked', 'inlineSync', 'synchronous', 'busyTimeoutMs', 'x', '__proto__',
);
const optionValue = fc.oneof(
  fc.constantFrom<unknown>(4096, 65536, 2 ** 24, 'always', 'none', 'batch', 'full', 'normal', 'dataTransactional', 'transactional', 'nontransactional', true, false, 0, 100),
  hostile,
);
const engineOptions = fc.oneof({ weight: 3, arbitrary: fc.dictionary(optionKeys, optionValue, { maxKeys: 3 }) }, { weight: 1, arbitrary: hostile });
const specArg = fc.oneof(
  fc.record({ engine: fc.oneof(engineNames, hostile), path: pathArg, options: engineOptions }, { requiredKeys: [] }),
  fc.tuple(engineNames, fc.constantFrom(':', ''), pathArg).map(([engine, sep, path]) => new ConfigText(String(engine), sep, path)),
  hostile,
);

/** openDatabase configs: string and object forms, with hostile engine names, paths and option values. */
export const configArg: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    '/etc/passwd:', '@bad:x', './data', 'data', 'memory:', 'memory:x', 'memory', '/proc/x', 'filestorage2:/proc/x', 'sqlite:/proc/x', 'fs:', 'node:fs',
    '', ':', 'sqlite:', 'filestorage2:', 'sqlite-blobs:', '@zz/no-such:x', ' memory: ',
  ),
  specArg,
  fc.record({ engine: fc.oneof(engineNames, hostile), path: pathArg, options: engineOptions, locatorSecret: fc.oneof(fc.string(), hostile) }, { requiredKeys: [] }),
  fc.record({ storage: specArg, blobs: specArg, locatorSecret: fc.oneof(fc.string({ minLength: 16 }), hostile) }, { requiredKeys: [] }),
  hostile,
);

/** openDatabase overrides (not `fs`: a fake file system is a test seam that may break anything, by design). */
export const overridesArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.record({ clock: hostile, logger: hostile }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 5, 'x', [], { colour: 1 }) },
);

/** A transaction's callback for `db.transaction`: a harmless reader, or a hostile non-function. */
export const fnArg: fc.Arbitrary<unknown> = fc.oneof({ weight: 3, arbitrary: fc.constant('reader') }, { weight: 1, arbitrary: hostile });

/** One call of a sequence. `tx`, `h` and `s` pick an open transaction, handle or snapshot (modulo how many are open). */
export type Command =
  | { readonly op: 'open'; readonly config: unknown; readonly overrides: unknown }
  | { readonly op: 'begin'; readonly options: unknown }
  | { readonly op: 'transaction'; readonly fn: unknown; readonly options: unknown }
  | { readonly op: 'commitScratch'; readonly meta: unknown }
  | { readonly op: 'read'; readonly tx: number; readonly kind: 'read' | 'tryRead' | 'blob'; readonly oid: unknown }
  | { readonly op: 'write'; readonly tx: number; readonly oid: unknown; readonly data: unknown; readonly options: unknown }
  | { readonly op: 'create'; readonly tx: number; readonly data: unknown; readonly options: unknown }
  | { readonly op: 'delete'; readonly tx: number; readonly oid: unknown }
  | { readonly op: 'createBlob'; readonly tx: number }
  | { readonly op: 'txOpenLocator'; readonly tx: number; readonly locator: unknown; readonly mode: unknown }
  | { readonly op: 'blobOpen'; readonly tx: number; readonly inSnapshot: boolean; readonly oid: unknown; readonly mode: unknown }
  | { readonly op: 'blobLocator'; readonly tx: number; readonly oid: unknown; readonly access: unknown }
  | { readonly op: 'handle'; readonly h: number; readonly action: HandleAction; readonly a: unknown; readonly b: unknown }
  | { readonly op: 'snapshot'; readonly at: unknown }
  | { readonly op: 'snapshotRead'; readonly s: number; readonly oid: unknown }
  | { readonly op: 'dbOpenLocator'; readonly locator: unknown }
  | { readonly op: 'pack'; readonly at: unknown }
  | { readonly op: 'gc' }
  | { readonly op: 'abort'; readonly tx: number };

/** What a `handle` command does. */
export type HandleAction = 'read' | 'write' | 'seek' | 'tell' | 'size' | 'truncate' | 'flush' | 'close' | 'stream' | 'writeStream';

const pick = fc.nat(7);
const handleArgs: Record<HandleAction, [fc.Arbitrary<unknown>, fc.Arbitrary<unknown>]> = {
  read: [fc.oneof(fc.constant(undefined), offsetArg), fc.constant(undefined)],
  write: [dataArg, fc.constant(undefined)],
  seek: [offsetArg, whenceArg],
  tell: [fc.constant(undefined), fc.constant(undefined)],
  size: [fc.constant(undefined), fc.constant(undefined)],
  truncate: [fc.oneof(fc.constant(undefined), offsetArg), fc.constant(undefined)],
  flush: [fc.constant(undefined), fc.constant(undefined)],
  close: [fc.constant(undefined), fc.constant(undefined)],
  stream: [streamOptionsArg, fc.constant(undefined)],
  writeStream: [fc.uint8Array({ maxLength: 4096 }), fc.constant(undefined)],
};
const handleCommand: fc.Arbitrary<Command> = fc
  .constantFrom(...(Object.keys(handleArgs) as HandleAction[]))
  .chain((action) => fc.record({ op: fc.constant('handle' as const), h: pick, action: fc.constant(action), a: handleArgs[action][0], b: handleArgs[action][1] }));

/** One call, weighted towards the transaction and handle calls that need an open transaction or handle. */
export const commandArg: fc.Arbitrary<Command> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ op: fc.constant('open' as const), config: configArg, overrides: overridesArg }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('begin' as const), options: txOptionsArg }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('transaction' as const), fn: fnArg, options: txOptionsArg }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('commitScratch' as const), meta: metaArg }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('read' as const), tx: pick, kind: fc.constantFrom('read' as const, 'tryRead' as const, 'blob' as const), oid: oidArg }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('write' as const), tx: pick, oid: oidArg, data: dataArg, options: writeOptionsArg }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('create' as const), tx: pick, data: dataArg, options: writeOptionsArg }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), tx: pick, oid: oidArg }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('createBlob' as const), tx: pick }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('txOpenLocator' as const), tx: pick, locator: locatorArg, mode: modeArg }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('blobOpen' as const), tx: pick, inSnapshot: fc.boolean(), oid: oidArg, mode: modeArg }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('blobLocator' as const), tx: pick, oid: oidArg, access: fc.oneof(fc.constant(undefined), fc.record({ write: hostile, append: hostile }, { requiredKeys: [] }), hostile) }) },
  { weight: 8, arbitrary: handleCommand },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('snapshot' as const), at: tidArg }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('snapshotRead' as const), s: pick, oid: oidArg }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('dbOpenLocator' as const), locator: locatorArg }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('pack' as const), at: packAtArg }) },
  { weight: 1, arbitrary: fc.constant({ op: 'gc' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('abort' as const), tx: pick }) },
);
