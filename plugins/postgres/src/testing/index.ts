/** @handlerton/postgres/testing: a throwaway PostgreSQL server for test suites, benches and CI. */
export { findServerBinaries, serverRequired, startTestServer, startTestServerOrSkip } from './cluster.js';
export type { TestServer, TestServerOptions, TestServerResult } from './cluster.js';
