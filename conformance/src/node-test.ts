/** The node:test adapter: registers the catalogue with `test` from node:test. */
import { registerConformance, type ConformanceOptions } from './registrar.js';
import type { Harness } from './types.js';

/** The part of node:test's `test` the adapter uses. */
export type NodeTestFunction = (name: string, options: { skip?: string | boolean; timeout?: number }, fn: () => Promise<void>) => unknown;

/** Registers the suite with node:test; skipped cases carry their reason as the skip message. */
export function conformanceNodeTest(test: NodeTestFunction, harness: Harness, options: ConformanceOptions = {}): void {
  registerConformance(
    {
      test(title, body) {
        void test(title, { timeout: (options.timeoutMs ?? 60_000) + 5_000 }, body);
      },
      skip(title, reason) {
        void test(title, { skip: reason }, async () => {});
      },
    },
    harness,
    options,
  );
}
