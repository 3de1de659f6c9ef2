import { createClient as createSseClient } from "graphql-sse";
import { decodeJwt } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { Config } from "../../src/config.js";
import { signAccessToken } from "../../src/modules/auth/credentials.js";
import { testConfig } from "../support/api.js";
import { type LiveApi, collect, listenApi, untilSubscribed } from "../support/live.js";

const COUNTS = `subscription SseCounts { unreadCountsChanged { notifications } }`;
const withRealtime = (settings: Partial<Config["realtime"]>): Config => ({ ...testConfig, realtime: { ...testConfig.realtime, ...settings } });
const codes = (errors: unknown[]) => (errors as { extensions?: { code?: string } }[][]).flat().map((e) => e.extensions?.code);

const servers: LiveApi[] = [];
const serve = async (config: Config = testConfig) => {
  const live = await listenApi(config);
  servers.push(live);
  return live;
};
afterAll(async () => {
  for (const live of servers) await live.close();
});

const reserve = (live: LiveApi, token?: string) => fetch(live.url, { method: "PUT", headers: token ? { authorization: `Bearer ${token}` } : {} });
const openStream = (live: LiveApi, streamToken: string) => fetch(`${live.url}?token=${streamToken}`, { headers: { accept: "text/event-stream" } });
/** The status of a WebSocket upgrade from this address: 101, or the refusal's. */
const upgrade = (live: LiveApi) =>
  new Promise<number>((resolve) => {
    const socket = new WebSocket(live.url.replace("http", "ws"), "graphql-transport-ws");
    socket.once("open", () => {
      socket.close();
      resolve(101);
    });
    socket.once("unexpected-response", (_req, res) => resolve(res.statusCode!));
  });
const until = async (condition: () => boolean | Promise<boolean>) => {
  for (let attempt = 0; attempt < 500 && !(await condition()); attempt++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(await condition()).toBe(true);
};
/** A real access token of the user's session, signed with the server's secret, expiring in `seconds`. */
const expiringToken = async (user: { id: string; token: string }, seconds: number) => {
  const { sid } = decodeJwt(user.token) as { sid: string };
  const userId = Number(Buffer.from(user.id, "base64").toString().split(":")[1]);
  return (await signAccessToken({ ...testConfig.jwt, accessTtl: seconds }, userId, sid)).token;
};

describe("graphql-sse reservations (PUT)", () => {
  it("need a valid credential: anonymous or a bad token is UNAUTHENTICATED (401), and nothing is reserved", async () => {
    const live = await serve();
    const [anonymous, bad] = [await reserve(live), await reserve(live, "nonsense")];
    expect([anonymous.status, bad.status]).toEqual([401, 401]);
    expect(codes([(await anonymous.json()).errors, (await bad.json()).errors])).toEqual(["UNAUTHENTICATED", "UNAUTHENTICATED"]);
    expect((live.realtime as any).sseStreams ?? -1).toBe(0);
    const user = await live.signUp();
    const reserved = await reserve(live, user.token);
    expect(reserved.status).toBe(201);
    expect((live.realtime as any).sseStreams ?? -1).toBe(1);
  });

  it("are capped per user (REALTIME_SUBSCRIPTIONS_PER_USER) and per address (REALTIME_CONNECTIONS_PER_IP): 429", async () => {
    const live = await serve(withRealtime({ subscriptionsPerUser: 2, connectionsPerIp: 3 }));
    const [ana, ben] = [await live.signUp(), await live.signUp()];
    const statuses = [];
    for (const user of [ana, ana, ana, ben, ben]) statuses.push(await reserve(live, user.token));
    expect(statuses.map((r) => r.status)).toEqual([201, 201, 429, 201, 429]);
    const refused = await statuses[2]!.json();
    expect(codes([refused.errors])).toEqual(["RATE_LIMITED"]);
    expect(refused.errors[0].message).toMatch(/per user/);
    expect((await statuses[4]!.json()).errors[0].message).toMatch(/per address/);
    expect(statuses[4]!.headers.get("retry-after")).toBe("60");
  });

  it("an unopened one is released after REALTIME_SSE_RESERVATION_TIMEOUT: its token opens nothing, its address may connect again", async () => {
    const live = await serve(withRealtime({ sseReservationTimeoutMs: 200, connectionsPerIp: 1 }));
    const user = await live.signUp();
    const reserved = await reserve(live, user.token);
    const streamToken = await reserved.text();
    expect((live.realtime as any).sseStreams ?? -1).toBe(1);
    expect(await upgrade(live)).toBe(429);
    await until(() => ((live.realtime as any).sseStreams ?? 0) === 0);
    const late = await openStream(live, streamToken);
    expect(late.status).toBe(404);
    expect(await upgrade(live)).toBe(101);
  });

  it("a token the server did not make opens nothing (404)", async () => {
    const live = await serve();
    expect((await openStream(live, "b7c9e7c4-0000-4000-8000-000000000000")).status).toBe(404);
  });
});

describe("graphql-sse single-connection streams", () => {
  it("count as one connection of their address while open, whatever runs on them", async () => {
    const live = await serve(withRealtime({ connectionsPerIp: 2 }));
    const user = await live.signUp();
    const client = live.sse(user.token);
    const [a, b] = [collect(client, COUNTS), collect(client, COUNTS)];
    await untilSubscribed(live.realtime, 2);
    // The stream is one connection, its two subscriptions none more: one WebSocket fits, and then nothing.
    const socket = new WebSocket(live.url.replace("http", "ws"), "graphql-transport-ws");
    await new Promise((resolve) => socket.once("open", resolve));
    expect(await upgrade(live)).toBe(429);
    expect((await reserve(live, user.token)).status).toBe(429);
    socket.close();
    a.stop();
    b.stop();
    client.dispose();
    await until(async () => ((live.realtime as any).sseStreams ?? 0) === 0 && (await upgrade(live)) === 101);
  });

  it("a second GET of an open stream is refused (409)", async () => {
    const live = await serve();
    const user = await live.signUp();
    const streamToken = await (await reserve(live, user.token)).text();
    const first = await openStream(live, streamToken);
    expect(first.status).toBe(200);
    expect((await openStream(live, streamToken)).status).toBe(409);
    await first.body!.cancel();
    await until(() => ((live.realtime as any).sseStreams ?? 0) === 0);
  });
});

describe("an ended credential over SSE", () => {
  const unauthenticatedThenComplete = (text: string) => {
    const events = text.split("\n\n").filter((chunk) => chunk.startsWith("event:"));
    const last = events.slice(-2);
    expect(last[0]).toMatch(/^event: next/);
    const payload = JSON.parse(last[0]!.split("data: ")[1]!);
    expect(codes([(payload.payload ?? payload).errors])).toEqual(["UNAUTHENTICATED"]);
    expect(last[1]).toMatch(/^event: complete/);
  };

  it("sends an UNAUTHENTICATED result, then completes, when the token expires: Yoga's SSE, graphql-sse distinct and single connection", async () => {
    const live = await serve();
    const user = await live.signUp();
    const token = await expiringToken(user, 2);
    const yoga = await fetch(live.url, { method: "POST", headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${token}` }, body: JSON.stringify({ query: COUNTS }) });
    const distinctClient = createSseClient({ url: live.url, headers: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    const distinct = collect(distinctClient, COUNTS);
    const single = collect(live.sse(token), COUNTS);
    await untilSubscribed(live.realtime, 3);
    unauthenticatedThenComplete(await yoga.text());
    await Promise.all([distinct.done, single.done]);
    expect([codes([distinct.errors]), codes([single.errors])]).toEqual([["UNAUTHENTICATED"], ["UNAUTHENTICATED"]]);
    expect([distinct.values, single.values]).toEqual([[], []]);
    distinctClient.dispose();
  });

  it("after logOut, at the next event: the single-connection stream itself stays usable", async () => {
    const live = await serve();
    const [user, liker] = [await live.signUp(), await live.signUp()];
    const post = await live.execute(`mutation { createPost(input: { body: "like me" }) { ... on Post { id } } }`, {}, user);
    const streamToken = await (await reserve(live, user.token)).text();
    const stream = await openStream(live, streamToken);
    const subscribe = await fetch(live.url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-graphql-event-stream-token": streamToken, authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ query: COUNTS, extensions: { operationId: "counts" } }),
    });
    expect(subscribe.status).toBe(202);
    await untilSubscribed(live.realtime, 1);
    expect((await live.execute(`mutation { logOut }`, {}, user)).data).toEqual({ logOut: true });
    await live.execute(`mutation ($id: ID!) { likePost(input: { postId: $id }) { __typename } }`, { id: post.data.createPost.id }, liker);
    const reader = stream.body!.getReader();
    let text = "";
    while (!text.includes("event: complete")) text += new TextDecoder().decode((await reader.read()).value);
    unauthenticatedThenComplete(text);
    expect((live.realtime as any).sseStreams ?? -1).toBe(1);
    await reader.cancel();
    await until(() => ((live.realtime as any).sseStreams ?? 0) === 0);
  });
});
