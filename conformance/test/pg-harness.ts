/** Harnesses on the throwaway PostgreSQL server (now in src/harnesses/postgres.ts, shared with the CLI). */
export { PG_BLOB_BYTES, pgCachedBlobsHarness, pgStorageHarness, schemaPerCase, type PgHarness } from '../src/harnesses/postgres.js';
