/**
 * Validators of a blob revision (ETag, Last-Modified) and the conditional GET check (RFC 9110 §13).
 * A revision never changes, so the strong ETag comes from the locator's blob id and revision, never
 * from the content (nothing is read to compute it).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { toHex, tidToDate, type BlobId, type Tid } from '../contracts/ids.js';

/** The strong entity tag of revision `revision` of blob `blobId`. */
export function revisionEtag(blobId: BlobId, revision: Tid): string {
  return `"${toHex(blobId)}-${toHex(revision)}"`;
}

/** The Last-Modified date of a revision (its tid's time, whole seconds as HTTP dates carry), or undefined for revision 0 (no commit yet). */
export function revisionDate(revision: Tid): Date | undefined {
  if (revision === 0n) return undefined;
  const time = tidToDate(revision).getTime();
  return new Date(time - (time % 1000));
}

/** True when the request's If-None-Match (or, without it, If-Modified-Since) says the client's copy is current: answer 304. */
export function notModified(headers: IncomingHttpHeaders, etag: string, lastModified: Date | undefined): boolean {
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() === '*') return true;
    // Weak comparison, as If-None-Match uses: W/"x" matches "x".
    return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
  }
  const ifModifiedSince = headers['if-modified-since'];
  if (ifModifiedSince === undefined || lastModified === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) && lastModified.getTime() <= since;
}
