/** Locator keys: derived from configured secrets, or from the storage's per-database secret. */
import { createHash, randomBytes } from 'node:crypto';
import type { Storage } from '../contracts/storage.js';

/** One HMAC key per configured secret, in order (the first signs, all verify). */
export function keysFromSecrets(secrets: readonly string[]): Uint8Array[] {
  return secrets.map((secret) => createHash('sha256').update(`handlerton-locator:${secret}`).digest());
}

/**
 * The key for a database without a configured secret: derived from the storage's per-database secret
 * when it keeps one, else a random key (locators then die with this open database).
 */
export async function keysFromStorage(storage: Storage): Promise<Uint8Array[]> {
  const secret = (await storage.locatorSecret?.()) ?? null;
  if (secret === null) return [randomBytes(32)];
  return [createHash('sha256').update('handlerton-locator-file:').update(secret).digest()];
}
