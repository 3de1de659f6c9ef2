import { createHash } from "node:crypto";
import type { Prisma } from "@prisma/client";
import { type Compiled, type FindArgs, Unsupported, compileFindMany } from "./compile.js";

/** Runs one statement; the reader's statements return one column, `j`, a row as JSON. */
export type SqlRunner = (statement: { name?: string; text: string; values: unknown[] }) => Promise<{ rows: { j: Record<string, unknown> }[] }>;

/** How many statement shapes get a name (a plan PostgreSQL keeps per connection); the rest run unnamed. */
const NAMED_STATEMENTS = 500;

/**
 * Reads through compiled SQL instead of Prisma's query engine: one statement with every relation
 * nested as JSON, in a fraction of the CPU time Prisma spends compiling and decoding the same
 * query. What the compiler does not cover goes to the Prisma call given as `fallback`, which must
 * be the same read.
 */
export class SqlReader {
  private readonly names = new Map<string, string>();

  constructor(
    private readonly run: SqlRunner,
    private readonly onQuery?: (sql: string) => void,
  ) {}

  async findMany<A extends FindArgs, R>(model: Prisma.ModelName, args: A, fallback: (args: A) => Promise<R[]>): Promise<R[]> {
    const compiled = this.compile(model, args);
    if (!compiled) return fallback(args);
    const rows = await this.execute(compiled);
    return rows as R[];
  }

  /** findUnique and findFirst: the first row, or null. */
  async findFirst<A extends FindArgs, R>(model: Prisma.ModelName, args: A, fallback: (args: A) => Promise<R | null>): Promise<R | null> {
    const compiled = this.compile(model, { ...args, take: 1 });
    if (!compiled) return fallback(args);
    const [row] = await this.execute(compiled);
    return (row ?? null) as R | null;
  }

  private compile(model: Prisma.ModelName, args: FindArgs): Compiled | null {
    try {
      return compileFindMany(model, args);
    } catch (error) {
      if (error instanceof Unsupported) return null;
      throw error;
    }
  }

  private async execute({ text, values, revive, reversed }: Compiled) {
    this.onQuery?.(text);
    const { rows } = await this.run({ name: this.name(text), text, values });
    const out = rows.map(({ j }) => {
      revive(j);
      return j;
    });
    return reversed ? out.reverse() : out;
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
