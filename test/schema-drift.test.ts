import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { printSchema } from "graphql";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../src/db.js";
import { MIGRATIONS_DIR, migrate } from "../src/migrate.js";
import { schema } from "../src/schema.js";

// Each Prisma CLI call starts Node and the WASM schema engine: seconds, more on a busy machine.
const PRISMA_CLI_TIMEOUT = 90_000;

const prismaDiff = (...args: string[]) =>
  execFileSync("npx", ["prisma", "migrate", "diff", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** Everything about the tables that a migration can change, in a stable order. */
async function catalog(query: (sql: string) => Promise<{ rows: unknown[] }>) {
  const parts = await Promise.all([
    query(`SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, character_maximum_length
           FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'
           ORDER BY table_name, column_name`),
    query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY indexname`),
    query(`SELECT conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
           WHERE n.nspname = 'public' AND conrelid::regclass::text <> '_prisma_migrations' ORDER BY conname`),
    query(`SELECT t.typname, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid ORDER BY t.typname, e.enumsortorder`),
  ]);
  return parts.map((p) => p.rows);
}

describe("drift between the code and the committed artefacts", () => {
  it("schema.graphql is the schema the code builds (run `npm run generate` after changing the schema)", () => {
    expect(readFileSync(new URL("../schema.graphql", import.meta.url), "utf8")).toBe(`${printSchema(schema)}\n`);
  });

  it("prisma/schema.prisma has no change that lacks a migration (run `npm run db:migration -- <name>`)", () => {
    const sql = prismaDiff(
      "--from-schema-datamodel",
      `${MIGRATIONS_DIR}schema.snapshot.prisma`,
      "--to-schema-datamodel",
      "prisma/schema.prisma",
      "--script",
    );
    expect(sql.trim()).toBe("-- This is an empty migration.");
  }, PRISMA_CLI_TIMEOUT);

  it("the migrations build the same tables, indexes, constraints and enums as prisma/schema.prisma", async () => {
    const migrated = await openDatabase({});
    const fromSchema = new PGlite({ extensions: { pg_trgm } });
    try {
      await migrate(migrated);
      await fromSchema.exec(prismaDiff("--from-empty", "--to-schema-datamodel", "prisma/schema.prisma", "--script"));
      const session = await migrated.session();
      const expected = await catalog((sql) => fromSchema.query(sql));
      expect(expected[0]!.length).toBeGreaterThan(20);
      expect(await catalog((sql) => session.query(sql))).toEqual(expected);
    } finally {
      await migrated.close();
      await fromSchema.close();
    }
  }, PRISMA_CLI_TIMEOUT);
});
