/**
 * The plugin object the framework loads by package name: it validates the config and opens the
 * storage. This engine provides a Storage only; pair it with any blob handlerton in config, e.g.
 * `{ storage: '@acme/handlerton-jsonl:./app-db', blobs: 'filestorage2:./app-blobs' }`.
 */
import { describeValue, InvalidConfigError, type EngineContext, type EngineOptions, type EnginePlugin, type EngineRequest } from '@handlerton/framework';
import { JsonlStorage } from './jsonl-storage.js';

/** The validated options: the database directory and whether to open it read-only. */
export interface JsonlOptions extends EngineOptions {
  readonly directory: string;
  readonly readOnly: boolean;
}

const KNOWN = ['readOnly'];

/** Checks a request; InvalidConfigError naming the bad option. */
export function parseJsonlOptions(request: EngineRequest): JsonlOptions {
  const at = request.configPath;
  if (typeof request.location !== 'string' || request.location === '') {
    throw new InvalidConfigError(`${at}.location must name the database directory, e.g. "@acme/handlerton-jsonl:./app-db"`, `${at}.location`);
  }
  const options = request.options ?? {};
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) throw new InvalidConfigError(`${at}.options.${key} is not a jsonl option (known: ${KNOWN.join(', ')})`, `${at}.options.${key}`);
  }
  const readOnly = options['readOnly'] ?? false;
  if (typeof readOnly !== 'boolean') throw new InvalidConfigError(`${at}.options.readOnly must be a boolean, got ${describeValue(readOnly)}`, `${at}.options.readOnly`);
  return Object.freeze({ directory: request.location, readOnly });
}

/** The engine plugin of `@acme/handlerton-jsonl`. */
export const plugin: EnginePlugin = Object.freeze({
  name: 'jsonl',
  description: 'Example third-party engine: one checksummed JSON-lines file (storage only).',
  storageCapabilities: JsonlStorage.capabilities,
  parseOptions: parseJsonlOptions,
  async createStorage(options: EngineOptions, context: EngineContext): Promise<JsonlStorage> {
    const { directory, readOnly } = options as JsonlOptions;
    return JsonlStorage.open({ directory, readOnly, fs: context.fs, clock: context.clock });
  },
});
