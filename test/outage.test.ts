import { Writable } from "node:stream";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { type App, createApp } from "../src/app.js";
import { type Database, openDatabase } from "../src/db.js";
import { createLogger } from "../src/logger.js";
import { migrate } from "../src/migrate.js";
import { DEFAULT_PASSWORD, testConfig } from "./support/api.js";
import { type PrivateCluster, privateClusterUnavailable, startPrivateCluster } from "./support/pg-cluster.js";

const unavailable = privateClusterUnavailable();
if (unavailable) console.log(`test/outage.test.ts skipped: ${unavailable}`);

const POOL_SIZE = 2;
let cluster: PrivateCluster;

describe.skipIf(unavailable)(`a PostgreSQL outage${unavailable ? ` (skipped: ${unavailable})` : ""}`, { timeout: 60_000 }, () => {
  beforeAll(async () => {
    cluster = await startPrivateCluster();
    const db = await openDatabase({ url: cluster.url, poolSize: 1 });
    await migrate(db);
    await db.close();
  }, 120_000);
  afterAll(() => cluster?.destroy());

  describe("under the database pool", () => {
    let db: Database;
    beforeAll(async () => {
      db = await openDatabase({ url: cluster.url, poolSize: POOL_SIZE, connectTimeoutMs: 2_000 });
    });
    afterAll(() => db?.close());

    it.each(["fast", "immediate"] as const)("does not end the process when idle connections die (-m %s), and queries again once PostgreSQL is back", async (mode) => {
      // Through the SQL reader's pool.query only, so Prisma's adapter has not put its own listener on the pool.
      const read = () => db.reader.findFirst("User", { where: { id: 1 }, select: { id: true } }, async () => null);
      await Promise.all(Array.from({ length: POOL_SIZE }, read));
      cluster.stop(mode);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await expect(read()).rejects.toThrow(/ECONNREFUSED/);
      cluster.start();
      expect(await read()).toBeNull();
    });

    it("gives the connection of a transaction cut by the outage back to the pool", async () => {
      // Every connection of the pool is in one of these transactions when PostgreSQL stops.
      const transactions = Array.from({ length: POOL_SIZE }, () => db.prisma.$transaction(async (tx) => tx.$queryRaw`SELECT pg_sleep(5)`));
      await new Promise((resolve) => setTimeout(resolve, 300));
      cluster.stop("fast");
      for (const result of await Promise.allSettled(transactions)) expect(result.status).toBe("rejected");
      cluster.start();
      // Had one leaked, these would wait for a free connection until DATABASE_CONNECT_TIMEOUT and fail.
      expect(await Promise.all(Array.from({ length: POOL_SIZE }, () => db.prisma.user.count()))).toEqual([0, 0]);
    });
  });

  describe("through the app", () => {
    let db: Database;
    let app: App;
    const logLines: string[] = [];
    let token: string;
    let viewerId: number;

    async function request(query: string, auth?: string) {
      const started = performance.now();
      const response = await app.fetch("http://chirp.test/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body: JSON.stringify({ query }),
      });
      const text = await response.text();
      return { status: response.status, retryAfter: response.headers.get("retry-after"), text, body: JSON.parse(text), ms: performance.now() - started };
    }
    const anonymousRead = () => request(`{ userTimeline(handle: "outage", first: 5) { edges { node { body } } } }`);
    const authenticatedRead = () => request(`{ viewer { handle } }`, token);
    const mutation = () => request(`mutation { createPost(input: { body: "during the outage" }) { __typename ... on Post { id } } }`, token);
    // Anonymous, so the failure comes from Prisma in the resolver rather than from the session check in the context.
    const logIn = () => request(`mutation { logIn(input: { login: "outage", password: "${DEFAULT_PASSWORD}" }) { __typename } }`);
    const probe = async (path: string) => {
      const started = performance.now();
      const response = await app.fetch(`http://chirp.test${path}`);
      return { status: response.status, text: await response.text(), ms: performance.now() - started };
    };

    beforeAll(async () => {
      db = await openDatabase({ url: cluster.url, poolSize: POOL_SIZE, connectTimeoutMs: 2_000 });
      const lines = new Writable({
        write(chunk, _encoding, done) {
          logLines.push(...String(chunk).split("\n").filter(Boolean));
          done();
        },
      });
      app = createApp({ db: db.prisma, reader: db.reader, config: testConfig, logger: createLogger("info", lines) });
      const signUp = await request(
        `mutation { signUp(input: { handle: "outage", email: "outage@example.com", password: "${DEFAULT_PASSWORD}" }) { ... on AuthPayload { accessToken viewer { id } } } }`,
      );
      token = signUp.body.data.signUp.accessToken;
      viewerId = Number(Buffer.from(signUp.body.data.signUp.viewer.id, "base64").toString().split(":")[1]);
    });
    afterAll(() => db?.close());

    async function expectServing() {
      const results = [await anonymousRead(), await authenticatedRead(), await mutation(), await logIn()];
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(results.map((r) => r.body)).toEqual([
        { data: { userTimeline: { edges: expect.any(Array) } } },
        { data: { viewer: { handle: "outage" } } },
        { data: { createPost: { __typename: "Post", id: expect.any(String) } } },
        { data: { logIn: { __typename: "AuthPayload" } } },
      ]);
      expect(await probe("/ready")).toMatchObject({ status: 200, text: "ready" });
    }

    async function expectUnavailable() {
      for (const result of [await anonymousRead(), await authenticatedRead(), await mutation(), await logIn()]) {
        expect(result.status, result.text).toBe(503);
        expect(result.retryAfter).toBe("5");
        expect(result.body.errors).toEqual([
          expect.objectContaining({
            message: "The service is unavailable for a moment; try again shortly.",
            extensions: { code: "SERVICE_UNAVAILABLE", retryAfterSeconds: 5 },
          }),
        ]);
        expect(result.text).not.toMatch(/ECONN|P1001|127\.0\.0\.1|at .*\.(ts|js):\d+/);
        expect(result.ms).toBeLessThan(3_000);
      }
      const ready = await probe("/ready");
      expect(ready).toMatchObject({ status: 503, text: "database unavailable" });
      expect(ready.ms).toBeLessThan(1_500);
      expect((await probe("/health")).status).toBe(200);
    }

    it.each(["fast", "immediate"] as const)(
      "answers SERVICE_UNAVAILABLE quickly while PostgreSQL is stopped (-m %s), logs each kind of failure once, and serves again once it is back",
      async (mode) => {
        await expectServing();
        cluster.stop(mode);
        // A failed expectation still brings the cluster back, so the tests after it see their own failure.
        onTestFinished(() => cluster.start());
        const before = logLines.length;
        await expectUnavailable();
        // An outage under load: 400 failing requests write a line per kind of failure, not one per request.
        for (let i = 0; i < 100; i++) await Promise.all([anonymousRead(), authenticatedRead(), mutation(), logIn()]);
        const logged = logLines.slice(before).map((line) => JSON.parse(line));
        // Each request has its line (info, with its code); errors are logged once per kind, with the
        // stack of the first, and a count of the rest when its interval ends.
        expect(logged.filter((l) => l.msg === "request" && l.path === "/graphql").every((l) => l.level === 30 && l.codes[0] === "SERVICE_UNAVAILABLE")).toBe(true);
        const outageLines = logged.filter((l) => l.level >= 40);
        expect(outageLines.length, JSON.stringify(outageLines.map((l) => l.kind))).toBeLessThanOrEqual(6);
        expect(outageLines.every((l) => l.msg.startsWith("database unavailable") && (l.err?.stack || l.suppressed > 0))).toBe(true);
        cluster.start();
        await expectServing();
      },
    );

    it("answers a transaction cut by the outage with SERVICE_UNAVAILABLE, and serves again once PostgreSQL is back", async () => {
      // A createPost waits for the author's row, locked here, so it is inside its transaction when PostgreSQL stops.
      const locker = new pg.Client({ connectionString: cluster.url });
      locker.on("error", () => {});
      await locker.connect();
      await locker.query("BEGIN");
      await locker.query("SELECT id FROM users WHERE id = $1 FOR UPDATE", [viewerId]);
      const posts = Array.from({ length: POOL_SIZE }, () => mutation());
      await new Promise((resolve) => setTimeout(resolve, 300));
      cluster.stop("fast");
      onTestFinished(() => cluster.start());
      for (const result of await Promise.all(posts)) {
        expect(result.body.errors?.[0]?.extensions?.code, result.text).toBe("SERVICE_UNAVAILABLE");
      }
      cluster.start();
      await expectServing();
    });
  });
});
