/**
 * The sweep's verify pass: runs on a damaged copy exactly what `handlerton verify` runs (a
 * read-only open through the CLI's `inspectTarget`, then `verifyAll`: the engines' own checks and
 * the generic one) and says whether it reported a problem. An open that fails with CorruptionError
 * counts as found (the CLI exits non-zero naming the file); any other failure does not.
 */
import { inspectTarget, isHandlertonError, openDatabase, verifyAll, type Database, type DatabaseConfigObject, type DatabaseOverrides, type VerifyResult } from '@handlerton/framework';

/** The engines an opened database exposes to tools (DatabaseImpl: `storage`, `blobs`). */
type VerifyTarget = Parameters<typeof verifyAll>[0];

/** What the verify pass saw on one damaged copy. */
export interface VerifyVerdict {
  /** verify reported at least one problem, or the read-only open failed with CorruptionError. */
  readonly found: boolean;
  /** The first problem or the error, for reports. */
  readonly detail: string;
}

/** Opens `config` read-only as the CLI does and runs its verify. */
export async function verifyCopy(
  config: DatabaseConfigObject,
  overrides: DatabaseOverrides,
  open: (config: DatabaseConfigObject, overrides: DatabaseOverrides) => Promise<Database> = openDatabase,
): Promise<VerifyVerdict> {
  let db: Database;
  try {
    db = await open(inspectTarget(config) as DatabaseConfigObject, overrides);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (isHandlertonError(error, 'HANDLERTON_CORRUPTION')) return { found: true, detail: `open: ${message}` };
    return { found: false, detail: `open failed without CorruptionError: ${message}` };
  }
  let result: VerifyResult;
  try {
    // the same call as `handlerton verify` (framework/src/cli/main.ts)
    result = await verifyAll(db as unknown as VerifyTarget);
  } catch (error) {
    await db.close().catch(() => undefined);
    const message = error instanceof Error ? error.message : String(error);
    return { found: isHandlertonError(error, 'HANDLERTON_CORRUPTION'), detail: `verify threw: ${message}` };
  }
  await db.close().catch(() => undefined);
  const first = result.problems[0];
  return first === undefined ? { found: false, detail: 'no problems found' } : { found: true, detail: `${result.problems.length} problem(s), first: ${first.at}: ${first.message}` };
}
