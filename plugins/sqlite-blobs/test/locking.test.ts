import test from 'ava';
import { fileURLToPath } from 'node:url';
import { SqliteBlobs, SqliteStorage } from '../src/index.js';
import { commit, optionsIn, runChild, tempDir, text } from './helpers.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;

test('a second process cannot open the file while one owns it (StorageLockedError), nothing is damaged', async (t) => {
  const options = optionsIn(await tempDir(t));
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  const tid = await commit(storage, [[1n, 0n, 'mine']]);
  const script = `
    import { SqliteStorage } from ${JSON.stringify(indexUrl)};
    try { await SqliteStorage.open(${JSON.stringify(options)}); console.log('OPENED'); }
    catch (e) { console.log('ERR', e.code); }`;
  const { out } = await runChild(script);
  t.regex(out, /ERR HANDLERTON_STORAGE_LOCKED/);
  t.is(text((await storage.load(1n)).data), 'mine');
  await commit(storage, [[1n, tid, 'still mine']]);
  t.is(fileURLToPath(indexUrl).endsWith('index.js'), true);
});

test('storage and blobs on one location use two files, each with its own connection and lock', async (t) => {
  const options = optionsIn(await tempDir(t));
  const storage = await SqliteStorage.open(options);
  const blobs = await SqliteBlobs.open(options);
  t.not(blobs.connection.file, storage.connection.file);
  t.is(storage.connection.users, 1);
  t.is(blobs.connection.users, 1);
  const second = await SqliteBlobs.open(options);
  t.is(second.connection, blobs.connection, 'a second blob handlerton in the process shares the connection');
  t.is(blobs.connection.users, 2);
  await second.close();
  await storage.close();
  t.truthy(await blobs.createBlob());
  const blobId = blobs.databaseId;
  await blobs.close();
  const again = await SqliteStorage.open(options);
  t.is(again.databaseId, storage.databaseId);
  await again.close();
  const blobsAgain = await SqliteBlobs.open(options);
  t.is(blobsAgain.databaseId, blobId);
  await blobsAgain.close();
});

test('a killed writer loses no acknowledged commit (synchronous=full)', async (t) => {
  const options = optionsIn(await tempDir(t));
  const script = `
    import { SqliteStorage } from ${JSON.stringify(indexUrl)};
    import { storageTransaction } from '@handlerton/framework';
    const s = await SqliteStorage.open(${JSON.stringify(options)});
    let serial = 0n;
    for (let i = 0; i < 50; i++) {
      const txn = storageTransaction();
      await s.tpcBegin(txn);
      await s.store(1n, serial, { data: new TextEncoder().encode('v' + i), refs: { oids: [], blobs: [] } }, txn);
      await s.tpcVote(txn);
      serial = await s.tpcFinish(txn);
      console.log('ACK ' + i + ' ' + serial);
    }
    const txn = storageTransaction();
    await s.tpcBegin(txn);
    await s.store(2n, 0n, { data: new Uint8Array(10), refs: { oids: [], blobs: [] } }, txn);
    await s.tpcVote(txn);
    process.kill(process.pid, 'SIGKILL');`;
  const { out } = await runChild(script);
  const acks = out.split('\n').filter((l) => l.startsWith('ACK '));
  t.is(acks.length, 50, out);
  const lastTid = BigInt(acks[acks.length - 1]!.split(' ')[2]!);
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  t.is(storage.lastTransaction(), lastTid);
  t.is(text((await storage.load(1n)).data), 'v49');
  await t.throwsAsync(storage.load(2n), { code: 'HANDLERTON_POS_KEY' });
});

test('the chunk-writer thread starts and writes, also in a process started with V8 and --input-type flags', async (t) => {
  const options = optionsIn(await tempDir(t));
  const script = `
    import { SqliteBlobs } from ${JSON.stringify(indexUrl)};
    import { blobTransaction } from '@handlerton/framework';
    const blobs = await SqliteBlobs.open(${JSON.stringify(options)});
    const id = await blobs.createBlob();
    const txn = blobTransaction();
    const draft = await blobs.createDraft(txn, id, 1n, null);
    await draft.write(new Uint8Array(600000).fill(7), 0);
    await blobs.prepare(txn, 5n);
    await blobs.commit(txn);
    console.log('ALIVE', blobs.connection.chunkWriter?.alive === true);
    const reader = await blobs.openRevision(id, 5n);
    const data = new Uint8Array(600000);
    await reader.read(data, 0);
    await reader.close();
    console.log('DATA', data.every((b) => b === 7));
    await blobs.close();`;
  const { out } = await runChild(script, ['--max-old-space-size=256', '--expose-gc']);
  t.regex(out, /ALIVE true/, out);
  t.regex(out, /DATA true/, out);
});
