import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";
import type { Config } from "../../src/config.js";
import { newSessionId, signAccessToken } from "../../src/modules/auth/credentials.js";
import { testConfig } from "../support/api.js";
import { fallbackLog, sqlLog, workerDatabase } from "../support/database.js";
import { redisReachable } from "../support/redis.js";
import { type LiveApi, collect, listenApi, untilSubscribed } from "../support/live.js";

const HOME = `subscription ScaleHome { homeTimelineUpdated { id body author { handle } } }`;
const COUNTS = `subscription ScaleCounts { unreadCountsChanged { notifications } }`;
const withRealtime = (settings: Partial<Config["realtime"]>): Config => ({ ...testConfig, realtime: { ...testConfig.realtime, ...settings } });
const bearer = (user: { token: string }) => ({ authorization: `Bearer ${user.token}` });
const codes = (errors: unknown[]) => (errors as { extensions?: { code?: string } }[][]).flat().map((e) => e.extensions?.code);

const localId = (user: { id: string }) => Number(Buffer.from(user.id, "base64").toString().split(":")[1]);

/** Users with live sessions, in bulk: their tokens are real, of their sessions, signed as the server signs. */
async function bulkUsers(count: number) {
  const { db } = await workerDatabase();
  const prefix = `k${randomUUID().slice(0, 6)}`;
  await db.prisma.user.createMany({
    data: Array.from({ length: count }, (_, i) => ({ handle: `${prefix}_${i}`, handleKey: `${prefix}_${i}`, displayName: "k", email: `${prefix}_${i}@example.com`, passwordHash: "x" })),
  });
  const users = await db.prisma.user.findMany({ where: { handleKey: { startsWith: `${prefix}_` } }, select: { id: true } });
  const sessions = users.map((u) => ({ id: newSessionId(), userId: u.id, expiresAt: new Date(Date.now() + 3_600_000) }));
  await db.prisma.session.createMany({ data: sessions });
  return Promise.all(sessions.map(async (s) => ({ userId: s.userId, token: (await signAccessToken(testConfig.jwt, s.userId, s.id)).token })));
}

const servers: LiveApi[] = [];
const serve = async (config: Config) => {
  const live = await listenApi(config);
  servers.push(live);
  return live;
};
afterAll(async () => {
  for (const live of servers) await live.close();
});

const createPost = (live: LiveApi, as: { token: string }, body: string) =>
  live.execute(`mutation ($body: String!) { createPost(input: { body: $body }) { __typename } }`, { body }, as);
const follow = (live: LiveApi, as: { token: string }, id: string) => live.execute(`mutation ($id: ID!) { follow(input: { userId: $id }) { __typename } }`, { id }, as);

describe("limits", () => {
  it("subscriptions per connection and per user are RATE_LIMITED beyond their bound", async () => {
    const live = await serve(withRealtime({ subscriptionsPerConnection: 2, subscriptionsPerUser: 3 }));
    const user = await live.signUp();
    const first = live.ws(bearer(user));
    const [a, b, c] = [collect(first, COUNTS), collect(first, COUNTS), collect(first, COUNTS)];
    await c.done;
    expect(codes(c.errors)).toEqual(["RATE_LIMITED"]);
    const second = live.ws(bearer(user));
    const d = collect(second, COUNTS);
    await untilSubscribed(live.realtime, 3);
    const e = collect(second, COUNTS);
    await e.done;
    expect(codes(e.errors)).toEqual(["RATE_LIMITED"]);
    expect([a, b, d].map((s) => s.errors)).toEqual([[], [], []]);
    for (const s of [a, b, d]) s.stop();
  });

  it("connections per client address: the next WebSocket upgrade is answered 429", async () => {
    const live = await serve(withRealtime({ connectionsPerIp: 2 }));
    const url = live.url.replace("http", "ws");
    const open = (socket: WebSocket) => new Promise<number>((resolve) => {
      socket.once("open", () => resolve(101));
      socket.once("unexpected-response", (_req, res) => resolve(res.statusCode!));
    });
    const sockets = [0, 1, 2].map(() => new WebSocket(url, "graphql-transport-ws"));
    const statuses = [];
    for (const socket of sockets) statuses.push(await open(socket));
    expect(statuses).toEqual([101, 101, 429]);
    sockets[0]!.close();
    await new Promise((resolve) => sockets[0]!.once("close", resolve));
    // The server counts the closed one off when its side closes too.
    let again: number | undefined;
    for (let attempt = 0; attempt < 50 && again !== 101; attempt++) {
      const socket = new WebSocket(url, "graphql-transport-ws");
      again = await open(socket);
      socket.close();
      if (again !== 101) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(again).toBe(101);
    sockets[1]!.close();
  });

  it("a burst of 200 posts: 200 subscribers who follow no one stay connected and are sent nothing", { timeout: 60_000 }, async () => {
    const live = await serve(withRealtime({ connectionsPerIp: 1_000 }));
    const [author, friend, follower] = [await live.signUp("author"), await live.signUp("friend"), await live.signUp("follower")];
    await follow(live, follower, friend.id);
    const authorId = localId(author);
    const { db } = await workerDatabase();
    const closes: number[] = [];
    const idle = (await bulkUsers(200)).map(({ token }) => collect(live.ws({ authorization: `Bearer ${token}` }, { onClose: (code) => closes.push(code) }), HOME));
    await untilSubscribed(live.realtime, 200, 30_000);
    const received = collect<{ homeTimelineUpdated: { body: string } }>(live.ws(bearer(follower), { onClose: (code) => closes.push(code) }), HOME);
    await untilSubscribed(live.realtime, 201);

    // 200 posts committed at once, as a burst of writes publishes them: more than REALTIME_MAX_QUEUED_EVENTS (100) in no time.
    await db.prisma.post.createMany({ data: Array.from({ length: 200 }, (_, i) => ({ authorId, body: `burst ${i}` })) });
    for (const post of await db.prisma.post.findMany({ where: { authorId }, orderBy: { id: "asc" }, select: { id: true } })) {
      live.realtime.bus.publish("post", { postId: post.id, authorId });
    }
    // Then a post the follower follows: it comes after the burst, so the burst was handled by then.
    await createPost(live, friend, "after the burst");
    expect((await received.nth(1)).homeTimelineUpdated.body).toBe("after the burst");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(closes).toEqual([]);
    expect(live.realtime.openStreams).toBe(201);
    expect(idle.flatMap((s) => [...s.values, ...s.errors])).toEqual([]);
    expect(received.values).toHaveLength(1);
    for (const s of [...idle, received]) s.stop();
  });

  it("drops a subscriber that does not read what it is sent: 4008", { timeout: 60_000 }, async () => {
    const live = await serve(withRealtime({ maxQueuedEvents: 3, maxBufferedBytes: 1_024 }));
    const [author, reader] = [await live.signUp("author"), await live.signUp("reader")];
    await follow(live, reader, author.id);
    const authorId = localId(author);
    const { db } = await workerDatabase();
    let closed: number | undefined;
    let socket: WebSocket | undefined;
    // A real client that stops reading its socket once connected: what the server sends piles up.
    const client = createWsClient({
      url: live.url.replace("http", "ws"),
      webSocketImpl: WebSocket,
      connectionParams: bearer(reader),
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => {},
      on: {
        connected: (ws) => {
          socket = ws as WebSocket;
          socket.pause();
        },
        closed: (event) => (closed = (event as CloseEvent).code),
      },
    });
    // About 12 kB per event (25 aliases of a 500-character body): the socket's buffers fill within a few hundred.
    const BIG = `subscription BigHome { homeTimelineUpdated { id ${Array.from({ length: 25 }, (_, i) => `b${i}: body`).join(" ")} } }`;
    const received = collect(client, BIG);
    await untilSubscribed(live.realtime, 1);
    const body = "x".repeat(500);
    for (let round = 0; round < 20 && live.realtime.openStreams > 0; round++) {
      await db.prisma.post.createMany({ data: Array.from({ length: 50 }, () => ({ authorId, body })) });
      const posts = await db.prisma.post.findMany({ where: { authorId }, orderBy: { id: "desc" }, take: 50, select: { id: true } });
      for (const post of posts.reverse()) live.realtime.bus.publish("post", { postId: post.id, authorId });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(live.realtime.openStreams).toBe(0);
    // Reading again, the client finds the close frame behind what it was sent.
    socket!.resume();
    await received.done;
    expect(closed).toBe(4008);
    client.dispose();
  });
});

describe("two instances on one Redis", () => {
  it.skipIf(!redisReachable)(
    redisReachable ? "a post written on one reaches a subscriber of the other" : "a post written on one reaches a subscriber of the other (skipped: no Redis answers at 127.0.0.1:6379)",
    async () => {
      // A channel prefix of this run's own, so parallel runs on the machine's Redis do not mix.
      const config = withRealtime({ redisUrl: "redis://127.0.0.1:6379", channelPrefix: `chirp-test-${randomUUID()}:` });
      const [one, two] = [await serve(config), await serve(config)];
      expect([one.realtime.bus.kind, two.realtime.bus.kind]).toEqual(["redis", "redis"]);
      const [reader, author] = [await two.signUp(), await one.signUp()];
      await follow(two, reader, author.id);
      const received = collect<{ homeTimelineUpdated: { body: string } }>(two.ws(bearer(reader)), HOME);
      await untilSubscribed(two.realtime, 1);
      // Redis confirms a SUBSCRIBE asynchronously: post until one arrives, then check the order.
      let sent = 0;
      while (received.values.length === 0 && sent < 50) {
        await createPost(one, author, `across ${++sent}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await createPost(one, author, "last");
      const last = await received.nth(received.values.length + 1);
      expect(last.homeTimelineUpdated.body).toBe("last");
      expect(received.values[0]!.homeTimelineUpdated.body).toMatch(/^across \d+$/);
      received.stop();
    },
  );
});

describe("1,000 concurrent subscribers on one instance", () => {
  it("each of 1,000 followers, on a WebSocket of their own, gets the post once", { timeout: 120_000 }, async () => {
    const live = await serve(withRealtime({ connectionsPerIp: 2_000 }));
    const author = await live.signUp("author");
    const authorId = localId(author);
    const users = await bulkUsers(1_000);
    const { db } = await workerDatabase();
    await db.prisma.follow.createMany({ data: users.map((u) => ({ followerId: u.userId, followeeId: authorId })) });
    const tokens = users.map((u) => u.token);

    // In waves of 100: 1,000 handshakes at once each authenticate, and on PostgreSQL's pool of 5 some
    // waited past DATABASE_CONNECT_TIMEOUT (SERVICE_UNAVAILABLE), as in a reconnect storm.
    const subscribers: ReturnType<typeof collect<{ homeTimelineUpdated: { body: string } }>>[] = [];
    for (let wave = 0; wave < 10; wave++) {
      for (const token of tokens.slice(wave * 100, wave * 100 + 100)) subscribers.push(collect(live.ws({ authorization: `Bearer ${token}` }), HOME));
      await untilSubscribed(live.realtime, subscribers.length, 60_000);
    }
    await createPost(live, author, "to a thousand");
    await Promise.all(subscribers.map((s) => s.nth(1, 60_000)));
    expect(new Set(subscribers.map((s) => `${s.values.length} ${s.values[0]!.homeTimelineUpdated.body}`))).toEqual(new Set(["1 to a thousand"]));
    for (const s of subscribers) s.stop();
  });
});

describe("per-event work with many subscribers", () => {
  /** The statements one post costs, from createPost to the last delivery, with `count` followers listening over WebSocket. */
  async function statementsForOnePost(live: LiveApi, count: number) {
    const author = await live.signUp("author");
    const users = await bulkUsers(count);
    const { db } = await workerDatabase();
    await db.prisma.follow.createMany({ data: users.map((u) => ({ followerId: u.userId, followeeId: localId(author) })) });
    const subscribers = users.map((u) => collect<{ homeTimelineUpdated: { body: string } }>(live.ws({ authorization: `Bearer ${u.token}` }), HOME));
    await untilSubscribed(live.realtime, live.realtime.openStreams + count, 30_000);
    const [before, fallbacksBefore] = [sqlLog.length, fallbackLog.length];
    await createPost(live, author, `to ${count}`);
    await Promise.all(subscribers.map((s) => s.nth(1, 30_000)));
    // A statement still running for the last subscriber would be logged by now.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const statements = sqlLog.slice(before);
    // Through the SQL reader, none handed to Prisma.
    expect(fallbackLog.slice(fallbacksBefore)).toEqual([]);
    expect(subscribers.map((s) => s.values.map((v) => v.homeTimelineUpdated.body))).toEqual(subscribers.map(() => [`to ${count}`]));
    for (const s of subscribers) s.stop();
    return statements;
  }

  it("a post to 40 followers costs the statements it costs to 2: credentials, visibility and the post are read for all at once", { timeout: 60_000 }, async () => {
    const live = await serve(withRealtime({ connectionsPerIp: 1_000 }));
    const alone = (await statementsForOnePost(live, 0)).length;
    const [two, forty] = [await statementsForOnePost(live, 2), await statementsForOnePost(live, 40)];
    // Per event: the followers among the listeners, their credentials, the post's visibility to each, the post as their document reads it.
    expect({ two: two.length - alone, forty: forty.length - alone }).toEqual({ two: 4, forty: 4 });
  });

  it("with no event, a credential is checked again every REALTIME_AUTH_RECHECK, in one statement for all subscribers; a revoked one ends", { timeout: 60_000 }, async () => {
    const live = await serve(withRealtime({ connectionsPerIp: 1_000, authRecheckMs: 400 }));
    const users = await bulkUsers(20);
    const closes = new Map<number, number>();
    const subscribers = users.map((u, i) => collect(live.ws({ authorization: `Bearer ${u.token}` }, { onClose: (code) => closes.set(i, code) }), HOME));
    await untilSubscribed(live.realtime, users.length, 30_000);
    const before = sqlLog.length;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const checks = sqlLog.slice(before).filter((sql) => sql.includes('"sessions"'));
    // Two or three ticks in a second, one statement each: a timer per stream would have sent 40 to 60.
    expect(checks.length).toBeGreaterThanOrEqual(2);
    expect(checks.length).toBeLessThanOrEqual(3);
    expect((await live.execute(`mutation { logOut }`, {}, users[5])).data).toEqual({ logOut: true });
    await subscribers[5]!.done;
    expect(closes.get(5)).toBe(4403);
    expect(live.realtime.openStreams).toBe(users.length - 1);
    for (const s of subscribers) s.stop();
  });

  it("a revoked session and a suspended account stop receiving at the next event; the others go on", { timeout: 60_000 }, async () => {
    const live = await serve(withRealtime({ connectionsPerIp: 1_000 }));
    const [author, admin] = [await live.signUp("author"), await live.signUp("admin")];
    const { db } = await workerDatabase();
    await db.prisma.user.update({ where: { id: localId(admin) }, data: { role: "ADMIN" } });
    const users = await bulkUsers(12);
    await db.prisma.follow.createMany({ data: users.map((u) => ({ followerId: u.userId, followeeId: localId(author) })) });
    const closes = new Map<number, number>();
    const subscribers = users.map((u, i) => collect<{ homeTimelineUpdated: { body: string } }>(live.ws({ authorization: `Bearer ${u.token}` }, { onClose: (code) => closes.set(i, code) }), HOME));
    await untilSubscribed(live.realtime, live.realtime.openStreams + users.length, 30_000);
    await createPost(live, author, "first");
    await Promise.all(subscribers.map((s) => s.nth(1)));
    const [revoked, suspended] = [users[3]!, users[7]!];
    expect((await live.execute(`mutation { logOut }`, {}, revoked)).data).toEqual({ logOut: true });
    const globalUserId = Buffer.from(`User:${suspended.userId}`).toString("base64");
    const suspension = await live.execute(`mutation ($id: ID!) { setUserSuspended(input: { userId: $id, suspended: true }) { __typename } }`, { id: globalUserId }, admin);
    expect(suspension.errors).toBeUndefined();
    await createPost(live, author, "second");
    const others = subscribers.filter((_, i) => i !== 3 && i !== 7);
    await Promise.all(others.map((s) => s.nth(2)));
    await Promise.all([subscribers[3]!.done, subscribers[7]!.done]);
    expect([closes.get(3), closes.get(7)]).toEqual([4403, 4403]);
    expect([subscribers[3]!.values.length, subscribers[7]!.values.length]).toEqual([1, 1]);
    expect(others.map((s) => s.values.map((v) => v.homeTimelineUpdated.body))).toEqual(others.map(() => ["first", "second"]));
    for (const s of subscribers) s.stop();
  });
});
