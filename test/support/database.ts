import { openDatabase, type Database } from "../../src/db.js";
import { migrate } from "../../src/migrate.js";
import type { Fallback } from "../../src/sql/reader.js";

/** Counts the SQL statements Prisma sends, for the constant-query tests. */
export const sqlLog: string[] = [];

/** Every read the SQL reader handed to Prisma, for the tests that prove the hot reads never do. */
export const fallbackLog: Fallback[] = [];

export interface TestDatabase {
  db: Database;
  /** Empties every table, so each test file starts from a clean database. */
  reset(): Promise<void>;
}

const TABLES = [
  "email_tokens", "known_devices", "outbox_messages", "job_schedules",
  "media", "notification_actors", "notifications", "notification_inboxes", "post_entities", "post_hashtags", "hashtags",
  "blocks", "mutes", "likes", "follows", "posts", "refresh_tokens", "sessions", "api_tokens", "users",
];

/**
 * One migrated database per vitest worker, reused by the files it runs: PGlite in memory by
 * default, or a database of its own on the PostgreSQL of TEST_DATABASE_URL, cloned from the template
 * that global-setup.ts migrated.
 */
export async function workerDatabase(): Promise<TestDatabase> {
  const cache = globalThis as { chirpTestDatabase?: Promise<TestDatabase> };
  cache.chirpTestDatabase ??= openWorkerDatabase();
  return cache.chirpTestDatabase;
}

async function openWorkerDatabase(): Promise<TestDatabase> {
  const onQuery = (sql: string) => void sqlLog.push(sql);
  const onFallback = (fallback: Fallback) => void fallbackLog.push(fallback);
  let db: Database;
  const url = process.env.DATABASE_URL;
  if (url) {
    const workerUrl = await cloneTemplate(url, `w${process.env.VITEST_POOL_ID ?? "1"}`);
    db = await openDatabase({ url: workerUrl, poolSize: 5, onQuery, onFallback });
  } else {
    db = await openDatabase({ onQuery, onFallback });
    await migrate(db);
  }
  const session = await db.session();
  return {
    db,
    reset: () => session.exec(`TRUNCATE ${TABLES.join(", ")} RESTART IDENTITY CASCADE`),
  };
}

export function templateName(url: string) {
  return `${new URL(url).pathname.slice(1) || "chirp_test"}_template`;
}

const cloneTemplate = (url: string, suffix: string) => recreateDatabase(url, suffix, templateName(url));

/**
 * Drops and creates `<the database of url>_<suffix>` on url's server (empty, or a copy of
 * `template`), and returns its URL: the test databases beside the one DATABASE_URL names.
 */
export async function recreateDatabase(url: string, suffix: string, template?: string): Promise<string> {
  const { default: pg } = await import("pg");
  const admin = new URL(url);
  const name = `${admin.pathname.slice(1) || "chirp_test"}_${suffix}`;
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ""}`);
  } finally {
    await client.end();
  }
  const target = new URL(url);
  target.pathname = `/${name}`;
  return target.toString();
}
