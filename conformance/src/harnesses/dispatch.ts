/** Subcommands of `handlerton-conformance` that run a fault harness instead of the case catalogue. */
import { HARNESS_KINDS, type HarnessKind } from './harness-report.js';

/** A harness CLI: parses its own arguments, prints progress and its summary line, resolves to the exit code. */
export type HarnessMain = (argv: readonly string[]) => Promise<number>;

/** True when `word` names a harness subcommand. */
export function isHarnessKind(word: string | undefined): word is HarnessKind {
  return word !== undefined && (HARNESS_KINDS as readonly string[]).includes(word);
}

/** Loads the CLI of harness `kind`. */
export async function harnessMain(kind: HarnessKind): Promise<HarnessMain> {
  switch (kind) {
    case 'faults':
      return (await import('../faults/cli.js')).main;
    case 'powerloss':
      return (await import('../powerloss/cli.js')).main;
    case 'torture':
      return (await import('../torture/cli.js')).main;
    case 'corruption':
      return (await import('../corruption/cli.js')).main;
  }
}
