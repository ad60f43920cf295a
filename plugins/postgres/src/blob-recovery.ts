/**
 * Blob transactions whose client died between `prepare` and `commit`, decided by another client.
 *
 * Every PgBlobs is a numbered client that holds a session advisory lock on its number for as long
 * as it is open (on a connection of its own, outside the pool). A prepared transaction's key starts
 * with its client's number; its revisions are `p` rows and the record references it will count are
 * `blob_pending_ref` rows, both written in the prepare's server transaction. `commit` publishes
 * the rows and moves the pending references into the counts in one server transaction, and so does
 * recovery for a dead client: whichever runs first does it, the other finds nothing left (a
 * reference is never counted twice). Recovery decides only transactions of clients whose lock it
 * can take, i.e. clients whose session is gone; a live client's prepared transactions are never
 * touched.
 */
import pg from 'pg';
import type { PendingReferences, PendingRevision } from '@handlerton/framework';
import type { BlobStatements } from './blob-sql.js';
import { run, schemaLockKey } from './storage-sql.js';

/** The first key of the liveness locks of `schema` (the second is the client number). */
function livenessKey(schema: string): number {
  return (schemaLockKey(schema) ^ 0x4c495645) | 0;
}

/** This process's client number and the session that holds its liveness lock. */
export class ClientLiveness {
  readonly id: number;
  readonly #client: pg.Client;
  readonly #key: number;

  private constructor(id: number, client: pg.Client, key: number) {
    this.id = id;
    this.#client = client;
    this.#key = key;
  }

  /** Takes a new client number in `schema` and locks it on a connection of its own. */
  static async open(url: string, schema: string, sql: BlobStatements, pool: pg.Pool, connectTimeoutMs: number): Promise<ClientLiveness> {
    const [row] = await run<{ id: bigint }>(pool, sql.newClient, []);
    const id = Number(row!.id % 2_147_483_647n);
    const client = new pg.Client({ connectionString: url, application_name: `handlerton-blobs ${schema} ${id}`.slice(0, 63), connectionTimeoutMillis: connectTimeoutMs });
    // A broken liveness connection only means other clients may now recover this one's prepared transactions.
    client.on('error', () => undefined);
    await client.connect();
    const key = livenessKey(schema);
    try {
      await client.query('select pg_advisory_lock($1, $2)', [key, id]);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return new ClientLiveness(id, client, key);
  }

  /** The key prefix of this client's prepared transactions. */
  txnKey(random: string): string {
    return `${this.id}.${random}`;
  }

  /** Runs `decide` while holding the liveness lock of client `other`, if its session is gone; false when it is alive. */
  async whileDead(other: number, decide: () => Promise<void>): Promise<boolean> {
    const result = await this.#client.query<{ locked: boolean }>('select pg_try_advisory_lock($1, $2) as locked', [this.#key, other]);
    if (result.rows[0]?.locked !== true) return false;
    try {
      await decide();
    } finally {
      await this.#client.query('select pg_advisory_unlock($1, $2)', [this.#key, other]).catch(() => undefined);
    }
    return true;
  }

  /** Ends the session (and with it the lock). */
  async close(): Promise<void> {
    await this.#client.end().catch(() => undefined);
  }
}

/** The client number in a prepared transaction's key; undefined for keys written before client numbers existed. */
export function clientOfKey(txnKey: string): number | undefined {
  const dot = txnKey.indexOf('.');
  if (dot <= 0) return undefined;
  const id = Number(txnKey.slice(0, dot));
  return Number.isSafeInteger(id) ? id : undefined;
}

/** Publishes prepared transaction `txnKey` and counts its pending references, in the caller's server transaction. */
export async function publishPrepared(client: pg.PoolClient, sql: BlobStatements, txnKey: string): Promise<void> {
  await run(client, sql.publish, [txnKey]);
  await run(client, sql.applyPendingRefs, [txnKey]);
}

/** Discards prepared transaction `txnKey` (its revisions and pending references), in the caller's server transaction. */
export async function discardPrepared(client: pg.PoolClient, sql: BlobStatements, txnKey: string): Promise<void> {
  await run(client, sql.unprepare, [txnKey]);
  await run(client, sql.dropPendingRefs, [txnKey]);
}

/** What recovery found and did. */
export interface RecoveryResult {
  readonly published: number;
  readonly discarded: number;
  /** Transactions left alone: their client is alive (or the key predates client numbers). */
  readonly skipped: number;
}

/** One prepared transaction as found in the tables. */
interface Prepared {
  readonly revisions: PendingRevision[];
  references?: PendingReferences;
}

/** Decides the prepared transactions of dead clients (see the module comment). */
export async function recoverPrepared(
  pool: pg.Pool,
  sql: BlobStatements,
  liveness: ClientLiveness,
  isCommitted: (pending: PendingRevision) => Promise<boolean>,
  hasCommitted?: (pending: PendingReferences) => Promise<boolean>,
): Promise<RecoveryResult> {
  const found = new Map<string, Prepared>();
  const entry = (txnKey: string): Prepared => {
    let prepared = found.get(txnKey);
    if (prepared === undefined) found.set(txnKey, (prepared = { revisions: [] }));
    return prepared;
  };
  for (const row of await run<{ txn_key: string; blob_id: bigint; revision: bigint; oid: bigint | null }>(pool, sql.preparedRevisions, [])) {
    if (row.oid !== null) entry(row.txn_key).revisions.push({ blobId: row.blob_id, revision: row.revision, oid: row.oid });
    else entry(row.txn_key);
  }
  for (const row of await run<{ txn_key: string; tid: bigint; witness: bigint | null }>(pool, sql.pendingTransactions, [])) {
    if (row.witness !== null) entry(row.txn_key).references = { tid: row.tid, witness: row.witness };
    else entry(row.txn_key);
  }
  const byClient = new Map<number, string[]>();
  let skipped = 0;
  for (const txnKey of found.keys()) {
    const client = clientOfKey(txnKey);
    if (client === undefined || client === liveness.id) {
      skipped++;
      continue;
    }
    byClient.set(client, [...(byClient.get(client) ?? []), txnKey]);
  }
  let published = 0;
  let discarded = 0;
  for (const [client, keys] of byClient) {
    const dead = await liveness.whileDead(client, async () => {
      for (const txnKey of keys) {
        const commit = await committed(found.get(txnKey)!, isCommitted, hasCommitted);
        const connection = await pool.connect();
        try {
          await connection.query('begin');
          if (commit) await publishPrepared(connection, sql, txnKey);
          else await discardPrepared(connection, sql, txnKey);
          await connection.query('commit');
        } catch (error) {
          await connection.query('rollback').catch(() => undefined);
          throw error;
        } finally {
          connection.release();
        }
        if (commit) published++;
        else discarded++;
      }
    });
    if (!dead) skipped += keys.length;
  }
  return { published, discarded, skipped };
}

/**
 * Whether the storage transaction of a prepared blob transaction committed: asked of its first
 * revision, else of its witness; published when nothing can tell (a reference counted once too
 * often leaks space, one counted too few could lose data).
 */
async function committed(
  prepared: Prepared,
  isCommitted: (pending: PendingRevision) => Promise<boolean>,
  hasCommitted: ((pending: PendingReferences) => Promise<boolean>) | undefined,
): Promise<boolean> {
  const first = prepared.revisions[0];
  if (first !== undefined) return isCommitted(first);
  if (prepared.references !== undefined && hasCommitted !== undefined) return hasCommitted(prepared.references);
  return true;
}
