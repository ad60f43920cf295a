/** Describes the machine a run happened on. */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';

/** Machine facts written into the results. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly ramGiB: number;
  readonly node: string;
  readonly kernel: string;
  readonly platform: string;
  readonly tmpdir: string;
  readonly diskFs: string;
  readonly loadAverage: readonly number[];
}

function fsOf(dir: string): string {
  try {
    const out = execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n');
    const cols = (out[out.length - 1] ?? '').split(/\s+/);
    return `${cols[1] ?? '?'} on ${cols[0] ?? '?'}`;
  } catch {
    return 'unknown';
  }
}

/** Collects the machine facts. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    ramGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    platform: `${os.platform()} ${os.arch()}`,
    tmpdir: os.tmpdir(),
    diskFs: fsOf(os.tmpdir()),
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
