/** The gateway's Range parsing and conditional checks (pure functions, no server). */
import test from 'ava';
import { parseRange } from '../src/http/range.js';
import { notModified, revisionDate, revisionEtag } from '../src/http/conditional.js';
import { tidFromMillis } from '../src/contracts/ids.js';

test('parseRange: single ranges, suffixes and clamping', (t) => {
  t.deepEqual(parseRange(undefined, 10), { kind: 'whole' });
  t.deepEqual(parseRange('bytes=0-0', 10), { kind: 'partial', start: 0, end: 0 });
  t.deepEqual(parseRange('bytes=9-9', 10), { kind: 'partial', start: 9, end: 9 });
  t.deepEqual(parseRange('bytes=3-', 10), { kind: 'partial', start: 3, end: 9 });
  t.deepEqual(parseRange('bytes=-4', 10), { kind: 'partial', start: 6, end: 9 });
  t.deepEqual(parseRange('bytes=-40', 10), { kind: 'partial', start: 0, end: 9 });
  t.deepEqual(parseRange('bytes=5-400', 10), { kind: 'partial', start: 5, end: 9 });
});

test('parseRange: a start at or past the end is unsatisfiable, also open-ended (bytes=size-)', (t) => {
  // Regression: "bytes=10-" on 10 bytes was taken as an invalid range (200) instead of 416.
  t.deepEqual(parseRange('bytes=10-', 10), { kind: 'unsatisfiable' });
  t.deepEqual(parseRange('bytes=10-20', 10), { kind: 'unsatisfiable' });
  t.deepEqual(parseRange('bytes=-0', 10), { kind: 'unsatisfiable' });
  t.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
});

test('parseRange: several ranges, other units and bad syntax are ignored (whole blob)', (t) => {
  for (const header of ['bytes=0-1,3-4', 'items=0-1', 'bytes=5-2', 'bytes=a-b', 'bytes=-', 'bytes=99999999999999999999-']) {
    t.deepEqual(parseRange(header, 10), { kind: 'whole' }, header);
  }
});

test('validators: strong ETag from blob id and revision; If-None-Match before If-Modified-Since', (t) => {
  const revision = tidFromMillis(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
  const etag = revisionEtag(0x2an, revision);
  t.regex(etag, /^"000000000000002a-[0-9a-f]{16}"$/);
  const date = revisionDate(revision)!;
  t.is(date.toISOString(), '2026-01-02T03:04:05.000Z');
  t.is(revisionDate(0n), undefined);
  t.true(notModified({ 'if-none-match': etag }, etag, date));
  t.true(notModified({ 'if-none-match': `"x", W/${etag}` }, etag, date));
  t.true(notModified({ 'if-none-match': '*' }, etag, date));
  t.false(notModified({ 'if-none-match': '"x"', 'if-modified-since': date.toUTCString() }, etag, date));
  t.true(notModified({ 'if-modified-since': date.toUTCString() }, etag, date));
  t.false(notModified({ 'if-modified-since': new Date(date.getTime() - 1000).toUTCString() }, etag, date));
  t.false(notModified({ 'if-modified-since': 'not a date' }, etag, date));
  t.false(notModified({}, etag, date));
});
