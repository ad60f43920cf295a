/**
 * What the framework hands an engine when it opens one: the per-database services that live in
 * the database's child container. Tests replace any of them (a fake clock, a failing disk).
 */
import type * as nodeFs from 'node:fs';

/** Wall-clock time source, in milliseconds since the Unix epoch. */
export interface Clock {
  now(): number;
}

/** The subset of a pino-style logger that engines may use. */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** File-system access: node:fs, or a wrapper of it that injects faults. */
export type FileSystem = typeof nodeFs;

/** Per-database services an engine receives. */
export interface EngineContext {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly fs: FileSystem;
}

/** The system clock. */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
});
