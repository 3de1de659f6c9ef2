import { execFile } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { type SqlDatamodel, buildModels } from "../../src/sql/model.js";
import { type Fallback, SqlReader, type SqlRunner } from "../../src/sql/reader.js";
import { recreateDatabase } from "./database.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PRISMA_CLI = join(ROOT, "node_modules/prisma/build/index.js");

/** The parts of a generated Prisma client a test uses without its types (generated at run time). */
export interface LooseClient {
  [model: string]: {
    findMany(args: object): Promise<Record<string, unknown>[]>;
    findUnique(args: object): Promise<Record<string, unknown> | null>;
  };
}
interface ClientModule {
  PrismaClient: new (options: { adapter: unknown }) => LooseClient & { $disconnect(): Promise<void> };
  Prisma: { Decimal: { isDecimal(value: unknown): boolean } };
}

export interface FixtureDatabase {
  prisma: LooseClient;
  /** The generated client's Prisma namespace. */
  Prisma: ClientModule["Prisma"];
  reader: SqlReader<string>;
  /** What `reader` handed to Prisma. */
  fallbacks: Fallback[];
  exec(sql: string): Promise<void>;
  /** A reader whose connection has another TimeZone setting. */
  withTimeZone<T>(timeZone: string, read: (reader: SqlReader<string>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const prisma = (...args: string[]) => promisify(execFile)(process.execPath, [PRISMA_CLI, ...args], { cwd: ROOT });

/**
 * A test-only Prisma schema (test/fixtures/<name>/schema.prisma) in a database of its own: its client
 * and the reader's datamodel generated into the fixture's git-ignored generated/ folder, its tables
 * created by `prisma migrate diff --from-empty`. On PGlite in memory, or on DATABASE_URL's server.
 */
export async function openFixtureDatabase(name: string): Promise<FixtureDatabase> {
  const dir = join(ROOT, "test/fixtures", name);
  const schema = join(dir, "schema.prisma");
  const ddl = join(dir, "generated/schema.sql");
  mkdirSync(dirname(ddl), { recursive: true });
  await Promise.all([
    prisma("generate", "--no-hints", "--schema", schema),
    prisma("migrate", "diff", "--from-empty", "--to-schema-datamodel", schema, "--script", "--output", ddl),
  ]);
  const client = createRequire(import.meta.url)(join(dir, "generated/client/index.js")) as ClientModule;
  const { datamodel } = (await import(pathToFileURL(join(dir, "generated/sql-datamodel.ts")).href)) as { datamodel: SqlDatamodel };
  const models = buildModels(datamodel);
  const fallbacks: Fallback[] = [];
  const readerOn = (run: SqlRunner) => new SqlReader<string>(run, { models, onFallback: (f) => void fallbacks.push(f) });
  const url = process.env.DATABASE_URL;
  const db = url ? await openPostgres(url, name) : await openPGlite();
  await db.exec(readFileSync(ddl, "utf8"));
  const prismaClient = new client.PrismaClient({ adapter: db.adapter });
  return {
    prisma: prismaClient,
    Prisma: client.Prisma,
    reader: readerOn(db.run),
    fallbacks,
    exec: db.exec,
    withTimeZone: (timeZone, read) => db.withTimeZone(timeZone, (run) => read(readerOn(run))),
    close: async () => {
      await prismaClient.$disconnect();
      await db.close();
    },
  };
}

interface Connection {
  adapter: unknown;
  run: SqlRunner;
  exec(sql: string): Promise<void>;
  withTimeZone<T>(timeZone: string, read: (run: SqlRunner) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

async function openPGlite(): Promise<Connection> {
  const pglite = await PGlite.create();
  const run: SqlRunner = ({ text, values }) => pglite.query(text, values);
  return {
    adapter: new PrismaPGlite(pglite),
    run,
    exec: async (sql) => void (await pglite.exec(sql)),
    // PGlite is one connection: the setting holds for the reader until it is reset.
    withTimeZone: async (timeZone, read) => {
      await pglite.query("SELECT set_config('TimeZone', $1, false)", [timeZone]);
      try {
        return await read(run);
      } finally {
        await pglite.exec("RESET TimeZone");
      }
    },
    close: () => pglite.close(),
  };
}

async function openPostgres(url: string, name: string): Promise<Connection> {
  const target = new URL(await recreateDatabase(url, `${name.replace(/\W/g, "_")}_${process.env.VITEST_POOL_ID ?? "1"}`));
  const pool = new pg.Pool({ connectionString: target.toString(), max: 2 });
  return {
    adapter: new PrismaPg(pool),
    run: (statement) => pool.query(statement),
    exec: async (sql) => void (await pool.query(sql)),
    withTimeZone: async (timeZone, read) => {
      const zoned = new pg.Pool({ connectionString: target.toString(), max: 1, options: `-c TimeZone=${timeZone}` });
      try {
        return await read((statement) => zoned.query(statement));
      } finally {
        await zoned.end();
      }
    },
    close: () => pool.end(),
  };
}
