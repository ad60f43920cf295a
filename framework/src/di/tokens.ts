/** Injection tokens: every interface the containers hand out has an explicit symbol token. */
import type { InjectionToken } from 'tsyringe';
import type { Clock, EngineContext, FileSystem, Logger } from '../contracts/context.js';
import type { EnginePlugin } from '../contracts/plugin.js';
import type { ResolvedConfig } from '../config/database-config.js';

/** Engine plugins registered in the root container (multi-binding). */
export const ENGINE_PLUGINS: InjectionToken<EnginePlugin> = Symbol.for('handlerton.EnginePlugins');
/** The normalised config of one database (child container). */
export const DATABASE_CONFIG: InjectionToken<ResolvedConfig> = Symbol.for('handlerton.DatabaseConfig');
/** The database's clock (child container). */
export const CLOCK: InjectionToken<Clock> = Symbol.for('handlerton.Clock');
/** The database's logger (child container). */
export const LOGGER: InjectionToken<Logger> = Symbol.for('handlerton.Logger');
/** The database's file-system access (child container). */
export const FILE_SYSTEM: InjectionToken<FileSystem> = Symbol.for('handlerton.FileSystem');
/** The keys that sign and verify the database's locators; the first one signs; empty: use the storage's per-database secret (child container). */
export const LOCATOR_KEYS: InjectionToken<readonly Uint8Array[]> = Symbol.for('handlerton.LocatorKeys');
/** The services handed to engines (child container). */
export const ENGINE_CONTEXT: InjectionToken<EngineContext> = Symbol.for('handlerton.EngineContext');
