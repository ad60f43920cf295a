/** `handlerton-conformance torture --engine <e>`: not built yet (placeholder for the torture harness). */

/** Runs the torture harness CLI with `argv`; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  console.error(`handlerton-conformance torture: not implemented yet (arguments: ${argv.join(' ')})`);
  return 2;
}
