/** Worker process entry: runs one benchmark trial and sends its result to the parent. */
import { BenchContext, UnavailableError } from './harness/context.js';
import type { WorkerRequest, WorkerResult } from './harness/types.js';
import { benchmarks } from './benchmarks/registry.js';
import { engineName, loadPlugin } from './harness/engines.js';

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('worker: missing request argument');
  const request = JSON.parse(raw) as WorkerRequest;
  const bench = benchmarks[request.bench];
  if (bench === undefined) throw new Error(`unknown benchmark "${request.bench}"`);
  const ctx = new BenchContext(request.params, request.scratch, request.datasets);
  let result: WorkerResult;
  try {
    // Import the engine before any measurement so that module loading counts in neither time nor RSS.
    const engine = request.params['engine'];
    if (typeof engine === 'string') await loadPlugin(engineName(engine));
    const metrics = await bench(ctx);
    result = { ok: true, metrics, memory: ctx.finishMemory() };
  } catch (error) {
    const unavailable = error instanceof UnavailableError;
    const reason = error instanceof Error ? (unavailable ? error.message : (error.stack ?? error.message)) : String(error);
    result = { ok: false, unavailable, reason };
  }
  await new Promise<void>((resolve) => {
    if (process.send === undefined) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      resolve();
    } else process.send(result, () => resolve());
  });
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
