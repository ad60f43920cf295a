/** `handlerton-conformance faults --engine <e>`: not built yet (placeholder for the faults harness). */

/** Runs the faults harness CLI with `argv`; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  console.error(`handlerton-conformance faults: not implemented yet (arguments: ${argv.join(' ')})`);
  return 2;
}
