/**
 * What an engine's own consistency check (`Storage.verify`, `BlobHandlerton.verify`) reports:
 * the typed problems it found and what it checked. `handlerton verify` runs these next to the
 * generic check through the contracts and merges the reports.
 */

/** One problem an engine's check found: the file, the offset in it when known, and what is wrong. */
export interface EngineVerifyProblem {
  /** The damaged (or inconsistent) file, as the engine names it (absolute path when it has one). */
  readonly file: string;
  /** Byte offset in `file` where the problem starts, when known. */
  readonly offset?: number;
  readonly message: string;
}

/** What an engine's check did and found. */
export interface EngineVerifyReport {
  /** The engine's name (`Storage.name` / `BlobHandlerton.name`). */
  readonly engine: string;
  /** What was checked: counts by name, e.g. `{ segments: 3, transactions: 120, indexPages: 4 }`. */
  readonly checked: Readonly<Record<string, number>>;
  readonly problems: readonly EngineVerifyProblem[];
}

/** Progress of an engine's check (for a progress line); every member optional. */
export interface VerifyObserver {
  /** Called now and then with a running count of `what` (e.g. `'segments'`, `'chunk files'`). */
  progress?(what: string, done: number): void;
}

/** Collects problems up to a limit and counts what was checked; a helper for engines' `verify`. */
export class VerifyCollector {
  readonly #problems: EngineVerifyProblem[] = [];
  readonly #checked: Record<string, number> = {};
  #dropped = 0;

  constructor(
    readonly engine: string,
    private readonly observer: VerifyObserver = {},
    private readonly limit = 1000,
  ) {}

  /** Records a problem (beyond the limit only counted). */
  problem(file: string, offset: number | undefined, message: string): void {
    if (this.#problems.length < this.limit) this.#problems.push(offset === undefined ? { file, message } : { file, offset, message });
    else this.#dropped++;
  }

  /** Adds `n` to the count of `what` and reports progress. */
  count(what: string, n = 1): void {
    const total = (this.#checked[what] ?? 0) + n;
    this.#checked[what] = total;
    this.observer.progress?.(what, total);
  }

  /** Problems recorded so far. */
  get problems(): number {
    return this.#problems.length + this.#dropped;
  }

  /** The report. */
  report(): EngineVerifyReport {
    const problems = this.#dropped === 0 ? [...this.#problems] : [...this.#problems, { file: '', message: `${this.#dropped} more problem(s) not listed` }];
    return { engine: this.engine, checked: { ...this.#checked }, problems };
  }
}
