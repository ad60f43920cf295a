/**
 * The ava adapter: `conformance(test, harness)` in an engine's ava test file registers the whole
 * catalogue. Only this file knows ava's shape (structurally; ava itself is not imported).
 */
import { registerConformance, type ConformanceOptions } from './registrar.js';
import { Semaphore } from './util/semaphore.js';
import type { Harness } from './types.js';

/** The part of ava's execution context the adapter uses. */
export interface AvaExecutionContext {
  pass(message?: string): void;
}

/** The part of ava's `test` the adapter uses. */
export interface AvaTestInterface {
  (title: string, implementation: (t: AvaExecutionContext) => Promise<void> | void): void;
  serial(title: string, implementation: (t: AvaExecutionContext) => Promise<void> | void): void;
  skip(title: string, implementation: (t: AvaExecutionContext) => Promise<void> | void): void;
}

/** Options of the ava adapter. */
export interface AvaConformanceOptions extends ConformanceOptions {
  /** Register cases with `test.serial` (one at a time) instead of ava's default concurrency. */
  readonly serial?: boolean;
  /**
   * At most this many case bodies run at once (ava starts every test of a file together; disk
   * engines and synchronous drivers do better with a few at a time). Default: no limit.
   */
  readonly concurrency?: number;
}

/**
 * Registers the suite with ava. Each case asserts through node:assert; the adapter calls `t.pass()`
 * after the body. Unclaimed capabilities register `test.skip` with the reason in the title.
 */
export function conformance(test: AvaTestInterface, harness: Harness, options: AvaConformanceOptions = {}): void {
  const register = options.serial === true ? test.serial.bind(test) : test;
  const slots = options.concurrency === undefined ? undefined : new Semaphore(options.concurrency);
  registerConformance(
    {
      test(title, body) {
        register(title, async (t) => {
          await (slots === undefined ? body() : slots.run(body));
          t.pass();
        });
      },
      skip(title, reason) {
        test.skip(`${title} (skipped: ${reason})`, (t) => t.pass());
      },
    },
    harness,
    options,
  );
}
