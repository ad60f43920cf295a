/** What each multi-client child role does, against a Database opened on the shared config. */
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInterface } from 'node:readline';
import {
  engineName,
  isHandlertonError,
  loadEnginePlugin,
  NO_REFS,
  resolveConfig,
  silentLogger,
  storageTransaction,
  systemClock,
  type Database,
  type DatabaseConfigObject,
} from '@handlerton/framework';
import { say } from '../util/say.js';
import { chainStart, chainStep } from './chain.js';
import { blobBytes, decodeU32, digestStream, encodeU32, expectedBlobDigest } from './codec.js';
import type { ClientRole } from './protocol.js';

const RETRIES = 10_000;

/** Resolves with the next line the parent writes to stdin. */
function stdinLines(): () => Promise<string> {
  const queue: string[] = [];
  let waiting: ((line: string) => void) | undefined;
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (waiting !== undefined) {
      const resolve = waiting;
      waiting = undefined;
      resolve(line);
    } else queue.push(line);
  });
  return () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => (waiting = resolve)));
}

/** Never resolves: the role waits to be killed (or for stdin to close). */
const forever = (): Promise<never> => new Promise(() => setInterval(() => undefined, 60_000));

/** Runs `role`; the database is opened by the caller (except for vote-and-hang, which uses the storage). */
export async function runRole(role: ClientRole, db: Database): Promise<void> {
  switch (role.kind) {
    case 'counter': {
      const own = BigInt(role.own);
      const shared = BigInt(role.shared);
      for (let round = 1; round <= role.rounds; round++) {
        await db.transaction(
          async (tx) => {
            await tx.write(own, encodeU32(decodeU32((await tx.read(own)).data) + 1));
            await tx.write(shared, encodeU32(decodeU32((await tx.read(shared)).data) + 1));
          },
          { retries: RETRIES },
        );
        await say(`ACK ${round} ${db.lastTransaction()}`);
      }
      await say(`DONE ${role.rounds}`);
      return;
    }
    case 'pair-writer': {
      const oids = role.oids.map((o) => BigInt(o));
      for (let round = 1; role.rounds === 0 || round <= role.rounds; round++) {
        const value = await db.transaction(
          async (tx) => {
            const next = decodeU32((await tx.read(oids[0]!)).data) + 1;
            for (const oid of oids) await tx.write(oid, encodeU32(next));
            return next;
          },
          { retries: RETRIES },
        );
        await say(`ACK ${value} ${db.lastTransaction()}`);
      }
      await say(`DONE ${role.rounds}`);
      return;
    }
    case 'read-then-write': {
      const next = stdinLines();
      const oid = BigInt(role.oid);
      const tx = db.begin();
      const value = decodeU32((await tx.read(oid)).data);
      await say(`READ ${value}`);
      if ((await next()) !== 'GO') throw new Error('expected GO');
      await tx.write(oid, encodeU32(value + 1));
      try {
        const tid = await tx.commit();
        await say(`ACK ${value + 1} ${tid}`);
      } catch (error) {
        if (!isHandlertonError(error, 'HANDLERTON_CONFLICT')) throw error;
        await say(`CONFLICT ${error.code}`);
      }
      return;
    }
    case 'blob-read': {
      const snapshot = await db.snapshot();
      try {
        const handle = await (await snapshot.blob(BigInt(role.oid))).open('r');
        try {
          const { size, sha256 } = await digestStream(handle.createReadStream());
          await say(`BLOB ${role.oid} ${size} ${sha256}`);
        } finally {
          await handle.close();
        }
      } finally {
        await snapshot.close();
      }
      return;
    }
    case 'blob-write': {
      const oid = await db.transaction(async (tx) => {
        const blob = await tx.createBlob();
        const handle = await blob.open('w');
        try {
          await pipeline(Readable.from(blobBytes(role.seed, role.size)), handle.createWriteStream());
        } finally {
          await handle.close();
        }
        return blob.oid;
      });
      const { size, sha256 } = expectedBlobDigest(role.seed, role.size);
      await say(`BLOB ${oid} ${size} ${sha256}`);
      return;
    }
    case 'chain': {
      const head = BigInt(role.head);
      const start = await chainStart(db, head);
      await say(`READY ${start}`);
      for (let seq = start + 1; ; seq++) {
        const record = await chainStep(db, { head, shared: BigInt(role.shared), client: role.client, blobEvery: role.blobEvery }, seq);
        await say(`ACK ${seq} ${db.lastTransaction()} ${record}`);
      }
    }
    case 'vote-and-hang':
      throw new Error('vote-and-hang runs on the storage, not a Database');
  }
}

/** The vote-and-hang role: a storage-level commit of `value` to every oid, voted and never finished. */
export async function voteAndHang(config: DatabaseConfigObject, oids: readonly string[], value: number): Promise<never> {
  const resolved = resolveConfig(config).storage;
  const plugin = typeof resolved.engine === 'string' ? await loadEnginePlugin(engineName(resolved.engine)) : resolved.engine;
  if (plugin.createStorage === undefined) throw new Error(`engine ${plugin.name} has no storage`);
  const options = plugin.parseOptions({ location: resolved.location, options: resolved.options, configPath: 'storage' });
  const storage = await plugin.createStorage(options, { clock: systemClock, logger: silentLogger, fs });
  const serials = new Map<bigint, bigint>();
  for (const oid of oids) serials.set(BigInt(oid), (await storage.load(BigInt(oid))).tid);
  const txn = storageTransaction({ description: 'voted, never finished' });
  const tid = await storage.tpcBegin(txn);
  for (const [oid, serial] of serials) await storage.store(oid, serial, { data: encodeU32(value), refs: NO_REFS }, txn);
  await storage.tpcVote(txn);
  await say(`VOTED ${tid}`);
  return forever();
}

/** Keeps a finished role's process alive until the parent kills it or closes stdin. */
export { forever };
