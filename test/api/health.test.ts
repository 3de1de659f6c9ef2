import { type AddressInfo, type Server, type Socket, createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type App, createApp } from "../../src/app.js";
import { type Database, openDatabase } from "../../src/db.js";
import { createLogger } from "../../src/logger.js";
import { testConfig } from "../support/api.js";
import { workerDatabase } from "../support/database.js";

let app: App;
let stopping: AbortController;
beforeAll(async () => {
  const { db } = await workerDatabase();
  stopping = new AbortController();
  app = createApp({ db: db.prisma, reader: db.reader, config: testConfig, logger: createLogger("silent"), shutdown: stopping.signal });
});

const probe = async (target: App, path: string) => {
  const started = performance.now();
  const response = await target.fetch(`http://chirp.test${path}`);
  return { status: response.status, text: await response.text(), cache: response.headers.get("cache-control"), ms: performance.now() - started };
};

describe("health and readiness, for load balancers", () => {
  it("answers /health and /ready with 200 while the database answers", async () => {
    expect((await probe(app, "/health")).status).toBe(200);
    expect(await probe(app, "/ready")).toMatchObject({ status: 200, text: "ready", cache: "no-store" });
  });

  it("answers /ready with 503 once shutdown has begun, and /health still with 200", async () => {
    stopping.abort();
    expect(await probe(app, "/ready")).toMatchObject({ status: 503, text: "shutting down", cache: "no-store" });
    expect((await probe(app, "/health")).status).toBe(200);
  });
});

describe("readiness without a database", () => {
  // A "PostgreSQL" that accepts connections and never answers, as a hung server or a lost network does.
  let silent: Server;
  const sockets: Socket[] = [];
  const opened: Database[] = [];
  beforeAll(async () => {
    silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    silent.close();
    await Promise.all(opened.map((db) => db.close()));
  });

  const appOn = async (url: string) => {
    const db = await openDatabase({ url, poolSize: 1 });
    opened.push(db);
    return createApp({ db: db.prisma, reader: db.reader, config: testConfig, logger: createLogger("silent") });
  };

  it("answers /ready with 503 at once when the database refuses connections, and /health with 200", async () => {
    const refused = await appOn("postgresql://postgres@127.0.0.1:1/chirp");
    const ready = await probe(refused, "/ready");
    expect(ready).toMatchObject({ status: 503, text: "database unavailable" });
    expect(ready.ms).toBeLessThan(500);
    expect((await probe(refused, "/health")).status).toBe(200);
  });

  it("answers /ready with 503 in under a second when the database does not answer", async () => {
    const hung = await appOn(`postgresql://postgres@127.0.0.1:${(silent.address() as AddressInfo).port}/chirp`);
    const ready = await probe(hung, "/ready");
    expect(ready).toMatchObject({ status: 503, text: "database unavailable" });
    expect(ready.ms).toBeLessThan(1_000);
  });
});
