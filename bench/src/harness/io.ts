/** File helpers for benchmarks: random files, sizes, durations, yielding. */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** 1 MiB. */
export const MiB = 1024 * 1024;

/** Milliseconds since an arbitrary origin (monotonic, fractional). */
export function nowMs(): number {
  return performance.now();
}

/** Resolves on the next turn of the event loop. */
export function yieldLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Writes `bytes` of random data to `file` in 1 MiB chunks (not synced). */
export async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const fh = await fsp.open(file, 'w');
  try {
    // A pool of distinct chunks so that no layer can deduplicate the data.
    const pool = Array.from({ length: 8 }, () => randomBytes(MiB));
    let written = 0;
    let i = 0;
    while (written < bytes) {
      const chunk = pool[i % pool.length] as Buffer;
      const n = Math.min(MiB, bytes - written);
      await fh.write(chunk, 0, n, written);
      written += n;
      i += 1;
    }
  } finally {
    await fh.close();
  }
}

/** Total allocated bytes of every file under `dir` (st_blocks * 512), recursively; hard links count once. */
export async function diskUsage(dir: string, seen: Set<string> = new Set()): Promise<number> {
  let total = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await diskUsage(full, seen);
    else {
      try {
        const st = await fsp.stat(full);
        const id = `${st.dev}:${st.ino}`;
        if (!seen.has(id)) {
          seen.add(id);
          total += st.blocks * 512;
        }
      } catch {
        // removed while walking
      }
    }
  }
  return total;
}

/** Flushes a file's data to disk (fdatasync). */
export async function syncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r+');
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** Writes a list of oids as 8-byte big-endian values. */
export async function writeOidFile(file: string, oids: readonly bigint[]): Promise<void> {
  const buf = Buffer.alloc(oids.length * 8);
  oids.forEach((oid, i) => buf.writeBigUInt64BE(oid, i * 8));
  await fsp.writeFile(file, buf);
}

/** Reads a file written by writeOidFile. */
export async function readOidFile(file: string): Promise<BigUint64Array> {
  const buf = await fsp.readFile(file);
  const out = new BigUint64Array(buf.length / 8);
  for (let i = 0; i < out.length; i += 1) out[i] = buf.readBigUInt64BE(i * 8);
  return out;
}

/** Deterministic pseudo-random generator (mulberry32) so that every engine reads the same keys. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
