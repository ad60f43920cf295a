/** The catalogue: every case of every area, in report order. */
import { blobIntegrityCases } from './cases/blob-integrity.js';
import { blobCases } from './cases/blobs.js';
import { concurrencyCases } from './cases/concurrency.js';
import { conflictCases } from './cases/conflicts.js';
import { durabilityCases } from './cases/durability.js';
import { externalGcCases } from './cases/external-gc.js';
import { historyCases } from './cases/history.js';
import { locatorCases } from './cases/locators.js';
import { manifestCases } from './cases/manifest.js';
import { modelCases } from './cases/model.js';
import { multiClientCases } from './cases/multi-client.js';
import { mvccCases } from './cases/mvcc.js';
import { packingCases } from './cases/packing.js';
import { storeManyConflictCases, storeManyTransactionCases } from './cases/store-many.js';
import { transactionCases } from './cases/transactions.js';
import type { ConformanceCase } from './types.js';

/** Every case, grouped by area in AREAS order. */
export const CATALOGUE: readonly ConformanceCase[] = Object.freeze([
  ...manifestCases,
  ...transactionCases,
  ...storeManyTransactionCases,
  ...conflictCases,
  ...storeManyConflictCases,
  ...mvccCases,
  ...historyCases,
  ...blobCases,
  ...locatorCases,
  ...packingCases,
  ...externalGcCases,
  ...durabilityCases,
  ...blobIntegrityCases,
  ...concurrencyCases,
  ...multiClientCases,
  ...modelCases,
]);
