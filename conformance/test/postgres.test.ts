/**
 * The whole suite against the PostgreSQL engine, on the server named by HANDLERTON_PG_URL or a
 * throwaway cluster started for this file (skipped with the reason when neither exists, unless
 * HANDLERTON_PG_REQUIRED is set: then the file fails).
 */
import test from 'ava';
import { startTestServerOrSkip } from '@handlerton/postgres/testing';
import { conformance } from '../src/index.js';
import { tryLoad } from './engines.js';
import { KNOWN_FRAMEWORK_DEFECTS } from './helpers.js';
import { pgStorageHarness } from './pg-harness.js';

const started = await startTestServerOrSkip();
const [pgLoaded, memoryLoaded] = [await tryLoad('postgres'), await tryLoad('memory')];
if ('server' in started && 'plugin' in pgLoaded && 'plugin' in memoryLoaded) {
  const { server } = started;
  test.after.always('stop the PostgreSQL test server', async () => {
    await server.stop();
  });
  conformance(test, pgStorageHarness(server, pgLoaded.plugin, memoryLoaded.plugin), { exclude: KNOWN_FRAMEWORK_DEFECTS, concurrency: 4 });
} else {
  const reason = 'skip' in started ? started.skip : 'missing' in pgLoaded ? pgLoaded.missing : 'missing' in memoryLoaded ? memoryLoaded.missing : '';
  if ('server' in started) await started.server.stop();
  test.skip(reason, (t) => t.pass());
}
