/**
 * The suite's public types: cases, areas, requirements, the harness an engine author supplies,
 * and the context every case receives.
 */
import type {
  BlobCapabilities,
  BlobHandlerton,
  BlobTransactionMode,
  Database,
  DatabaseConfigObject,
  Storage,
  StorageCapabilities,
} from '@handlerton/framework';

/** The areas of the catalogue, in report order. */
export const AREAS = [
  'manifest',
  'transactions',
  'conflicts',
  'mvcc',
  'history',
  'blobs',
  'locators',
  'packing',
  'external-gc',
  'durability',
  'concurrency',
  'multi-client',
  'model',
] as const;

/** One area of the catalogue. */
export type Area = (typeof AREAS)[number];

/** A storage capability name. */
export type StorageCapabilityName = keyof StorageCapabilities;
/** A blob feature flag name. */
export type BlobFlagName = Exclude<keyof BlobCapabilities, 'mode'>;

/**
 * What a case needs: a storage capability (`pack`), a blob feature (`blob.seek`), a blob
 * transactional mode (`mode.dataTransactional`), or an optional harness feature (`harness.crash`,
 * `harness.clients`, `harness.blobFiles`: blob bytes kept in files under the case directory).
 */
export type Requirement =
  | StorageCapabilityName
  | `blob.${BlobFlagName}`
  | `mode.${BlobTransactionMode}`
  | 'harness.crash'
  | 'harness.clients'
  | 'harness.blobFiles';

/** A pair of opened engines: the storage and the blob handlerton a case runs against. */
export interface Engines {
  readonly storage: Storage;
  readonly blobs: BlobHandlerton;
}

/** Where a harness call works: the case's own temporary directory. */
export interface HarnessLocation {
  readonly dir: string;
}

/** What an engine author supplies to run the suite. */
export interface Harness {
  /** Shown in test titles and reports. */
  readonly name: string;
  /** Static storage manifest, read synchronously when cases are registered. */
  readonly storageCapabilities: StorageCapabilities;
  /** Static blob manifest, read synchronously when cases are registered. */
  readonly blobCapabilities: BlobCapabilities;
  /** Opens a fresh, isolated pair of engines whose files live under `dir` (empty on the first call). */
  factory(location: HarnessLocation): Promise<Engines>;
  /** Opens again, on the same `dir`, engines that were closed (durable engines). Default: none. */
  reopen?(closed: Engines, location: HarnessLocation): Promise<Engines>;
  /**
   * Simulates a killed process (crash-safe engines): abandons `engines` without closing them
   * cleanly and opens the same `dir` again.
   */
  crash?(engines: Engines, location: HarnessLocation): Promise<Engines>;
  /**
   * Releases everything of `engines` (already closed or not; objects may have been deleted by an
   * external GC). Default: close both engines. The suite removes `dir` afterwards.
   */
  teardown?(engines: Engines, location: HarnessLocation): Promise<void>;
  /**
   * A JSON-serialisable database config (engines named by string: a built-in name or a package)
   * with which another process's `openDatabase` opens the same database as the engines `factory`
   * opened on `location`, while they stay open (engines claiming `multiClient`). Default: none, and
   * the multi-client cases are skipped.
   */
  clientConfig?(location: HarnessLocation): DatabaseConfigObject;
  /**
   * Why blob bytes are not in files under the case directory (a server-side engine keeps them in its
   * server); cases that damage blob files on disk are skipped with this reason. Default: they are.
   */
  readonly blobBytesElsewhere?: string;
  /**
   * Bound in bytes of the record cache of the Databases the suite opens over these engines; 0 turns
   * it off. Default: the framework's default (64 MiB). The suite must pass both ways.
   */
  readonly recordCacheBytes?: number;
}

/** A second, independent engine pair (e.g. the target of a copy), owned by the case context. */
export interface ExtraEngines extends Engines {
  readonly dir: string;
}

/** What every case receives. */
export interface CaseContext {
  /** The case's own temporary directory (the harness's files live under `<dir>/engine`). */
  readonly dir: string;
  readonly harness: Harness;
  /** The current storage (changes after `reopen`). */
  readonly storage: Storage;
  /** The current blob handlerton (changes after `reopen`). */
  readonly blobs: BlobHandlerton;
  /** A Database (the framework's API) over the current engines; created on first call. */
  database(): Promise<Database>;
  /** Closes everything (the database too) and reopens the same directory through the harness. */
  reopen(): Promise<void>;
  /** Abandons the engines as a killed process would and reopens them (harness.crash). */
  crash(): Promise<void>;
  /** The harness's clientConfig for the case's engines (throws when the harness has none). */
  clientConfig(): DatabaseConfigObject;
  /** A fresh engine pair in its own directory, torn down with the case. */
  extraEngines(label: string): Promise<ExtraEngines>;
  /** A Database over extra engines, closed with the case. */
  extraDatabase(engines: Engines): Promise<Database>;
  /** A deterministic pseudo-random source for this case (seeded by its id). */
  random(): number;
  /** A deterministic integer in [0, n). */
  randomInt(n: number): number;
  /** Human-readable notes kept in the report when the case fails. */
  note(message: string): void;
}

/**
 * A citation of the contract text a case checks: `<file>#<Member>` or `<file>#<Interface.member>`
 * (a file under framework/src/contracts, e.g. `storage.ts#Storage.tpcBegin`), or `<file>#invariants`
 * for the rules in the file's header comment.
 */
export type RuleCitation = `${string}.ts#${string}`;

/** One case of the catalogue. */
export interface ConformanceCase {
  /** Stable id, e.g. `transactions.abort-leaves-nothing`. */
  readonly id: string;
  readonly area: Area;
  /** The rule the case checks, in one line. */
  readonly title: string;
  /** The ZODB rule or test the case derives from (`T12`, `API-14`, `BL-2`), or a DESIGN.md rule. */
  readonly source?: string;
  /** The contract rules the case checks: the doc comments that state what it asserts (empty only for a case not yet cited). */
  readonly rule: readonly RuleCitation[];
  /** Capabilities the engine must claim for the case to run. */
  readonly requires: readonly Requirement[];
  /** Capabilities the engine must NOT claim (checks of the NotSupportedError path). */
  readonly unless?: readonly Requirement[];
  /** The body: throws (through node:assert) on a violation. */
  run(ctx: CaseContext): Promise<void>;
}

/** Outcome of one case. */
export type CaseStatus = 'pass' | 'fail' | 'skip';

/** One line of a report. */
export interface CaseResult {
  readonly id: string;
  readonly area: Area;
  readonly title: string;
  readonly source?: string;
  /** The contract rules the case checks (see ConformanceCase.rule). */
  readonly rule?: readonly RuleCitation[];
  readonly status: CaseStatus;
  /** Why it was skipped, or the failure's code and message. */
  readonly reason?: string;
  readonly durationMs: number;
}
