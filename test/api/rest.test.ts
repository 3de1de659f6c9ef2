import { readFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { datamodel } from "../../src/generated/sql-datamodel.js";
import { NOT_ROUTED, REST_ROUTES } from "../../src/rest/routes.js";
import { schema } from "../../src/schema.js";
import { buildModels } from "../../src/sql/model.js";
import { SqlReader } from "../../src/sql/reader.js";
import { loadConfig } from "../../src/config.js";
import { type TestApi, type TestUser, testApi, testConfig, testEnv } from "../support/api.js";
import { sqlLog, workerDatabase } from "../support/database.js";
import { faultyReader } from "../support/faults.js";
import { testLogger } from "../support/logs.js";

type Json = Record<string, any>;
interface Answer {
  status: number;
  headers: Headers;
  body: Json;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, { $ref?: string; content?: { "application/json": { schema: object } } }> }>>;
  components: { responses: Record<string, { content: { "application/json": { schema: object } } }> };
  [key: string]: unknown;
}

/** A listening Chirp and `fetch` against it; every answer of a route is checked against the OpenAPI document. */
async function listen(app: ReturnType<typeof createApp>) {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let api: TestApi;
let server: Server;
let base: string;
let document: OpenApiDocument;
const ajv = addFormats.default(new Ajv2020({ strict: false, allErrors: true }));
/** The route templates of the document as patterns, for finding the operation of a request. */
let operations: { pattern: RegExp; template: string; method: string; operation: OpenApiDocument["paths"][string][string] }[];

const as = (user: TestUser | { token: string } | null | undefined): Record<string, string> => (user ? { authorization: `Bearer ${user.token}` } : {});

async function call(method: string, path: string, { user, body, headers = {} }: { user?: TestUser | { token: string } | null; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const init: RequestInit = { method, headers: { ...as(user), ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers } };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const response = await fetch(base + path, init);
  const text = await response.text();
  const answer = { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Json) : {} };
  checkAgainstDocument(method, path, answer);
  return answer;
}

/** The document cannot lie: the status of every answer is one it lists for the route, and the body fits its schema. */
function checkAgainstDocument(method: string, path: string, answer: Answer) {
  const pathname = new URL(path, base).pathname.replace(/^\/api/, "");
  const found = operations.find((o) => o.method === method.toLowerCase() && o.pattern.test(pathname));
  if (!found) return; // not a route: 404 / 405, asserted where they are sent
  const response = found.operation.responses[String(answer.status)];
  expect(response, `${method} ${path} answered ${answer.status}, which the document does not list: ${JSON.stringify(answer.body)}`).toBeDefined();
  const at = response!.$ref
    ? `/components/responses/${response!.$ref.split("/").pop()}`
    : `/paths/${jsonPointer(found.template)}/${found.method}/responses/${answer.status}`;
  const pointer = `openapi#${at}/content/application~1json/schema`;
  const validate = ajv.getSchema(pointer) ?? (ajv.addSchema({ $ref: pointer }, pointer), ajv.getSchema(pointer)!);
  expect(validate(answer.body), `${method} ${path} → ${answer.status}: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true);
}

const jsonPointer = (key: string) => key.replaceAll("~", "~0").replaceAll("/", "~1");

/** The statements one request sends. */
async function counted(method: string, path: string, user?: TestUser | { token: string }) {
  const start = sqlLog.length;
  const answer = await call(method, path, { user });
  return { ...answer, statements: sqlLog.slice(start) };
}

let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let readToken: { token: string };

beforeAll(async () => {
  // Sessions are read on every request (SESSION_CACHE_MS=0), so that page 1 and page 2 of a list compare.
  api = await testApi(loadConfig({ ...testEnv(), SESSION_CACHE_MS: "0" }));
  ({ server, base } = await listen(api.app));
  const response = await fetch(`${base}/api/openapi.json`);
  document = (await response.json()) as OpenApiDocument;
  ajv.addSchema(document, "openapi", undefined, false);
  operations = Object.entries(document.paths).flatMap(([template, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ pattern: new RegExp(`^${template.replace(/\{\w+\}/g, "[^/]+")}$`), template, method, operation })),
  );
  alice = await api.signUp({ handle: "rest_alice" });
  bob = await api.signUp({ handle: "rest_bob" });
  carol = await api.signUp({ handle: "rest_carol" });
  const created = await call("POST", "/api/me/api-tokens", { user: alice, body: { name: "read-only script", scopes: ["READ"] } });
  expect(created.status).toBe(201);
  readToken = { token: created.body.secret };
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("the OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const result = await new Validator().validate(structuredClone(document) as never);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe("3.1.0");
    expect(document.info).toMatchObject({ title: "Chirp REST API", version: JSON.parse(readFileSync("package.json", "utf8")).version });
    expect(document.servers).toEqual([{ url: "/api" }]);
    expect((document.components as unknown as { securitySchemes: object }).securitySchemes).toMatchObject({ bearer: { type: "http", scheme: "bearer" } });
  });

  it("has every route of the table, with its operationId, and every root field has a route or a reason not to", () => {
    const ids = operations.map((o) => o.operation.operationId).sort();
    expect(ids).toEqual(Object.keys(REST_ROUTES).sort());
    const routed = new Set(Object.values(REST_ROUTES).map((r) => r.field.split(".")[0]));
    const roots = [...Object.keys(schema.getQueryType()!.getFields()), ...Object.keys(schema.getMutationType()!.getFields())];
    expect(roots.filter((name) => !routed.has(name) && !(name in NOT_ROUTED))).toEqual([]);
  });

  it("takes each route's description from its GraphQL field", () => {
    const like = document.paths["/posts/{postId}/like"]!.put!;
    expect((like as unknown as { description: string }).description).toContain("Likes a post (idempotent) and returns it.");
  });

  it("is listed in the README's route table, which lists nothing else", () => {
    const readme = readFileSync("README.md", "utf8");
    const section = readme.slice(readme.indexOf("## REST"), readme.indexOf("\n## ", readme.indexOf("## REST") + 1));
    const rows = [...section.matchAll(/^\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)` \| `([^`]+)`(?: \(a (\w+)\))? \|/gm)].map(
      ([, method, path, field, on]) => `${method} ${path} ${field}${on ? ` on ${on}` : ""}`,
    );
    const routes = Object.values(REST_ROUTES).map((r) => `${r.method} /api${r.path.replace(/:(\w+)/g, "{$1}")} ${r.field}${"on" in r ? ` on ${r.on}` : ""}`);
    expect(rows.sort()).toEqual(routes.sort());
  });
});

describe("users", () => {
  it("answers a profile to anyone, without the fields only its user sees", async () => {
    const anonymous = await call("GET", "/api/users/rest_alice");
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toMatchObject({ handle: "rest_alice", id: alice.id, followerCount: 0, viewerFollows: false });
    expect(anonymous.body).not.toHaveProperty("email");
    const other = await call("GET", "/api/users/rest_alice", { user: bob });
    expect(other.body).not.toHaveProperty("email");
  });

  it("answers 404 for an unknown handle", async () => {
    expect(await call("GET", "/api/users/nobody_here")).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
  });

  it("answers the viewer at /me with their private fields, and 401 with WWW-Authenticate to nobody", async () => {
    const me = await call("GET", "/api/me", { user: alice });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ handle: "rest_alice", email: alice.email, emailVerified: false, unreadNotificationCount: 0 });
    const anonymous = await call("GET", "/api/me");
    expect(anonymous).toMatchObject({ status: 401, body: { code: "UNAUTHENTICATED", message: expect.any(String) } });
    expect(anonymous.headers.get("www-authenticate")).toBe('Bearer realm="chirp"');
  });

  it("updates the profile with PATCH /me, the fields it names only", async () => {
    const updated = await call("PATCH", "/api/me", { user: bob, body: { bio: "REST is best" } });
    expect(updated).toMatchObject({ status: 200, body: { bio: "REST is best", displayName: "rest_bob", email: bob.email } });
    const invalid = await call("PATCH", "/api/me", { user: bob, body: { displayName: "x".repeat(500) } });
    expect(invalid).toMatchObject({ status: 422, body: { code: "BAD_USER_INPUT", fieldErrors: [{ field: "displayName" }] } });
  });

  it("follows and unfollows with PUT and DELETE, idempotent, and lists followers a page at a time", async () => {
    for (const user of [bob, carol]) {
      const followed = await call("PUT", `/api/users/${alice.id}/follow`, { user });
      expect(followed).toMatchObject({ status: 200, body: { handle: "rest_alice", viewerFollows: true } });
    }
    expect((await call("PUT", `/api/users/${alice.id}/follow`, { user: bob })).status).toBe(200);
    const first = await call("GET", "/api/users/rest_alice/followers?first=1");
    expect(first.status).toBe(200);
    expect(first.body.edges.map((e: Json) => e.node.handle)).toEqual(["rest_carol"]);
    expect(first.body.pageInfo).toMatchObject({ hasNextPage: true, endCursor: expect.any(String) });
    const second = await call("GET", `/api/users/rest_alice/followers?first=1&after=${encodeURIComponent(first.body.pageInfo.endCursor)}`);
    expect(second.body.edges.map((e: Json) => e.node.handle)).toEqual(["rest_bob"]);
    expect(second.body.pageInfo.hasNextPage).toBe(false);
    expect((await call("GET", "/api/users/rest_bob/following")).body.edges.map((e: Json) => e.node.handle)).toEqual(["rest_alice"]);
    expect(await call("DELETE", `/api/users/${alice.id}/follow`, { user: carol })).toMatchObject({ status: 200, body: { viewerFollows: false } });
    expect(await call("PUT", `/api/users/${carol.id}/follow`, { user: carol })).toMatchObject({ status: 422, body: { code: "BAD_USER_INPUT" } });
    expect(await call("PUT", "/api/users/VXNlcjo5OTk5OTk=/follow", { user: carol })).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
  });

  it("answers 404 for a list under an unknown user", async () => {
    expect((await call("GET", "/api/users/nobody_here/followers")).status).toBe(404);
  });
});

describe("posts", () => {
  let postId: string;

  it("creates a post (201) for a writer only", async () => {
    expect(await call("POST", "/api/posts", { body: { body: "anonymous?" } })).toMatchObject({ status: 401, body: { code: "UNAUTHENTICATED" } });
    expect(await call("POST", "/api/posts", { user: readToken, body: { body: "read-only" } })).toMatchObject({ status: 403, body: { code: "FORBIDDEN" } });
    const created = await call("POST", "/api/posts", { user: alice, body: { body: "Hello from REST #resty" } });
    expect(created).toMatchObject({ status: 201, body: { body: "Hello from REST #resty", author: { handle: "rest_alice" }, likeCount: 0, viewerCanEdit: true } });
    expect(created.body.entities).toEqual([expect.objectContaining({ kind: "HASHTAG", text: "#resty", hashtag: expect.objectContaining({ name: "resty" }) })]);
    postId = created.body.id;
  });

  it("refuses a bad post with 422 and its fieldErrors", async () => {
    const empty = await call("POST", "/api/posts", { user: alice, body: { body: "" } });
    expect(empty).toMatchObject({ status: 422, body: { code: "BAD_USER_INPUT", message: expect.any(String), fieldErrors: [{ field: "body", message: expect.any(String) }] } });
    const missing = await call("POST", "/api/posts", { user: alice, body: {} });
    expect(missing).toMatchObject({ status: 400, body: { code: "BAD_USER_INPUT" } });
  });

  it("reads a post by id to anyone, 404 for an unknown one and 400 for a malformed one", async () => {
    expect(await call("GET", `/api/posts/${postId}`)).toMatchObject({ status: 200, body: { id: postId, viewerHasLiked: false, viewerCanEdit: false } });
    expect(await call("GET", "/api/posts/UG9zdDo5OTk5OTk5")).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    expect(await call("GET", "/api/posts/not-an-id")).toMatchObject({ status: 400, body: { code: "BAD_USER_INPUT" } });
    // Someone else's kind of ID.
    expect(await call("GET", `/api/posts/${alice.id}`)).toMatchObject({ status: 400, body: { code: "BAD_USER_INPUT" } });
  });

  it("edits (PATCH) and deletes (DELETE) for the author only", async () => {
    expect(await call("PATCH", `/api/posts/${postId}`, { user: bob, body: { body: "mine now" } })).toMatchObject({ status: 403, body: { code: "FORBIDDEN" } });
    expect(await call("PATCH", `/api/posts/${postId}`, { user: alice, body: { body: "Hello, edited #resty" } })).toMatchObject({ status: 200, body: { body: "Hello, edited #resty", editedAt: expect.any(String) } });
    const doomed = await call("POST", "/api/posts", { user: alice, body: { body: "short-lived" } });
    expect(await call("DELETE", `/api/posts/${doomed.body.id}`, { user: bob })).toMatchObject({ status: 403, body: { code: "FORBIDDEN" } });
    expect(await call("DELETE", `/api/posts/${doomed.body.id}`, { user: alice })).toMatchObject({ status: 200, body: { isDeleted: true, body: null } });
  });

  it("likes with PUT /like and takes it back with DELETE, lists the likers, and replies", async () => {
    expect(await call("PUT", `/api/posts/${postId}/like`, { user: bob })).toMatchObject({ status: 200, body: { likeCount: 1, viewerHasLiked: true } });
    expect(await call("PUT", `/api/posts/${postId}/like`, { user: bob })).toMatchObject({ status: 200, body: { likeCount: 1 } });
    expect((await call("GET", `/api/posts/${postId}/likers`)).body.edges.map((e: Json) => e.node.handle)).toEqual(["rest_bob"]);
    expect(await call("DELETE", `/api/posts/${postId}/like`, { user: bob })).toMatchObject({ status: 200, body: { likeCount: 0, viewerHasLiked: false } });
    const reply = await call("POST", "/api/posts", { user: bob, body: { body: "a reply", replyToId: postId } });
    expect(reply).toMatchObject({ status: 201, body: { replyTo: { id: postId }, threadRoot: { id: postId } } });
    expect((await call("GET", `/api/posts/${postId}/replies`)).body.edges.map((e: Json) => e.node.body)).toEqual(["a reply"]);
    const repost = await call("PUT", `/api/posts/${postId}/repost`, { user: bob });
    expect(repost).toMatchObject({ status: 200, body: { repostOf: { id: postId, body: "Hello, edited #resty" } } });
    expect(await call("DELETE", `/api/posts/${postId}/repost`, { user: bob })).toMatchObject({ status: 200, body: { id: postId, viewerHasReposted: false } });
  });

  it("reads with a READ-scoped API token and refuses its writes", async () => {
    expect(await call("GET", "/api/me", { user: readToken })).toMatchObject({ status: 200, body: { handle: "rest_alice" } });
    expect(await call("PUT", `/api/posts/${postId}/like`, { user: readToken })).toMatchObject({ status: 403, body: { code: "FORBIDDEN" } });
  });

  it("keeps a blocked user out: no like, and the post unavailable to them", async () => {
    expect(await call("PUT", `/api/users/${carol.id}/block`, { user: alice })).toMatchObject({ status: 200, body: { viewerHasBlocked: true } });
    expect(await call("PUT", `/api/posts/${postId}/like`, { user: carol })).toMatchObject({ status: 403, body: { code: "FORBIDDEN" } });
    expect(await call("GET", `/api/posts/${postId}`, { user: carol })).toMatchObject({ status: 200, body: { isUnavailable: true, body: null, author: null } });
    expect((await call("GET", "/api/me/blocked-users", { user: alice })).body.edges.map((e: Json) => e.node.handle)).toEqual(["rest_carol"]);
    expect(await call("DELETE", `/api/users/${carol.id}/block`, { user: alice })).toMatchObject({ status: 200, body: { viewerHasBlocked: false } });
  });

  it("pages the home timeline and a user's posts with first and after", async () => {
    await call("PUT", `/api/users/${bob.id}/follow`, { user: alice });
    for (const n of [1, 2, 3]) await call("POST", "/api/posts", { user: bob, body: { body: `bob ${n}` } });
    const page1 = await call("GET", "/api/timeline/home?first=2", { user: alice });
    expect(page1.body.edges.map((e: Json) => e.node.body)).toEqual(["bob 3", "bob 2"]);
    const page2 = await call("GET", `/api/timeline/home?first=2&after=${encodeURIComponent(page1.body.pageInfo.endCursor)}`, { user: alice });
    expect(page2.body.edges.map((e: Json) => e.node.body)).toEqual(["bob 1", expect.any(String)]);
    expect((await call("GET", "/api/timeline/home")).status).toBe(401);
    const posts = await call("GET", "/api/users/rest_bob/posts?includeReplies=true");
    expect(posts.body.edges.map((e: Json) => e.node.body)).toEqual(["bob 3", "bob 2", "bob 1", "a reply"]);
  });

  it("refuses page sizes and cursors a connection does not take", async () => {
    expect(await call("GET", "/api/timeline/home?first=101", { user: alice })).toMatchObject({ status: 400, body: { code: "BAD_USER_INPUT", message: expect.stringContaining("between 1 and 100") } });
    expect(await call("GET", "/api/timeline/home?first=abc", { user: alice })).toMatchObject({ status: 400, body: { code: "BAD_USER_INPUT", message: "Int cannot represent non-integer value" } });
    expect(await call("GET", "/api/timeline/home?after=nonsense", { user: alice })).toMatchObject({ status: 400, body: { code: "BAD_USER_INPUT" } });
    expect(await call("GET", "/api/timeline/home?first=2&last=2", { user: alice })).toMatchObject({ status: 400, body: { code: "BAD_USER_INPUT" } });
  });

  it("finds posts, users and tags", async () => {
    expect((await call("GET", "/api/search/posts?query=reply&first=5")).body.edges.map((e: Json) => e.node.body)).toEqual(["a reply"]);
    expect((await call("GET", "/api/search/users?query=rest_b&first=5")).body.edges.map((e: Json) => e.node.handle)).toEqual(["rest_bob"]);
    expect(await call("GET", "/api/search/posts?first=5")).toMatchObject({ status: 400, body: { code: "BAD_USER_INPUT" } });
    expect(await call("GET", "/api/hashtags/resty")).toMatchObject({ status: 200, body: { name: "resty", postCount: 1 } });
    expect((await call("GET", "/api/hashtags/resty/posts")).body.edges).toHaveLength(1);
    expect(await call("GET", "/api/hashtags/never_used")).toMatchObject({ status: 404 });
    expect((await call("GET", "/api/trending/hashtags?first=5")).body).toEqual([expect.objectContaining({ authorCount: 1, hashtag: expect.objectContaining({ name: "resty" }) })]);
  });
});

describe("messages and notifications", () => {
  it("sends a direct message, lists conversations and their messages, and keeps others out", async () => {
    await call("PUT", `/api/users/${alice.id}/follow`, { user: bob });
    const started = await call("POST", "/api/messages", { user: alice, body: { memberIds: [bob.id], body: "hi bob" } });
    expect(started).toMatchObject({ status: 201, body: { isGroup: false, lastMessage: { body: "hi bob", sender: { handle: "rest_alice" } } } });
    const conversationId = started.body.id;
    const reply = await call("POST", `/api/conversations/${conversationId}/messages`, { user: bob, body: { body: "hi alice" } });
    expect(reply).toMatchObject({ status: 201, body: { body: "hi alice", conversation: { id: conversationId } } });
    const list = await call("GET", "/api/conversations", { user: bob });
    expect(list.body.edges).toEqual([expect.objectContaining({ node: expect.objectContaining({ id: conversationId, unreadCount: 0 }) })]);
    const messages = await call("GET", `/api/conversations/${conversationId}/messages`, { user: alice });
    expect(messages.body.edges.map((e: Json) => e.node.body)).toEqual(["hi bob", "hi alice"]);
    const latest = await call("GET", `/api/conversations/${conversationId}/messages?last=1`, { user: alice });
    expect(latest.body.edges.map((e: Json) => e.node.body)).toEqual(["hi alice"]);
    expect((await call("GET", `/api/conversations/${conversationId}`, { user: alice })).body).toMatchObject({ id: conversationId, unreadCount: 1 });
    expect(await call("PUT", `/api/conversations/${conversationId}/read`, { user: alice, body: { upToId: reply.body.id } })).toMatchObject({ status: 200, body: { unreadCount: 0 } });
    expect((await call("GET", `/api/conversations/${conversationId}/members`, { user: alice })).body.edges).toHaveLength(2);
    // Someone not in it, and the wrong kind of ID.
    expect(await call("GET", `/api/conversations/${conversationId}`, { user: carol })).toMatchObject({ status: 404 });
    expect(await call("GET", `/api/conversations/${conversationId}/messages`, { user: carol })).toMatchObject({ status: 404 });
    expect(await call("GET", `/api/conversations/${alice.id}`, { user: alice })).toMatchObject({ status: 404 });
    expect(await call("POST", `/api/conversations/${conversationId}/messages`, { user: carol, body: { body: "let me in" } })).toMatchObject({ status: 404 });
    expect(await call("GET", "/api/conversations")).toMatchObject({ status: 401 });
  });

  it("lists the viewer's notifications and marks them read", async () => {
    const notifications = await call("GET", "/api/me/notifications", { user: alice });
    expect(notifications.status).toBe(200);
    expect(notifications.body.edges.map((e: Json) => e.node.kind)).toContain("FOLLOW");
    const kinds = await call("GET", "/api/me/notifications?kinds=REPLY", { user: alice });
    expect(kinds.body.edges.map((e: Json) => e.node.kind)).toEqual(["REPLY"]);
    expect(await call("PUT", "/api/me/notifications/read", { user: alice })).toMatchObject({ status: 200, body: { unreadNotificationCount: 0 } });
  });
});

describe("sessions", () => {
  it("logs in (201), refreshes and logs out", async () => {
    expect(await call("POST", "/api/sessions", { body: { login: "rest_alice", password: "wrong" } })).toMatchObject({ status: 401, body: { code: "UNAUTHENTICATED" } });
    const session = await call("POST", "/api/sessions", { body: { login: "rest_alice", password: alice.password } });
    expect(session).toMatchObject({ status: 201, body: { accessToken: expect.any(String), refreshToken: expect.any(String), viewer: { handle: "rest_alice" } } });
    // An expired or stale header does not stand in the way of a refresh.
    const refreshed = await call("POST", "/api/sessions/refresh", { user: { token: "stale" }, body: { refreshToken: session.body.refreshToken } });
    expect(refreshed).toMatchObject({ status: 200, body: { accessToken: expect.any(String) } });
    const token = { token: refreshed.body.accessToken as string };
    expect((await call("GET", "/api/me/sessions", { user: token })).body.edges.length).toBeGreaterThan(0);
    expect(await call("DELETE", "/api/sessions/current", { user: token })).toMatchObject({ status: 200, body: true });
    expect(await call("GET", "/api/me", { user: token })).toMatchObject({ status: 401, body: { code: "UNAUTHENTICATED" } });
    expect(await call("GET", "/api/me", { user: { token: "not a token" } })).toMatchObject({ status: 401 });
  });

  it("creates, lists and revokes API tokens, only from a session", async () => {
    expect(await call("POST", "/api/me/api-tokens", { user: readToken, body: { name: "x", scopes: ["READ"] } })).toMatchObject({ status: 403 });
    const tokens = await call("GET", "/api/me/api-tokens", { user: alice });
    const id = tokens.body.edges[0].node.id;
    expect(await call("DELETE", `/api/me/api-tokens/${id}`, { user: alice })).toMatchObject({ status: 200, body: { id, revokedAt: expect.any(String) } });
    expect(await call("GET", "/api/me", { user: readToken })).toMatchObject({ status: 401 });
  });
});

describe("HTTP", () => {
  it("refuses bodies that are not JSON (415), too large (413), without a length (411) or not parseable (400)", async () => {
    expect(await call("POST", "/api/posts", { user: alice, body: "body=hi", headers: { "content-type": "application/x-www-form-urlencoded" } })).toMatchObject({ status: 415, body: { code: "BAD_REQUEST" } });
    expect(await call("POST", "/api/posts", { user: alice, body: "hi", headers: { "content-type": "text/plain" } })).toMatchObject({ status: 415 });
    const large = await call("POST", "/api/posts", { user: alice, body: { body: "x".repeat(testConfig.requestBodyLimit) } });
    expect(large).toMatchObject({ status: 413, body: { code: "BAD_REQUEST", message: `The request body is larger than ${testConfig.requestBodyLimit} bytes.` } });
    const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('{"body":"chunked"}')), c.close()) });
    const chunked = await fetch(`${base}/api/posts`, { method: "POST", headers: { ...as(alice), "content-type": "application/json" }, body: stream, duplex: "half" } as RequestInit);
    expect([chunked.status, await chunked.json()]).toEqual([411, { code: "BAD_REQUEST", message: "A request body needs a Content-Length." }]);
    expect(await call("POST", "/api/posts", { user: alice, body: "{not json" })).toMatchObject({ status: 400 });
  });

  it("answers an unknown route 404 and a known path with another method 405, with Allow", async () => {
    const unknown = await fetch(`${base}/api/nowhere`);
    expect([unknown.status, await unknown.json()]).toEqual([404, { code: "NOT_FOUND", message: expect.stringContaining("/api/openapi.json") }]);
    // SOFA's webhook routes (subscriptions delivered to a URL the caller names) are not served.
    const webhook = await fetch(`${base}/api/webhook`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ subscription: "homeTimelineUpdated", url: "http://127.0.0.1:1/" }) });
    expect([webhook.status, ((await webhook.json()) as Json).code]).toEqual([404, "NOT_FOUND"]);
    const method = await fetch(`${base}/api/me/api-tokens`, { method: "PATCH" });
    expect(method.status).toBe(405);
    expect(method.headers.get("allow")).toBe("GET, POST");
  });

  it("marks answers no-store, nosniff, with a request id", async () => {
    const answer = await call("GET", "/api/users/rest_alice");
    expect(answer.headers.get("cache-control")).toBe("no-store");
    expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
    expect(answer.headers.get("x-request-id")).toMatch(/^[\w-]{36}$/);
  });

  it("lets an allowed origin call PUT, PATCH and DELETE after a preflight", async () => {
    const preflight = await fetch(`${base}/api/posts/x/like`, { method: "OPTIONS", headers: { origin: "http://localhost:5173", "access-control-request-method": "PUT", "access-control-request-headers": "authorization" } });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get("access-control-allow-methods")).toContain("PUT");
    expect(preflight.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("answers 429 with Retry-After when log-ins are rate limited", async () => {
    const config = { ...testConfig, rateLimits: { ...testConfig.rateLimits, loginFailuresPerAccountAndIp: 2 } };
    const limited = createApp({ ...(await appDeps()), config });
    const { server: limitedServer, base: limitedBase } = await listen(limited);
    try {
      const attempt = () => fetch(`${limitedBase}/api/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ login: "rest_bob", password: "wrong" }) });
      expect((await attempt()).status).toBe(401);
      expect((await attempt()).status).toBe(401);
      const refused = await attempt();
      const body = (await refused.json()) as Json;
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(body).toEqual({ code: "RATE_LIMITED", message: expect.any(String), retryAfterSeconds: Number(refused.headers.get("retry-after")) });
      checkAgainstDocument("POST", "/api/sessions", { status: 429, headers: refused.headers, body });
    } finally {
      await new Promise<void>((resolve) => limitedServer.close(() => resolve()));
    }
  });

  it("answers 500 with nothing of the fault when Chirp fails, and 403 to a suspended account", async () => {
    const { server: faultyServer, base: faultyBase } = await listen(createApp({ ...(await appDeps()), reader: faultyReader() }));
    try {
      const response = await fetch(`${faultyBase}/api/users/rest_alice`);
      const body = (await response.json()) as Json;
      expect([response.status, body]).toEqual([500, { code: "INTERNAL_SERVER_ERROR", message: "Unexpected error." }]);
      checkAgainstDocument("GET", "/api/users/rest_alice", { status: 500, headers: response.headers, body });
    } finally {
      await new Promise<void>((resolve) => faultyServer.close(() => resolve()));
    }
    const suspended = await api.signUp({ handle: "rest_suspended", suspended: true });
    expect(await call("GET", "/api/me", { user: suspended })).toMatchObject({ status: 403, body: { code: "FORBIDDEN" } });
  });

  it("answers 503 with Retry-After when the database does not answer", async () => {
    // A real refusal: node-postgres connecting to a port nothing listens on.
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const pool = new pg.Pool({ host: "127.0.0.1", port, user: "postgres", connectionTimeoutMillis: 1_000 });
    const reader = new SqlReader((statement) => pool.query(statement), { models: buildModels(datamodel) });
    const { server: downServer, base: downBase } = await listen(createApp({ ...(await appDeps()), reader }));
    try {
      const response = await fetch(`${downBase}/api/users/rest_alice`);
      const body = (await response.json()) as Json;
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("5");
      expect(body).toEqual({ code: "SERVICE_UNAVAILABLE", message: expect.any(String), retryAfterSeconds: 5 });
      checkAgainstDocument("GET", "/api/users/rest_alice", { status: 503, headers: response.headers, body });
    } finally {
      await new Promise<void>((resolve) => downServer.close(() => resolve()));
      await pool.end();
    }
  });
});

async function appDeps() {
  const { db } = await workerDatabase();
  return { db: db.prisma, reader: db.reader, config: testConfig, logger: testLogger() };
}

describe("statements", () => {
  // Every list route: page 1 and page 2 send the same statements, as few as GraphQL's (test/api/sql-counts.test.ts).
  const lists = Object.entries(REST_ROUTES).filter(([, route]) => "page" in route);
  let dave: TestUser;
  let erin: TestUser;
  let post: string;
  let conversation: string;

  beforeAll(async () => {
    dave = await api.signUp({ handle: "rest_dave" });
    erin = await api.signUp({ handle: "rest_erin" });
    const timeline = await call("GET", "/api/users/rest_alice/posts", { user: alice });
    post = timeline.body.edges.at(-1).node.id;
    await call("POST", "/api/posts", { user: alice, body: { body: "a second page" } });
    for (const user of [dave, erin]) {
      await call("PUT", `/api/users/${alice.id}/follow`, { user });
      await call("PUT", `/api/users/${user.id}/follow`, { user: alice });
      await call("PUT", `/api/posts/${post}/like`, { user });
      await call("POST", "/api/posts", { user, body: { body: `#resty from ${user.handle}`, replyToId: post } });
      await call("PUT", `/api/users/${user.id}/mute`, { user: alice });
      await call("POST", "/api/messages", { user: alice, body: { memberIds: [user.id], body: `hi ${user.handle}` } });
      await call("POST", "/api/me/api-tokens", { user: alice, body: { name: user.handle, scopes: ["READ"] } });
    }
    for (const user of [api.signUp({ handle: "rest_blocked1" }), api.signUp({ handle: "rest_blocked2" })]) await call("PUT", `/api/users/${(await user).id}/block`, { user: alice });
    await call("POST", "/api/sessions", { body: { login: "rest_alice", password: alice.password } });
    conversation = (await call("GET", "/api/conversations?first=1", { user: alice })).body.edges[0].node.id;
    await call("POST", `/api/conversations/${conversation}/messages`, { user: alice, body: { body: "again" } });
  });

  it.each(lists)("%s sends the same statements for page 1 and page 2", async (name, route) => {
    const path = `/api${route.path}`.replace(":handle", "rest_alice").replace(":name", "resty").replace(":id", route.path.startsWith("/posts") ? post : conversation);
    const backwards = "page" in route && route.page === "last";
    const first = await counted("GET", `${path}?${backwards ? "last" : "first"}=1`, alice);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.pageInfo[backwards ? "hasPreviousPage" : "hasNextPage"], `${name} has a second page`).toBe(true);
    const cursor = backwards ? `before=${encodeURIComponent(first.body.pageInfo.startCursor)}` : `after=${encodeURIComponent(first.body.pageInfo.endCursor)}`;
    const second = await counted("GET", `${path}?${backwards ? "last" : "first"}=1&${cursor}`, alice);
    expect(second.status).toBe(200);
    expect(second.body.edges).toHaveLength(1);
    expect(second.body.edges[0].cursor).not.toBe(first.body.edges[0].cursor);
    expect(second.statements.length, second.statements.join("\n")).toBe(first.statements.length);
    for (const sql of first.statements) expect(sql).not.toMatch(/COUNT\(/i);
    // The session's, then the page with everything nested in it: as GraphQL reads the same list.
    expect(first.statements).toHaveLength(2);
  });
});
