/** Runs one writer child until the parent kills it (or it exits), collecting its protocol lines. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseWriterLine, type WriterEvent, type WriterSpec } from './protocol.js';

/** The compiled writer module next to this one. */
export const WRITER_MODULE = fileURLToPath(new URL('./writer.js', import.meta.url));

/** When to kill the child: `delayMs` after its READY line, its first ACK, or after OPENING for an early kill. */
export interface KillPlan {
  readonly after: 'ready' | 'ack' | 'opening';
  readonly delayMs: number;
}

/** What one child run produced, with its parsed protocol lines of type `E`. */
export interface ChildRun<E> {
  readonly events: readonly E[];
  /** True when the parent's SIGKILL ended the child. */
  readonly killed: boolean;
  /** True when the child was killed because it did not get going within the time limit. */
  readonly timedOut: boolean;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The end of the child's stderr (for failure messages). */
  readonly stderr: string;
}

/** What one writer run of the kill loop produced. */
export type WriterRun = ChildRun<WriterEvent>;

/** When to kill a child: `delayMs` after its first line of type `after` ('opening' also fires on 'ready'). */
export interface ChildKillPlan {
  readonly after: string;
  readonly delayMs: number;
}

const STDERR_KEEP = 4000;

/** Spawns the writer, kills it by plan (or after `timeoutMs` without reaching the plan's point). */
export function runWriter(spec: WriterSpec, plan: KillPlan, timeoutMs: number): Promise<WriterRun> {
  return runChild(WRITER_MODULE, JSON.stringify(spec), plan, timeoutMs, parseWriterLine);
}

/**
 * Spawns `node <module> <argument>`, parses each complete stdout line with `parse`, and SIGKILLs the
 * child by plan (or after `timeoutMs` without reaching the plan's point); resolves once its pipes drained.
 */
export function runChild<E extends { readonly type: string }>(module: string, argument: string, plan: ChildKillPlan, timeoutMs: number, parse: (line: string) => E): Promise<ChildRun<E>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [module, argument], { stdio: ['pipe', 'pipe', 'pipe'] });
    const events: E[] = [];
    let pending = '';
    let stderr = '';
    let killed = false;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    const guard = setTimeout(() => {
      timedOut = killTimer === undefined;
      kill();
    }, timeoutMs);
    const onEvent = (event: E): void => {
      events.push(event);
      if (killTimer === undefined && (event.type === plan.after || (plan.after === 'opening' && event.type === 'ready'))) {
        killTimer = setTimeout(kill, event.type === plan.after ? plan.delayMs : 0);
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      pending += text;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        onEvent(parse(pending.slice(0, newline)));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      stderr = (stderr + text).slice(-STDERR_KEEP);
    });
    child.stdin.on('error', () => undefined);
    child.on('error', (error) => {
      clearTimeout(guard);
      if (killTimer !== undefined) clearTimeout(killTimer);
      reject(error);
    });
    // 'close' fires after the exit and after stdout/stderr are drained: every complete line is in.
    child.on('close', (exitCode, signal) => {
      clearTimeout(guard);
      if (killTimer !== undefined) clearTimeout(killTimer);
      child.stdin.destroy();
      resolve({ events, killed, timedOut, exitCode, signal, stderr });
    });
  });
}
