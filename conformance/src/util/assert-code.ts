/** Assertions on typed errors: by stable `code`, never by message. */
import assert from 'node:assert/strict';
import { isHandlertonError, type ErrorCode } from '@handlerton/framework';

function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') {
    return (error as { code: string }).code;
  }
  return error instanceof Error ? `${error.name} (no code): ${error.message}` : String(error);
}

/** Asserts that `action` rejects with a HandlertonError of one of `codes`; returns the error. */
export async function rejectsWithCode(
  action: Promise<unknown> | (() => unknown),
  codes: ErrorCode | readonly ErrorCode[],
  what = 'the call',
): Promise<Error> {
  const wanted: readonly ErrorCode[] = typeof codes === 'string' ? [codes] : codes;
  let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
  try {
    const value = typeof action === 'function' ? await action() : await action;
    outcome = { ok: true, value };
  } catch (error) {
    outcome = { ok: false, error };
  }
  if (outcome.ok) assert.fail(`${what} should fail with ${wanted.join(' or ')}, but it succeeded`);
  const error = outcome.error;
  if (!wanted.some((code) => isHandlertonError(error, code))) {
    assert.fail(`${what} should fail with ${wanted.join(' or ')}, got ${codeOf(error)}`);
  }
  return error as Error;
}

/** Asserts that a synchronous call throws a HandlertonError of one of `codes`. */
export function throwsWithCode(action: () => unknown, codes: ErrorCode | readonly ErrorCode[], what = 'the call'): Error {
  const wanted: readonly ErrorCode[] = typeof codes === 'string' ? [codes] : codes;
  try {
    action();
  } catch (error) {
    if (!wanted.some((code) => isHandlertonError(error, code))) {
      assert.fail(`${what} should throw ${wanted.join(' or ')}, got ${codeOf(error)}`);
    }
    return error as Error;
  }
  return assert.fail(`${what} should throw ${wanted.join(' or ')}, but it returned`);
}

/** Asserts that `action` raises NotSupportedError (HANDLERTON_NOT_SUPPORTED), sync or async. */
export async function rejectsNotSupported(action: () => unknown, what: string): Promise<void> {
  await rejectsWithCode(async () => action(), 'HANDLERTON_NOT_SUPPORTED', what);
}
