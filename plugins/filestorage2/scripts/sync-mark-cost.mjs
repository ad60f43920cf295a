// Cost of marking a batch's first transaction "synced before" (flag byte + checksum rewrite),
// against encoding the transaction. Usage: node scripts/sync-mark-cost.mjs [records=100] [size=200]
import { BufferPool, TxnBuilder } from '../dist/src/storage/txn-builder.js';

const records = Number(process.argv[2] ?? 100);
const size = Number(process.argv[3] ?? 200);
const pool = new BufferPool();
const meta = { user: Buffer.from('alice'), description: Buffer.from('a commit'), extension: Buffer.from('{}') };
const data = new Uint8Array(size).fill(97);
const refs = new Uint8Array(8);
const build = () => {
  const b = new TxnBuilder(pool, 1n << 60n, 0x20, meta, 4096);
  for (let i = 0; i < records; i++) b.add(i + 1, BigInt(i + 1), false, refs, data, 0);
  b.finish();
  return b;
};
const rounds = 20000;
for (let i = 0; i < 2000; i++) build().markSyncedBefore(); // warm-up
const b = build();
let t0 = process.hrtime.bigint();
for (let i = 0; i < rounds; i++) b.markSyncedBefore();
const mark = Number(process.hrtime.bigint() - t0) / rounds;
t0 = process.hrtime.bigint();
for (let i = 0; i < rounds / 10; i++) build().release();
const encode = Number(process.hrtime.bigint() - t0) / (rounds / 10);
console.log(JSON.stringify({ records, size, markNsPerBatch: Math.round(mark), encodeNsPerTxn: Math.round(encode), ratio: +(mark / encode).toFixed(4) }));
