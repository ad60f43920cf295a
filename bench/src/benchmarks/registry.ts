/** Every benchmark by id (the worker looks them up here). */
import type { Benchmark } from '../harness/context.js';
import { diskFdatasync, diskSeqRead, diskSeqWrite } from './disk.js';
import { engineBackupIncremental } from './engine-backup.js';
import { engineBlob, enginePartial } from './engine-blobs.js';
import { engineCollect, gcDataset } from './engine-collect.js';
import { engineDbCommit, engineDbMix } from './engine-db.js';
import { enginePack, enginePackData } from './engine-pack.js';
import { engineCommit, engineDataset, engineGc, engineLoad, engineOpen } from './engine-records.js';
import { flatLogDataset, indexMapOpen } from './index-baseline.js';
import { levelCommit, levelDataset, levelDelete, levelLoad, levelOpen } from './level.js';
import { lmdbCommit, lmdbDataset, lmdbLoad } from './lmdb.js';
import { pgBenchmarks } from './postgres.js';
import { sqliteCommit, sqliteDataset, sqliteLoad } from './sqlite-raw.js';
import { idleLoop, streamCopy } from './streamcopy.js';
import { httpLoad } from './http-load.js';

/** Benchmark id -> function. */
export const benchmarks: Readonly<Record<string, Benchmark>> = {
  'disk.seqwrite': diskSeqWrite,
  'disk.fdatasync': diskFdatasync,
  'disk.seqread': diskSeqRead,
  'fs.streamcopy': streamCopy,
  'idle.loop': idleLoop,
  'level.dataset': levelDataset,
  'level.commit': levelCommit,
  'level.load': levelLoad,
  'level.open': levelOpen,
  'level.delete': levelDelete,
  'sqlite.dataset': sqliteDataset,
  'sqlite.commit': sqliteCommit,
  'sqlite.load': sqliteLoad,
  'lmdb.dataset': lmdbDataset,
  'lmdb.commit': lmdbCommit,
  'lmdb.load': lmdbLoad,
  'flatlog.dataset': flatLogDataset,
  'indexmap.open': indexMapOpen,
  'engine.dataset': engineDataset,
  'engine.commit': engineCommit,
  'engine.dbcommit': engineDbCommit,
  'engine.dbmix': engineDbMix,
  'engine.load': engineLoad,
  'engine.open': engineOpen,
  'engine.gc': engineGc,
  'gc.dataset': gcDataset,
  'engine.collect': engineCollect,
  'engine.blob': engineBlob,
  'engine.partial': enginePartial,
  'engine.packdata': enginePackData,
  'engine.pack': enginePack,
  'engine.backupinc': engineBackupIncremental,
  'http.load': httpLoad,
  ...pgBenchmarks,
  'pg.blobcache': async (ctx) => (await import('./pg-blob-cache.js')).pgBlobCache(ctx),
};
