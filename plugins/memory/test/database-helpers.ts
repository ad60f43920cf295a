/** Helpers for the Database-level tests that run the framework over the memory engine. */
import { openDatabase, type BlobHandle, type DatabaseImpl, type Database } from '@handlerton/framework';

export const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
export const dec = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** Opens a fresh in-memory database (optionally with another blob mode). */
export function memoryDb(blobMode?: 'dataTransactional' | 'transactional' | 'nontransactional'): Promise<DatabaseImpl & Database> {
  return openDatabase(blobMode === undefined ? 'memory:' : { engine: 'memory', options: { blobMode } });
}

/** Reads a whole handle through its read stream. */
export async function readAll(handle: BlobHandle): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of handle.createReadStream()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
