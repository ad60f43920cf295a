/**
 * The plugin contract: how an engine package tells the framework what it provides.
 *
 * A package (ours or a third party's) default-exports, or exports as `plugin`, an EnginePlugin.
 * The framework registers it in the root container under ENGINE_PLUGINS, validates options through
 * it, and asks it for a Storage and/or a BlobHandlerton when a database opens.
 */
import type { BlobCapabilities, StorageCapabilities } from './capabilities.js';
import type { BlobHandlerton } from './blob-handlerton.js';
import type { EngineContext } from './context.js';
import type { Storage } from './storage.js';

/** Where and how an engine was asked to open, before the plugin validated it. */
export interface EngineRequest {
  /** The location from config (a directory or file path), if any. */
  readonly location: string | undefined;
  /** Engine-specific options from config, not yet validated. */
  readonly options: Readonly<Record<string, unknown>>;
  /** The config path that named this engine, for error messages (e.g. "storage" or "blobs"). */
  readonly configPath: string;
}

/** An engine's validated, frozen options (plugin-specific shape). */
export type EngineOptions = Readonly<Record<string, unknown>>;

/** What an engine package provides. */
export interface EnginePlugin {
  /** The engine name used in config ("memory", "filestorage2", "sqlite-blobs"). */
  readonly name: string;
  /** Other names config may use ("sqlite" for "sqlite-blobs"). */
  readonly aliases?: readonly string[];
  /**
   * True when the engine keeps nothing at a location (memory): when config names no location for its
   * blobs, the framework opens it without one instead of deriving one from the storage's location.
   * A location given explicitly is still passed on (and refused by `parseOptions`). Default false.
   */
  readonly locationless?: boolean;
  /** One line for `handlerton engines`. */
  readonly description: string;
  /** Static manifest of the storage it creates with default options (read synchronously by test registration). */
  readonly storageCapabilities?: StorageCapabilities;
  /** Static manifest of the blob handlerton it creates with default options. */
  readonly blobCapabilities?: BlobCapabilities;
  /** Validates a request; throws InvalidConfigError naming the bad option. */
  parseOptions(request: EngineRequest): EngineOptions;
  /** Opens a storage (present when the engine provides one); storages opened on different locations share nothing. */
  createStorage?(options: EngineOptions, context: EngineContext): Promise<Storage>;
  /** Opens a blob handlerton (present when the engine provides one). */
  createBlobHandlerton?(options: EngineOptions, context: EngineContext): Promise<BlobHandlerton>;
}
