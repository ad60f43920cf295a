/**
 * The kill -9 torture with 4 concurrent client processes on PostgreSQL (the throwaway cluster or
 * HANDLERTON_PG_URL): a short run here (8 kills); the long run is
 *   HANDLERTON_MULTI_TORTURE_KILLS=250 npx ava dist/test/multi-torture.test.js
 * (from conformance/, after `npx tsc -b`; HANDLERTON_MULTI_TORTURE_SEED replays a seed).
 */
import test from 'ava';
import { startTestServerOrSkip } from '@handlerton/postgres/testing';
import { formatMultiKillLoopReport, runMultiKillLoop } from '../src/index.js';

const kills = Number(process.env['HANDLERTON_MULTI_TORTURE_KILLS'] ?? 8);
const seedText = process.env['HANDLERTON_MULTI_TORTURE_SEED'];
const started = await startTestServerOrSkip();

if ('server' in started) {
  const { server } = started;
  test.after.always('stop the PostgreSQL test server', async () => {
    await server.stop();
  });
  test(`4 clients on one PostgreSQL schema, ${kills} random SIGKILLs: every acknowledged commit present, none applied in part`, async (t) => {
    t.timeout(60_000 + kills * 3_000);
    const schema = server.newSchemaName('torture');
    try {
      const report = await runMultiKillLoop({
        config: { engine: 'postgres', path: server.url, options: { schema, poolSize: 2 } },
        clients: 4,
        kills,
        ...(seedText !== undefined ? { seed: Number(seedText) } : {}),
        onKill: (kill, client, acknowledged) => {
          if (kill % 25 === 0) t.log(`kill ${kill}: client ${client}, ${acknowledged} commits acknowledged so far`);
        },
      });
      t.log(formatMultiKillLoopReport(report));
      t.deepEqual(report.violations, []);
      t.true(report.acknowledged >= kills, 'the clients committed between the kills');
      t.true(report.committed >= report.acknowledged);
    } finally {
      await server.dropSchema(schema);
    }
  });
} else {
  test.skip(started.skip, (t) => t.pass());
}
