/**
 * ClientProcess: one multi-client child (`node client.js '<ClientSpec JSON>'`) seen from the parent:
 * its parsed lines, waiting for a line, sending a line to its stdin, SIGKILL. A child exits when its
 * stdin closes, so none outlives the parent.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseClientLine, type ClientLine, type ClientSpec } from './protocol.js';

const CLIENT_MODULE = fileURLToPath(new URL('./client.js', import.meta.url));
const STDERR_KEEP = 4000;

/** How a child ended. */
export interface ClientExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** A running (or finished) client process. */
export class ClientProcess {
  /** Every complete line it printed, in order. */
  readonly lines: ClientLine[] = [];
  /** performance.now() when each line arrived (same indexes as `lines`). */
  readonly lineTimes: number[] = [];
  /** Resolves once it exited and its pipes drained (every complete line is in `lines`). */
  readonly exited: Promise<ClientExit>;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #label: string;
  #consumed = 0;
  #stderr = '';
  #closed = false;
  readonly #wakers = new Set<() => void>();

  private constructor(spec: ClientSpec, label: string) {
    this.#label = label;
    this.#child = spawn(process.execPath, [CLIENT_MODULE, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let pending = '';
    this.#child.stdout.setEncoding('utf8');
    this.#child.stdout.on('data', (text: string) => {
      pending += text;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = parseClientLine(pending.slice(0, newline));
        this.lines.push(line);
        this.lineTimes.push(performance.now());
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
      this.#wakeAll();
    });
    this.#child.stderr.setEncoding('utf8');
    this.#child.stderr.on('data', (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-STDERR_KEEP);
    });
    this.#child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve, reject) => {
      this.#child.on('error', reject);
      this.#child.on('close', (code, signal) => {
        this.#closed = true;
        this.#wakeAll();
        resolve({ code, signal, stderr: this.#stderr });
      });
    });
  }

  /** Spawns a child playing `spec.role`; `label` names it in errors. */
  static start(spec: ClientSpec, label: string = spec.role.kind): ClientProcess {
    return new ClientProcess(spec, label);
  }

  /** The child's pid. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /**
   * The next not yet consumed line of `type`; rejects when the child prints FAIL, exits first, or
   * `timeoutMs` passes.
   */
  async next(type: string, timeoutMs = 30_000): Promise<ClientLine> {
    const found = await this.#await((lines) => {
      while (this.#consumed < lines.length) {
        const line = lines[this.#consumed++]!;
        if (line.type === type || line.type === 'fail') return line;
      }
      return undefined;
    }, type, timeoutMs);
    return found;
  }

  /** The first line of `type` printed so far or later (not consuming); rejects like `next`. */
  async seen(type: string, timeoutMs = 30_000): Promise<ClientLine> {
    return this.#await((lines) => lines.find((l) => l.type === type || l.type === 'fail'), type, timeoutMs);
  }

  async #await(find: (lines: readonly ClientLine[]) => ClientLine | undefined, type: string, timeoutMs: number): Promise<ClientLine> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const line = find(this.lines);
      if (line?.type === 'fail') throw new Error(`client ${this.#label} failed: ${line.words.join(' ')}; stderr: ${this.#stderr.trim().slice(-800)}`);
      if (line !== undefined) return line;
      if (this.#closed) throw new Error(`client ${this.#label} exited before printing ${type.toUpperCase()}; stderr: ${this.#stderr.trim().slice(-800)}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`client ${this.#label} printed no ${type.toUpperCase()} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#wakers.add(wake);
      });
    }
  }

  #wakeAll(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  /** Writes `line` to the child's stdin. */
  send(line: string): void {
    this.#child.stdin.write(`${line}\n`);
  }

  /** Waits for a normal exit (code 0) after closing stdin; rejects with its stderr otherwise. */
  async finished(timeoutMs = 60_000): Promise<void> {
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    try {
      const exit = await this.exited;
      if (exit.code !== 0) throw new Error(`client ${this.#label} exited with ${exit.code ?? exit.signal}; stderr: ${exit.stderr.trim().slice(-800)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILLs the child (if still running) and waits until it is gone. */
  async kill(): Promise<ClientExit> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    return this.exited;
  }
}

/** Kills every client still running (for `finally` blocks). */
export async function killAll(clients: readonly ClientProcess[]): Promise<void> {
  await Promise.all(clients.map((c) => c.kill()));
}
