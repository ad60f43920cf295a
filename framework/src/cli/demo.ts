/** The `npm start` job: stores records and a blob in transactions, reads them back in a snapshot. */
import type { Database } from '../contracts/database.js';
import { ROOT_OID, tidToDate, toHex } from '../contracts/ids.js';
import { resolve } from 'node:path';
import { resolveConfig, type DatabaseConfig, type ResolvedConfig } from '../config/database-config.js';
import { openDatabase } from '../di/open-database.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Runs the demo against `config`, printing each step to `out`. */
export async function runDemo(config: DatabaseConfig, out: (line: string) => void): Promise<void> {
  const db = await openDatabase(config);
  try {
    out(`opened ${describe(db)}`);
    out(whereData(resolveConfig(config), db));
    out(`storage capabilities: ${flags(db.capabilities.storage)}`);
    out(`blob capabilities: mode=${db.capabilities.blobs.mode} ${flags(db.capabilities.blobs)}`);

    const previous = await db.transaction(async (tx) => tx.tryRead(ROOT_OID));
    const runs = previous === undefined ? 0 : (JSON.parse(decoder.decode(previous.data)) as { runs?: number }).runs ?? 0;
    out(previous === undefined ? 'empty database: first run' : `found the root of ${runs} earlier run(s), last committed ${tidToDate(db.lastTransaction()).toISOString()}`);

    const { noteOid, blobOid } = await db.transaction(async (tx) => {
      const note = await tx.create(encoder.encode('hello from handlerton'));
      const blob = await tx.createBlob();
      const writer = await blob.open('w');
      for (let i = 0; i < 16; i++) await writer.write(encoder.encode(`line ${i} of a streamed blob\n`));
      await writer.close();
      await tx.write(ROOT_OID, encoder.encode(JSON.stringify({ app: 'demo', runs: runs + 1 })), { refs: [note, blob.oid] });
      return { noteOid: note, blobOid: blob.oid };
    }, { meta: { user: 'demo', description: 'first transaction' } });
    out(`committed tid ${toHex(db.lastTransaction())}: root, note ${toHex(noteOid)}, blob ${toHex(blobOid)}`);

    await db.transaction(async (tx) => {
      await tx.write(noteOid, encoder.encode('hello again (second revision)'));
      const appender = await (await tx.blob(blobOid)).open('a');
      await appender.write(encoder.encode('appended in a second transaction\n'));
    });
    out(`committed tid ${toHex(db.lastTransaction())}: updated note, appended to blob`);

    const snapshot = await db.snapshot();
    try {
      const root = await snapshot.read(ROOT_OID);
      const note = await snapshot.read(noteOid);
      out(`snapshot @${toHex(snapshot.tid)}: root=${decoder.decode(root.data)} refs=[${root.refs.map(toHex).join(', ')}]`);
      out(`snapshot note: "${decoder.decode(note.data)}" (serial ${toHex(note.tid)})`);
      const reader = await (await snapshot.blob(blobOid)).open('r');
      let bytes = 0;
      let lines = 0;
      for await (const chunk of reader.createReadStream()) {
        bytes += (chunk as Uint8Array).length;
        lines += decoder.decode(chunk as Uint8Array).split('\n').length - 1;
      }
      out(`snapshot blob: ${bytes} bytes, ${lines} lines, locator ${reader.locator.toString().slice(0, 24)}...`);
      await reader.close();
    } finally {
      await snapshot.close();
    }
    // keep: 0 turns off the safety window (default one hour), which would keep a recent previous run's objects.
    const gc = await db.collectGarbage({ keep: 0 });
    out(`external GC: ${gc.reachable} objects reachable from the root, ${gc.deleted} deleted (the previous run's note and blob)`);
    const packed = await db.pack();
    out(`packed: removed ${packed.removedRevisions} old revisions and ${packed.removedObjects} deleted objects`);
  } finally {
    await db.close();
  }
  out('closed');
}

/** Where the demo keeps its data: the absolute storage (and blob) locations, or that nothing is kept. */
export function whereData(config: ResolvedConfig, db: Database): string {
  if (db.engines.storage === 'memory' && db.engines.blobs === 'memory') return 'data: kept in memory only (nothing is written to disk)';
  const places: string[] = [];
  for (const [role, engine] of [['storage', config.storage], ['blobs', config.blobs]] as const) {
    const location = engine.location;
    if (location === undefined || (role === 'blobs' && db.engines.blobs === 'memory')) continue;
    places.push(`${role} at ${/^[a-z][a-z0-9+.-]*:\/\//i.test(location) ? withoutPassword(location) : resolve(location)}`);
  }
  if (places.length === 2 && config.storage.location === config.blobs.location) return `data: storage and blobs at ${places[0]!.slice('storage at '.length)}`;
  return places.length === 0 ? 'data: kept by the engine (no location configured)' : `data: ${places.join(', ')}`;
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

function describe(db: Database): string {
  return db.engines.storage === db.engines.blobs ? `engine ${db.engines.storage}` : `storage ${db.engines.storage} with blobs ${db.engines.blobs}`;
}

function flags(caps: object): string {
  return Object.entries(caps)
    .filter(([, v]) => typeof v === 'boolean')
    .map(([k, v]) => `${k}=${v ? 'yes' : 'no'}`)
    .join(' ');
}
