/**
 * Regression test for lost ACK lines: a harness child's stdout is a socket that fills when the
 * parent is slow to read (another test blocking the event loop); a line written without waiting
 * was then queued inside the child and lost on SIGKILL, and the kill loop saw committed
 * transactions it was never told about. A line the child went on from must reach the parent.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./fixtures/say-child.js', import.meta.url));

test('every line a child went on from reaches the parent after a SIGKILL, even when the parent read nothing meanwhile', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-say-'));
  try {
    const countFile = join(dir, 'count');
    const child = spawn(process.execPath, [CHILD, countFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    // The parent does not read while the child writes (as when a test blocks the event loop).
    child.stdout.pause();
    const received: string[] = [];
    let pending = '';
    const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    child.kill('SIGKILL');
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      received.push(...lines);
    });
    child.stdout.resume();
    await closed;
    const wentOn = Number(await readFile(countFile, 'utf8'));
    t.true(wentOn > 0, 'the child printed at least one line');
    t.true(received.length >= wentOn, `the child went on after line ${wentOn}, the parent received ${received.length} lines`);
    t.deepEqual(received.slice(0, wentOn), Array.from({ length: wentOn }, (_, i) => `LINE ${i + 1}`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
