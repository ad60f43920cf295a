import test from 'ava';
import { backoffDelay, DEFAULT_BACKOFF, resolveBackoff } from '../src/database/retry-backoff.js';
import { ConflictError } from '../src/index.js';

test('backoff waits a uniformly random time under a bound that grows by factor per retry up to maxMs (full jitter)', (t) => {
  const backoff = resolveBackoff({ initialMs: 4, maxMs: 50, factor: 3 });
  t.is(backoffDelay(backoff, 0, () => 0), 0);
  t.is(backoffDelay(backoff, 0, () => 0.5), 2);
  t.is(backoffDelay(backoff, 1, () => 0.5), 6);
  t.is(backoffDelay(backoff, 2, () => 0.5), 18);
  t.is(backoffDelay(backoff, 3, () => 0.5), 25); // 4 * 27 = 108, capped at 50
  t.is(backoffDelay(backoff, 60, () => 0.999), 49.95);
  t.deepEqual(resolveBackoff(undefined), DEFAULT_BACKOFF);
  t.deepEqual(resolveBackoff({ initialMs: 500 }), { initialMs: 500, maxMs: 500, factor: 2 });
});

test('a ConflictError names oids and serials in 16 hex digits', (t) => {
  const error = new ConflictError(10n, 0x1a25310791600000n, 255n, 'detail');
  t.is(error.message, 'conflict on oid 000000000000000a: committed serial 1a25310791600000, expected 00000000000000ff (detail)');
  t.is(new ConflictError(1n, undefined, 2n).message, 'conflict on oid 0000000000000001: committed serial none, expected 0000000000000002');
  t.is(error.attempts, undefined);
});
