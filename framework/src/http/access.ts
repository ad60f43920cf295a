/**
 * Locator checks of the gateway. Every locator that does not open, for whatever reason (malformed,
 * altered, signed with another key, of another database or handlerton, revision reclaimed), yields
 * the same outcome, so the answer tells a client nothing about which part was wrong. Verification
 * is the framework's LocatorCodec (HMAC compared in constant time); a malformed string fails before
 * the HMAC, which tells nothing the public locator format does not.
 */
import type { BlobHandle, Database } from '../contracts/database.js';
import { isHandlertonError } from '../contracts/errors.js';
import { Locator } from '../contracts/locator.js';

/** The handle of the revision `text` names, or undefined when the locator does not open here. */
export async function openForRead(db: Database, text: string): Promise<BlobHandle | undefined> {
  try {
    return await db.openLocator(text);
  } catch (error) {
    if (isLocatorFailure(error)) return undefined;
    throw error;
  }
}

/** True for the errors a bad or stale locator raises (answered 404 alike). */
export function isLocatorFailure(error: unknown): boolean {
  return isHandlertonError(error, 'HANDLERTON_INVALID_LOCATOR') || isHandlertonError(error, 'HANDLERTON_POS_KEY');
}

/** The parsed locator when `text` is well-formed (not verified), else undefined. */
export function parseLocator(text: string): Locator | undefined {
  try {
    return Locator.parse(text);
  } catch {
    return undefined;
  }
}
