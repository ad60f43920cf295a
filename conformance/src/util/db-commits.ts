/**
 * Many `db.transaction` calls at once (group commit at the Database API): on disjoint objects,
 * where all must commit, and on overlapping objects, where the first committer of each object wins
 * and every later one gets ConflictError.
 */
import assert from 'node:assert/strict';
import { isHandlertonError, type Database, type Oid } from '@handlerton/framework';
import { bytes } from './records.js';

/** Creates `count` objects (`${prefix}-${i}`) in one transaction and returns their oids. */
export async function createObjects(db: Database, count: number, prefix: string): Promise<Oid[]> {
  return db.transaction(async (tx) => {
    const oids: Oid[] = [];
    for (let i = 0; i < count; i++) oids.push(await tx.create(bytes(`${prefix}-${i}`)));
    return oids;
  });
}

/**
 * `sets.length` concurrent workers, each `rounds` transactions in a row writing `${tag}-w${w}-r${r}`
 * to every object of its own set (no retries). Returns the value each object must hold now.
 */
export async function disjointWrites(db: Database, sets: readonly (readonly Oid[])[], rounds: number, tag: string): Promise<Map<Oid, string>> {
  const expected = new Map<Oid, string>();
  await Promise.all(
    sets.map(async (set, w) => {
      for (let r = 0; r < rounds; r++) {
        const value = `${tag}-w${w}-r${r}`;
        await db.transaction(async (tx) => {
          for (const oid of set) await tx.write(oid, bytes(value));
        });
        // Acknowledged: from here on the value must be visible, and (durable engines) survive a reopen.
        for (const oid of set) expected.set(oid, value);
      }
    }),
  );
  return expected;
}

/** What an overlapping round produced: the value each written object must hold, and who lost. */
export interface OverlapOutcome {
  readonly expected: Map<Oid, string>;
  readonly winners: number;
  readonly conflicts: number;
}

/**
 * `workers` transactions begun at once (one snapshot), worker w writing objects[w % n] and
 * objects[(w + 1) % n] after reading them, without retries. Every one commits or fails with
 * ConflictError; no two winners share an object (the first committer of an object wins).
 */
export async function overlappingWrites(db: Database, objects: readonly Oid[], workers: number, tag: string): Promise<OverlapOutcome> {
  const n = objects.length;
  const written = new Map<Oid, number>();
  const expected = new Map<Oid, string>();
  let conflicts = 0;
  const outcomes = await Promise.allSettled(
    Array.from({ length: workers }, async (_, w) => {
      const mine = [objects[w % n]!, objects[(w + 1) % n]!];
      await db.transaction(async (tx) => {
        for (const oid of mine) await tx.read(oid);
        for (const oid of mine) await tx.write(oid, bytes(`${tag}-w${w}`));
      });
      return mine;
    }),
  );
  for (const [w, outcome] of outcomes.entries()) {
    if (outcome.status === 'rejected') {
      assert.ok(isHandlertonError(outcome.reason, 'HANDLERTON_CONFLICT'), `worker ${w} failed with a ConflictError, got ${String(outcome.reason)}`);
      conflicts += 1;
      continue;
    }
    for (const oid of outcome.value) {
      assert.equal(written.get(oid), undefined, `workers ${written.get(oid)} and ${w} both committed a write of oid ${oid} based on the same revision`);
      written.set(oid, w);
      expected.set(oid, `${tag}-w${w}`);
    }
  }
  const winners = workers - conflicts;
  assert.ok(winners >= 1, 'at least one overlapping transaction committed');
  return { expected, winners, conflicts };
}

/** Asserts that a fresh snapshot of `db` reads `expected` for every object. */
export async function assertValues(db: Database, expected: ReadonlyMap<Oid, string>, what: string): Promise<void> {
  const snap = await db.snapshot();
  try {
    for (const [oid, value] of expected) assert.equal(Buffer.from((await snap.read(oid)).data).toString(), value, `${what}: oid ${oid}`);
  } finally {
    await snap.close();
  }
}
