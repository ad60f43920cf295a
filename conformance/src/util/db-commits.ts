/**
 * Many `db.transaction` calls at once (group commit at the Database API): on disjoint objects,
 * where all must commit, and on overlapping objects, where the first committer of each object wins
 * and every later one gets ConflictError (and no committed write is lost, however the workers interleave).
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

/** How `overlappingWrites` starts its workers. */
export interface OverlapOptions {
  /**
   * True (the default): every worker has read both its objects before any worker writes, so all
   * views precede every commit and at most one writer of each object can commit. False: workers
   * run freely, and a transaction that begins after another committed may legitimately build on it
   * (engines whose `transaction()` awaits a round trip to the server start views at different tids).
   */
  readonly oneSnapshot?: boolean;
}

/** The separator of the chain an overlapping write leaves: `${tag}-w${w}` then what it read. */
const LINK = ' <- ';

/**
 * `workers` concurrent transactions, worker w reading objects[w % n] and objects[(w + 1) % n] and
 * writing to each `${tag}-w${w}` followed by the value it read, without retries. Every one commits
 * or fails with ConflictError. No lost update: the final value of each object chains every winner
 * that wrote it, each exactly once. With `oneSnapshot`, no two winners share an object.
 */
export async function overlappingWrites(
  db: Database,
  objects: readonly Oid[],
  workers: number,
  tag: string,
  options: OverlapOptions = {},
): Promise<OverlapOutcome> {
  const n = objects.length;
  const allRead = options.oneSnapshot === false ? null : countdown(workers);
  const outcomes = await Promise.allSettled(
    Array.from({ length: workers }, async (_, w) => {
      const mine = [objects[w % n]!, objects[(w + 1) % n]!];
      let arrived = false;
      try {
        await db.transaction(async (tx) => {
          const seen: string[] = [];
          for (const oid of mine) seen.push(text((await tx.read(oid)).data));
          if (!arrived && allRead !== null) {
            arrived = true;
            await allRead.arrive();
          }
          for (const [i, oid] of mine.entries()) await tx.write(oid, bytes(`${tag}-w${w}${LINK}${seen[i]}`));
        });
      } finally {
        // A worker that failed before reading must not keep the others waiting.
        if (!arrived && allRead !== null) void allRead.arrive();
      }
      return mine;
    }),
  );
  const writersOf = new Map<Oid, number[]>();
  let conflicts = 0;
  for (const [w, outcome] of outcomes.entries()) {
    if (outcome.status === 'rejected') {
      assert.ok(isHandlertonError(outcome.reason, 'HANDLERTON_CONFLICT'), `worker ${w} failed with a ConflictError, got ${String(outcome.reason)}`);
      conflicts += 1;
      continue;
    }
    for (const oid of outcome.value) {
      const writers = writersOf.get(oid) ?? [];
      if (allRead !== null) assert.equal(writers.length, 0, `workers ${writers[0]} and ${w} both committed a write of oid ${oid} based on the same snapshot`);
      writers.push(w);
      writersOf.set(oid, writers);
    }
  }
  const winners = workers - conflicts;
  assert.ok(winners >= 1, 'at least one overlapping transaction committed');
  const expected = await committedChains(db, writersOf, tag);
  return { expected, winners, conflicts };
}

/** Reads each object's value and checks that its chain holds each of its committed writers exactly once (no lost update). */
async function committedChains(db: Database, writersOf: ReadonlyMap<Oid, readonly number[]>, tag: string): Promise<Map<Oid, string>> {
  const expected = new Map<Oid, string>();
  const snap = await db.snapshot();
  try {
    for (const [oid, writers] of writersOf) {
      const value = text((await snap.read(oid)).data);
      const chained = value.split(LINK).filter((link) => link.startsWith(`${tag}-w`));
      const want = writers.map((w) => `${tag}-w${w}`);
      assert.deepEqual(
        [...chained].sort(),
        [...want].sort(),
        `oid ${oid}: the committed value chains the writes [${chained.join(', ')}] but workers [${want.join(', ')}] committed a write of it (a lost or phantom update)`,
      );
      expected.set(oid, value);
    }
  } finally {
    await snap.close();
  }
  return expected;
}

/** A barrier: `arrive()` resolves once `count` arrivals happened. */
function countdown(count: number): { arrive(): Promise<void> } {
  let left = count;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    arrive() {
      left -= 1;
      if (left <= 0) open();
      return opened;
    },
  };
}

function text(data: Uint8Array): string {
  return Buffer.from(data).toString();
}

/** Asserts that a fresh snapshot of `db` reads `expected` for every object. */
export async function assertValues(db: Database, expected: ReadonlyMap<Oid, string>, what: string): Promise<void> {
  const snap = await db.snapshot();
  try {
    for (const [oid, value] of expected) assert.equal(text((await snap.read(oid)).data), value, `${what}: oid ${oid}`);
  } finally {
    await snap.close();
  }
}
