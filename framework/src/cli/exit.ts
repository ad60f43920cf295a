/** CLI exit codes and the one-line error report (stack trace only with --verbose). */
import { CommanderError } from 'commander';
import { isHandlertonError, type ErrorCode } from '../contracts/errors.js';

/** The documented exit codes. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2 });

/** Errors caused by what the operator typed: exit 2. */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['HANDLERTON_INVALID_CONFIG', 'HANDLERTON_INVALID_ARGUMENT', 'HANDLERTON_UNKNOWN_ENGINE', 'HANDLERTON_NOT_FOUND', 'HANDLERTON_INVALID_LOCATOR']);

/** Reports a failed command in one line (plus the stack with `verbose`); returns the exit code. */
export function reportFailure(error: unknown, verbose: boolean, writeError: (line: string) => void): number {
  // commander has already printed its own message (or the help / version, with exit code 0)
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  const code = isHandlertonError(error) ? error.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  writeError(`handlerton: ${code === undefined ? '' : `${code}: `}${message.split('\n')[0]}`);
  if (verbose && error instanceof Error && error.stack !== undefined) writeError(error.stack);
  return code !== undefined && USAGE_CODES.has(code) ? EXIT.usage : EXIT.failed;
}
