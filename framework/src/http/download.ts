/**
 * GET and HEAD of /blobs/<locator>: streams the revision the locator names with backpressure
 * (pipeline from the blob's read stream into the response: a slow client holds at most one chunk
 * plus the socket's buffer), with validators, conditional requests and a single byte range.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { BlobHandle, Database } from '../contracts/database.js';
import { notModified, revisionDate, revisionEtag } from './conditional.js';
import type { ResolvedGatewayOptions } from './options.js';
import { parseRange } from './range.js';
import { openForRead } from './access.js';
import { sendStatus } from './responses.js';

/** Answers a GET or HEAD of the blob `locatorText` names (404 for any locator that does not open). */
export async function serveDownload(db: Database, locatorText: string, req: IncomingMessage, res: ServerResponse, options: ResolvedGatewayOptions): Promise<void> {
  const handle = await openForRead(db, locatorText);
  if (handle === undefined) return sendStatus(res, 404);
  try {
    await respond(handle, req, res, options);
  } finally {
    await handle.close();
  }
}

async function respond(handle: BlobHandle, req: IncomingMessage, res: ServerResponse, options: ResolvedGatewayOptions): Promise<void> {
  const size = handle.size();
  const etag = revisionEtag(handle.locator.blobId, handle.locator.revision);
  const lastModified = revisionDate(handle.locator.revision);
  const validators: OutgoingHttpHeaders = {
    ETag: etag,
    ...(lastModified === undefined ? {} : { 'Last-Modified': lastModified.toUTCString() }),
    'Cache-Control': options.cacheControl,
    'Accept-Ranges': 'bytes',
  };
  if (notModified(req.headers, etag, lastModified)) {
    res.writeHead(304, validators);
    res.end();
    return;
  }
  // If-Range: serve the range only while the client's validator still names this revision.
  const ifRange = req.headers['if-range'];
  const rangeHeader = ifRange === undefined || ifRange === etag || ifRange === lastModified?.toUTCString() ? req.headers.range : undefined;
  const range = parseRange(rangeHeader, size);
  if (range.kind === 'unsatisfiable') {
    res.writeHead(416, { ...validators, 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
    res.end();
    return;
  }
  const start = range.kind === 'partial' ? range.start : 0;
  const end = range.kind === 'partial' ? range.end : size - 1;
  const headers: OutgoingHttpHeaders = {
    ...validators,
    'Content-Type': 'application/octet-stream',
    'Content-Length': end + 1 - start,
    'X-Content-Type-Options': 'nosniff',
    ...(range.kind === 'partial' ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
  };
  res.writeHead(range.kind === 'partial' ? 206 : 200, headers);
  if (req.method === 'HEAD' || end < start) {
    res.end();
    return;
  }
  const source = handle.createReadStream({ start, end: end + 1, highWaterMark: options.chunkBytes });
  // A client that goes away rejects the pipeline; the response is destroyed with it, nothing to answer.
  await pipeline(source, res).catch(() => undefined);
}
