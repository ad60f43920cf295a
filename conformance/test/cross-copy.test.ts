/**
 * Copy between different engines (iterator + restore, blob revisions streamed across): the target
 * ends with identical records, histories and blob bytes. Runs for every pair of engines available.
 */
import test from 'ava';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlobId, EnginePlugin, Oid } from '@handlerton/framework';
import { copyTransactions, harnessFromPlugin, type Engines } from '../src/index.js';
import { commitBlobRecords, digestRevision } from '../src/util/blob-io.js';
import { commit, collect } from '../src/util/records.js';
import { tryLoad } from './engines.js';

const names = ['memory', 'filestorage2', 'sqlite'];
const plugins = new Map<string, EnginePlugin>();
for (const name of names) {
  const loaded = await tryLoad(name);
  if ('plugin' in loaded) plugins.set(name, loaded.plugin);
}

async function populate(e: Engines): Promise<{ oids: Oid[]; blob: Oid }> {
  const a = await e.storage.newOid();
  const b = await e.storage.newOid();
  let ta = await commit(e.storage, [{ oid: a, serial: 0n, data: 'a0' }], { user: 'alice', description: 'create', extension: { n: 1 } });
  await commit(e.storage, [{ oid: b, serial: 0n, data: 'b0', refs: { oids: [a] } }]);
  ta = await commit(e.storage, [{ oid: a, serial: ta, data: 'a1' }], { description: 'update' });
  const blobOid = await e.storage.newOid();
  const blobId: BlobId = await e.blobs.createBlob();
  const first = await commitBlobRecords(e.storage, e.blobs, [{ oid: blobOid, serial: 0n, blobId, data: new Uint8Array(200_000).fill(7) }]);
  await commitBlobRecords(e.storage, e.blobs, [{ oid: blobOid, serial: first.tid, blobId, data: new TextEncoder().encode('second') }]);
  return { oids: [a, b], blob: blobOid };
}

for (const [from, source] of plugins) {
  for (const [to, target] of plugins) {
    if (from === to) continue;
    test(`copy ${from} -> ${to}: identical records, histories and blob bytes`, async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'hc-copy-'));
      const src = await harnessFromPlugin(source).factory({ dir: join(dir, 'src') });
      const dst = await harnessFromPlugin(target).factory({ dir: join(dir, 'dst') });
      try {
        const { oids, blob } = await populate(src);
        const map = await copyTransactions(src, dst);
        assert.deepEqual(
          (await collect(dst.storage.iterator())).map((x) => [x.tid, x.meta, x.records.length]),
          (await collect(src.storage.iterator())).map((x) => [x.tid, x.meta, x.records.length]),
        );
        for (const oid of oids) {
          const [x, y] = [await src.storage.load(oid), await dst.storage.load(oid)];
          assert.deepEqual([y.tid, Array.from(y.data), [...y.refs.oids]], [x.tid, Array.from(x.data), [...x.refs.oids]]);
          const strip = (h: { time: Date }[]): unknown => h.map((e) => ({ ...e, time: e.time.getTime() }));
          assert.deepEqual(strip(await dst.storage.history(oid, 10)), strip(await src.storage.history(oid, 10)));
        }
        const [rx, ry] = [(await src.storage.load(blob)).refs.blobs[0]!, (await dst.storage.load(blob)).refs.blobs[0]!];
        assert.equal(ry.blobId, map.get(rx.blobId));
        assert.equal(ry.handlerton, dst.blobs.name);
        assert.deepEqual(await digestRevision(dst.blobs, ry.blobId, ry.revision), await digestRevision(src.blobs, rx.blobId, rx.revision));
        t.pass();
      } finally {
        await Promise.allSettled([src.storage.close(), src.blobs.close(), dst.storage.close(), dst.blobs.close()]);
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
}
if (plugins.size < 2) test.skip('fewer than two engines available for cross-engine copies', (t) => t.pass());
