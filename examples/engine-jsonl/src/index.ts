/** `@acme/handlerton-jsonl`: an example handlerton storage engine. */
export { plugin, parseJsonlOptions } from './plugin.js';
export type { JsonlOptions } from './plugin.js';
export { JsonlStorage } from './jsonl-storage.js';
export type { JsonlStorageOptions } from './jsonl-storage.js';
