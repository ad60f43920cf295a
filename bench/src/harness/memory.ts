/** Per-process memory measurement: RSS sampled every 20 ms plus the kernel's VmHWM. */
import { readFileSync, writeFileSync } from 'node:fs';
import type { MemoryStats } from './types.js';

/** Reads VmHWM (peak resident set) from /proc/self/status in bytes; 0 when unavailable. */
export function readVmHwm(): number {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match?.[1] !== undefined ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resets VmHWM to the current RSS (Linux: write "5" to /proc/self/clear_refs); false when not allowed. */
export function resetVmHwm(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Runs a full garbage collection when node was started with --expose-gc. */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
}

/** Samples process RSS every 20 ms and reports growth over a baseline. */
export class RssSampler {
  private baseline = 0;
  private peak = 0;
  private hwmReset = false;
  private timer: NodeJS.Timeout | undefined;

  /** Collects garbage, records the baseline RSS and (re)starts sampling. */
  markBaseline(): void {
    collectGarbage();
    this.baseline = process.memoryUsage.rss();
    this.peak = this.baseline;
    this.hwmReset = resetVmHwm();
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sample(), 20);
      this.timer.unref();
    }
  }

  /** Takes one sample now. */
  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }

  /** Stops sampling and returns the statistics. */
  finish(): MemoryStats {
    this.sample();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const hwm = readVmHwm();
    // VmHWM covers the whole process; it only counts when it was reset at the baseline.
    const top = this.hwmReset ? Math.max(this.peak, hwm) : this.peak;
    return { baselineRss: this.baseline, peakSampledRss: this.peak, vmHwm: hwm, growth: Math.max(0, top - this.baseline) };
  }
}
