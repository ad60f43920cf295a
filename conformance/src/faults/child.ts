/**
 * The child of the syscall-level fault sweep (run as `node child.js '<ChildSpec JSON>'`, under
 * strace): runs the sweep workload with plain node:fs, prints `ACK <seq> <tid>` after each commit
 * returned, tries one more commit after any error (the parent decides whether that probe had to be
 * refused), and prints `RESULT <json>` with the error, the probe and close before it exits.
 */
import * as nodeFs from 'node:fs';
import type { DatabaseConfigObject } from '@handlerton/framework';
import { say } from '../util/say.js';
import { runSweepWorkload, type SweepStep } from './sweep-workload.js';

/** What the parent passes (JSON in argv[2]). */
export interface ChildSpec {
  readonly config: DatabaseConfigObject;
  readonly steps?: readonly SweepStep[];
  /** Modules imported before opening (third-party engine plugins). */
  readonly preload?: readonly string[];
}

async function main(): Promise<void> {
  const text = process.argv[2];
  if (text === undefined) throw new Error('usage: child.js <ChildSpec JSON>');
  const spec = JSON.parse(text) as ChildSpec;
  for (const module of spec.preload ?? []) await import(module);
  const outcome = await runSweepWorkload({
    config: spec.config,
    fs: nodeFs,
    ...(spec.steps !== undefined ? { steps: spec.steps } : {}),
    probeAfter: () => true,
    onAck: (seq, tid) => say(`ACK ${seq} ${tid}`),
  });
  await say(`RESULT ${JSON.stringify(outcome, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    void say(`CRASH ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`.replace(/\n/g, ' ')).finally(() => process.exit(1));
  },
);
