import test from 'ava';
import { SqliteBlobs } from '../src/index.js';
import { optionsIn, pattern, runChild, tempDir } from './helpers.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;

test('recover after a crash between prepare and commit: committed ones publish, others vanish', async (t) => {
  const options = optionsIn(await tempDir(t));
  const script = `
    import { SqliteBlobs } from ${JSON.stringify(indexUrl)};
    import { blobTransaction } from '@handlerton/framework';
    const blobs = await SqliteBlobs.open(${JSON.stringify(options)});
    const fill = (n, v) => new Uint8Array(n).fill(v);
    const prepared = async (tid, value) => {
      const id = await blobs.createBlob();
      const txn = blobTransaction();
      const draft = await blobs.createDraft(txn, id, 40n + tid, null);
      await draft.write(fill(150000, value), 0);
      await blobs.addReferences(txn, [{ handlerton: 'sqlite-blobs', blobId: id, revision: tid }]);
      await blobs.prepare(txn, tid);
      return id;
    };
    const a = await prepared(100n, 1);
    const b = await prepared(200n, 2);
    const c = await blobs.createBlob();
    const draft = await blobs.createDraft(blobTransaction(), c, 3n, null);
    await draft.write(fill(150000, 3), 0);
    console.log('IDS', String(a), String(b), String(c));
    process.kill(process.pid, 'SIGKILL');`;
  const { out } = await runChild(script);
  const line = out.split('\n').find((l) => l.startsWith('IDS '));
  t.truthy(line, out);
  const [a, b, c] = line!.split(' ').slice(1).map((x) => BigInt(x));
  const blobs = await SqliteBlobs.open(options);
  t.teardown(() => blobs.close());
  await t.throwsAsync(blobs.openRevision(a!, 100n), { code: 'HANDLERTON_POS_KEY' }, 'prepared is not visible before recover');
  const asked: bigint[] = [];
  await blobs.recover(async (pending) => {
    asked.push(pending.revision);
    t.is(pending.oid, 40n + pending.revision);
    return pending.revision === 100n;
  });
  t.deepEqual(asked.sort(), [100n, 200n]);
  const reader = await blobs.openRevision(a!, 100n);
  const data = new Uint8Array(reader.size);
  await reader.read(data, 0);
  await reader.close();
  t.deepEqual(data, new Uint8Array(150000).fill(1));
  t.is(await blobs.refcount(a!, 100n), 1, 'pending references were counted');
  await t.throwsAsync(blobs.openRevision(b!, 200n), { code: 'HANDLERTON_POS_KEY' });
  t.is(await blobs.latestRevision(c!), null);
  const chunks = Number((blobs.connection.db.prepare('select count(*) as n from chunk').get() as { n: bigint }).n);
  t.is(chunks, Math.ceil(150000 / options.chunkSize), 'only the recovered revision keeps chunks');
  await blobs.recover(async () => {
    t.fail('nothing left to recover');
    return false;
  });
  t.is(pattern(1, 0).length, 1);
});

for (const committed of [false, true]) {
  test(`a references-only prepare is decided by its witness at recover (storage ${committed ? 'committed' : 'did not commit'})`, async (t) => {
    const options = optionsIn(await tempDir(t));
    const script = `
      import { SqliteBlobs } from ${JSON.stringify(indexUrl)};
      import { blobTransaction } from '@handlerton/framework';
      const blobs = await SqliteBlobs.open(${JSON.stringify(options)});
      const id = await blobs.createBlob();
      const first = blobTransaction();
      const draft = await blobs.createDraft(first, id, 5n, null);
      await draft.write(new Uint8Array(1000).fill(1), 0);
      await blobs.addReferences(first, [{ handlerton: 'sqlite-blobs', blobId: id, revision: 100n }]);
      await blobs.prepare(first, 100n, 5n);
      await blobs.commit(first);
      const second = blobTransaction();
      await blobs.addReferences(second, [{ handlerton: 'sqlite-blobs', blobId: id, revision: 100n }]);
      await blobs.prepare(second, 300n, 77n);
      console.log('ID', String(id));
      process.kill(process.pid, 'SIGKILL');`;
    const { out } = await runChild(script);
    const line = out.split('\n').find((l) => l.startsWith('ID '));
    t.truthy(line, out);
    const id = BigInt(line!.split(' ')[1]!);
    const blobs = await SqliteBlobs.open(options);
    t.teardown(() => blobs.close());
    t.is(await blobs.refcount(id, 100n), 1);
    const asked: string[] = [];
    await blobs.recover(
      async () => t.fail('no draft is pending') as never,
      async (pending) => {
        asked.push(`${pending.tid}/${pending.witness}`);
        return committed;
      },
    );
    t.deepEqual(asked, ['300/77']);
    t.is(await blobs.refcount(id, 100n), committed ? 2 : 1);
    await blobs.recover(async () => true, async () => true);
    t.is(await blobs.refcount(id, 100n), committed ? 2 : 1, 'nothing is left pending');
  });
}
