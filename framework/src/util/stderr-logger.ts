/** A tiny JSON-lines logger on stderr (pino-compatible subset), enabled with HANDLERTON_LOG=<level>. */
import type { Logger } from '../contracts/context.js';
import { silentLogger } from '../contracts/context.js';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/** A logger writing JSON lines at or above `level` to stderr. */
export function stderrLogger(level: Level, bindings: Record<string, unknown> = {}): Logger {
  const threshold = LEVELS.indexOf(level);
  const emit = (at: Level) => (obj: object | string, msg?: string): void => {
    if (LEVELS.indexOf(at) < threshold) return;
    const fields = typeof obj === 'string' ? { msg: obj } : { ...obj, msg };
    const line = JSON.stringify({ level: at, time: Date.now(), ...bindings, ...fields }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    process.stderr.write(line + '\n');
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (more) => stderrLogger(level, { ...bindings, ...more }),
  };
}

/** The logger the environment asks for: HANDLERTON_LOG=debug|info|warn|error, else silent. */
export function loggerFromEnv(): Logger {
  const level = process.env['HANDLERTON_LOG'];
  return (LEVELS as readonly string[]).includes(level ?? '') ? stderrLogger(level as Level) : silentLogger;
}
