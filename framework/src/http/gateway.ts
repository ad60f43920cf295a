/**
 * The HTTP blob gateway as a Node `http` request listener: GET/HEAD /blobs/<locator> downloads,
 * POST /blobs uploads a new blob, PUT /blobs/<write-locator> a new revision. Access is by locator
 * only (no path, oid or blob id is ever taken from the request); no CORS headers are sent.
 * Mount it on `http.createServer(listener)`, or call it from a framework's handler for /blobs/*.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Database } from '../contracts/database.js';
import { serveDownload } from './download.js';
import { resolveGatewayOptions, type BlobGatewayOptions, type ResolvedGatewayOptions } from './options.js';
import { sendStatus } from './responses.js';
import { serveCreate, serveReplace } from './upload.js';

/** A locator string as a path segment: `hl1.` and base64url (the codec checks the rest). */
const LOCATOR_PATH = /^\/blobs\/(hl\d+\.[A-Za-z0-9_-]+)$/;

/** A request listener serving the blobs of `db` by locator; see BlobGatewayOptions. */
export function blobGateway(db: Database, options?: BlobGatewayOptions): RequestListener {
  const resolved = resolveGatewayOptions(options);
  return (req, res) => {
    route(db, req, res, resolved).catch((error: unknown) => {
      resolved.onError(error);
      sendStatus(res, 500);
    });
  };
}

async function route(db: Database, req: IncomingMessage, res: ServerResponse, options: ResolvedGatewayOptions): Promise<void> {
  const path = (req.url ?? '').split('?', 1)[0]!;
  const method = req.method ?? '';
  if (path === '/blobs' || path === '/blobs/') {
    if (method === 'POST' && options.allowUploads) return serveCreate(db, req, res, options);
    return refuse(req, res, 405, options.allowUploads ? 'POST' : '');
  }
  const match = LOCATOR_PATH.exec(path);
  if (match === null) return refuse(req, res, 404, '');
  const locator = match[1]!;
  if (method === 'GET' || method === 'HEAD') return serveDownload(db, locator, req, res, options);
  if (method === 'PUT' && options.allowUploads) return serveReplace(db, locator, req, res, options);
  return refuse(req, res, 405, options.allowUploads ? 'GET, HEAD, PUT' : 'GET, HEAD');
}

/** Answers an error status; a request with a body still unread gets its connection closed. */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, allow: string): void {
  const unread = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  sendStatus(res, status, { ...(allow === '' ? {} : { Allow: allow }), ...(unread ? { Connection: 'close' } : {}) });
}
