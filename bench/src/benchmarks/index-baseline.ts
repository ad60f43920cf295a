/**
 * The "index in memory" baseline (what the original FileStorage does): open a flat record log
 * by scanning it and rebuilding a Map of every oid to its file offset.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Benchmark } from '../harness/context.js';
import { MiB, nowMs, yieldLoop } from '../harness/io.js';
import { payloads } from '../harness/workload.js';

const HEADER = 12; // oid (8, big-endian) + data length (4)

/** Dataset: a flat log of `count` records (oids 1..count, 200-byte data). */
export const flatLogDataset: Benchmark = async (ctx) => {
  const count = ctx.num('count');
  const data = payloads();
  const fh = await fsp.open(path.join(ctx.scratch, 'log.bin'), 'w');
  const recordSize = HEADER + 200;
  const perChunk = Math.floor(MiB / recordSize);
  const start = nowMs();
  for (let first = 1; first <= count; first += perChunk) {
    const last = Math.min(count, first + perChunk - 1);
    const buf = Buffer.allocUnsafe((last - first + 1) * recordSize);
    let pos = 0;
    for (let oid = first; oid <= last; oid += 1) {
      buf.writeBigUInt64BE(BigInt(oid), pos);
      buf.writeUInt32BE(200, pos + 8);
      (data[oid % data.length] as Buffer).copy(buf, pos + HEADER);
      pos += recordSize;
    }
    await fh.write(buf);
  }
  await fh.datasync();
  await fh.close();
  return { buildMs: nowMs() - start };
};

/** Opens the flat log: streams it and rebuilds Map<oid, offset>; reports the time and RSS growth. */
export const indexMapOpen: Benchmark = async (ctx) => {
  const file = path.join(ctx.dataset(ctx.str('dataset')), 'log.bin');
  ctx.markBaseline();
  const start = nowMs();
  const index = new Map<bigint, number>();
  let carry = Buffer.alloc(0);
  let base = 0; // file offset of carry[0]
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) {
    const buf = carry.length === 0 ? (chunk as Buffer) : Buffer.concat([carry, chunk as Buffer]);
    let pos = 0;
    while (pos + HEADER <= buf.length) {
      const len = buf.readUInt32BE(pos + 8);
      if (pos + HEADER + len > buf.length) break;
      index.set(buf.readBigUInt64BE(pos), base + pos);
      pos += HEADER + len;
    }
    carry = Buffer.from(buf.subarray(pos));
    base += pos;
    ctx.sampleMemory();
    await yieldLoop();
  }
  const openMs = nowMs() - start;
  ctx.sampleMemory();
  if (index.size === 0) throw new Error('index baseline: empty log');
  return { openMs, entries: index.size };
};
