/** The PostgreSQL benchmarks (issue 14), by id; each trial starts and stops its own server. */
import type { Benchmark } from '../harness/context.js';
import { pgBlob } from './pg-blob.js';
import { pgCommit } from './pg-commit.js';
import { pgLoad } from './pg-load.js';
import { pgScale } from './pg-scale.js';

/** PostgreSQL benchmark id -> function. */
export const pgBenchmarks: Readonly<Record<string, Benchmark>> = {
  'pg.commit': pgCommit,
  'pg.scale': pgScale,
  'pg.load': pgLoad,
  'pg.blob': pgBlob,
};
