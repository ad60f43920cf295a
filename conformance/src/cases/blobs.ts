/** The blobs area: the raw BlobHandlerton contract and the Database blob semantics. */
import { defineArea } from './define.js';
import { rawBlobCases } from './blobs-raw.js';
import { dbBlobCases } from './blobs-db.js';

export const blobCases = defineArea('blobs', [...rawBlobCases, ...dbBlobCases]);
