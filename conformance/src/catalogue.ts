/** The catalogue: every case of every area, in report order. */
import { conflictCases } from './cases/conflicts.js';
import { historyCases } from './cases/history.js';
import { mvccCases } from './cases/mvcc.js';
import { transactionCases } from './cases/transactions.js';
import type { ConformanceCase } from './types.js';

/** Every case, grouped by area in AREAS order. */
export const CATALOGUE: readonly ConformanceCase[] = Object.freeze([
  ...transactionCases,
  ...conflictCases,
  ...mvccCases,
  ...historyCases,
]);
