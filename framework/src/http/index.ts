/** The HTTP blob gateway: a request listener and a ready server. */
export { blobGateway } from './gateway.js';
export type { BlobGatewayOptions } from './options.js';
export { serveBlobs } from './serve.js';
export type { BlobServer, ServeBlobsOptions } from './serve.js';
