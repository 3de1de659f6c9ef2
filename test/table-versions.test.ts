import { beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../src/db.js";
import { datamodel } from "../src/generated/sql-datamodel.js";
import { StatementClassifier, TableVersions, tableCatalog } from "../src/sql/table-versions.js";
import { workerDatabase } from "./support/database.js";

// The response cache is exact only if every change to a table shows in the text of a statement Chirp
// sends. These tests hold the classifier to that, and the database to having nothing that changes a
// table out of sight: foreign keys other than the data model's, triggers, rules, functions.

const catalog = tableCatalog(datamodel);
const classifier = new StatementClassifier(catalog);
const tables = (mask: number) => classifier.tablesOf(mask).sort();
let db: Database;

beforeAll(async () => {
  db = (await workerDatabase()).db;
});

describe("the migrated database", () => {
  const rows = async <R>(sql: string) => (await db.prisma.$queryRawUnsafe<R[]>(sql)) as R[];

  it("has exactly the foreign keys the data model declares (each one a cascade the classifier follows)", async () => {
    const keys = await rows<{ referencing: string; referenced: string; columns: string[] }>(`
      SELECT c.conrelid::regclass::text AS referencing, c.confrelid::regclass::text AS referenced,
             array(SELECT a.attname::text FROM unnest(c.confkey) k JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k ORDER BY a.attname) AS columns
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
      WHERE c.contype = 'f' AND n.nspname = 'public'`);
    const fromDatabase = keys.map((k) => `${k.referencing} -> ${k.referenced}(${k.columns.join(",")})`).sort();
    const fromModel = [...catalog.referencedBy].flatMap(([referenced, refs]) => refs.map((r) => `${r.table} -> ${referenced}(${[...r.columns].sort().join(",")})`)).sort();
    expect(fromDatabase).toEqual(fromModel);
  });

  it("has no triggers, rules, views or functions of its own that could change a table a statement does not name", async () => {
    const found = await rows<{ kind: string; name: string }>(`
      SELECT 'trigger' AS kind, tgname::text AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND n.nspname = 'public'
      UNION ALL SELECT 'rule', rulename::text FROM pg_rules WHERE schemaname = 'public'
      UNION ALL SELECT 'view', c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
      UNION ALL SELECT 'function', p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')`);
    expect(found).toEqual([]);
  });

  it("has no table Chirp reads that the data model does not name", async () => {
    const names = await rows<{ name: string }>(`SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
    expect(names.map((n) => n.name).filter((name) => name !== "_prisma_migrations")).toEqual([...catalog.tables].sort());
  });
});

describe("classifying a statement", () => {
  it("reads: the tables its text names, quoted or not, schema-qualified or not", () => {
    const reader = `SELECT json_build_object('id', t0."id", 'author', (SELECT json_build_object('handle', t1."handle") FROM "users" t1 WHERE t1."id" = t0."author_id")) AS j FROM "posts" t0 WHERE t0."id" = $1`;
    expect(classifier.classify(reader)).toMatchObject({ writes: 0, control: false });
    expect(tables(classifier.classify(reader).reads)).toEqual(["posts", "users"]);
    expect(tables(classifier.classify(`SELECT "public"."likes"."id" FROM "public"."likes" WHERE 1=1`).reads)).toEqual(["likes"]);
    // A row lock changes no row: the writes after it in its transaction are classified themselves.
    expect(classifier.classify("SELECT id FROM users WHERE id IN ($1, $2) ORDER BY id FOR NO KEY UPDATE").writes).toBe(0);
    expect(classifier.classify("SELECT id FROM posts WHERE id = $1 FOR UPDATE SKIP LOCKED").writes).toBe(0);
  });

  it("control statements and reads of nothing known", () => {
    for (const sql of ["BEGIN", "COMMIT", "ROLLBACK", "SET LOCAL statement_timeout = 1000", "SAVEPOINT a"]) expect(classifier.classify(sql)).toMatchObject({ reads: 0, writes: 0, control: true });
    expect(classifier.classify("COMMIT").ends).toBe(true);
    expect(classifier.classify("SELECT 1")).toEqual({ reads: 0, writes: 0, control: false, ends: false });
  });

  it("writes: INSERT, UPDATE, DELETE, upserts, data-modifying CTEs, SELECT … INTO, and statements it does not know", () => {
    expect(tables(classifier.classify(`INSERT INTO "public"."likes" ("user_id","post_id") VALUES ($1,$2) RETURNING "public"."likes"."id"`).writes)).toEqual(["likes"]);
    // A counter's UPDATE assigns no referenced key: no cascade.
    expect(tables(classifier.classify(`UPDATE "public"."posts" SET "like_count" = ("public"."posts"."like_count" + $1) WHERE ("public"."posts"."id" = $2 AND 1=1) RETURNING "public"."posts"."id"`).writes)).toEqual(["posts"]);
    const cte = `WITH gone AS (DELETE FROM likes WHERE user_id = $1 RETURNING post_id) SELECT count(*) FROM gone`;
    expect(classifier.classify(cte).writes).not.toBe(0);
    expect(classifier.classify("SELECT * INTO backup FROM hashtags").writes).not.toBe(0);
    for (const sql of ["VACUUM", "EXECUTE prepared_one", "NOTIFY chirp", "CREATE TABLE scratch (id int)"]) expect(classifier.classify(sql).writes).toBe(classifier.all);
  });

  it("follows foreign keys: a DELETE, or an UPDATE of a referenced key, changes the rows that reference it", () => {
    const deleted = tables(classifier.classify(`DELETE FROM "public"."hashtags" WHERE "id" = $1`).writes);
    expect(deleted).toEqual(["hashtags", "post_entities", "post_hashtags"]);
    const users = tables(classifier.classify(`DELETE FROM users WHERE id = $1`).writes);
    expect(users).toEqual(expect.arrayContaining(["users", "posts", "likes", "follows", "notification_actors", "media"]));
    expect(tables(classifier.classify(`UPDATE "hashtags" SET "id" = $1 WHERE "name" = $2`).writes)).toEqual(["hashtags", "post_entities", "post_hashtags"]);
    expect(tables(classifier.classify(`INSERT INTO hashtags (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET id = excluded.id`).writes)).toEqual(["hashtags", "post_entities", "post_hashtags"]);
    expect(tables(classifier.classify(`INSERT INTO hashtags (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET post_count = hashtags.post_count + 1`).writes)).toEqual(["hashtags"]);
    // What the classifier cannot follow (an unterminated literal) counts as a key's change.
    expect(tables(classifier.classify(`UPDATE hashtags SET name = 'x WHERE id = 1`).writes)).toEqual(["hashtags", "post_entities", "post_hashtags"]);
  });
});

describe("table versions", () => {
  const versions = () => new TableVersions(catalog);
  const likes = classifier.bit("likes");
  const write = "INSERT INTO likes (user_id, post_id) VALUES ($1, $2)";

  it("move when a write is sent and when it returns; a read set started before is then out of date", async () => {
    const v = versions();
    const reads = v.startReading();
    let release!: () => void;
    const running = v.statement(write, () => new Promise<void>((resolve) => (release = resolve)));
    expect(v.unchangedSince(likes, reads.since)).toBe(false);
    const during = v.startReading();
    release();
    await running;
    // Started while the write ran, it may have seen the old rows.
    expect(v.unchangedSince(likes, during.since)).toBe(false);
    const after = v.startReading();
    expect(v.unchangedSince(likes, after.since)).toBe(true);
    expect(v.unchangedSince(classifier.bit("posts"), reads.since)).toBe(true);
  });

  it("in a transaction: again at its COMMIT, which is what other instances hear of", async () => {
    const v = versions();
    const committed: string[][] = [];
    v.onCommitted((mask) => committed.push(classifier.tablesOf(mask)));
    const transaction = { tables: 0 };
    await v.statement(write, async () => {}, transaction);
    const between = v.startReading();
    expect(committed).toEqual([]);
    await v.statement("COMMIT", async () => {}, transaction);
    expect(v.unchangedSince(likes, between.since)).toBe(false);
    expect(committed).toEqual([["likes"]]);
  });

  it("collect what every statement run during an operation reads, whoever runs it", async () => {
    const v = versions();
    const reads = v.startReading();
    await v.statement(`SELECT 1 FROM "posts"`, async () => {});
    v.stopReading(reads);
    await v.statement(`SELECT 1 FROM "users"`, async () => {});
    expect(tables(reads.tables)).toEqual(["posts"]);
  });

  it("count everything as changed when another instance names a table this one does not know", () => {
    const v = versions();
    const reads = v.startReading();
    v.changedElsewhere(["likes"]);
    expect(v.unchangedSince(classifier.bit("posts"), reads.since)).toBe(true);
    v.changedElsewhere(["a_table_of_a_newer_version"]);
    expect(v.unchangedSince(classifier.bit("posts"), reads.since)).toBe(false);
  });
});
