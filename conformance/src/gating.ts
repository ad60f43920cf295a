/** Capability gating: decides from the static manifests whether a case runs, and why not. */
import type { BlobCapabilities, StorageCapabilities } from '@handlerton/framework';
import type { ConformanceCase, Harness, Requirement } from './types.js';

/** Whether a case runs against a harness, with the reason when it does not. */
export type GateDecision = { readonly run: true } | { readonly run: false; readonly reason: string };

/** True when the manifests claim `requirement`. */
export function claims(
  requirement: Requirement,
  storage: StorageCapabilities,
  blobs: BlobCapabilities,
): boolean {
  if (requirement.startsWith('blob.')) {
    const flag = requirement.slice('blob.'.length) as keyof BlobCapabilities;
    return blobs[flag] === true;
  }
  if (requirement.startsWith('mode.')) return blobs.mode === requirement.slice('mode.'.length);
  if (requirement.startsWith('harness.')) return true;
  return storage[requirement as keyof StorageCapabilities] === true;
}

function describe(requirement: Requirement, storage: StorageCapabilities, blobs: BlobCapabilities): string {
  if (requirement.startsWith('mode.')) return `blob mode is ${blobs.mode}, case needs ${requirement.slice(5)}`;
  return `capability ${requirement}=${String(claims(requirement, storage, blobs))}`;
}

/** Decides whether `testCase` runs against `harness` (reads only the static manifests). */
export function gate(testCase: ConformanceCase, harness: Harness): GateDecision {
  const storage = harness.storageCapabilities;
  const blobs = harness.blobCapabilities;
  if (testCase.requires.includes('harness.crash') && harness.crash === undefined) {
    return { run: false, reason: 'the harness provides no crash() to simulate a killed process' };
  }
  const missing = testCase.requires.filter((r) => !claims(r, storage, blobs));
  if (missing.length > 0) {
    return { run: false, reason: missing.map((r) => describe(r, storage, blobs)).join(', ') };
  }
  if (testCase.requires.includes('harness.blobFiles') && harness.blobBytesElsewhere !== undefined) {
    return { run: false, reason: harness.blobBytesElsewhere };
  }
  if (testCase.requires.includes('harness.clients') && harness.clientConfig === undefined) {
    return { run: false, reason: 'the harness provides no clientConfig() for other processes to open the same database' };
  }
  const present = (testCase.unless ?? []).filter((r) => claims(r, storage, blobs));
  if (present.length > 0) {
    return {
      run: false,
      reason: `${present.map((r) => describe(r, storage, blobs)).join(', ')}: the case checks the behaviour without it (e.g. NotSupportedError)`,
    };
  }
  return { run: true };
}
