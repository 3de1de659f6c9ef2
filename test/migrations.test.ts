import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlSession } from "../src/db.js";
import { MIGRATIONS_DIR, migrate } from "../src/migrate.js";
import { type TestDatabase, workerDatabase } from "./support/database.js";

let test: TestDatabase;
let session: SqlSession;
const tempDirs: string[] = [];

/** A copy of the real migrations plus extra ones, in a temporary folder. */
function migrationsWith(extra: Record<string, string>, edit?: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), "chirp-migrations-"));
  tempDirs.push(dir);
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  for (const [name, sql] of Object.entries(extra)) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, "migration.sql"), sql);
  }
  edit?.(dir);
  return dir;
}

/** The two migrations the second test applies, which later tests find already applied. */
const applied = {
  "29990101000000_a": "CREATE TABLE migration_test_a (id int PRIMARY KEY);",
  "29990102000000_b": "CREATE TABLE migration_test_b (id int REFERENCES migration_test_a (id));",
};

const tableExists = async (name: string) =>
  (await session.query<{ exists: boolean }>("SELECT to_regclass($1) IS NOT NULL AS exists", [name])).rows[0]!.exists;

beforeAll(async () => {
  test = await workerDatabase();
  session = await test.db.session();
});

afterAll(async () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  // The worker's database outlives this file: leave it as the real migrations made it.
  await session.exec(`DROP TABLE IF EXISTS migration_test_a, migration_test_b, migration_test_c, migration_test_d;
    DELETE FROM "_prisma_migrations" WHERE migration_name LIKE '2999%'`);
});

describe("the migration runner", () => {
  it("records applied migrations as Prisma Migrate does and applies nothing twice", async () => {
    const { rows } = await session.query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number }>(
      `SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    const folders = readdirSync(MIGRATIONS_DIR, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    expect(folders[0]).toBe("20261123000000_init");
    expect(rows).toEqual(
      folders.map((name) =>
        expect.objectContaining({
          migration_name: name,
          checksum: createHash("sha256").update(readFileSync(join(MIGRATIONS_DIR, name, "migration.sql"))).digest("hex"),
          applied_steps_count: 1,
        }),
      ),
    );
    for (const row of rows) expect(row.finished_at).not.toBeNull();
    expect(await migrate(test.db)).toEqual({ applied: [], fresh: false });
  });

  it("applies pending migrations in name order, each once", async () => {
    const dir = migrationsWith({
      "29990102000000_b": applied["29990102000000_b"],
      "29990101000000_a": applied["29990101000000_a"],
    });
    expect(await migrate(test.db, dir)).toEqual({ applied: ["29990101000000_a", "29990102000000_b"], fresh: false });
    expect(await migrate(test.db, dir)).toEqual({ applied: [], fresh: false });
    expect(await tableExists("migration_test_b")).toBe(true);
  });

  it("rolls a failing migration back whole and records nothing", async () => {
    const dir = migrationsWith({
      ...applied,
      "29990103000000_c": "CREATE TABLE migration_test_c (id int); SELECT no_such_function();",
    });
    await expect(migrate(test.db, dir)).rejects.toThrow(/Migration 29990103000000_c failed: .*no_such_function/);
    expect(await tableExists("migration_test_c")).toBe(false);
    const { rows } = await session.query(`SELECT 1 FROM "_prisma_migrations" WHERE migration_name = '29990103000000_c'`);
    expect(rows).toHaveLength(0);
  });

  it("refuses to run when an applied migration's file has changed", async () => {
    const dir = migrationsWith(applied, (d) => writeFileSync(join(d, "20261123000000_init", "migration.sql"), "-- edited\n", { flag: "a" }));
    await expect(migrate(test.db, dir)).rejects.toThrow(/Migration 20261123000000_init was changed after it was applied/);
  });

  it("refuses to run when the database has a migration the folder lacks", async () => {
    await expect(migrate(test.db, migrationsWith({}))).rejects.toThrow(/29990101000000_a is applied to the database but missing/);
  });

  it("runs concurrent calls one after another, so nothing is applied twice", async () => {
    const dir = migrationsWith({
      ...applied,
      "29990103000000_c": "CREATE TABLE migration_test_c (id int);",
    });
    const results = await Promise.all([migrate(test.db, dir), migrate(test.db, dir), migrate(test.db, dir)]);
    expect(results.map((r) => r.applied).sort()).toEqual([[], [], ["29990103000000_c"]]);
  });
});

describe("a project folder whose path has a space", () => {
  it("finds and applies the migrations", () => {
    const root = mkdtempSync(join(tmpdir(), "chirp with space "));
    tempDirs.push(root);
    const project = join(MIGRATIONS_DIR, "../..");
    cpSync(join(project, "src"), join(root, "src"), { recursive: true });
    cpSync(MIGRATIONS_DIR, join(root, "prisma/migrations"), { recursive: true });
    symlinkSync(join(project, "node_modules"), join(root, "node_modules"));
    const script = `
      import { MIGRATIONS_DIR, migrate } from "./src/migrate.ts";
      import { openDatabase } from "./src/db.ts";
      const db = await openDatabase({});
      const { applied } = await migrate(db);
      await db.close();
      console.log(JSON.stringify({ dir: MIGRATIONS_DIR, applied }));`;
    const output = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: root, encoding: "utf8" });
    const { dir, applied } = JSON.parse(output.trim().split("\n").at(-1)!) as { dir: string; applied: string[] };
    expect(dir).toBe(join(root, "prisma/migrations/"));
    expect(applied).toEqual(readdirSync(MIGRATIONS_DIR, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort());
  });
});

// PGlite is one connection in one process: there the in-process queue above is what serialises callers.
describe.runIf(Boolean(process.env.DATABASE_URL))("on PostgreSQL, the advisory lock", () => {
  it("makes a second instance wait until the first has finished", async () => {
    const holder = await test.db.session();
    await holder.query("SELECT pg_advisory_lock(72707369)");
    const dir = migrationsWith({
      ...applied,
      "29990103000000_c": "CREATE TABLE migration_test_c (id int);",
      "29990104000000_d": "CREATE TABLE migration_test_d (id int);",
    });
    const waiting = migrate(test.db, dir);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await tableExists("migration_test_d")).toBe(false);
    await holder.query("SELECT pg_advisory_unlock(72707369)");
    await holder.release();
    expect((await waiting).applied).toEqual(["29990104000000_d"]);
  });
});
