/**
 * The HTTP blob gateway (issue 17) on FileStorage2 and SQLite, through Node's fetch: headers and
 * statuses of GET/HEAD, Range edge cases, conditional requests, uploads (POST, PUT with a write
 * locator), size limit, aborted upload, tampered and foreign locators.
 */
import test from 'ava';
import { Locator } from '@handlerton/framework';
import { abortedUpload, GATEWAY_ENGINES, pattern, startGateway, upload } from './http-harness.js';

const SIZE = 1000;

for (const engine of GATEWAY_ENGINES) {
  test(`${engine}: GET and HEAD send the blob with its validators, and no CORS header`, async (t) => {
    const g = await startGateway(engine);
    try {
      const body = pattern(SIZE);
      const locator = await upload(g.url, body);
      const get = await fetch(`${g.url}/blobs/${locator}`);
      t.is(get.status, 200);
      t.deepEqual(Buffer.from(await get.arrayBuffer()), body);
      const parsed = Locator.parse(locator);
      const etag = `"${parsed.blobId.toString(16).padStart(16, '0')}-${parsed.revision.toString(16).padStart(16, '0')}"`;
      t.is(get.headers.get('content-length'), String(SIZE));
      t.is(get.headers.get('etag'), etag);
      t.is(get.headers.get('accept-ranges'), 'bytes');
      t.is(get.headers.get('content-type'), 'application/octet-stream');
      t.regex(get.headers.get('cache-control') ?? '', /immutable/);
      const lastModified = Date.parse(get.headers.get('last-modified') ?? '');
      t.true(Math.abs(lastModified - Date.now()) < 60_000, 'Last-Modified is the commit time');
      t.is(get.headers.get('access-control-allow-origin'), null);
      const head = await fetch(`${g.url}/blobs/${locator}`, { method: 'HEAD' });
      t.is(head.status, 200);
      t.is(head.headers.get('content-length'), String(SIZE));
      t.is(head.headers.get('etag'), etag);
      t.is((await head.arrayBuffer()).byteLength, 0);
    } finally {
      await g.dispose();
    }
  });

  test(`${engine}: single ranges, suffix, past the end (416) and multiple ranges (200, whole blob)`, async (t) => {
    const g = await startGateway(engine);
    try {
      const body = pattern(SIZE, 7);
      const locator = await upload(g.url, body);
      const ranged = async (range: string) => {
        const r = await fetch(`${g.url}/blobs/${locator}`, { headers: { Range: range } });
        return { status: r.status, contentRange: r.headers.get('content-range'), length: r.headers.get('content-length'), body: Buffer.from(await r.arrayBuffer()) };
      };
      const first = await ranged('bytes=0-0');
      t.deepEqual([first.status, first.contentRange, first.length], [206, `bytes 0-0/${SIZE}`, '1']);
      t.deepEqual(first.body, body.subarray(0, 1));
      const last = await ranged(`bytes=${SIZE - 1}-${SIZE - 1}`);
      t.deepEqual([last.status, last.contentRange], [206, `bytes ${SIZE - 1}-${SIZE - 1}/${SIZE}`]);
      t.deepEqual(last.body, body.subarray(SIZE - 1));
      const suffix = await ranged('bytes=-10');
      t.deepEqual([suffix.status, suffix.contentRange], [206, `bytes ${SIZE - 10}-${SIZE - 1}/${SIZE}`]);
      t.deepEqual(suffix.body, body.subarray(SIZE - 10));
      const open = await ranged('bytes=990-');
      t.deepEqual(open.body, body.subarray(990));
      const clamped = await ranged('bytes=500-99999');
      t.deepEqual([clamped.status, clamped.contentRange], [206, `bytes 500-${SIZE - 1}/${SIZE}`]);
      t.deepEqual(clamped.body, body.subarray(500));
      const past = await ranged(`bytes=${SIZE}-`);
      t.deepEqual([past.status, past.contentRange], [416, `bytes */${SIZE}`]);
      const multiple = await ranged('bytes=0-0,5-9');
      t.deepEqual([multiple.status, multiple.contentRange], [200, null]);
      t.deepEqual(multiple.body, body);
      const other = await ranged('items=0-1');
      t.is(other.status, 200);
    } finally {
      await g.dispose();
    }
  });

  test(`${engine}: If-None-Match and If-Modified-Since answer 304`, async (t) => {
    const g = await startGateway(engine);
    try {
      const locator = await upload(g.url, 'conditional');
      const first = await fetch(`${g.url}/blobs/${locator}`);
      await first.arrayBuffer();
      const etag = first.headers.get('etag')!;
      const lastModified = first.headers.get('last-modified')!;
      const status = async (headers: Record<string, string>) => {
        const r = await fetch(`${g.url}/blobs/${locator}`, { headers });
        await r.arrayBuffer();
        return r.status;
      };
      t.is(await status({ 'If-None-Match': etag }), 304);
      t.is(await status({ 'If-None-Match': `"other", W/${etag}` }), 304);
      t.is(await status({ 'If-None-Match': '"other"' }), 200);
      t.is(await status({ 'If-Modified-Since': lastModified }), 304);
      t.is(await status({ 'If-Modified-Since': new Date(Date.parse(lastModified) - 10_000).toUTCString() }), 200);
      // If-None-Match wins over If-Modified-Since (RFC 9110).
      t.is(await status({ 'If-None-Match': '"other"', 'If-Modified-Since': lastModified }), 200);
    } finally {
      await g.dispose();
    }
  });

  test(`${engine}: tampered, foreign and malformed locators all get the same 404; a read locator cannot PUT (403)`, async (t) => {
    const g = await startGateway(engine);
    const other = await startGateway(engine);
    try {
      const locator = await upload(g.url, 'secret');
      const foreign = await upload(other.url, 'secret');
      // Flip one MAC character (keeping the canonical base64url spelling).
      const at = locator.length - 5;
      const tampered = locator.slice(0, at) + (locator[at] === 'A' ? 'B' : 'A') + locator.slice(at + 1);
      const answers: { status: number; body: string; etag: string | null }[] = [];
      for (const bad of [tampered, foreign, 'hl1.AAAA', `hl1.${'A'.repeat(86)}`]) {
        const r = await fetch(`${g.url}/blobs/${bad}`);
        answers.push({ status: r.status, body: await r.text(), etag: r.headers.get('etag') });
      }
      t.true(answers.every((a) => a.status === 404 && a.body === answers[0]!.body && a.etag === null), JSON.stringify(answers));
      t.is((await fetch(`${g.url}/blobs/../db`)).status, 404);
      const put = await fetch(`${g.url}/blobs/${locator}`, { method: 'PUT', body: 'overwrite' });
      t.is(put.status, 403);
      const tamperedPut = await fetch(`${g.url}/blobs/${tampered}`, { method: 'PUT', body: 'overwrite' });
      t.is(tamperedPut.status, 404);
      t.is(await (await fetch(`${g.url}/blobs/${locator}`)).text(), 'secret');
    } finally {
      await other.dispose();
      await g.dispose();
    }
  });

  test(`${engine}: PUT through a write locator stores a new revision; the old locator still reads the old one`, async (t) => {
    const g = await startGateway(engine);
    try {
      const locator = await upload(g.url, 'first');
      const oid = BigInt('0x' + ((await (await fetch(`${g.url}/blobs`, { method: 'POST', body: 'x' })).json()) as { oid: string }).oid);
      t.true(oid > 0n);
      const snapshot = await g.db.snapshot();
      const writeLocator = (await snapshot.blob(Locator.parse(locator).oid)).locator({ write: true }).toString();
      await snapshot.close();
      const put = await fetch(`${g.url}/blobs/${writeLocator}`, { method: 'PUT', body: 'second revision' });
      t.is(put.status, 201);
      const { locator: newer } = (await put.json()) as { locator: string };
      t.is(put.headers.get('location'), `/blobs/${newer}`);
      t.not(newer, locator);
      t.is(await (await fetch(`${g.url}/blobs/${newer}`)).text(), 'second revision');
      t.is(await (await fetch(`${g.url}/blobs/${locator}`)).text(), 'first');
      t.is((await fetch(`${g.url}/blobs/${newer}`, { method: 'DELETE' })).status, 405);
    } finally {
      await g.dispose();
    }
  });

  test(`${engine}: a body over the limit gets 413 and commits nothing`, async (t) => {
    const g = await startGateway(engine, { maxUploadBytes: 64 * 1024 });
    try {
      const before = g.db.lastTransaction();
      const declared = await fetch(`${g.url}/blobs`, { method: 'POST', body: pattern(64 * 1024 + 1) });
      t.is(declared.status, 413);
      // Without Content-Length (chunked): cut off while streaming.
      const chunks = async function* () {
        for (let i = 0; i < 8; i++) yield pattern(16 * 1024, i);
      };
      const streamed = await fetch(`${g.url}/blobs`, { method: 'POST', body: ReadableStream.from(chunks()), duplex: 'half' } as RequestInit).then(
        (r) => r.status,
        () => 'connection closed',
      );
      t.true(streamed === 413 || streamed === 'connection closed', String(streamed));
      t.is(g.db.lastTransaction(), before);
      const exact = await fetch(`${g.url}/blobs`, { method: 'POST', body: pattern(64 * 1024) });
      t.is(exact.status, 201);
    } finally {
      await g.dispose();
    }
  });

  test(`${engine}: an upload the client abandons commits nothing`, async (t) => {
    const g = await startGateway(engine);
    try {
      await upload(g.url, 'kept');
      const before = g.db.lastTransaction();
      await abortedUpload(g.url, 1024 * 1024, 256 * 1024);
      await new Promise((resolve) => setTimeout(resolve, 300));
      t.is(g.db.lastTransaction(), before);
      const snapshot = await g.db.snapshot();
      try {
        let objects = 0;
        for await (const object of snapshot.objects()) objects += object.isBlob ? 1 : 0;
        t.is(objects, 1, 'only the kept blob exists');
      } finally {
        await snapshot.close();
      }
      t.is((await fetch(`${g.url}/blobs`, { method: 'POST', body: 'after' })).status, 201, 'the gateway still works');
    } finally {
      await g.dispose();
    }
  });

  test(`${engine}: an abandoned PUT commits nothing; with allowUploads false, POST and PUT answer 405`, async (t) => {
    const g = await startGateway(engine);
    try {
      const locator = await upload(g.url, 'original');
      const snapshot = await g.db.snapshot();
      const writeLocator = (await snapshot.blob(Locator.parse(locator).oid)).locator({ write: true }).toString();
      await snapshot.close();
      const before = g.db.lastTransaction();
      await abortedUpload(g.url, 1024 * 1024, 64 * 1024, `/blobs/${writeLocator}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      t.is(g.db.lastTransaction(), before);
      const view = await g.db.snapshot();
      try {
        const handle = await (await view.blob(Locator.parse(locator).oid)).open('r');
        t.is(Buffer.from(await handle.read()).toString(), 'original');
        await handle.close();
      } finally {
        await view.close();
      }
    } finally {
      await g.dispose();
    }
    const readOnly = await startGateway(engine, { allowUploads: false });
    try {
      const post = await fetch(`${readOnly.url}/blobs`, { method: 'POST', body: 'x' });
      t.is(post.status, 405);
      t.is(post.headers.get('allow'), null);
      const put = await fetch(`${readOnly.url}/blobs/hl1.${'A'.repeat(86)}`, { method: 'PUT', body: 'x' });
      t.deepEqual([put.status, put.headers.get('allow')], [405, 'GET, HEAD']);
      t.is(readOnly.db.lastTransaction(), 0n);
    } finally {
      await readOnly.dispose();
    }
  });
}
