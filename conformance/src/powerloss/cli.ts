/** `handlerton-conformance powerloss --engine <e>`: not built yet (placeholder for the powerloss harness). */

/** Runs the powerloss harness CLI with `argv`; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  console.error(`handlerton-conformance powerloss: not implemented yet (arguments: ${argv.join(' ')})`);
  return 2;
}
