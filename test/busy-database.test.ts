import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type App, createApp } from "../src/app.js";
import { type Database, openDatabase } from "../src/db.js";
import { testConfig } from "./support/api.js";
import { recreateDatabase, templateName, workerDatabase } from "./support/database.js";
import { testLogger } from "./support/logs.js";

const CONNECT_TIMEOUT_MS = 2_000;
const TRANSACTION_TIMEOUT_MS = 7_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const onPostgres = Boolean(process.env.DATABASE_URL);

// Writes queued behind a busy row or a busy pool: they wait their turn within the limits, and past
// them answer SERVICE_UNAVAILABLE (retry), never INTERNAL_SERVER_ERROR.
describe("a write that waits for a busy database", { timeout: 40_000 }, () => {
  let db: Database;
  let app: App;
  let token: string;

  beforeAll(async () => {
    const options = { connectTimeoutMs: CONNECT_TIMEOUT_MS, transactionTimeoutMs: TRANSACTION_TIMEOUT_MS };
    const url = process.env.DATABASE_URL;
    if (url) {
      db = await openDatabase({ url: await recreateDatabase(url, "busy", templateName(url)), poolSize: 2, ...options });
    } else {
      // PGlite has one connection, and its default transaction timeout (15 s) is above the waits below.
      ({ db } = await workerDatabase());
    }
    app = createApp({ db: db.prisma, reader: db.reader, config: testConfig, logger: testLogger() });
    const signedUp = await call(`mutation { signUp(input: { handle: "busy", email: "busy@example.com", password: "correct horse battery" }) { ... on AuthPayload { accessToken } } }`);
    token = signedUp.body.data.signUp.accessToken;
  });
  afterAll(async () => {
    if (onPostgres) await db?.close();
  });

  async function call(query: string, headers: Record<string, string> = {}) {
    const response = await app.fetch("http://chirp.test/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ query }),
    });
    return { status: response.status, body: await response.json() };
  }
  // createPost moves the author's post count: its transaction waits for the author's row.
  const createPost = (body: string) =>
    call(`mutation { createPost(input: { body: "${body}" }) { __typename ... on Post { body } } }`, { authorization: `Bearer ${token}` });
  const codes = (body: { errors?: { extensions: { code: string } }[] }) => body.errors?.map((e) => e.extensions.code);

  /** Holds the author's row (and, on PGlite, its one connection) in a transaction for `ms`. */
  const holdAuthorRow = (ms: number) =>
    db.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`UPDATE users SET bio = bio WHERE handle = 'busy'`;
      await sleep(ms);
    }, { timeout: ms + 5_000 });

  it("waits for a row held longer than Prisma's default transaction timeout (5 s)", async () => {
    const held = holdAuthorRow(5_500);
    await sleep(100);
    const result = await createPost("after the wait");
    await held;
    expect(result).toEqual({ status: 200, body: { data: { createPost: { __typename: "Post", body: "after the wait" } } } });
  });

  // PGlite runs one transaction at a time: a write waits for the one before it to end, not for a row.
  it.runIf(onPostgres)("answers SERVICE_UNAVAILABLE when the row stays held past DATABASE_TRANSACTION_TIMEOUT, and writes nothing", async () => {
    const held = holdAuthorRow(TRANSACTION_TIMEOUT_MS + 1_500);
    await sleep(100);
    const result = await createPost("never written");
    await held;
    expect(result.status).toBe(503);
    expect(codes(result.body)).toEqual(["SERVICE_UNAVAILABLE"]);
    expect(await db.prisma.post.count({ where: { body: "never written" } })).toBe(0);
  });

  it.runIf(onPostgres)("answers SERVICE_UNAVAILABLE when no pooled connection frees up within DATABASE_CONNECT_TIMEOUT", async () => {
    // Watched from a connection of its own, outside the pool: the pool's two connections get taken in turn.
    const session = await db.session();
    /** Waits until `count` of the pool's connections (all but the session's) are in `condition`. */
    const until = async (condition: string, count: (n: number, all: number) => boolean = (n) => n > 0) => {
      const sql = `SELECT count(*) FILTER (WHERE ${condition})::int AS n, count(*)::int AS all FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`;
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(20)) {
        const { n, all } = (await session.query<{ n: number; all: number }>(sql)).rows[0]!;
        if (count(n, all)) return;
      }
      const { rows } = await session.query("SELECT state, left(query, 60) AS query, wait_event_type FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
      throw new Error(`never ${condition}: ${JSON.stringify(rows)}`);
    };
    try {
      await until("state = 'idle'", (n, all) => n === all); // the earlier tests' transactions have ended
      const first = holdAuthorRow(CONNECT_TIMEOUT_MS + 2_500);
      await until("state = 'idle in transaction'");
      const second = holdAuthorRow(0);
      await until("wait_event_type = 'Lock'");
      const result = await createPost("never written either");
      await Promise.all([first, second]);
      expect(result.status).toBe(503);
      expect(codes(result.body)).toEqual(["SERVICE_UNAVAILABLE"]);
    } finally {
      await session.release();
    }
  });
});
