import test from 'ava';
import { CorruptionError, decodeRefs, encodeRefs, NO_REFS } from '../src/index.js';

test('refs round-trip, including blob refs with unicode handlerton names', (t) => {
  const refs = {
    oids: [0n, 1n, (1n << 64n) - 1n],
    blobs: [
      { handlerton: 'memory', blobId: 5n, revision: 77n },
      { handlerton: 'thïrd-party', blobId: 6n, revision: 0n },
    ],
  };
  t.deepEqual(decodeRefs(encodeRefs(refs)), refs);
  t.deepEqual(decodeRefs(encodeRefs(NO_REFS)), { oids: [], blobs: [] });
  t.is(encodeRefs(NO_REFS).length, 8);
});

test('truncated or padded refs raise CorruptionError', (t) => {
  const bytes = encodeRefs({ oids: [1n, 2n], blobs: [{ handlerton: 'x', blobId: 1n, revision: 2n }] });
  for (let cut = 0; cut < bytes.length; cut++) {
    t.throws(() => decodeRefs(bytes.subarray(0, cut)), { instanceOf: CorruptionError });
  }
  t.throws(() => decodeRefs(Uint8Array.from([...bytes, 0])), { instanceOf: CorruptionError });
});
