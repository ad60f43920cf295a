/** Loads this repo's disk engines when they exist and build; tests skip (with the reason) otherwise. */
import { loadEnginePlugin, type EnginePlugin } from '@handlerton/framework';
import { describeError } from '../src/index.js';

/** A plugin, or why it could not be loaded. */
export type Loaded = { readonly plugin: EnginePlugin } | { readonly missing: string };

/** Loads a built-in engine plugin by name without failing the test file. */
export async function tryLoad(name: string): Promise<Loaded> {
  try {
    return { plugin: await loadEnginePlugin(name) };
  } catch (error) {
    return { missing: `engine ${name} is not available: ${describeError(error)}` };
  }
}
