/**
 * The framework's root container: engine plugins are registered here (multi-binding under
 * ENGINE_PLUGINS). Each open database gets a child container of it (see open-database.ts).
 */
import 'reflect-metadata';
import { container, type DependencyContainer } from 'tsyringe';
import { UnknownEngineError } from '../contracts/errors.js';
import type { EnginePlugin } from '../contracts/plugin.js';
import { importEnginePlugin, isEnginePlugin } from '../config/engine-loader.js';
import { ENGINE_PLUGINS } from './tokens.js';

/** The root container of handlerton (a child of tsyringe's global container, so apps keep theirs clean). */
export const rootContainer: DependencyContainer = container.createChildContainer();

/** Registers an engine plugin so config can name it without importing a package. */
export function registerEnginePlugin(plugin: EnginePlugin): void {
  if (!isEnginePlugin(plugin)) throw new UnknownEngineError('registerEnginePlugin needs an object with name and parseOptions');
  rootContainer.register(ENGINE_PLUGINS, { useValue: plugin });
}

/** The plugins registered so far. */
export function registeredEnginePlugins(): EnginePlugin[] {
  return rootContainer.isRegistered(ENGINE_PLUGINS) ? rootContainer.resolveAll(ENGINE_PLUGINS) : [];
}

/** Finds a plugin by name or alias: registered, built in, or an importable package (which gets registered). */
export async function loadEnginePlugin(name: string): Promise<EnginePlugin> {
  const known = registeredEnginePlugins().find((p) => p.name === name || (p.aliases ?? []).includes(name));
  if (known !== undefined) return known;
  const plugin = await importEnginePlugin(name);
  if (!registeredEnginePlugins().includes(plugin)) registerEnginePlugin(plugin);
  return plugin;
}
