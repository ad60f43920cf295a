/** @handlerton/framework: contracts, DI wiring, config and the Database API. */
export * from './contracts/ids.js';
export * from './contracts/errors.js';
export * from './contracts/capabilities.js';
export * from './contracts/records.js';
export * from './contracts/storage.js';
export * from './contracts/refs-codec.js';
export * from './contracts/context.js';
export * from './contracts/blob-handlerton.js';
export * from './contracts/locator.js';
export * from './contracts/plugin.js';
export type * from './contracts/database.js';
