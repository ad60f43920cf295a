/** A read-only FileStorage2 database covers its blob store: no lock, nothing written, reads of a live database. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { openDatabase, type DatabaseConfig } from '@handlerton/framework';
import { FileStorage2Blobs } from '../src/index.js';
import { context, tempDir } from './fs2-helpers.js';

const encoder = new TextEncoder();

test('a read-only open reads the blobs of a database another handle holds open, and refuses writes', async (t) => {
  const { dir, cleanup } = await tempDir('fs2-ro-');
  const writer = await openDatabase(`filestorage2:${dir}`);
  try {
    const blobOid = await writer.transaction(async (tx) => {
      const blob = await tx.createBlob();
      const out = await blob.open('w');
      await out.write(encoder.encode('live blob contents'));
      await out.close();
      return blob.oid;
    });
    const blobFilesBefore = readdirSync(join(dir, 'blobs')).sort();
    const config: DatabaseConfig = { engine: 'filestorage2', path: dir, options: { readOnly: true } };
    const reader = await openDatabase(config);
    try {
      const snapshot = await reader.snapshot();
      const handle = await (await snapshot.blob(blobOid)).open('r');
      let read = '';
      for await (const chunk of handle.createReadStream()) read += Buffer.from(chunk as Uint8Array).toString('utf8');
      await handle.close();
      await snapshot.close();
      t.is(read, 'live blob contents');
      const refused = await t.throwsAsync(reader.transaction(async (tx) => (await tx.createBlob()).oid));
      t.is((refused as { code?: string }).code, 'HANDLERTON_READ_ONLY');
    } finally {
      await reader.close();
    }
    t.deepEqual(readdirSync(join(dir, 'blobs')).sort(), blobFilesBefore, 'the read-only open changed no blob file');
  } finally {
    await writer.close();
    await cleanup();
  }
});

test('a read-only blob store open of a missing directory fails and creates nothing', async (t) => {
  const { dir, cleanup } = await tempDir('fs2-ro-');
  try {
    const missing = join(dir, 'no-such-blobs');
    const error = await t.throwsAsync(FileStorage2Blobs.open({ dir: missing, syncMode: 'always', readOnly: true }, context()));
    t.is((error as { code?: string }).code, 'HANDLERTON_IO');
    t.false(existsSync(missing));
  } finally {
    await cleanup();
  }
});
