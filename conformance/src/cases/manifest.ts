/** The manifest self-test: shape, JSON-cloneable, identical before open, after open and after close. */
import assert from 'node:assert/strict';
import { BLOB_CAPABILITY_NAMES, STORAGE_CAPABILITY_NAMES, isU64, storageTransaction, type BlobCapabilities, type StorageCapabilities } from '@handlerton/framework';
import { rejectsWithCode } from '../util/assert-code.js';
import { commit } from '../util/records.js';
import { defineArea } from './define.js';

function assertStorageShape(caps: StorageCapabilities, where: string): void {
  assert.deepEqual(Object.keys(caps).sort(), [...STORAGE_CAPABILITY_NAMES].sort(), `${where}: exactly the storage capability keys`);
  for (const name of STORAGE_CAPABILITY_NAMES) assert.equal(typeof caps[name], 'boolean', `${where}: ${name} is a boolean`);
}

function assertBlobShape(caps: BlobCapabilities, where: string): void {
  assert.deepEqual(Object.keys(caps).sort(), ['mode', ...BLOB_CAPABILITY_NAMES].sort(), `${where}: exactly the blob capability keys`);
  assert.ok(['transactional', 'nontransactional', 'dataTransactional'].includes(caps.mode), `${where}: mode is one of the three`);
  for (const name of BLOB_CAPABILITY_NAMES) assert.equal(typeof caps[name], 'boolean', `${where}: ${name} is a boolean`);
}

const clone = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

export const manifestCases = defineArea('manifest', [
  {
    id: 'storage-shape',
    title: 'the static storage manifest has exactly the storage capability keys, each an explicit boolean',
    source: 'Level/supports shape',
    rule: ['capabilities.ts#invariants', 'capabilities.ts#StorageCapabilities'],
    run: async ({ harness }) => {
      assertStorageShape(harness.storageCapabilities, 'static manifest');
      assert.ok(Object.isFrozen(harness.storageCapabilities), 'the manifest is frozen');
    },
  },
  {
    id: 'blob-shape',
    title: 'the static blob manifest has one mode of the three and explicit boolean flags',
    source: 'WL#3583 flags',
    rule: ['capabilities.ts#invariants', 'capabilities.ts#BlobCapabilities'],
    run: async ({ harness }) => {
      assertBlobShape(harness.blobCapabilities, 'static manifest');
      assert.ok(Object.isFrozen(harness.blobCapabilities), 'the manifest is frozen');
    },
  },
  {
    id: 'json-cloneable',
    title: 'both manifests survive a JSON round trip unchanged (reports can carry them)',
    source: 'Level/supports cloneable',
    rule: ['capabilities.ts#invariants'],
    run: async ({ harness }) => {
      assert.deepEqual(clone(harness.storageCapabilities), { ...harness.storageCapabilities });
      assert.deepEqual(clone(harness.blobCapabilities), { ...harness.blobCapabilities });
    },
  },
  {
    id: 'open-equals-static',
    title: 'the opened engines declare exactly the static manifests',
    source: 'Level/supports open',
    rule: ['capabilities.ts#invariants', 'plugin.ts#EnginePlugin.storageCapabilities', 'plugin.ts#EnginePlugin.blobCapabilities'],
    run: async ({ harness, storage, blobs }) => {
      assertStorageShape(storage.capabilities, 'opened storage');
      assertBlobShape(blobs.capabilities, 'opened blobs');
      assert.deepEqual({ ...storage.capabilities }, { ...harness.storageCapabilities });
      assert.deepEqual({ ...blobs.capabilities }, { ...harness.blobCapabilities });
    },
  },
  {
    id: 'unchanged-after-close',
    title: 'the manifests are identical after close',
    source: 'Level/supports close',
    rule: ['capabilities.ts#invariants', 'storage.ts#Storage.capabilities', 'blob-handlerton.ts#BlobHandlerton.capabilities'],
    run: async ({ harness, storage, blobs }) => {
      const before = clone({ s: storage.capabilities, b: blobs.capabilities });
      await storage.close();
      await blobs.close();
      assert.deepEqual(clone({ s: storage.capabilities, b: blobs.capabilities }), before);
      assert.deepEqual(clone(harness.storageCapabilities), (before as { s: unknown }).s);
    },
  },
  {
    id: 'unchanged-after-reopen',
    title: 'the manifests are identical after reopen',
    source: 'Level/supports reopen',
    rule: ['capabilities.ts#invariants'],
    requires: ['durable'],
    run: async (ctx) => {
      const before = clone({ s: ctx.storage.capabilities, b: ctx.blobs.capabilities });
      await ctx.reopen();
      assert.deepEqual(clone({ s: ctx.storage.capabilities, b: ctx.blobs.capabilities }), before);
    },
  },
  {
    id: 'identity',
    title: 'engines have non-empty names and the storage a 64-bit database id',
    source: 'DESIGN contracts',
    rule: ['storage.ts#Storage.name', 'blob-handlerton.ts#BlobHandlerton.name', 'storage.ts#Storage.databaseId'],
    run: async ({ storage, blobs }) => {
      assert.ok(typeof storage.name === 'string' && storage.name.length > 0);
      assert.ok(typeof blobs.name === 'string' && blobs.name.length > 0);
      assert.ok(isU64(storage.databaseId));
    },
  },
  {
    id: 'isolated-instances',
    title: 'two engines from the factory are isolated: a commit in one is invisible in the other',
    source: 'Level factory',
    rule: ['plugin.ts#EnginePlugin.createStorage'],
    run: async (ctx) => {
      const other = await ctx.extraEngines('isolation');
      const oid = await ctx.storage.newOid();
      await commit(ctx.storage, [{ oid, serial: 0n, data: 'mine' }]);
      assert.equal(other.storage.lastTransaction(), 0n);
      await assert.rejects(other.storage.load(oid));
    },
  },
  {
    id: 'database-capabilities',
    title: 'a Database reports the manifests and names of the engines it runs on',
    source: 'DESIGN Application API',
    rule: ['database.ts#Database.capabilities', 'database.ts#Database.engines'],
    run: async (ctx) => {
      const db = await ctx.database();
      assert.deepEqual({ ...db.capabilities.storage }, { ...ctx.harness.storageCapabilities });
      assert.deepEqual({ ...db.capabilities.blobs }, { ...ctx.harness.blobCapabilities });
      assert.deepEqual({ ...db.engines }, { storage: ctx.storage.name, blobs: ctx.blobs.name });
    },
  },
  {
    id: 'read-only-writes-rejected',
    title: 'a read-only storage rejects newOid and tpcBegin with ReadOnlyError',
    source: 'T84',
    rule: ['storage.ts#Storage.newOid', 'storage.ts#Storage.tpcBegin'],
    requires: ['readOnly'],
    run: async ({ storage }) => {
      await rejectsWithCode(storage.newOid(), 'HANDLERTON_READ_ONLY');
      await rejectsWithCode(storage.tpcBegin(storageTransaction()), 'HANDLERTON_READ_ONLY');
    },
  },
]);
