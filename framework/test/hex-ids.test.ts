/** Oids and tids in error messages are printed as 16 hex digits, the one form the CLI prints and parses (issue 15). */
import test from 'ava';
import { ConflictError, isHandlertonError, openDatabase, toHex } from '../src/index.js';

const HEX = /^[0-9a-f]{16}$/;

test('ConflictError prints the oid and both serials in hex', (t) => {
  const error = new ConflictError(0x1fn, 0x1a2531087dc00000n, 0x1a25310791600000n, 'delete');
  t.is(error.message, 'conflict on oid 000000000000001f: committed serial 1a2531087dc00000, expected 1a25310791600000 (delete)');
  t.is(new ConflictError(31n, undefined, 10n).message, 'conflict on oid 000000000000001f: committed serial none, expected 000000000000000a');
});

test('a database names oids and tids in hex in its POSKeyError and ConflictError messages', async (t) => {
  const db = await openDatabase('memory:');
  try {
    const missing = await t.throwsAsync(db.transaction(async (tx) => tx.write(31n, new Uint8Array([1]))));
    t.true(isHandlertonError(missing, 'HANDLERTON_POS_KEY'));
    t.regex(missing?.message ?? '', /oid 000000000000001f does not exist/);
    const oid = await db.transaction(async (tx) => tx.create(new Uint8Array([1])));
    const snapshot = await db.snapshot();
    const gone = await t.throwsAsync(snapshot.read(oid + 30n));
    t.regex(gone?.message ?? '', new RegExp(`oid ${toHex(oid + 30n)} does not exist as of tid ([0-9a-f]{16})$`));
    t.regex(/as of tid ([0-9a-f]+)$/.exec(gone?.message ?? '')?.[1] ?? '', HEX);
    await snapshot.close();
    // Two transactions read the same revision; the second to commit conflicts.
    const first = db.begin();
    const second = db.begin();
    await first.read(oid);
    await second.read(oid);
    await first.write(oid, new Uint8Array([2]));
    await second.write(oid, new Uint8Array([3]));
    await first.commit();
    const conflict = await t.throwsAsync(second.commit());
    t.true(isHandlertonError(conflict, 'HANDLERTON_CONFLICT'), String(conflict));
    t.regex(conflict?.message ?? '', new RegExp(`conflict on oid ${toHex(oid)}: committed serial [0-9a-f]{16}, expected [0-9a-f]{16}`));
  } finally {
    await db.close();
  }
});
