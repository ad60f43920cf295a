/**
 * Finds an installed package's ESM entry file as the application sees it: from a base directory
 * upwards, the package itself (self-reference) or `node_modules/<name>`, reading its `exports`
 * (conditions `import`, `node`, `default`) or `main`. Lets the framework load an engine package
 * that the application installed, wherever the framework itself is installed.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const CONDITIONS = ['import', 'node', 'default'] as const;

/** The directories an application's packages are resolved from: the working directory, then the main script's. */
export function applicationBaseDirs(): string[] {
  const bases = [process.cwd()];
  const main = process.argv[1];
  if (typeof main === 'string' && main !== '') {
    try {
      bases.push(dirname(realpathSync(main)));
    } catch {
      // a main script that does not exist on disk (e.g. `node -e`) adds nothing
    }
  }
  return [...new Set(bases)];
}

/** The entry file of package `name` seen from `baseDir` upwards, or undefined when it is not installed there. */
export function resolvePackageEntry(name: string, baseDir: string): string | undefined {
  for (let dir = resolve(baseDir); ; dir = dirname(dir)) {
    const own = readManifest(dir);
    if (own !== undefined && own['name'] === name) return entryOf(dir, own);
    const installed = join(dir, 'node_modules', ...name.split('/'));
    const manifest = readManifest(installed);
    if (manifest !== undefined) return entryOf(installed, manifest);
    if (dirname(dir) === dir) return undefined;
  }
}

/** The parsed package.json in `dir`, or undefined when there is none (or it is not an object). */
function readManifest(dir: string): Record<string, unknown> | undefined {
  const path = join(dir, 'package.json');
  if (!existsSync(path)) return undefined;
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The file a bare import of the package in `dir` loads. */
function entryOf(dir: string, manifest: Record<string, unknown>): string | undefined {
  const exported = rootExport(manifest['exports']);
  if (exported !== undefined) return join(dir, exported);
  const main = manifest['main'];
  return join(dir, typeof main === 'string' && main !== '' ? main : 'index.js');
}

/** The target of the package's "." export under the ESM conditions, or undefined when `exports` has none. */
function rootExport(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (typeof exports !== 'object' || exports === null || Array.isArray(exports)) return undefined;
  const map = exports as Record<string, unknown>;
  const keys = Object.keys(map);
  // Either a subpath map ({ ".": … }) or a conditions object for the root itself.
  if (keys.some((key) => key.startsWith('.'))) return pickCondition(map['.']);
  return pickCondition(map);
}

/** Follows nested conditions objects until a path string. */
function pickCondition(target: unknown): string | undefined {
  if (typeof target === 'string') return target;
  if (typeof target !== 'object' || target === null || Array.isArray(target)) return undefined;
  const map = target as Record<string, unknown>;
  for (const condition of CONDITIONS) {
    if (condition in map) {
      const found = pickCondition(map[condition]);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
