/**
 * runMultiKillLoop: the kill -9 torture with several concurrent client processes on one shared
 * database (engines claiming multiClient). Every client extends its own chain of records and a
 * counter shared by all (chain.ts), printing `ACK <seq> <tid> <oid>` once a commit returned. The
 * parent SIGKILLs a random client at random times and restarts it; at the end it checks that every
 * acknowledged commit is present with its tid, that no transaction was applied in part, that each
 * restarted client continued from the state it found, and that the survivors kept committing.
 */
import { openDatabase, ROOT_OID, InvalidArgumentError, type DatabaseConfigObject, type Oid } from '@handlerton/framework';
import { Prng } from '../crash/prng.js';
import { encodeJson, verifyChains, type ChainAcks } from './chain.js';
import { encodeU32 } from './codec.js';
import { ClientProcess, killAll } from './spawn.js';

/** Options of runMultiKillLoop. */
export interface MultiKillLoopOptions {
  /** The config of an empty database every client opens (JSON-serialisable, engines named by string). */
  readonly config: DatabaseConfigObject;
  /** Concurrent client processes (default 4). */
  readonly clients?: number;
  /** SIGKILLs to deliver (each followed by a restart of that client). */
  readonly kills: number;
  /** PRNG seed (default: random; in the report). */
  readonly seed?: number;
  /** Delay range from the chosen client's READY to its kill (default 10..400 ms). */
  readonly minKillMs?: number;
  readonly maxKillMs?: number;
  /** Share of kills aimed at a client still opening the database (default 0.1). */
  readonly earlyKillRate?: number;
  /** Every n-th transaction of a client also writes a 16-64 KiB blob (default 5; 0: never). */
  readonly blobEvery?: number;
  /** Longest wait for a client's READY, and for every client's first commit after the last kill (default 60 s). */
  readonly timeoutMs?: number;
  /** Modules the clients import before opening (third-party engines). */
  readonly preload?: readonly string[];
  /** Called after each kill. */
  readonly onKill?: (kill: number, client: number, acknowledged: number) => void;
}

/** The loop's result. */
export interface MultiKillLoopReport {
  readonly seed: number;
  readonly clients: number;
  readonly kills: number;
  /** Kills of a client that had not printed READY yet. */
  readonly earlyKills: number;
  /** Commits acknowledged by all clients. */
  readonly acknowledged: number;
  /** Transactions present at the end (the heads' seqs summed). */
  readonly committed: number;
  /** Kills whose unacknowledged in-flight transaction turned out committed. */
  readonly inFlightRecovered: number;
  /** Longest time from a client's READY to its first acknowledged commit (ms). */
  readonly maxReadyToAckMs: number;
  readonly durationMs: number;
  readonly violations: readonly string[];
  readonly ok: boolean;
}

/** Per-client bookkeeping across its incarnations. */
interface ClientState {
  readonly index: number;
  readonly acks: Map<number, { tid: bigint; oid: string }>;
  /** Highest seq known committed (acknowledged, or found at a READY). */
  known: number;
  process: ClientProcess;
}

/** Runs the torture; see the module comment. */
export async function runMultiKillLoop(options: MultiKillLoopOptions): Promise<MultiKillLoopReport> {
  const count = options.clients ?? 4;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  const minKillMs = options.minKillMs ?? 10;
  const maxKillMs = options.maxKillMs ?? 400;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const blobEvery = options.blobEvery ?? 5;
  if (!Number.isSafeInteger(count) || count < 1) throw new InvalidArgumentError(`clients must be a positive integer, got ${count}`);
  if (!Number.isSafeInteger(options.kills) || options.kills < 0) throw new InvalidArgumentError(`kills must be a non-negative integer, got ${options.kills}`);
  if (!(minKillMs >= 0 && maxKillMs >= minKillMs)) throw new InvalidArgumentError(`need 0 <= minKillMs <= maxKillMs, got ${minKillMs} and ${maxKillMs}`);
  const prng = new Prng(seed);
  const started = performance.now();
  const violations: string[] = [];
  const db = await openDatabase(options.config);
  const states: ClientState[] = [];
  let earlyKills = 0;
  let inFlightRecovered = 0;
  let maxReadyToAckMs = 0;
  try {
    const { shared, heads } = await db.transaction(async (tx) => {
      const sharedOid = await tx.create(encodeU32(0));
      const headOids: Oid[] = [];
      for (let i = 0; i < count; i++) headOids.push(await tx.create(encodeJson({ seq: 0, last: null })));
      await tx.write(ROOT_OID, encodeU32(count), { refs: [sharedOid, ...headOids] });
      return { shared: sharedOid, heads: headOids };
    });
    const spawn = (index: number): ClientProcess =>
      ClientProcess.start(
        { config: options.config, preload: options.preload ?? [], role: { kind: 'chain', head: heads[index]!.toString(), shared: shared.toString(), client: index, blobEvery } },
        `chain client ${index}`,
      );
    for (let i = 0; i < count; i++) states.push({ index: i, acks: new Map(), known: 0, process: spawn(i) });

    /** Takes a dead incarnation's lines into the client's state, checking their order. */
    const absorb = (state: ClientState): void => {
      let expected: number | undefined;
      let readyAt: number | undefined;
      for (const [index, line] of state.process.lines.entries()) {
        const at = state.process.lineTimes[index]!;
        if (line.type === 'ready') {
          readyAt = at;
          const seq = Number(line.words[0]);
          if (seq === state.known + 1) inFlightRecovered++;
          else if (seq !== state.known) violations.push(`client ${state.index} found seq ${seq} at start, expected ${state.known} (or ${state.known + 1} if its killed commit landed)`);
          state.known = Math.max(state.known, seq);
          expected = seq + 1;
        } else if (line.type === 'ack') {
          const [seqText, tidText, oid] = line.words;
          const seq = Number(seqText);
          if (seq !== expected) violations.push(`client ${state.index} acknowledged ${seq}, expected ${expected ?? 'READY first'}`);
          state.acks.set(seq, { tid: BigInt(tidText ?? '0'), oid: oid ?? '' });
          state.known = Math.max(state.known, seq);
          expected = seq + 1;
          if (readyAt !== undefined) {
            maxReadyToAckMs = Math.max(maxReadyToAckMs, at - readyAt);
            readyAt = undefined;
          }
        } else if (line.type === 'fail' || line.type === 'unknown') {
          violations.push(`client ${state.index}: ${line.line.slice(0, 300)}`);
        }
      }
    };

    for (let kill = 1; kill <= options.kills && violations.length === 0; kill++) {
      const state = states[prng.int(0, count - 1)]!;
      const early = prng.next() < (options.earlyKillRate ?? 0.1);
      const delay = prng.int(minKillMs, maxKillMs);
      if (early || state.process.lines.some((l) => l.type === 'ready')) {
        if (early) earlyKills++;
        await sleep(early ? prng.int(0, 100) : delay);
      } else {
        try {
          await state.process.seen('ready', timeoutMs);
        } catch (error) {
          violations.push(`client ${state.index}: ${(error as Error).message}`);
          break;
        }
        await sleep(delay);
      }
      await state.process.kill();
      absorb(state);
      state.process = spawn(state.index);
      options.onKill?.(kill, state.index, states.reduce((sum, s) => sum + s.acks.size, 0));
    }
    // Every client commits again after the last kill: nothing a killed client held blocks the others.
    if (violations.length === 0) {
      await Promise.all(
        states.map(async (state) => {
          try {
            await state.process.seen('ready', timeoutMs);
            await state.process.seen('ack', timeoutMs);
          } catch (error) {
            violations.push(`client ${state.index} made no commit after the last kill: ${(error as Error).message}`);
          }
        }),
      );
    }
    await killAll(states.map((s) => s.process));
    for (const state of states) absorb(state);
    const snapshot = await db.snapshot();
    try {
      const acks: ChainAcks[] = states.map((s) => s.acks);
      const result = await verifyChains(snapshot, heads, shared, acks);
      violations.push(...result.problems);
      for (const state of states) {
        const seq = result.seqs[state.index]!;
        if (seq === state.known + 1) inFlightRecovered++;
        else if (seq !== state.known) violations.push(`client ${state.index}: the head is at ${seq}, the clients knew ${state.known}`);
      }
      const acknowledged = states.reduce((sum, s) => sum + s.acks.size, 0);
      return {
        seed,
        clients: count,
        kills: options.kills,
        earlyKills,
        acknowledged,
        committed: result.seqs.reduce((a, b) => a + b, 0),
        inFlightRecovered,
        maxReadyToAckMs: Math.round(maxReadyToAckMs),
        durationMs: Math.round(performance.now() - started),
        violations,
        ok: violations.length === 0,
      };
    } finally {
      await snapshot.close();
    }
  } finally {
    await killAll(states.map((s) => s.process));
    await db.close();
  }
}

/** One line: what the torture did, and OK or its violations. */
export function formatMultiKillLoopReport(report: MultiKillLoopReport): string {
  const head =
    `multi-client kill loop: ${report.clients} clients, ${report.kills} kills (${report.earlyKills} while opening), ` +
    `${report.acknowledged} commits acknowledged, ${report.committed} committed (${report.inFlightRecovered} unacknowledged in-flight ones landed), ` +
    `READY to first commit max ${report.maxReadyToAckMs} ms, ${Math.round(report.durationMs / 1000)} s, seed ${report.seed}`;
  return report.ok ? `${head}: OK` : `${head}: ${report.violations.length} VIOLATION(S)\n  ${report.violations.slice(0, 20).join('\n  ')}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
