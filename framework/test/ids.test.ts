import test from 'ava';
import { bytesToU64, InvalidArgumentError, nextTid, tidFromMillis, tidToDate, toHex, u64ToBytes, assertU64, MAX_U64 } from '../src/index.js';

test('u64 values round-trip through 8 big-endian bytes that sort like the numbers', (t) => {
  const values = [0n, 1n, 255n, 256n, 1n << 40n, MAX_U64];
  for (const v of values) t.is(bytesToU64(u64ToBytes(v)), v);
  const sorted = values.map((v) => Buffer.from(u64ToBytes(v))).sort(Buffer.compare).map((b) => bytesToU64(b));
  t.deepEqual(sorted, values);
  t.is(toHex(255n), '00000000000000ff');
});

test('tids come from wall-clock time and strictly increase even when the clock goes back', (t) => {
  const now = Date.UTC(2026, 10, 21, 12, 0, 0);
  const first = nextTid(0n, now);
  t.is(first, tidFromMillis(now));
  t.is(tidToDate(first).getTime(), now);
  const sameMs = nextTid(first, now);
  t.true(sameMs > first);
  const clockBack = nextTid(sameMs, now - 60_000);
  t.true(clockBack > sameMs);
  t.is(tidToDate(clockBack).getTime(), now);
});

test('assertU64 rejects numbers, negatives and values over 64 bits with InvalidArgumentError', (t) => {
  for (const bad of [1, -1n, MAX_U64 + 1n, '1', null]) {
    const error = t.throws(() => assertU64(bad, 'oid'), { instanceOf: InvalidArgumentError });
    t.is(error?.code, 'HANDLERTON_INVALID_ARGUMENT');
    t.regex(error?.message ?? '', /oid must be an unsigned 64-bit bigint/);
  }
});
