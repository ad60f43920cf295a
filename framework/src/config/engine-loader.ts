/**
 * Finds engine plugins: registered ones first, then the built-in names, then any package name
 * (third-party engines), imported on demand. The framework has no static dependency on a plugin.
 * Packages are looked up where the application installed them (the working directory and the main
 * script's directory, upwards, including the package being developed there), then from the
 * framework's own location.
 */
import { isBuiltin } from 'node:module';
import { pathToFileURL } from 'node:url';
import { UnknownEngineError } from '../contracts/errors.js';
import type { EnginePlugin } from '../contracts/plugin.js';
import { applicationBaseDirs, resolvePackageEntry } from './package-resolver.js';

/** Built-in engine names and the packages that provide them. */
export const BUILT_IN_ENGINES: Readonly<Record<string, string>> = Object.freeze({
  memory: '@handlerton/memory',
  filestorage2: '@handlerton/filestorage2',
  sqlite: '@handlerton/sqlite-blobs',
  'sqlite-blobs': '@handlerton/sqlite-blobs',
  postgres: '@handlerton/postgres',
  postgresql: '@handlerton/postgres',
});

/** An npm package name, optionally scoped (what `import()` resolves from node_modules). */
const PACKAGE_NAME = /^(?:@[a-z0-9~][a-z0-9._~-]*\/)?[a-z0-9~][a-z0-9._~-]*$/i;

/** True when `value` has the shape of an EnginePlugin. */
export function isEnginePlugin(value: unknown): value is EnginePlugin {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<EnginePlugin>;
  return typeof candidate.name === 'string' && typeof candidate.parseOptions === 'function';
}

/** Imports the plugin named `name` (built-in engine name or package name); UnknownEngineError when that fails. */
export async function importEnginePlugin(name: string): Promise<EnginePlugin> {
  const specifier = BUILT_IN_ENGINES[name] ?? name;
  const known = `not one of ${Object.keys(BUILT_IN_ENGINES).join(', ')}`;
  // Only package names are imported: never a path (config is data, not code), never a Node built-in module.
  if (typeof name !== 'string' || !PACKAGE_NAME.test(specifier) || isBuiltin(specifier)) {
    throw new UnknownEngineError(`unknown engine ${JSON.stringify(String(name))}: ${known}, and not an engine package name`);
  }
  let module: Record<string, unknown>;
  try {
    module = await importPackage(specifier, name in BUILT_IN_ENGINES);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
      throw new UnknownEngineError(
        `unknown engine "${name}": ${known} and no package "${specifier}" could be imported from ${applicationBaseDirs().join(' or ')}` +
          ' (a path alone is not a config: write "filestorage2:<directory>" or "sqlite:<file>")',
        { cause: error },
      );
    }
    throw new UnknownEngineError(`engine package "${specifier}" failed to load: ${String(error)}`, { cause: error });
  }
  const plugin = module['plugin'] ?? module['default'];
  if (!isEnginePlugin(plugin)) {
    throw new UnknownEngineError(`package "${specifier}" does not export an engine plugin (export "plugin" or a default with name and parseOptions)`);
  }
  return plugin;
}

/**
 * Imports package `specifier`: a built-in engine from the framework's location first (where a normal
 * install puts it beside the framework), any other package from the application's location first.
 */
async function importPackage(specifier: string, builtIn: boolean): Promise<Record<string, unknown>> {
  const fromApplication = async (): Promise<Record<string, unknown> | undefined> => {
    for (const base of applicationBaseDirs()) {
      const entry = resolvePackageEntry(specifier, base);
      if (entry !== undefined) return (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
    }
    return undefined;
  };
  if (!builtIn) return (await fromApplication()) ?? ((await import(specifier)) as Record<string, unknown>);
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code !== 'ERR_MODULE_NOT_FOUND') throw error;
    const found = await fromApplication();
    if (found === undefined) throw error;
    return found;
  }
}
