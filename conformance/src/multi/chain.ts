/**
 * The torture workload of one client: a chain of records. Client i owns a head object
 * `{seq, last}`; each transaction creates record `{client, seq, prev, blob}` (every few also a
 * blob), points the head at it and increments the counter shared by all clients, so two clients
 * conflict on it and a half-applied transaction breaks `shared == sum of head seqs`.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Database, Oid, ReadView } from '@handlerton/framework';
import { blobBytes, decodeU32, digestStream, encodeU32, expectedBlobDigest } from './codec.js';

/** A client's head object. */
export interface ChainHead {
  readonly seq: number;
  readonly last: string | null;
}

/** One record of a chain. */
export interface ChainRecord {
  readonly client: number;
  readonly seq: number;
  readonly prev: string | null;
  readonly blob: string | null;
}

const text = new TextEncoder();
const untext = new TextDecoder();

/** Encodes a head or record as JSON bytes. */
export function encodeJson(value: ChainHead | ChainRecord): Uint8Array {
  return text.encode(JSON.stringify(value));
}

/** Decodes a head. */
export function decodeHead(data: Uint8Array): ChainHead {
  return JSON.parse(untext.decode(data)) as ChainHead;
}

/** Decodes a record. */
export function decodeRecord(data: Uint8Array): ChainRecord {
  return JSON.parse(untext.decode(data)) as ChainRecord;
}

/** The blob of (client, seq): its seed and size (16-64 KiB). */
export function chainBlob(client: number, seq: number): { readonly seed: number; readonly size: number } {
  return { seed: (client + 1) * 1_000_003 + seq, size: 16 * 1024 * (1 + (seq % 4)) };
}

/** The head's seq as this client sees it now. */
export async function chainStart(db: Database, head: Oid): Promise<number> {
  const snapshot = await db.snapshot();
  try {
    return decodeHead((await snapshot.read(head)).data).seq;
  } finally {
    await snapshot.close();
  }
}

/** Commits chain transaction `seq` of `client` (retrying conflicts); returns the new record's oid. */
export async function chainStep(db: Database, role: { head: Oid; shared: Oid; client: number; blobEvery: number }, seq: number): Promise<Oid> {
  return db.transaction(
    async (tx) => {
      const head = decodeHead((await tx.read(role.head)).data);
      if (head.seq !== seq - 1) throw new Error(`client ${role.client}: head is at ${head.seq}, expected ${seq - 1} (another writer of this head?)`);
      const shared = decodeU32((await tx.read(role.shared)).data);
      let blob: Oid | undefined;
      if (role.blobEvery > 0 && seq % role.blobEvery === 0) {
        const created = await tx.createBlob();
        const handle = await created.open('w');
        try {
          const { seed, size } = chainBlob(role.client, seq);
          await pipeline(Readable.from(blobBytes(seed, size)), handle.createWriteStream());
        } finally {
          await handle.close();
        }
        blob = created.oid;
      }
      const refs = [...(head.last === null ? [] : [BigInt(head.last)]), ...(blob === undefined ? [] : [blob])];
      const record = await tx.create(encodeJson({ client: role.client, seq, prev: head.last, blob: blob?.toString() ?? null }), { refs });
      await tx.write(role.head, encodeJson({ seq, last: record.toString() }), { refs: [record] });
      await tx.write(role.shared, encodeU32(shared + 1));
      return record;
    },
    { retries: 10_000 },
  );
}

/** What one client acknowledged: seq -> (tid, record oid). */
export type ChainAcks = ReadonlyMap<number, { readonly tid: bigint; readonly oid: string }>;

/**
 * Checks the chains in `view`: each head's chain is complete (seq h..1, linked, right client, blobs
 * byte-exact), holds every acknowledged commit with its tid and oid, and `shared` equals the sum of
 * the heads. Returns the problems found and each client's head seq.
 */
export async function verifyChains(view: ReadView, heads: readonly Oid[], shared: Oid, acks: readonly ChainAcks[]): Promise<{ problems: string[]; seqs: number[] }> {
  const problems: string[] = [];
  const seqs: number[] = [];
  for (const [client, headOid] of heads.entries()) {
    try {
      seqs.push(await verifyChain(view, client, headOid, acks[client] ?? new Map(), problems));
    } catch (error) {
      seqs.push(0);
      problems.push(`client ${client}: reading its chain failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    }
  }
  const total = decodeU32((await view.read(shared)).data);
  const sum = seqs.reduce((a, b) => a + b, 0);
  if (total !== sum) problems.push(`the shared counter is ${total}, the heads sum to ${sum}: a transaction was applied in part`);
  return { problems, seqs };
}

/** Checks one client's chain (see verifyChains); returns its head seq. */
async function verifyChain(view: ReadView, client: number, headOid: Oid, acked: ChainAcks, problems: string[]): Promise<number> {
  const head = decodeHead((await view.read(headOid)).data);
  for (const seq of acked.keys()) if (seq > head.seq) problems.push(`client ${client}: acknowledged commit ${seq} is lost (head at ${head.seq})`);
  let oid = head.last;
  for (let seq = head.seq; seq >= 1; seq--) {
    if (oid === null) {
      problems.push(`client ${client}: chain ends at ${seq + 1}, expected it to reach 1`);
      break;
    }
    const stored = await view.read(BigInt(oid));
    const where = `client ${client}: commit ${seq}${acked.has(seq) ? ' (acknowledged)' : ' (not acknowledged)'}`;
    const record = decodeRecord(stored.data);
    if (record.client !== client || record.seq !== seq) problems.push(`client ${client}: record ${oid} is (${record.client}, ${record.seq}), expected (${client}, ${seq})`);
    const ack = acked.get(seq);
    if (ack !== undefined && (ack.oid !== oid || ack.tid !== stored.tid)) {
      problems.push(`client ${client}: commit ${seq} acknowledged as record ${ack.oid} at tid ${ack.tid}, found record ${oid} at tid ${stored.tid}`);
    }
    if (record.blob !== null) {
      const handle = await view
        .blob(BigInt(record.blob))
        .then((blob) => blob.open('r'))
        .catch((error: unknown) => {
          problems.push(`${where}: its blob ${record.blob} does not open: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
          return undefined;
        });
      if (handle !== undefined) {
        try {
          const got = await digestStream(handle.createReadStream());
          const want = expectedBlobDigest(chainBlob(client, seq).seed, chainBlob(client, seq).size);
          if (got.size !== want.size || got.sha256 !== want.sha256) problems.push(`${where}: its blob differs (${got.size} bytes)`);
        } finally {
          await handle.close();
        }
      }
    }
    oid = record.prev;
  }
  if (head.seq >= 1 && oid !== null) problems.push(`client ${client}: record 1 links to a previous record ${oid}`);
  return head.seq;
}
