/**
 * A PostgreSQL client killed with a blob draft open left its temporary file forever (269 piled up in
 * /tmp over one session's kill tortures). Opening a blob handlerton now removes the draft files of
 * processes that no longer exist, and only those.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { silentLogger, systemClock } from '@handlerton/framework';
import { plugin } from '../src/index.js';
import { startTestServerOrSkip } from '../src/testing/index.js';

const started = await startTestServerOrSkip();
const server = 'server' in started ? started.server : undefined;
test.after.always('stop the PostgreSQL test server', async () => {
  await server?.stop();
});
const pgTest = server === undefined ? test.skip : test;

pgTest('opening a blob handlerton removes the draft files of dead processes, not of live ones', async (t) => {
  const tempDir = await mkdtemp(join(tmpdir(), 'htpg-sweep-'));
  const schema = server!.newSchemaName('sweep');
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
    const names = {
      dead: `htpg-draft-${dead}-0123456789abcdef`,
      live: `htpg-draft-${sleeper.pid}-0123456789abcdef`,
      own: `htpg-draft-${process.pid}-0123456789abcdef`,
      other: 'htpg-draft-notours',
    };
    for (const name of Object.values(names)) await writeFile(join(tempDir, name), 'x');
    const options = plugin.parseOptions({ location: server!.url, options: { schema, poolSize: 2, tempDir }, configPath: 'blobs' });
    const blobs = await plugin.createBlobHandlerton!(options, { clock: systemClock, logger: silentLogger, fs });
    await blobs.close();
    t.deepEqual((await readdir(tempDir)).sort(), [names.live, names.other, names.own].sort());
  } finally {
    sleeper.kill('SIGKILL');
    await rm(tempDir, { recursive: true, force: true });
    await server!.dropSchema(schema);
  }
});
