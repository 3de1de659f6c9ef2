import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { loadConfig } from "../../src/config.js";
import { startWorker } from "../../src/jobs/worker.js";
import { createMailer } from "../../src/modules/mail/mailer.js";
import { type TestApi, testApi } from "../support/api.js";
import { workerDatabase } from "../support/database.js";
import { faultyReader } from "../support/faults.js";
import { type LiveApi, listenApi } from "../support/live.js";
import { logLines, testLogger } from "../support/logs.js";

// Every answer names its request (X-Request-Id), and every line a request causes carries that id,
// wherever in the code it is logged: the request line, the error reporter, the mail it queued, each
// operation over a WebSocket (which has a line of its own, as an HTTP request does).

const config = loadConfig({ NODE_ENV: "test", JWT_SECRET: "test-secret-that-is-at-least-32-chars!", LOG_LEVEL: "silent", TRUST_PROXY: "loopback", SIGNUPS_PER_IP: "1000000", DATA_DIR: mkdtempSync(join(tmpdir(), "chirp-ids-")) });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let api: TestApi;
beforeAll(async () => {
  api = await testApi(config);
});

const lines = (from: number) => logLines.slice(from).map((line) => JSON.parse(line) as Record<string, unknown>);
const fetchAs = (path: string, init: RequestInit = {}, ip = "127.0.0.1") => api.app.fetch(`http://chirp.test${path}`, init, { req: { socket: { remoteAddress: ip } } });

describe("X-Request-Id", () => {
  it.each<[string, () => Response | Promise<Response>, number]>([
    ["a GraphQL answer", () => fetchAs("/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: '{"query":"{ __typename }"}' }), 200],
    ["a body the request policy refuses (415)", () => fetchAs("/graphql", { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" }), 415],
    ["a body over the limit (413)", () => fetchAs("/graphql", { method: "POST", headers: { "content-type": "application/json", "content-length": "200000" }, body: "{}" }), 413],
    ["a multipart request without the CSRF header (403)", () => fetchAs("/graphql", { method: "POST", headers: { "content-type": "multipart/form-data; boundary=x", "content-length": "10" }, body: "--x--\r\n\r\n" }), 403],
    ["/health", () => fetchAs("/health"), 200],
    ["/ready", () => fetchAs("/ready"), 200],
    ["/metrics", () => fetchAs("/metrics"), 200],
    ["a /media file that is not there", () => fetchAs(`/media/1/${"a".repeat(64)}-small.jpg`), 404],
    ["a path Chirp does not serve", () => fetchAs("/nothing-here"), 404],
  ])("names %s", async (_name, request, status) => {
    const response = await request();
    expect(response.status).toBe(status);
    expect(response.headers.get("x-request-id")).toMatch(UUID);
  });

  it("is the one a trusted proxy sent, and a new one for anyone else", async () => {
    const body = { method: "POST", headers: { "content-type": "application/json", "x-request-id": "proxy-id-123" }, body: '{"query":"{ __typename }"}' };
    expect((await fetchAs("/graphql", body)).headers.get("x-request-id")).toBe("proxy-id-123");
    expect((await fetchAs("/graphql", body, "203.0.113.9")).headers.get("x-request-id")).toMatch(UUID);
  });
});

describe("the lines a request causes", () => {
  it("the request line counts its SQL statements", async () => {
    const user = await api.signUp({ handle: "ids_counter" });
    const before = logLines.length;
    const { statements, headers } = await api.executeCounted("query Me { viewer { handle } }", undefined, { as: user });
    const [line] = lines(before);
    expect(line).toMatchObject({ msg: "request", reqId: headers!.get("x-request-id"), operation: "Me", sql: statements.length });
    expect(line!.dbMs).toEqual(expect.any(Number));
  });

  it("the error reporter's line carries the request's id", async () => {
    const faulty = await testApi(config, { reader: faultyReader() });
    const user = await faulty.signUp({ handle: "ids_faulty" });
    const before = logLines.length;
    const result = await faulty.execute("query Home { homeTimeline(first: 1) { edges { node { id } } } }", undefined, { as: user });
    expect(result.errors?.[0]?.extensions?.code).toBe("INTERNAL_SERVER_ERROR");
    const reqId = result.headers!.get("x-request-id");
    const logged = lines(before);
    expect(logged.find((line) => line.level === 50)).toMatchObject({ msg: "unexpected error", reqId });
    expect(logged.find((line) => line.msg === "request")).toMatchObject({ reqId, codes: ["INTERNAL_SERVER_ERROR"] });
    // Nothing else in the window is anyone else's.
    expect(logged.every((line) => line.reqId === reqId)).toBe(true);
  });

  it("the lines about a mail carry the id of the request that queued it", async () => {
    const { db } = await workerDatabase();
    const logger = testLogger();
    const worker = startWorker({ db: db.prisma, logger, mailer: createMailer(config.mail, logger), settings: config.outbox });
    try {
      const user = await api.signUp({ handle: "ids_mail" });
      const result = await api.execute("mutation Reset($email: String!) { requestPasswordReset(input: { email: $email }) { __typename } }", { email: user.email });
      expect(result.data).toBeDefined();
      const reqId = result.headers!.get("x-request-id");
      const mailLines = () => logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => /^mail /.test(String(line.msg)));
      // The worker writes the mail, then logs that it was sent once its row is marked: wait for both.
      const start = Date.now();
      while (mailLines().length < 2 || !logLines.some((line) => line.includes("mail written to"))) {
        if (Date.now() - start > 10_000) throw new Error(`expected two lines about the mail, got: ${JSON.stringify(mailLines())}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      for (const line of mailLines()) expect(line.reqId).toBe(reqId);
    } finally {
      await worker.stop();
    }
  });
});

describe("WebSocket operations", () => {
  let live: LiveApi;
  beforeAll(async () => {
    live = await listenApi(config);
  });
  afterAll(() => live.close());

  /** A raw graphql-transport-ws connection: the upgrade's headers, and the messages that come. */
  async function connect(headers: Record<string, string> = {}) {
    const socket = new WebSocket(live.url.replace("http", "ws"), "graphql-transport-ws", { headers });
    const messages: { id?: string; type: string; payload?: unknown }[] = [];
    const upgrade = new Promise<string | undefined>((resolve) => socket.once("upgrade", (res) => resolve(res.headers["x-request-id"] as string | undefined)));
    socket.on("message", (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
    const until = async (check: () => boolean) => {
      const start = Date.now();
      while (!check()) {
        if (Date.now() - start > 5_000) throw new Error(`waited for a message: ${JSON.stringify(messages)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    await until(() => messages.some((m) => m.type === "connection_ack"));
    return { socket, messages, connectionId: await upgrade, until };
  }

  it("names the connection in the upgrade's answer, and logs one line per operation with an id of its own", async () => {
    const { socket, messages, connectionId, until } = await connect();
    expect(connectionId).toMatch(UUID);
    const before = logLines.length;
    socket.send(JSON.stringify({ id: "a", type: "subscribe", payload: { query: "query First { __typename }" } }));
    await until(() => messages.some((m) => m.id === "a" && m.type === "complete"));
    socket.send(JSON.stringify({ id: "b", type: "subscribe", payload: { query: "query Second { nope }" } }));
    await until(() => messages.some((m) => m.id === "b" && m.type === "error"));
    const operations = lines(before).filter((line) => line.msg === "operation");
    expect(operations).toEqual([
      expect.objectContaining({ level: 20, transport: "websocket", connectionId, reqId: `${connectionId}/1`, operation: "First", sql: 0 }),
      expect.objectContaining({ level: 30, transport: "websocket", connectionId, reqId: `${connectionId}/2`, codes: ["GRAPHQL_VALIDATION_FAILED"] }),
    ]);
    socket.close();
  });

  it("takes the connection's id from a trusted proxy's X-Request-Id", async () => {
    const { socket, connectionId } = await connect({ "x-request-id": "edge-42" });
    expect(connectionId).toBe("edge-42");
    socket.close();
  });

  it("logs a subscription when it ends, with the statements of its events", async () => {
    const user = await live.signUp("idws");
    const client = live.ws({ authorization: `Bearer ${user.token}` });
    const before = logLines.length;
    const values: unknown[] = [];
    const stop = client.subscribe({ query: "subscription Badges { unreadCountsChanged { notifications } }" }, { next: (v) => values.push(v), error: () => {}, complete: () => {} });
    const start = Date.now();
    while (live.realtime.openStreams < 1) {
      if (Date.now() - start > 5_000) throw new Error("not subscribed");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    stop();
    const started = Date.now();
    while (!lines(before).some((line) => line.msg === "operation")) {
      if (Date.now() - started > 5_000) throw new Error("no operation line");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const line = lines(before).find((l) => l.msg === "operation")!;
    expect(line).toMatchObject({ transport: "websocket", operation: "Badges", reqId: expect.stringMatching(/\/1$/) });
    // The subscribe step authenticated the credential: its statement is the operation's.
    expect(line.sql).toBeGreaterThanOrEqual(1);
    client.dispose();
  });
});
