/**
 * say: the one way a harness child prints a protocol line. stdout to a parent is a socket that
 * fills after a few hundred small writes when the parent is slow to read; Node then queues the rest
 * inside the child, and a SIGKILL loses them. So a child awaits each line before it goes on: an
 * ACK the child acted on has reached the kernel and will reach the parent.
 */

import { writeSync } from 'node:fs';

/** Writes `line` and a newline to stdout; resolves once the bytes are in the kernel's buffer. */
export function say(line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(`${line}\n`, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

const AGAIN_WAIT_MS = 1;
const AGAIN_LIMIT_MS = 10_000;

/**
 * Writes `line` and a newline to stdout synchronously, for a child about to kill itself: retries
 * while the socket is full (for at most 10 s), bypassing (and so possibly overtaking) lines queued
 * by `say` that have not reached the kernel yet.
 */
export function sayNow(line: string): void {
  const bytes = Buffer.from(`${line}\n`);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + AGAIN_LIMIT_MS;
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(1, bytes, offset, bytes.length - offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > deadline) throw error;
      Atomics.wait(pause, 0, 0, AGAIN_WAIT_MS);
    }
  }
}
