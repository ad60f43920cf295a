/** `handlerton-conformance corruption --engine <e>`: not built yet (placeholder for the corruption harness). */

/** Runs the corruption harness CLI with `argv`; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  console.error(`handlerton-conformance corruption: not implemented yet (arguments: ${argv.join(' ')})`);
  return 2;
}
