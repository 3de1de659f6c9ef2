import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { type TestApi, type TestUser, testApi, testConfig, testEnv } from "../support/api.js";
import { type LiveApi, collect, listenApi, untilSubscribed } from "../support/live.js";
import { type Exposition, parseExposition } from "../support/prometheus.js";

// /metrics after real requests: the figures move as the requests say, the text is Prometheus'
// exposition format, operation names cannot grow the series without bound, and production keeps
// the page for whoever holds METRICS_TOKEN.

let api: TestApi;
let alice: TestUser;
beforeAll(async () => {
  api = await testApi();
  alice = await api.signUp({ handle: "metrics_alice" });
});

async function scrape(app = api.app, headers: Record<string, string> = {}): Promise<Exposition> {
  const response = await app.fetch("http://chirp.test/metrics", { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseExposition(await response.text());
}

const HOME = "query HomeTimeline { homeTimeline(first: 5) { edges { node { id body author { handle } } } } }";
const op = (operationName: string, operationType = "query") => ({ operationName, operationType });

describe("/metrics", () => {
  it("is Prometheus' text format, with Chirp's metrics beside the plugin's", async () => {
    await api.execute(HOME, undefined, { as: alice });
    const metrics = await scrape();
    for (const [name, type] of [
      ["graphql_yoga_http_duration", "histogram"],
      ["chirp_operation_sql_statements", "histogram"],
      ["chirp_operation_db_seconds", "histogram"],
      ["chirp_graphql_errors_total", "counter"],
      ["chirp_rate_limited_total", "counter"],
      ["chirp_live_subscriptions", "gauge"],
      ["chirp_live_connections", "gauge"],
      ["chirp_outbox_messages", "gauge"],
    ]) {
      expect(metrics.types.get(name!), name).toBe(type);
    }
    // The phase histograms are opt-in (METRICS_PHASES), and the plugin's labels never include the URL.
    expect(metrics.types.has("graphql_envelop_phase_parse")).toBe(false);
    for (const sample of metrics.all("graphql_yoga_http_duration_count")) expect(Object.keys(sample.labels).sort()).toEqual(["method", "operationName", "operationType", "statusCode"]);
  });

  it("adds a query's statements to the statements histogram, and counts the request", async () => {
    const before = await scrape();
    const { statements, status } = await api.executeCounted(HOME, undefined, { as: alice });
    expect(status).toBe(200);
    // The timeline, and alice's session unless an earlier request of hers left it kept.
    expect(statements.length).toBeGreaterThanOrEqual(1);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);
    expect(delta("chirp_operation_sql_statements_sum", op("HomeTimeline"))).toBe(statements.length);
    expect(delta("chirp_operation_sql_statements_count", op("HomeTimeline"))).toBe(1);
    expect(delta("chirp_operation_db_seconds_sum", op("HomeTimeline"))).toBeGreaterThan(0);
    expect(delta("graphql_yoga_http_duration_count", { ...op("HomeTimeline"), method: "POST", statusCode: "200" })).toBe(1);
  });

  it("counts a write's transaction as it reaches the database: its BEGIN too", async () => {
    const before = await scrape();
    const created = await api.executeCounted('mutation Post { createPost(input: { body: "counted" }) { __typename } }', undefined, { as: alice });
    expect(created.data).toEqual({ createPost: { __typename: "Post" } });
    const transactions = created.statements.filter((sql) => /COMMIT/.test(sql)).length;
    expect(transactions).toBeGreaterThan(0);
    const after = await scrape();
    const labels = op("Post", "mutation");
    expect((after.value("chirp_operation_sql_statements_sum", labels) ?? 0) - (before.value("chirp_operation_sql_statements_sum", labels) ?? 0)).toBe(created.statements.length + transactions);
  });

  it("counts errors by code, typed results' codes included", async () => {
    const before = await scrape();
    await api.execute('query Find { node(id: "not-an-id") { id } }');
    const wrong = await api.execute('mutation LogIn { logIn(input: { login: "metrics_alice", password: "not the password" }) { __typename } }');
    expect(wrong.data).toEqual({ logIn: { __typename: "AuthenticationError" } });
    const after = await scrape();
    const delta = (code: string) => (after.value("chirp_graphql_errors_total", { code }) ?? 0) - (before.value("chirp_graphql_errors_total", { code }) ?? 0);
    expect(delta("BAD_USER_INPUT")).toBe(1);
    expect(delta("UNAUTHENTICATED")).toBe(1);
  });

  it("labels an operation by the name in its document, never the operationName a client made up", async () => {
    const response = await api.app.fetch("http://chirp.test/graphql", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "query Real { __typename }", operationName: "made-up name" }),
    });
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe("OPERATION_RESOLUTION_FAILURE");
    const text = await (await api.app.fetch("http://chirp.test/metrics")).text();
    expect(text).not.toContain("made-up name");
  });

  it("counts the outbox's pending and dead mails when scraped", async () => {
    const mail = (status: "PENDING" | "DEAD" | "SENT") => ({ id: randomUUID(), template: "test", recipient: "nobody@example.com", subject: "s", status });
    await api.db.outboxMessage.createMany({ data: [mail("PENDING"), mail("PENDING"), mail("DEAD"), mail("SENT")] });
    const metrics = await scrape();
    expect(metrics.value("chirp_outbox_messages", { status: "pending" })).toBe(2);
    expect(metrics.value("chirp_outbox_messages", { status: "dead" })).toBe(1);
    await api.db.outboxMessage.deleteMany({ where: { template: "test" } });
  });

  it(`reports the pool on PostgreSQL, and no pool gauges on PGlite (${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"} here)`, async () => {
    const metrics = await scrape();
    if (process.env.DATABASE_URL) {
      expect(metrics.value("chirp_db_pool_connections")).toBeGreaterThan(0);
      expect(metrics.value("chirp_db_pool_idle_connections")).toBeGreaterThanOrEqual(0);
      expect(metrics.value("chirp_db_pool_waiting")).toBe(0);
    } else {
      expect(metrics.types.has("chirp_db_pool_connections")).toBe(false);
    }
  });
});

describe("bounded operation labels", () => {
  it("keeps the first METRICS_MAX_OPERATIONS names and counts every later one as other", async () => {
    const small = await testApi(loadConfig({ ...testEnv(), METRICS_MAX_OPERATIONS: "5" }));
    for (let i = 0; i < 40; i++) await small.execute(`query Flood${i} { __typename }`);
    const metrics = await scrape(small.app);
    const names = new Set(metrics.all("graphql_yoga_http_duration_count").map((s) => s.labels.operationName));
    expect(names).toEqual(new Set(["Flood0", "Flood1", "Flood2", "Flood3", "Flood4", "other"]));
    expect(metrics.value("graphql_yoga_http_duration_count", { operationName: "other" })).toBe(35);
    const statementNames = new Set(metrics.all("chirp_operation_sql_statements_count").map((s) => s.labels.operationName));
    expect([...statementNames].every((name) => names.has(name!))).toBe(true);
  });
});

describe("rate limits", () => {
  it("counts each refusal under the limit that refused it", async () => {
    const limited = await testApi(loadConfig({ ...testEnv(), SIGNUPS_PER_IP: "1" }));
    await limited.signUp({ handle: "metrics_first" });
    const refused = await limited.execute('mutation { signUp(input: { handle: "metrics_second", email: "metrics_second@example.com", password: "correct horse battery" }) { __typename } }');
    expect(refused.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
    const metrics = await scrape(limited.app);
    expect(metrics.value("chirp_rate_limited_total", { limit: "signup-ip" })).toBe(1);
    expect(metrics.value("chirp_graphql_errors_total", { code: "RATE_LIMITED" })).toBe(1);
  });
});

describe("live updates", () => {
  let live: LiveApi;
  beforeAll(async () => {
    live = await listenApi();
  });
  afterAll(() => live.close());

  const scrapeLive = async () => parseExposition(await (await fetch(`http://127.0.0.1:${live.port}/metrics`)).text());

  it("raises the subscriptions and connections gauges while a WebSocket subscription is open, and lowers them when it closes", async () => {
    const user = await live.signUp("mws");
    const before = await scrapeLive();
    expect(before.value("chirp_live_subscriptions", { transport: "websocket" })).toBe(0);
    const client = live.ws({ authorization: `Bearer ${user.token}` });
    const received = collect(client, "subscription { unreadCountsChanged { notifications } }");
    await untilSubscribed(live.realtime, 1);
    const open = await scrapeLive();
    expect(open.value("chirp_live_subscriptions", { transport: "websocket" })).toBe(1);
    expect(open.value("chirp_live_connections", { transport: "websocket" })).toBe(1);
    expect(open.value("chirp_live_subscriptions", { transport: "sse" })).toBe(0);
    received.stop();
    client.dispose();
    await until(async () => (await scrapeLive()).value("chirp_live_connections", { transport: "websocket" }) === 0);
    expect((await scrapeLive()).value("chirp_live_subscriptions", { transport: "websocket" })).toBe(0);
  });

  it("counts an SSE subscription as a connection and a subscription of its own", async () => {
    const user = await live.signUp("msse");
    const abort = new AbortController();
    const response = await fetch(live.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ query: "subscription { unreadCountsChanged { notifications } }" }),
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    await untilSubscribed(live.realtime, 1);
    const open = await scrapeLive();
    expect(open.value("chirp_live_subscriptions", { transport: "sse" })).toBe(1);
    expect(open.value("chirp_live_connections", { transport: "sse" })).toBe(1);
    abort.abort();
    await until(async () => (await scrapeLive()).value("chirp_live_subscriptions", { transport: "sse" }) === 0);
  });
});

describe("access", () => {
  const production = (extra: Record<string, string> = {}) =>
    loadConfig({
      NODE_ENV: "production",
      JWT_SECRET: "test-secret-that-is-at-least-32-chars!",
      SMTP_URL: "smtp://127.0.0.1:2525",
      MAIL_FROM: "Chirp <no-reply@example.com>",
      APP_URL: "https://chirp.example.com",
      LOG_LEVEL: "silent",
      ...extra,
    });
  const TOKEN = "metrics-token-of-at-least-32-characters";

  it("is on, without a token, outside production", async () => {
    expect(testConfig.metrics.enabled).toBe(true);
    expect((await api.app.fetch("http://chirp.test/metrics")).status).toBe(200);
  });

  it("is off in production unless METRICS_TOKEN is set: 404", async () => {
    const off = await testApi(production());
    const response = await off.app.fetch("http://chirp.test/metrics");
    expect(response.status).toBe(404);
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("needs Authorization: Bearer <METRICS_TOKEN> when the token is set: 401 otherwise, with a JSON body", async () => {
    const guarded = await testApi(production({ METRICS_TOKEN: TOKEN }));
    for (const authorization of [undefined, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, TOKEN, "Bearer ", `Basic ${TOKEN}`]) {
      const response = await guarded.app.fetch("http://chirp.test/metrics", { headers: authorization === undefined ? {} : { authorization } });
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="metrics"');
      expect(await response.json()).toEqual({ errors: [{ message: "Send Authorization: Bearer <METRICS_TOKEN>.", extensions: { code: "UNAUTHENTICATED" } }] });
    }
    const metrics = await scrape(guarded.app, { authorization: `Bearer ${TOKEN}` });
    expect(metrics.types.get("chirp_graphql_errors_total")).toBe("counter");
    const post = await guarded.app.fetch("http://chirp.test/metrics", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    expect(post.status).toBe(405);
  });

  it("refuses METRICS=true in production without a token, and a short token", () => {
    expect(() => production({ METRICS: "true" })).toThrow(ConfigError);
    expect(() => production({ METRICS: "true" })).toThrow(/METRICS: needs METRICS_TOKEN/);
    expect(() => production({ METRICS_TOKEN: "short" })).toThrow(/METRICS_TOKEN: must be at least 32 characters/);
    expect(production({ METRICS_TOKEN: TOKEN }).metrics).toMatchObject({ enabled: true, token: TOKEN });
    expect(loadConfig({ ...testEnv(), METRICS: "false" }).metrics.enabled).toBe(false);
  });
});

async function until(check: () => Promise<boolean>, timeoutMs = 5_000) {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
