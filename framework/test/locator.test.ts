import test from 'ava';
import { randomBytes } from 'node:crypto';
import { handlertonId, InvalidLocatorError, Locator, LocatorCodec, LOCATOR_SIZE } from '../src/index.js';

const key = randomBytes(32);
const codec = new LocatorCodec([key], 42n);
const fields = {
  access: { read: true, write: true, append: false },
  mode: 'dataTransactional' as const,
  handlertonId: handlertonId('memory'),
  oid: 7n,
  blobId: 9n,
  revision: 123456789n,
};

test('a minted locator is 64 bytes and round-trips through bytes and string form', (t) => {
  const locator = codec.mint(fields);
  t.is(locator.toBytes().length, LOCATOR_SIZE);
  const again = codec.verify(locator.toBytes(), 'memory');
  t.deepEqual({ ...again.access }, fields.access);
  t.is(again.oid, 7n);
  t.is(again.blobId, 9n);
  t.is(again.revision, 123456789n);
  t.is(again.databaseId, 42n);
  t.is(again.mode, 'dataTransactional');
  const text = locator.toString();
  t.regex(text, /^hl1\.[A-Za-z0-9_-]+$/);
  t.is(codec.verify(text).toString(), text);
});

test('every single-bit change of a locator is rejected', (t) => {
  const bytes = codec.mint(fields).toBytes();
  for (let bit = 0; bit < LOCATOR_SIZE * 8; bit++) {
    const tampered = Uint8Array.from(bytes);
    tampered[bit >> 3]! ^= 1 << (bit & 7);
    const error = t.throws(() => codec.verify(tampered));
    t.is((error as InvalidLocatorError).code, 'HANDLERTON_INVALID_LOCATOR');
  }
});

test('truncated, padded, foreign and garbage locators raise InvalidLocatorError', (t) => {
  const locator = codec.mint(fields);
  const other = new LocatorCodec([randomBytes(32)], 42n);
  const otherDb = new LocatorCodec([key], 43n);
  const cases: unknown[] = [
    locator.toBytes().subarray(0, 63),
    Uint8Array.from([...locator.toBytes(), 0]),
    locator.toString().slice(0, -2),
    'hl1.!!!!',
    'not a locator',
    '',
    42,
  ];
  for (const value of cases) {
    t.throws(() => codec.verify(value as string), { instanceOf: InvalidLocatorError });
  }
  t.throws(() => other.verify(locator), { instanceOf: InvalidLocatorError, message: /MAC/ });
  t.throws(() => otherDb.verify(locator), { instanceOf: InvalidLocatorError, message: /database/ });
  t.throws(() => codec.verify(locator, 'sqlite-blobs'), { instanceOf: InvalidLocatorError, message: /handlerton/ });
});

test('rotated keys: a locator signed with an older key still verifies', (t) => {
  const old = codec.mint(fields);
  const rotated = new LocatorCodec([randomBytes(32), key], 42n);
  t.is(rotated.verify(old).blobId, 9n);
  t.throws(() => new LocatorCodec([], 1n), { instanceOf: InvalidLocatorError });
  t.true(Locator.from(old.toString()).access.write);
});
