import { mkdtempSync, rmSync } from "node:fs";
import { Agent, get } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { redisReachable } from "./support/redis.js";
import { type ServerProcess, killServers, postGraphQL, startServer } from "./support/server-process.js";

const dataDir = mkdtempSync(join(tmpdir(), "chirp-shutdown-"));
afterAll(() => {
  killServers();
  rmSync(dataDir, { recursive: true, force: true });
});

const createPost = (body: string) => ({
  query: "mutation DrainCreatePost($body: String!) { createPost(input: { body: $body }) { __typename ... on Post { id } } }",
  variables: { body },
});

async function signUp(server: ServerProcess, handle: string) {
  const query = `mutation { signUp(input: { handle: "${handle}", email: "${handle}@example.com", password: "correct horse battery" }) { ... on AuthPayload { accessToken } } }`;
  const { body } = await postGraphQL(server.port, { query }).answer;
  return JSON.parse(body!).data.signUp.accessToken as string;
}

const postId = (body: string) => JSON.parse(body).data?.createPost?.id as string | undefined;

// Spawns the real server (tsx, PGlite in a temporary folder): a few seconds per start.
describe("SIGTERM", { timeout: 240_000 }, () => {
  it("answers all 20 createPost in flight, and every answered post is there after a restart", async () => {
    const server = await startServer(dataDir);
    // Its worker runs the periodic tasks once at start (then hourly, once across instances).
    for (const task of ["remove-expired-email-data", "sweep-unattached-media"]) {
      await server.waitFor(new RegExp(`"task":"${task}".*"msg":"periodic task ran"`));
    }
    const token = await signUp(server, "drain_all");
    const posts = Array.from({ length: 20 }, (_, i) => postGraphQL(server.port, createPost(`in flight ${i}`), { token }));
    // Every request is in the kernel's hands; most are not answered yet, many not even accepted.
    await Promise.all(posts.map((p) => p.sent));
    server.kill("SIGTERM");
    const answers = await Promise.all(posts.map((p) => p.answer));
    expect(answers.filter((a) => a.error)).toEqual([]);
    const ids = answers.map((a) => postId(a.body!));
    expect(ids.every((id) => typeof id === "string"), JSON.stringify(answers)).toBe(true);
    expect(await server.exited).toEqual({ code: 0, signal: null });

    const restarted = await startServer(dataDir);
    const query = `query DrainFound($ids: [ID!]!) { nodes(ids: $ids) { id } user(handle: "drain_all") { postCount } }`;
    const found = await postGraphQL(restarted.port, { query, variables: { ids } }).answer;
    expect(JSON.parse(found.body!).data).toEqual({ nodes: ids.map((id) => ({ id })), user: { postCount: 20 } });
    restarted.kill("SIGTERM");
    expect(await restarted.exited).toEqual({ code: 0, signal: null });
  });

  it("lets requests whose clients hung up finish before it closes the database", async () => {
    const server = await startServer(dataDir, { LOG_LEVEL: "debug" });
    await signUp(server, "drain_gone");
    // A load generator that stops, or a browser tab closed: the request is sent, the socket gone,
    // the log-in (an argon2 hash, tens of ms) still running when SIGTERM comes.
    const logIn = JSON.stringify({ query: `mutation { logIn(input: { login: "drain_gone", password: "correct horse battery" }) { __typename } }` });
    await Promise.all(
      // Four: concurrent log-ins are counted before they are checked, and the limit per account and address is 5.
      Array.from({ length: 4 }, () => {
        const socket = connect(server.port, "127.0.0.1");
        return new Promise<void>((resolve) =>
          socket.write(`POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(logIn)}\r\n\r\n${logIn}`, () => {
            setTimeout(() => {
              socket.destroy();
              resolve();
            }, 5);
          }),
        );
      }),
    );
    server.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 0, signal: null });
    // Nothing failed on a closed database: every log-in the server began (a request that reached it
    // before its client left; the kernel drops the others) answered, and made its session.
    expect(server.output()).not.toMatch(/"level":50/);
    const answered = server.output().split("\n").filter((line) => line.includes('"msg":"request"') && line.includes('"path":"/graphql"'));
    const began = answered.length - 1; // the sign-up's
    expect(began).toBeGreaterThan(0);
    expect(answered.filter((line) => !line.includes('"status":200') || line.includes('"codes"'))).toEqual([]);
    const restarted = await startServer(dataDir);
    const token = JSON.parse(
      (await postGraphQL(restarted.port, { query: `mutation { logIn(input: { login: "drain_gone", password: "correct horse battery" }) { ... on AuthPayload { accessToken } } }` }).answer).body!,
    ).data.logIn.accessToken as string;
    const sessions = await postGraphQL(restarted.port, { query: "{ viewer { sessions(first: 20) { edges { cursor } } } }" }, { token }).answer;
    // The sign-up's session, those of the log-ins whose clients left, and this one.
    expect(JSON.parse(sessions.body!).data.viewer.sessions.edges).toHaveLength(began + 2);
    restarted.kill("SIGTERM");
    expect(await restarted.exited).toEqual({ code: 0, signal: null });
  });

  it("answers requests still arriving with Connection: close, /ready with 503, closes idle keep-alive connections, and exits at once", async () => {
    const server = await startServer(dataDir);
    const token = await signUp(server, "drain_late");
    // A keep-alive connection at rest, as a load balancer keeps them.
    const idleAgent = new Agent({ keepAlive: true });
    const idle = await new Promise<{ closed: Promise<void> }>((resolve) =>
      get({ host: "127.0.0.1", port: server.port, path: "/health", agent: idleAgent }, (res) => {
        res.resume();
        resolve({ closed: new Promise((closed) => res.socket.once("close", () => closed())) });
      }),
    );
    // Requests whose last byte arrives only after SIGTERM.
    const posts = Array.from({ length: 5 }, (_, i) => postGraphQL(server.port, createPost(`late ${i}`), { token, hold: true }));
    await Promise.all(posts.map((p) => p.sent));
    const ready = connect(server.port, "127.0.0.1");
    let readyAnswer = "";
    ready.on("data", (chunk) => (readyAnswer += chunk));
    ready.on("error", (error) => (readyAnswer += error.message));
    const readyClosed = new Promise((resolve) => ready.on("close", resolve));
    await new Promise<void>((resolve) => ready.write("GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n", () => resolve()));

    const stoppedAt = Date.now();
    server.kill("SIGTERM");
    await server.waitFor(/shutting down/);
    await sleep(200);
    ready.write("\r\n");
    for (const post of posts) post.release();

    const answers = await Promise.all(posts.map((p) => p.answer));
    expect(answers.map((a) => ({ status: a.status ?? a.error, connection: a.connection, posted: a.body && typeof postId(a.body) }))).toEqual(
      Array(5).fill({ status: 200, connection: "close", posted: "string" }),
    );
    await readyClosed;
    expect(readyAnswer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(readyAnswer).toMatch(/\r\nConnection: close\r\n/i);
    expect(readyAnswer).toMatch(/\r\n\r\nshutting down$/);
    await idle.closed;
    expect(await server.exited).toEqual({ code: 0, signal: null });
    // Node keeps an idle keep-alive connection 5 s; a drain that waited for it would take that long.
    expect(Date.now() - stoppedAt).toBeLessThan(3_000);
    idleAgent.destroy();
  });

  it("closes live WebSockets with 1001 and ends SSE streams, then exits without cutting anything", () => drainsLiveStreams({}));

  // With Redis, the bus's clients quit while the streams' unsubscribes are still on their way.
  it.skipIf(!redisReachable)(
    `does the same with its events on Redis${redisReachable ? "" : " (skipped: no Redis answers at 127.0.0.1:6379)"}`,
    () => drainsLiveStreams({ REDIS_URL: "redis://127.0.0.1:6379", REALTIME_CHANNEL_PREFIX: `chirp-shutdown-${randomUUID()}:` }),
  );

  it("cuts what is still open after SHUTDOWN_TIMEOUT and exits", async () => {
    const server = await startServer(dataDir, { SHUTDOWN_TIMEOUT: "1", REQUEST_TIMEOUT: "60", HEADERS_TIMEOUT: "60" });
    const token = await signUp(server, "drain_cut");
    const stuck = postGraphQL(server.port, createPost("never finished"), { token, hold: true });
    await stuck.sent;
    const stoppedAt = Date.now();
    server.kill("SIGTERM");
    expect(await stuck.answer).toMatchObject({ error: expect.stringMatching(/ECONNRESET|socket hang up/) });
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    expect(server.output()).toMatch(/"connections":1,.*"msg":"cut connections still busy after SHUTDOWN_TIMEOUT"/);
  });
});

async function drainsLiveStreams(env: Record<string, string>) {
  const server = await startServer(dataDir, env);
  const token = await signUp(server, "drain_live");
  const subscription = JSON.stringify({ type: "subscribe", id: "1", payload: { query: "subscription { unreadCountsChanged { notifications } }" } });
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/graphql`, "graphql-transport-ws");
  const messages: string[] = [];
  socket.on("message", (data) => {
    messages.push(String(data));
    if (messages.length === 1) socket.send(subscription);
  });
  const opened = new Promise<void>((resolve) => socket.once("open", () => resolve()));
  void opened.then(() => socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } })));
  const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
  const sse = await fetch(`http://127.0.0.1:${server.port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: "subscription { unreadCountsChanged { notifications } }" }),
  });
  expect(sse.status).toBe(200);
  await opened;
  // The subscribe message follows the ack; a moment for the server to start its stream.
  await sleep(300);
  const stoppedAt = Date.now();
  server.kill("SIGTERM");
  expect(await closed).toBe(1001);
  expect(await sse.text()).toMatch(/event: complete\n/);
  expect(await server.exited).toEqual({ code: 0, signal: null });
  expect(Date.now() - stoppedAt).toBeLessThan(5_000);
  expect(server.output()).not.toMatch(/cut connections/);
  expect(messages[0]).toBe(JSON.stringify({ type: "connection_ack" }));
  expect(server.output()).not.toMatch(/Connection is closed|Unhandled/);
}
