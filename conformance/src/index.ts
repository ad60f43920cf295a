/** @handlerton/conformance: one capability-gated catalogue of cases for every handlerton engine. */
export { SUITE_VERSION } from './version.js';
export { AREAS } from './types.js';
export type {
  Area,
  CaseContext,
  CaseResult,
  CaseStatus,
  ConformanceCase,
  Engines,
  ExtraEngines,
  Harness,
  HarnessLocation,
  Requirement,
  RuleCitation,
} from './types.js';
export { CATALOGUE } from './catalogue.js';
export { gate, claims } from './gating.js';
export type { GateDecision } from './gating.js';
export { selectCases, parseAreas, AREAS_ENV, ONLY_ENV } from './selection.js';
export type { SelectionOptions, SelectedCase } from './selection.js';
export { registerConformance, caseTitle } from './registrar.js';
export type { Registrar, ConformanceOptions } from './registrar.js';
export { executeCase, runCase, runCases, describeError } from './runner.js';
export type { RunOptions } from './runner.js';
export { cacheOffHarness, harnessFromPlugin, harnessFromPluginProbed, mixedHarness, reopenedHarness, throughFramework, wrapStorageHarness } from './harness.js';
export type { PluginHarnessOptions, MixedHarnessOptions } from './harness.js';
export { conformance } from './ava.js';
export type { AvaTestInterface, AvaExecutionContext, AvaConformanceOptions } from './ava.js';
export { conformanceNodeTest } from './node-test.js';
export type { NodeTestFunction } from './node-test.js';
export { buildReport, formatMatrix, toJUnit, summarize } from './report.js';
export type { ConformanceReport } from './report.js';
export { copyTransactions } from './util/copy.js';
export { runKillLoop, formatKillLoopReport } from './crash/index.js';
export type { KillLoopOptions, KillLoopReport, CycleReport, Violation } from './crash/index.js';
export { harnessTarget, targetFromArgs, TARGET_ARGS } from './harnesses/target.js';
export { pgStorageHarness, schemaPerCase } from './harnesses/postgres.js';
export type { PgHarness, SchemaServer } from './harnesses/postgres.js';
export { ClientProcess, killAll } from './multi/spawn.js';
export { formatMultiKillLoopReport, runMultiKillLoop } from './multi/kill-loop.js';
export type { MultiKillLoopOptions, MultiKillLoopReport } from './multi/kill-loop.js';
export type { ClientExit } from './multi/spawn.js';
export type { ClientLine, ClientRole, ClientSpec } from './multi/protocol.js';
export type { HarnessTarget, TargetSpec } from './harnesses/target.js';
export { HARNESS_KINDS, summaryLine } from './harnesses/harness-report.js';
export type { HarnessKind, HarnessReport, HarnessViolation } from './harnesses/harness-report.js';
export { CLAIM_PROOFS, verifyClaims, describeVerdict, formatClaims } from './harnesses/claims.js';
export type { ClaimStatus, ClaimVerdict, ProvableClaim } from './harnesses/claims.js';
export { collectHarnessReports, readHarnessReport, parseHarnessKinds } from './harnesses/run-harnesses.js';
export { withClaims } from './report.js';
// The fault harnesses (CRASH.md): I/O fault sweep, simulated power loss, torture, corruption sweep.
export { runFaultSweep, sweepTarget as faultSweepTarget, faultyFileSystem, FAULT_MODES, NATIVE_SYSCALLS, NATIVE_ERRNOS, straceVersion, SWEEP_STEPS } from './faults/index.js';
export type { FaultSweepOptions, FaultMechanism, FaultMode, FaultPlan, FaultyFileSystem, InjectedFault, SweepStep } from './faults/index.js';
export {
  runPowerLoss,
  RECOVERY_WORKLOAD,
  DEAD_PID,
  withDeadLockOwners,
  CrashRecorder,
  CRASH_MODES,
  SECTOR_SIZE,
  PAGE_SIZE,
  crashPoints,
  crashState,
  markersBefore,
  treeDigest,
  writeTree,
  checkState,
  ACK,
  WorkloadDriver,
  builtInWorkloads,
  recordBytes,
} from './powerloss/index.js';
export type {
  PowerLossOptions,
  CrashMode,
  CrashStateInfo,
  FsEvent,
  TreeState,
  StateVerdict,
  Workload,
  TxnRecord,
  TxnSpec,
  ExpectedObject,
} from './powerloss/index.js';
export { runTorture, TORTURE_WRITER_MODULE, formatTortureCycle, formatTortureDetails, PackWatch } from './torture/index.js';
export type { TortureOptions, TortureReport, TortureCycle, TortureDetails, PackKillPoint, PackOps } from './torture/index.js';
export { runCorruptionSweep, sweepTarget as corruptionSweepTarget, OUTCOMES, BAD_OUTCOMES, classifyImage } from './corruption/index.js';
export type { CorruptionSweepOptions, CorruptionReport, KindCounts, Outcome, Examination, Damage, Region } from './corruption/index.js';
