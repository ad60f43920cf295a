/** Runs one case against a harness: fresh temp dir, fresh engines, timeout, guaranteed teardown. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext } from './context.js';
import { gate } from './gating.js';
import type { CaseResult, ConformanceCase, Harness } from './types.js';

/** Options of a case run. */
export interface RunOptions {
  /** Milliseconds before the case fails as hung (default 60 000). */
  readonly timeoutMs?: number;
  /** Parent of the per-case temporary directories (default: the OS temp dir). */
  readonly tmpRoot?: string;
}

function withTimeout<T>(promise: Promise<T>, ms: number, id: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`case ${id} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs the body of `testCase` against a fresh engine pair and tears everything down; throws what
 * the case threw (or what teardown threw). Gating is the caller's job.
 */
export async function executeCase(testCase: ConformanceCase, harness: Harness, options: RunOptions = {}): Promise<void> {
  const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'handlerton-conformance-'));
  const ctx = await createContext(harness, dir, `${harness.name}:${testCase.id}`).catch(async (e: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw e;
  });
  let failure: unknown;
  try {
    await withTimeout(testCase.run(ctx), options.timeoutMs ?? 60_000, testCase.id);
  } catch (e) {
    failure = e;
  }
  try {
    await ctx.dispose();
  } catch (e) {
    failure ??= new Error(`teardown failed: ${describeError(e)}`, { cause: e });
  }
  if (failure !== undefined) {
    if (ctx.notes.length > 0 && failure instanceof Error) failure.message += `\nnotes: ${ctx.notes.join('; ')}`;
    throw failure;
  }
}

/** One line describing an error: its code (when typed) and message. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${typeof code === 'string' ? `${code}: ` : ''}${error.message.split('\n').slice(0, 6).join(' | ')}`;
  }
  return String(error);
}

/** The fields of a result that describe its case: id, area, title, source and cited rules. */
export function resultFields(testCase: ConformanceCase): Pick<CaseResult, 'id' | 'area' | 'title' | 'source' | 'rule'> {
  return {
    id: testCase.id,
    area: testCase.area,
    title: testCase.title,
    ...(testCase.source ? { source: testCase.source } : {}),
    ...(testCase.rule.length > 0 ? { rule: testCase.rule } : {}),
  };
}

/** Gates and runs one case, returning its result instead of throwing. */
export async function runCase(testCase: ConformanceCase, harness: Harness, options: RunOptions = {}): Promise<CaseResult> {
  const base = resultFields(testCase);
  const decision = gate(testCase, harness);
  if (!decision.run) return { ...base, status: 'skip', reason: decision.reason, durationMs: 0 };
  const started = performance.now();
  try {
    await executeCase(testCase, harness, options);
    return { ...base, status: 'pass', durationMs: Math.round(performance.now() - started) };
  } catch (e) {
    return { ...base, status: 'fail', reason: describeError(e), durationMs: Math.round(performance.now() - started) };
  }
}

/** Runs cases with bounded parallelism, in catalogue order of results. */
export async function runCases(
  cases: readonly ConformanceCase[],
  harness: Harness,
  options: RunOptions & { concurrency?: number; onResult?: (result: CaseResult) => void } = {},
): Promise<CaseResult[]> {
  const results: CaseResult[] = new Array<CaseResult>(cases.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const index = next++;
      const result = await runCase(cases[index]!, harness, options);
      results[index] = result;
      options.onResult?.(result);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 1) }, worker));
  return results;
}
