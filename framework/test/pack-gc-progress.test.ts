/** Database.pack and collectGarbage tell an onProgress callback where they are (the CLI's progress display for pack and gc). */
import test from 'ava';
import { InvalidArgumentError, openDatabase, type GcProgress, type PackProgress } from '../src/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test('collectGarbage reports the replay, mark and sweep phases with their counts and the deletes', async (t) => {
  const db = await openDatabase('memory:');
  try {
    const [kept, garbage] = await db.transaction(async (tx) => [await tx.create(bytes('kept')), await tx.create(bytes('garbage'))]);
    await db.transaction(async (tx) => tx.write(0n, bytes('root'), { refs: [kept!] }));
    t.truthy(garbage);
    const seen: GcProgress[] = [];
    const result = await db.collectGarbage({ keep: 0, onProgress: (p) => seen.push(p) });
    t.is(result.deleted, 1);
    t.deepEqual([...new Set(seen.map((p) => p.phase))], ['replay', 'mark', 'sweep'], 'phases in order');
    const last = (phase: GcProgress['phase']): GcProgress => seen.filter((p) => p.phase === phase).at(-1)!;
    t.is(last('replay').done, 2, 'two transactions read');
    t.is(last('mark').done, 2, 'root and kept loaded');
    t.deepEqual(last('sweep'), { phase: 'sweep', done: 3, deleted: 1 }, 'three current objects checked, one deleted');
    await t.throwsAsync(db.collectGarbage({ onProgress: 'yes' } as never), { instanceOf: InvalidArgumentError, message: /onProgress must be a function/ });
  } finally {
    await db.close();
  }
});

test('pack reports the records phase with the blob references released, then the blobs phase', async (t) => {
  const db = await openDatabase('memory:');
  try {
    const oid = await db.transaction(async (tx) => {
      const blob = await tx.createBlob();
      const h = await blob.open('w');
      await h.write(bytes('first revision'));
      await h.close();
      return blob.oid;
    });
    await db.transaction(async (tx) => {
      const h = await (await tx.blob(oid)).open('w');
      await h.write(bytes('second revision'));
      await h.close();
    });
    const seen: PackProgress[] = [];
    const result = await db.pack(undefined, { onProgress: (p) => seen.push(p) });
    t.is(result.reclaimedBlobRevisions, 1);
    t.deepEqual(seen[0], { phase: 'records', blobRefsReleased: 0 });
    t.deepEqual(seen.at(-1), { phase: 'blobs', blobRefsReleased: 1 }, 'the old revision\'s reference was released, then blobs were reclaimed');
    await t.throwsAsync(db.pack(undefined, { onProgress: 1 } as never), { instanceOf: InvalidArgumentError, message: /onProgress must be a function/ });
    await t.throwsAsync(db.pack(undefined, { progress: () => {} } as never), { instanceOf: InvalidArgumentError, message: /progress is not an option/ });
  } finally {
    await db.close();
  }
});
