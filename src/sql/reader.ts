import { createHash } from "node:crypto";
import type { Prisma } from "@prisma/client";
import { type FindArgs, compileFindMany } from "./compile.js";
import type { Models } from "./model.js";
import { Unsupported } from "./types.js";

/** Runs one statement; the reader's statements return one column, `j`, a row as JSON. */
export type SqlRunner = (statement: { name?: string; text: string; values: unknown[] }) => Promise<{ rows: { j: Record<string, unknown> }[] }>;

/** How many statement shapes get a name (a plan PostgreSQL keeps per connection); the rest run unnamed. */
const NAMED_STATEMENTS = 500;

/** A read the reader handed to Prisma, and why. */
export interface Fallback {
  model: string;
  reason: string;
}

export interface SqlReaderOptions {
  /** The data model (src/sql/model.ts, built from the `generator sql` output). */
  models: Models;
  /** Called with every statement the reader sends. */
  onQuery?: (sql: string) => void;
  /** Called for every read that goes to Prisma instead: each one costs Prisma's CPU time. */
  onFallback?: (fallback: Fallback) => void;
}

/**
 * Reads through compiled SQL instead of Prisma's query engine: one statement with every relation
 * nested as JSON, in a fraction of the CPU time Prisma spends compiling and decoding the same
 * query. What the compiler does not cover, or a row it cannot revive exactly, goes to the Prisma
 * call given as `fallback`, which must be the same read.
 */
export class SqlReader<Model extends string = Prisma.ModelName> {
  private readonly names = new Map<string, string>();

  constructor(
    private readonly run: SqlRunner,
    private readonly options: SqlReaderOptions,
  ) {}

  async findMany<A extends FindArgs, R>(model: Model, args: A, fallback: (args: A) => Promise<R[]>): Promise<R[]> {
    const rows = await this.read(model, args);
    if (rows instanceof Unsupported) return this.fallBack(model, rows, () => fallback(args));
    return rows as R[];
  }

  /** findUnique and findFirst: the first row, or null. */
  async findFirst<A extends FindArgs, R>(model: Model, args: A, fallback: (args: A) => Promise<R | null>): Promise<R | null> {
    const rows = await this.read(model, { ...args, take: 1 });
    if (rows instanceof Unsupported) return this.fallBack(model, rows, () => fallback(args));
    return (rows[0] ?? null) as R | null;
  }

  /**
   * One statement of raw SQL (a Prisma.sql template), run on the reader's connection outside any
   * transaction: for a single-statement write on a hot path, which $queryRaw would first put through
   * Prisma's query compiler (a tenth of a like's CPU). Rows come back as the driver parses them: keep
   * to columns that parse the same in both drivers (integers, booleans, text).
   */
  async query<R>(statement: { text: string; values: unknown[] }): Promise<R[]> {
    this.options.onQuery?.(statement.text);
    const { rows } = await this.run({ name: this.name(statement.text), text: statement.text, values: statement.values });
    return rows as unknown as R[];
  }

  private fallBack<T>(model: string, why: Unsupported, read: () => Promise<T>): Promise<T> {
    this.options.onFallback?.({ model, reason: why.message });
    return read();
  }

  /** The revived rows, or why the reader cannot answer exactly. */
  private async read(model: string, args: FindArgs): Promise<Record<string, unknown>[] | Unsupported> {
    try {
      const { text, values, revive, reversed } = compileFindMany(this.options.models, model, args);
      this.options.onQuery?.(text);
      const { rows } = await this.run({ name: this.name(text), text, values });
      const out = rows.map(({ j }) => {
        revive(j);
        return j;
      });
      return reversed ? out.reverse() : out;
    } catch (error) {
      if (error instanceof Unsupported) return error;
      throw error;
    }
  }

  private name(text: string): string | undefined {
    let name = this.names.get(text);
    if (!name && this.names.size < NAMED_STATEMENTS) {
      name = `chirp_${createHash("sha1").update(text).digest("base64url").slice(0, 16)}`;
      this.names.set(text, name);
    }
    return name;
  }
}
