/**
 * Finds engine plugins: registered ones first, then the built-in names, then any package name
 * (third-party engines), imported on demand. The framework has no static dependency on a plugin.
 */
import { UnknownEngineError } from '../contracts/errors.js';
import type { EnginePlugin } from '../contracts/plugin.js';

/** Built-in engine names and the packages that provide them. */
export const BUILT_IN_ENGINES: Readonly<Record<string, string>> = Object.freeze({
  memory: '@handlerton/memory',
  filestorage2: '@handlerton/filestorage2',
  sqlite: '@handlerton/sqlite-blobs',
  'sqlite-blobs': '@handlerton/sqlite-blobs',
});

/** True when `value` has the shape of an EnginePlugin. */
export function isEnginePlugin(value: unknown): value is EnginePlugin {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<EnginePlugin>;
  return typeof candidate.name === 'string' && typeof candidate.parseOptions === 'function';
}

/** Imports the plugin named `name` (built-in engine name or package name). */
export async function importEnginePlugin(name: string): Promise<EnginePlugin> {
  const specifier = BUILT_IN_ENGINES[name] ?? name;
  let module: Record<string, unknown>;
  try {
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
      throw new UnknownEngineError(
        `unknown engine "${name}": not one of ${Object.keys(BUILT_IN_ENGINES).join(', ')} and no package "${specifier}" could be imported`,
        { cause: error },
      );
    }
    throw error;
  }
  const plugin = module['plugin'] ?? module['default'];
  if (!isEnginePlugin(plugin)) {
    throw new UnknownEngineError(`package "${specifier}" does not export an engine plugin (export "plugin" or a default with name and parseOptions)`);
  }
  return plugin;
}
