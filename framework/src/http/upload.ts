/**
 * POST /blobs and PUT /blobs/<write-locator>: streams the request body into a new blob (or a new
 * revision) inside one transaction, with backpressure (the request is paused while the engine
 * writes), and commits only when the whole body arrived within the size limit. A client that goes
 * away, a body over the limit or a failing hook aborts the transaction: nothing is committed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Blob, BlobHandle, Database, Transaction } from '../contracts/database.js';
import { isHandlertonError } from '../contracts/errors.js';
import { toHex, type Oid } from '../contracts/ids.js';
import { isLocatorFailure, parseLocator } from './access.js';
import type { ResolvedGatewayOptions } from './options.js';
import { sendJson, sendStatus } from './responses.js';

/** Raised inside the upload pipeline when the body passes the limit. */
class BodyTooLarge extends Error {}
/** Raised when the locator of a PUT does not open for writing: 403 (genuine read-only locator) or 404. */
class LocatorRefused extends Error {
  constructor(readonly status: 403 | 404) {
    super(`locator refused (${status})`);
  }
}

/** Answers POST /blobs: a new blob object holding the body. */
export async function serveCreate(db: Database, req: IncomingMessage, res: ServerResponse, options: ResolvedGatewayOptions): Promise<void> {
  await store(db, req, res, options, async (tx) => {
    const blob = await tx.createBlob();
    return { blob, handle: await blob.open('w') };
  });
}

/** Answers PUT /blobs/<locator>: a new revision of the blob a write locator names. */
export async function serveReplace(db: Database, locatorText: string, req: IncomingMessage, res: ServerResponse, options: ResolvedGatewayOptions): Promise<void> {
  await store(db, req, res, options, async (tx) => {
    try {
      const handle = await tx.openLocator(locatorText, 'w');
      const oid = handle.locator.oid;
      return { blob: await tx.blob(oid), handle };
    } catch (error) {
      if (!isLocatorFailure(error)) throw error;
      throw new LocatorRefused(await refusal(db, locatorText));
    }
  });
}

/** 403 for a genuine locator of this database without write access, 404 for every other failure. */
async function refusal(db: Database, text: string): Promise<403 | 404> {
  const parsed = parseLocator(text);
  if (parsed === undefined || parsed.access.write) return 404;
  try {
    const reader = await db.openLocator(text);
    await reader.close();
    return 403;
  } catch {
    return 404;
  }
}

/** The blob an upload writes and the handle it writes through. */
type Opened = { blob: Blob; handle: BlobHandle };

async function store(db: Database, req: IncomingMessage, res: ServerResponse, options: ResolvedGatewayOptions, open: (tx: Transaction) => Promise<Opened>): Promise<void> {
  const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
  if (declared !== undefined && declared > options.maxUploadBytes) return refuseBody(res, 413);
  let stored: { oid: Oid; size: number };
  try {
    stored = await db.transaction(async (tx) => {
      const { blob, handle } = await open(tx);
      await pipeline(req, sizeLimit(options.maxUploadBytes), handle.createWriteStream());
      const size = handle.size();
      await handle.close();
      if (options.onUpload !== undefined) await options.onUpload(tx, blob, req);
      return { oid: blob.oid, size };
    });
  } catch (error) {
    if (error instanceof LocatorRefused) return refuseBody(res, error.status);
    if (error instanceof BodyTooLarge) return refuseBody(res, 413);
    // The client went away mid-body: the transaction was aborted, nobody is left to answer.
    if (req.destroyed || !req.complete) return void res.destroy();
    if (isHandlertonError(error, 'HANDLERTON_CONFLICT')) return sendStatus(res, 409);
    options.onError(error);
    return sendStatus(res, 500);
  }
  // The committed revision's read locator comes from a view that sees the commit.
  const snapshot = await db.snapshot();
  let locator: string;
  try {
    locator = (await snapshot.blob(stored.oid)).locator().toString();
  } finally {
    await snapshot.close();
  }
  sendJson(res, 201, { locator, oid: toHex(stored.oid), size: stored.size }, { Location: `/blobs/${locator}` });
}

/** Answers with `status` without reading the rest of the body: the connection is closed after it. */
function refuseBody(res: ServerResponse, status: number): void {
  sendStatus(res, status, { Connection: 'close' });
}

/** A pass-through that fails with BodyTooLarge once more than `limit` bytes went through. */
function sizeLimit(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > limit) callback(new BodyTooLarge(`request body over ${limit} bytes`));
      else callback(null, chunk);
    },
  });
}
