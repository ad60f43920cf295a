/** The BlobHandlerton contract itself: ids, drafts, prepare/commit/rollback, revisions, refcounts. */
import assert from 'node:assert/strict';
import { blobTransaction, type BlobHandlerton, type BlobId, type Tid } from '@handlerton/framework';
import { rejectsWithCode } from '../util/assert-code.js';
import { patternChunk, patternSha, readRevision, digestRevision } from '../util/blob-io.js';
import { bytes, text } from '../util/records.js';
import type { CaseSpec } from './define.js';

/** Commits one revision of `blobId` with `data` (raw handlerton calls); returns the revision. */
async function commitRevision(blobs: BlobHandlerton, blobId: BlobId, data: Uint8Array, revision: Tid, base: Tid | null = null, refs = true): Promise<Tid> {
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, base);
  await draft.truncate(0);
  await draft.write(data, 0);
  if (refs) await blobs.addReferences(txn, [{ handlerton: blobs.name, blobId, revision }]);
  await blobs.prepare(txn, revision);
  await blobs.commit(txn);
  return revision;
}

export const rawBlobCases: readonly CaseSpec[] = [
  {
    id: 'raw-create-blob-ids',
    title: 'createBlob returns distinct ids, each with no committed revision yet',
    source: 'DESIGN BlobHandlerton',
    rule: ['blob-handlerton.ts#BlobHandlerton.createBlob', 'blob-handlerton.ts#BlobHandlerton.latestRevision'],
    run: async ({ blobs }) => {
      const ids = new Set<BlobId>();
      for (let i = 0; i < 20; i++) {
        const id = await blobs.createBlob();
        assert.ok(!ids.has(id), 'distinct');
        ids.add(id);
        assert.equal(await blobs.latestRevision(id), null);
      }
    },
  },
  {
    id: 'raw-commit-revision',
    title: 'a committed draft becomes a readable revision of exactly the bytes written; latestRevision names it',
    source: 'T112',
    rule: [
      'blob-handlerton.ts#BlobHandlerton.commit',
      'blob-handlerton.ts#BlobHandlerton.latestRevision',
      'blob-handlerton.ts#RevisionReader.read',
      'blob-handlerton.ts#RevisionReader.close',
    ],
    run: async ({ blobs }) => {
      const id = await blobs.createBlob();
      await commitRevision(blobs, id, bytes('hello blob'), 100n);
      assert.equal(text(await readRevision(blobs, id, 100n)), 'hello blob');
      assert.equal(await blobs.latestRevision(id), 100n);
      const reader = await blobs.openRevision(id, 100n);
      assert.equal(reader.size, 10);
      const buf = new Uint8Array(4);
      assert.equal(await reader.read(buf, 6), 4);
      assert.equal(text(buf), 'blob');
      assert.equal(await reader.read(buf, 10), 0, 'read at the end returns 0');
      assert.equal(await reader.read(buf, 50), 0, 'read past the end returns 0');
      await reader.close();
      await reader.close();
    },
  },
  {
    id: 'raw-draft-invisible-until-commit',
    title: 'a draft is invisible before commit, even after prepare',
    source: 'DESIGN BlobHandlerton',
    rule: ['blob-handlerton.ts#invariants', 'blob-handlerton.ts#BlobHandlerton.prepare'],
    run: async ({ blobs }) => {
      const id = await blobs.createBlob();
      const txn = blobTransaction();
      const draft = await blobs.createDraft(txn, id, 1n, null);
      await draft.write(bytes('secret'), 0);
      await rejectsWithCode(blobs.openRevision(id, 200n), 'HANDLERTON_POS_KEY', 'before prepare');
      await blobs.prepare(txn, 200n);
      await rejectsWithCode(blobs.openRevision(id, 200n), 'HANDLERTON_POS_KEY', 'after prepare');
      assert.equal(await blobs.latestRevision(id), null);
      await blobs.commit(txn);
      assert.equal(text(await readRevision(blobs, id, 200n)), 'secret');
    },
  },
  {
    id: 'raw-rollback-leaves-nothing',
    title: 'rollback (before or after prepare) leaves no trace; rollback of an unknown transaction is ignored',
    source: 'API-8',
    rule: ['blob-handlerton.ts#BlobHandlerton.rollback', 'blob-handlerton.ts#invariants'],
    run: async ({ blobs }) => {
      const id = await blobs.createBlob();
      await commitRevision(blobs, id, bytes('v1'), 10n);
      for (const prepared of [false, true]) {
        const txn = blobTransaction();
        const draft = await blobs.createDraft(txn, id, 1n, 10n);
        await draft.write(bytes('XX'), 0);
        if (prepared) await blobs.prepare(txn, 20n);
        await blobs.rollback(txn);
        await rejectsWithCode(blobs.openRevision(id, 20n), 'HANDLERTON_POS_KEY');
        assert.equal(await blobs.latestRevision(id), 10n);
        assert.equal(text(await readRevision(blobs, id, 10n)), 'v1');
      }
      await blobs.rollback(blobTransaction());
    },
  },
  {
    id: 'raw-draft-from-base',
    title: 'a draft based on a revision starts with its bytes; committing it leaves the base revision unchanged',
    source: 'BL-4',
    rule: ['blob-handlerton.ts#BlobHandlerton.createDraft', 'blob-handlerton.ts#invariants'],
    run: async ({ blobs }) => {
      const id = await blobs.createBlob();
      await commitRevision(blobs, id, bytes('0123456789'), 10n);
      const txn = blobTransaction();
      const draft = await blobs.createDraft(txn, id, 1n, 10n);
      assert.equal(draft.size(), 10);
      const buf = new Uint8Array(10);
      assert.equal(await draft.read(buf, 0), 10);
      assert.equal(text(buf), '0123456789');
      await draft.write(bytes('AB'), 4);
      await blobs.prepare(txn, 20n);
      await blobs.commit(txn);
      assert.equal(text(await readRevision(blobs, id, 20n)), '0123AB6789');
      assert.equal(text(await readRevision(blobs, id, 10n)), '0123456789');
    },
  },
  {
    id: 'raw-draft-missing-base',
    title: 'createDraft from a revision that does not exist raises POSKeyError',
    source: 'API-13',
    rule: ['blob-handlerton.ts#BlobHandlerton.createDraft'],
    run: async ({ blobs }) => {
      const id = await blobs.createBlob();
      await rejectsWithCode(blobs.createDraft(blobTransaction(), id, 1n, 12345n), 'HANDLERTON_POS_KEY');
    },
  },
  {
    id: 'raw-open-missing-revision',
    title: 'openRevision of an unknown blob or revision raises POSKeyError',
    source: 'API-25',
    rule: ['blob-handlerton.ts#BlobHandlerton.openRevision'],
    run: async ({ blobs }) => {
      const id = await blobs.createBlob();
      await rejectsWithCode(blobs.openRevision(id, 5n), 'HANDLERTON_POS_KEY', 'no revision yet');
      await commitRevision(blobs, id, bytes('x'), 10n);
      await rejectsWithCode(blobs.openRevision(id, 11n), 'HANDLERTON_POS_KEY', 'other revision');
      await rejectsWithCode(blobs.openRevision(id + 1_000_000n, 10n), 'HANDLERTON_POS_KEY', 'unknown blob');
    },
  },
  {
    id: 'raw-draft-write-gap-and-truncate',
    title: 'draft writes past the end zero-fill the gap; truncate cuts and zero-extends',
    source: 'DESIGN BlobHandlerton',
    rule: ['blob-handlerton.ts#BlobDraft.write', 'blob-handlerton.ts#BlobDraft.truncate', 'blob-handlerton.ts#BlobDraft.read'],
    run: async ({ blobs }) => {
      const id = await blobs.createBlob();
      const txn = blobTransaction();
      const draft = await blobs.createDraft(txn, id, 1n, null);
      await draft.write(bytes('ab'), 0);
      await draft.write(bytes('z'), 5);
      assert.equal(draft.size(), 6);
      const buf = new Uint8Array(6);
      await draft.read(buf, 0);
      assert.deepEqual(Array.from(buf), [0x61, 0x62, 0, 0, 0, 0x7a]);
      await draft.truncate(1);
      assert.equal(draft.size(), 1);
      await draft.truncate(4);
      const out = new Uint8Array(4);
      assert.equal(await draft.read(out, 0), 4);
      assert.deepEqual(Array.from(out), [0x61, 0, 0, 0]);
      assert.equal(await draft.read(out, 4), 0, 'draft read at the end returns 0');
      await blobs.rollback(txn);
    },
  },
  {
    id: 'raw-second-draft-replaces',
    title: 'a second createDraft of one blob in one transaction replaces the first',
    source: 'DESIGN BlobHandlerton',
    rule: ['blob-handlerton.ts#BlobHandlerton.createDraft'],
    run: async ({ blobs }) => {
      const id = await blobs.createBlob();
      const txn = blobTransaction();
      const first = await blobs.createDraft(txn, id, 1n, null);
      await first.write(bytes('first'), 0);
      const second = await blobs.createDraft(txn, id, 1n, null);
      await second.write(bytes('2nd'), 0);
      await blobs.prepare(txn, 30n);
      await blobs.commit(txn);
      assert.equal(text(await readRevision(blobs, id, 30n)), '2nd');
    },
  },
  {
    id: 'raw-streaming-large',
    title: 'a multi-MiB blob written and read in chunks round-trips byte for byte',
    source: 'DESIGN Blob semantics',
    rule: ['blob-handlerton.ts#invariants', 'blob-handlerton.ts#BlobDraft.write'],
    run: async ({ blobs }) => {
      const chunk = 256 * 1024;
      const count = 12;
      const id = await blobs.createBlob();
      const txn = blobTransaction();
      const draft = await blobs.createDraft(txn, id, 1n, null);
      for (let i = 0; i < count; i++) await draft.write(patternChunk(7, i, chunk), i * chunk);
      await blobs.prepare(txn, 40n);
      await blobs.commit(txn);
      assert.deepEqual(await digestRevision(blobs, id, 40n), { size: chunk * count, sha: patternSha(7, count, chunk) });
    },
  },
  {
    id: 'raw-partial-update',
    title: 'with partialUpdate, a few bytes written into a draft of a large revision commit correctly and the base stays intact',
    source: 'DESIGN Blob semantics',
    rule: ['blob-handlerton.ts#invariants', 'capabilities.ts#BlobCapabilities.partialUpdate'],
    requires: ['blob.partialUpdate'],
    run: async ({ blobs }) => {
      const chunk = 256 * 1024;
      const id = await blobs.createBlob();
      const txn = blobTransaction();
      const draft = await blobs.createDraft(txn, id, 1n, null);
      for (let i = 0; i < 8; i++) await draft.write(patternChunk(3, i, chunk), i * chunk);
      await blobs.prepare(txn, 10n);
      await blobs.commit(txn);
      const t2 = blobTransaction();
      const d2 = await blobs.createDraft(t2, id, 1n, 10n);
      await d2.write(bytes('PATCH'), 3 * chunk + 100);
      await blobs.prepare(t2, 20n);
      await blobs.commit(t2);
      const reader = await blobs.openRevision(id, 20n);
      const probe = new Uint8Array(5);
      await reader.read(probe, 3 * chunk + 100);
      assert.equal(text(probe), 'PATCH');
      assert.equal(reader.size, 8 * chunk);
      await reader.close();
      assert.deepEqual(await digestRevision(blobs, id, 10n), { size: 8 * chunk, sha: patternSha(3, 8, chunk) });
    },
  },
  {
    id: 'raw-refcount-records-and-readers',
    title: 'refcount counts record references from commit on, plus open readers; releaseReferences drops them',
    source: 'WL#3583 refcount',
    rule: [
      'blob-handlerton.ts#BlobHandlerton.refcount',
      'blob-handlerton.ts#BlobHandlerton.addReferences',
      'blob-handlerton.ts#BlobHandlerton.releaseReferences',
      'blob-handlerton.ts#RevisionReader.close',
    ],
    requires: ['blob.refcount'],
    run: async ({ blobs }) => {
      const id = await blobs.createBlob();
      const txn = blobTransaction();
      const draft = await blobs.createDraft(txn, id, 1n, null);
      await draft.write(bytes('x'), 0);
      const ref = { handlerton: blobs.name, blobId: id, revision: 50n };
      await blobs.addReferences(txn, [ref, ref]);
      await blobs.prepare(txn, 50n);
      assert.equal(await blobs.refcount(id, 50n), 0, 'references count only once committed');
      await blobs.commit(txn);
      assert.equal(await blobs.refcount(id, 50n), 2);
      const r1 = await blobs.openRevision(id, 50n);
      const r2 = await blobs.openRevision(id, 50n);
      assert.equal(await blobs.refcount(id, 50n), 4);
      await r1.close();
      await r1.close();
      assert.equal(await blobs.refcount(id, 50n), 3, 'closing twice counts once');
      await r2.close();
      await blobs.releaseReferences([ref]);
      assert.equal(await blobs.refcount(id, 50n), 1);
      await blobs.releaseReferences([{ handlerton: blobs.name, blobId: id, revision: 999n }]);
      assert.equal(await blobs.refcount(id, 999n), 0, 'unknown revisions count 0 and are ignored');
    },
  },
  {
    id: 'raw-reclaim',
    title: 'reclaim removes revisions with no record reference and no reader, and keeps the rest',
    source: 'API-27',
    rule: ['blob-handlerton.ts#BlobHandlerton.reclaim'],
    requires: ['blob.refcount'],
    run: async ({ blobs }) => {
      const id = await blobs.createBlob();
      await commitRevision(blobs, id, bytes('old'), 10n);
      await commitRevision(blobs, id, bytes('new'), 20n);
      await blobs.releaseReferences([{ handlerton: blobs.name, blobId: id, revision: 10n }]);
      assert.ok((await blobs.reclaim()).revisions >= 1);
      await rejectsWithCode(blobs.openRevision(id, 10n), 'HANDLERTON_POS_KEY', 'reclaimed');
      assert.equal(await blobs.refcount(id, 10n), 0);
      assert.equal(text(await readRevision(blobs, id, 20n)), 'new');
    },
  },
  {
    id: 'raw-reader-outlives-references',
    title: 'an open reader keeps its revision readable after its last record reference is released and reclaim runs',
    source: 'DESIGN Blob semantics',
    rule: ['blob-handlerton.ts#invariants'],
    requires: ['blob.refcount'],
    run: async ({ blobs }) => {
      const id = await blobs.createBlob();
      await commitRevision(blobs, id, bytes('kept alive'), 10n);
      const reader = await blobs.openRevision(id, 10n);
      await blobs.releaseReferences([{ handlerton: blobs.name, blobId: id, revision: 10n }]);
      await blobs.reclaim();
      const buf = new Uint8Array(reader.size);
      await reader.read(buf, 0);
      assert.equal(text(buf), 'kept alive');
      assert.equal(await blobs.refcount(id, 10n), 1, 'the reader still counts');
      await reader.close();
      await blobs.reclaim();
      await rejectsWithCode(blobs.openRevision(id, 10n), 'HANDLERTON_POS_KEY', 'reclaimed once the reader closed');
    },
  },
  {
    id: 'raw-close-rolls-back',
    title: 'closing the handlerton rolls back open blob transactions and is idempotent',
    source: 'DESIGN BlobHandlerton',
    rule: ['blob-handlerton.ts#BlobHandlerton.close'],
    run: async ({ blobs }) => {
      const id = await blobs.createBlob();
      const txn = blobTransaction();
      const draft = await blobs.createDraft(txn, id, 1n, null);
      await draft.write(bytes('never'), 0);
      await blobs.close();
      await blobs.close();
    },
  },
];
