/** Peak size of write-ahead-log files while a workload runs (sampled every 20 ms and at stop). */
import { statSync } from 'node:fs';

/** Sizes of a file that may not exist (0 then). */
function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Starts sampling `files`; the returned function stops and gives each file's peak size in bytes. */
export function watchWalPeaks(files: readonly string[]): () => number[] {
  const peaks = files.map(sizeOf);
  const sample = (): void => {
    files.forEach((file, i) => {
      const size = sizeOf(file);
      if (size > peaks[i]!) peaks[i] = size;
    });
  };
  const timer = setInterval(sample, 20);
  return () => {
    clearInterval(timer);
    sample();
    return peaks;
  };
}
