import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../src/db.js";
import { migrate } from "../src/migrate.js";
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
});
