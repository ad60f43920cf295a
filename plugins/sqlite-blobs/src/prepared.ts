/**
 * The statement module: SQL is built (and typed) by kysely, compiled once, prepared once on the
 * better-sqlite3 connection and then executed synchronously with fresh arguments.
 *
 * A query is written with `arg<T>('name')` placeholders in place of values; at run time each
 * placeholder is replaced by `args[name]`. Another kysely dialect would compile the same builders.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Compilable } from 'kysely';
import { InvalidArgumentError } from '@handlerton/framework';

class Placeholder {
  constructor(readonly name: string) {}
}

/** A named placeholder standing for a value given at run time. */
export function arg<T>(name: string): T {
  return new Placeholder(name) as unknown as T;
}

/** A compiled statement in a form another thread can prepare: SQL text and its parameters in order. */
export interface PortableStatement {
  readonly sql: string;
  readonly params: readonly ({ readonly name: string } | { readonly value: unknown })[];
}

/** Arguments of one execution, by placeholder name. */
export type Args = Readonly<Record<string, unknown>>;

/** A compiled, prepared statement with typed rows. */
export class PreparedQuery<Row> {
  private readonly statement: BetterSqlite3.Statement;
  private readonly template: readonly unknown[];
  /** The SQL text (for diagnostics and the README). */
  readonly sql: string;

  constructor(db: BetterSqlite3.Database, query: Compilable<Row>) {
    const compiled = query.compile();
    this.sql = compiled.sql;
    this.template = compiled.parameters;
    this.statement = db.prepare(compiled.sql);
  }

  private bind(args: Args): unknown[] {
    const out = new Array<unknown>(this.template.length);
    for (let i = 0; i < out.length; i++) {
      const p = this.template[i];
      out[i] = p instanceof Placeholder ? toSqlValue(args[p.name], p.name) : p;
    }
    return out;
  }

  /** The statement as SQL text and parameters (placeholders by name, constants by value). */
  portable(): PortableStatement {
    return { sql: this.sql, params: this.template.map((p) => (p instanceof Placeholder ? { name: p.name } : { value: p })) };
  }

  /** Every row. */
  all(args: Args = {}): Row[] {
    return this.statement.all(this.bind(args)) as Row[];
  }

  /** The first row, or undefined. */
  get(args: Args = {}): Row | undefined {
    return this.statement.get(this.bind(args)) as Row | undefined;
  }

  /**
   * Runs a write whose parameters are all placeholders, given positionally in query order (the hot
   * path of multi-row inserts: no per-execution argument object).
   */
  runPositional(values: readonly unknown[]): void {
    if (values.length !== this.template.length || !this.template.every((p) => p instanceof Placeholder)) {
      throw new InvalidArgumentError(`statement takes ${this.template.length} placeholder values, got ${values.length}`);
    }
    this.statement.run(values);
  }

  /** Runs a write; returns the changed row count and the last inserted rowid. */
  run(args: Args = {}): { changes: number; lastInsertRowid: bigint } {
    const result = this.statement.run(this.bind(args));
    return { changes: result.changes, lastInsertRowid: BigInt(result.lastInsertRowid) };
  }
}

function toSqlValue(value: unknown, name: string): unknown {
  if (value === undefined) throw new InvalidArgumentError(`statement argument "${name}" is missing`);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}
