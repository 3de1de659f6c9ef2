import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { type Config, loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db.js";
import { DiskStorage } from "../../src/modules/media/media.storage.js";
import { createEventBus } from "../../src/realtime/bus.js";
import { Realtime } from "../../src/realtime/live.js";
import { type TestApi, type TestUser, testApi, testConfig, testEnv } from "../support/api.js";
import { recreateDatabase, sqlLog, templateName, workerDatabase } from "../support/database.js";
import { logLines, testLogger } from "../support/logs.js";
import { redisReachable } from "../support/redis.js";
import { photo, upload } from "../support/uploads.js";

type Json = Record<string, any>;

const POST = "id body isDeleted likeCount replyCount repostCount viewerHasLiked author { id handle displayName avatarUrl }";
const THREAD = `query CacheThread($id: ID!) {
  post(id: $id) { ${POST} replies(first: 10) { edges { node { ${POST} replies(first: 10) { edges { node { ${POST} } } } } } } }
}`;
const PROFILE = `query CacheProfile($handle: String!) {
  user(handle: $handle) { id handle displayName bio avatarUrl isSuspended followerCount followingCount postCount viewerFollows }
  userTimeline(handle: $handle, first: 10) { edges { node { ${POST} } } }
}`;

/** The answer as the client gets it: status, the body's bytes, headers, and the SQL statements it cost. */
interface Read {
  status: number;
  text: string;
  headers: Headers;
  statements: string[];
  json: Json;
}

async function send(app: ReturnType<typeof createApp>, path: string, init: RequestInit = {}): Promise<Read> {
  const start = sqlLog.length;
  const response = await app.fetch(`http://chirp.test${path}`, init);
  const text = await response.text();
  return { status: response.status, text, headers: response.headers, statements: sqlLog.slice(start), json: JSON.parse(text) as Json };
}

const query = (app: ReturnType<typeof createApp>, document: string, variables: object, headers: Record<string, string> = {}) =>
  send(app, "/graphql", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ query: document, variables }) });

/** The headers of an answer but the ones each request has its own of. */
const headersOf = (read: Read) => Object.fromEntries([...read.headers].filter(([name]) => name !== "x-request-id"));

let api: TestApi;
/** The same database without the response cache: what a fresh answer is. */
let uncached: TestApi;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let admin: TestUser;

const mutate = async (document: string, variables: object, as: TestUser) => {
  const result = await api.execute(document, variables, { as });
  expect(result.errors, JSON.stringify(result)).toBeUndefined();
  return result.data as Json;
};
const createPost = async (as: TestUser, body: string, replyToId?: string) =>
  (await mutate(`mutation CacheCreate($input: CreatePostInput!) { createPost(input: $input) { __typename ... on Post { id } } }`, { input: { body, replyToId } }, as)).createPost.id as string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "chirp-cache-"));
  const media = { ...testConfig.media, storage: { driver: "disk" as const, dir } };
  const storage = new DiskStorage(dir);
  api = await testApi({ ...testConfig, media }, { storage });
  uncached = await testApi({ ...loadConfig({ ...testEnv(), RESPONSE_CACHE: "off" }), media }, { storage });
  alice = await api.signUp();
  bob = await api.signUp();
  carol = await api.signUp();
  admin = await api.signUp({ role: "ADMIN" });
});

/** Reads `document` anonymously, and checks the answer against one computed without the cache. */
async function anonymous(document: string, variables: object) {
  const read = await query(api.app, document, variables);
  const fresh = await query(uncached.app, document, variables);
  expect(read.status).toBe(200);
  expect(read.json.errors).toBeUndefined();
  expect(read.text).toBe(fresh.text);
  return read;
}

/** Reads twice: the second is answered from the cache, byte for byte what the first answered. */
async function readTwice(document: string, variables: object) {
  const first = await anonymous(document, variables);
  const second = await anonymous(document, variables);
  expect(second.statements).toEqual([]);
  expect(second.text).toBe(first.text);
  expect(headersOf(second)).toEqual(headersOf(first));
  return second;
}

describe("anonymous reads", () => {
  let root: string;
  beforeAll(async () => {
    root = await createPost(alice, "a thread to cache");
    const reply = await createPost(bob, "a reply", root);
    await createPost(carol, "a reply to the reply", reply);
  });

  it("answer a thread and a profile the second time from the cache, with the same bytes, status and headers", async () => {
    const miss = await query(api.app, THREAD, { id: root });
    expect(miss.statements.length).toBeGreaterThan(0);
    const hit = await readTwice(THREAD, { id: root });
    expect(hit.text).toBe(miss.text);
    expect(hit.headers.get("x-request-id")).not.toBe(miss.headers.get("x-request-id"));
    await readTwice(PROFILE, { handle: alice.handle });
  });

  it("log cache: hit or miss on the request's line, and count it in /metrics", async () => {
    const lines = logLines.length;
    await query(api.app, PROFILE, { handle: bob.handle });
    await query(api.app, PROFILE, { handle: bob.handle });
    const logged = logLines.slice(lines).map((line) => JSON.parse(line) as Json).filter((line) => line.msg === "request");
    expect(logged.map((line) => [line.operation, line.cache, line.sql > 0])).toEqual([
      ["CacheProfile", "miss", true],
      ["CacheProfile", "hit", false],
    ]);
    const metrics = await (await api.app.fetch("http://chirp.test/metrics")).text();
    expect(metrics).toMatch(/^chirp_response_cache_lookups_total\{result="hit"\} [1-9]/m);
    expect(metrics).toMatch(/^chirp_response_cache_entries [1-9]/m);
  });

  it("key on the variables (in any key order) and the operation name, not on the query's spacing", async () => {
    await anonymous(PROFILE, { handle: carol.handle });
    const respaced = await anonymous(PROFILE.replace(/\s+/g, "  "), { handle: carol.handle });
    expect(respaced.statements).toEqual([]);
    const other = await anonymous(PROFILE, { handle: alice.handle });
    expect(other.json.data.user.handle).toBe(alice.handle);
    const two = `query A($id: ID!) { post(id: $id) { id body } } query B($id: ID!) { post(id: $id) { id likeCount } }`;
    const a = await send(api.app, "/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: two, variables: { id: root }, operationName: "A" }) });
    const b = await send(api.app, "/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: two, variables: { id: root }, operationName: "B" }) });
    expect(Object.keys(a.json.data.post)).toEqual(["id", "body"]);
    expect(Object.keys(b.json.data.post)).toEqual(["id", "likeCount"]);
    const nested = `query CacheNodes($ids: [ID!]!, $first: Int!) { nodes(ids: $ids) { id } trendingHashtags(first: $first) { authorCount hashtag { name } } }`;
    await anonymous(nested, { first: 5, ids: [root] });
    expect((await anonymous(nested, { ids: [root], first: 5 })).statements).toEqual([]);
  });

  it("through REST: GET /api/users/{handle} and /api/posts/{id} hit too, and answer the same", async () => {
    for (const path of [`/api/users/${alice.handle}`, `/api/posts/${root}`]) {
      const miss = await send(api.app, path);
      expect(miss.status).toBe(200);
      expect(miss.statements.length).toBeGreaterThan(0);
      const hit = await send(api.app, path);
      expect(hit.statements).toEqual([]);
      expect(hit.text).toBe(miss.text);
      expect(headersOf(hit)).toEqual(headersOf(miss));
      expect(hit.text).toBe((await send(uncached.app, path)).text);
    }
    // A 404 is the route's reading of a null: kept as the null, answered as the same 404.
    const missing = await send(api.app, "/api/users/nobody_cached");
    const again = await send(api.app, "/api/users/nobody_cached");
    expect([missing.status, again.status, again.statements]).toEqual([404, 404, []]);
    expect(again.text).toBe(missing.text);
  });
});

describe("a write that changes what an anonymous read shows", () => {
  /** Reads (twice: the second from the cache), writes, and reads again: fresh, and changed. */
  async function changes(document: string, variables: () => object, write: () => Promise<unknown>, changed = true) {
    const before = await readTwice(document, variables());
    await write();
    const after = await anonymous(document, variables());
    if (changed) {
      expect(after.text).not.toBe(before.text);
      expect(after.statements.length).toBeGreaterThan(0);
    } else {
      expect(after.text).toBe(before.text);
      expect(after.statements).toEqual([]);
    }
    return after.json.data;
  }

  let root: string;
  let reply: string;
  beforeAll(async () => {
    root = await createPost(alice, "a thread that changes");
    reply = await createPost(bob, "its first reply", root);
  });
  const thread = () => ({ id: root });
  const profile = (user: TestUser) => () => ({ handle: user.handle });

  it("a like (the count)", async () => {
    const data = await changes(THREAD, thread, () => mutate(`mutation CacheLike($id: ID!) { likePost(input: { postId: $id }) { __typename } }`, { id: reply }, carol));
    expect(data.post.replies.edges[0].node.likeCount).toBe(1);
  });

  it("a new reply (the list and the count)", async () => {
    const data = await changes(THREAD, thread, () => createPost(carol, "a second reply", root));
    expect(data.post.replyCount).toBe(2);
    expect(data.post.replies.edges.map((e: Json) => e.node.body)).toEqual(["its first reply", "a second reply"]);
  });

  it("an edit", async () => {
    const data = await changes(THREAD, thread, () => mutate(`mutation CacheEdit($id: ID!) { editPost(input: { postId: $id, body: "its first reply, edited" }) { __typename } }`, { id: reply }, bob));
    expect(data.post.replies.edges[0].node.body).toBe("its first reply, edited");
  });

  it("a delete", async () => {
    const doomed = await createPost(carol, "a reply soon deleted", root);
    const data = await changes(THREAD, thread, () => mutate(`mutation CacheDelete($id: ID!) { deletePost(input: { postId: $id }) { __typename } }`, { id: doomed }, carol));
    expect(data.post.replies.edges.find((e: Json) => e.node.id === doomed)?.node.isDeleted ?? true).toBe(true);
  });

  it("a follow (the profile's counts)", async () => {
    const data = await changes(PROFILE, profile(alice), () => mutate(`mutation CacheFollow($id: ID!) { follow(input: { userId: $id }) { __typename } }`, { id: alice.id }, carol));
    expect(data.user.followerCount).toBe(1);
  });

  it("a display name's change (in the profile, and as the author of a thread)", async () => {
    await readTwice(THREAD, thread());
    const data = await changes(PROFILE, profile(bob), () => mutate(`mutation CacheRename { updateProfile(input: { displayName: "Bob Renamed" }) { __typename } }`, {}, bob));
    expect(data.user.displayName).toBe("Bob Renamed");
    const threadRead = await anonymous(THREAD, thread());
    expect(threadRead.statements.length).toBeGreaterThan(0);
    expect(threadRead.json.data.post.replies.edges[0].node.author.displayName).toBe("Bob Renamed");
  });

  it("an avatar's change", async () => {
    const uploaded = await upload(api, alice, await photo(64, 64));
    const mediaId = (uploaded.body.data?.uploadMedia as Json).id as string;
    const data = await changes(PROFILE, profile(alice), () => mutate(`mutation CacheAvatar($id: ID) { updateProfile(input: { avatarMediaId: $id }) { __typename } }`, { id: mediaId }, alice));
    expect(data.user.avatarUrl).toMatch(/^\/media\//);
  });

  it("a suspension", async () => {
    const suspend = (suspended: boolean) =>
      mutate(`mutation CacheSuspend($id: ID!, $suspended: Boolean!) { setUserSuspended(input: { userId: $id, suspended: $suspended }) { __typename } }`, { id: bob.id, suspended }, admin);
    try {
      const data = await changes(PROFILE, profile(bob), () => suspend(true));
      expect(data.user.isSuspended).toBe(true);
    } finally {
      await suspend(false);
    }
  });

  it("but a block, which anonymous readers do not see, keeps the cached answer", async () => {
    // Two users who follow neither way: a block ends follows, and so moves the counts of a profile.
    const [blocker, blocked] = [await api.signUp(), await api.signUp()];
    await changes(THREAD, thread, () => mutate(`mutation CacheBlock($id: ID!) { block(input: { userId: $id }) { __typename } }`, { id: blocked.id }, blocker), false);
  });

  it("a write in a transaction still open when an anonymous read runs: that read is not kept as current", async () => {
    const { db } = await workerDatabase();
    const [, postId] = Buffer.from(reply, "base64").toString().split(":");
    await readTwice(THREAD, thread());
    let during: Promise<Read> | undefined;
    await db.prisma.$transaction(async (tx) => {
      await tx.post.update({ where: { id: Number(postId) }, data: { body: "changed in a transaction" } });
      // On PostgreSQL the read sees the rows as they were; PGlite's one connection makes it wait for the commit.
      during = query(api.app, THREAD, thread());
      if (db.kind === "postgresql") expect((await during).json.data.post.replies.edges[0].node.body).not.toBe("changed in a transaction");
    });
    await during;
    const after = await anonymous(THREAD, thread());
    expect(after.json.data.post.replies.edges[0].node.body).toBe("changed in a transaction");
  });
});

describe("what is never cached", () => {
  let root: string;
  beforeAll(async () => {
    root = await createPost(alice, "read by everyone");
  });

  it("authenticated reads: never kept, never answered from what anonymous reads kept", async () => {
    await readTwice(THREAD, { id: root });
    await mutate(`mutation CacheLikeRoot($id: ID!) { likePost(input: { postId: $id }) { __typename } }`, { id: root }, bob);
    const authorization = { authorization: `Bearer ${bob.token}` };
    for (let i = 0; i < 2; i++) {
      const read = await query(api.app, THREAD, { id: root }, authorization);
      expect(read.statements.length).toBeGreaterThan(0);
      expect(read.json.data.post.viewerHasLiked).toBe(true);
    }
    // An Authorization header that does not authenticate is no anonymous read either.
    const refused = await query(api.app, THREAD, { id: root }, { authorization: "Bearer not-a-token" });
    expect(refused.json.errors[0].extensions.code).toBe("UNAUTHENTICATED");
  });

  it("mutations, introspection, and answers with errors", async () => {
    const logIn = `mutation CacheLogIn($input: LogInInput!) { logIn(input: $input) { __typename } }`;
    for (let i = 0; i < 2; i++) expect((await query(api.app, logIn, { input: { login: alice.handle, password: "wrong password" } })).statements.length).toBeGreaterThan(0);
    const lines = logLines.length;
    await query(api.app, "{ __schema { queryType { name } } }", {});
    await query(api.app, "{ __schema { queryType { name } } }", {});
    const logged = logLines.slice(lines).map((line) => JSON.parse(line) as Json).filter((line) => line.msg === "request");
    expect(logged.map((line) => line.cache)).toEqual([undefined, undefined]);
    const bad = `query CacheBad($id: ID!) { post(id: $id) { id } }`;
    for (let i = 0; i < 2; i++) expect((await query(api.app, bad, { id: "not an id" })).json.errors[0].extensions.code).toBe("BAD_USER_INPUT");
    const badLines = logLines.slice(lines).map((line) => JSON.parse(line) as Json).filter((line) => line.operation === "CacheBad");
    expect(badLines.map((line) => line.cache)).toEqual(["miss", "miss"]);
  });
});

describe("bounds", () => {
  const apiWith = (env: Record<string, string>) => testApi(loadConfig({ ...testEnv(), ...env }));
  const cached = async (app: ReturnType<typeof createApp>, handle: string) => (await query(app, PROFILE, { handle })).statements.length === 0;

  it("keeps at most RESPONSE_CACHE_MAX_ENTRIES answers, dropping the least recently used", async () => {
    const small = await apiWith({ RESPONSE_CACHE_MAX_ENTRIES: "2" });
    for (const user of [alice, bob]) await query(small.app, PROFILE, { handle: user.handle });
    expect(await cached(small.app, alice.handle)).toBe(true);
    await query(small.app, PROFILE, { handle: carol.handle });
    // bob was the least recently used.
    expect(await cached(small.app, carol.handle)).toBe(true);
    expect(await cached(small.app, alice.handle)).toBe(true);
    expect(await cached(small.app, bob.handle)).toBe(false);
  });

  it("keeps at most RESPONSE_CACHE_MAX_BYTES of answers", async () => {
    const [a, b] = await Promise.all([alice, bob].map(async (user) => (await query(uncached.app, PROFILE, { handle: user.handle })).text.length));
    // Room for either answer and its key, not for both.
    const limit = Math.max(1_024, a!, b!) + 100;
    expect(a! + b!).toBeGreaterThan(limit);
    const small = await apiWith({ RESPONSE_CACHE_MAX_BYTES: String(limit) });
    await query(small.app, PROFILE, { handle: alice.handle });
    expect(await cached(small.app, alice.handle)).toBe(true);
    await query(small.app, PROFILE, { handle: bob.handle });
    expect(await cached(small.app, bob.handle)).toBe(true);
    expect(await cached(small.app, alice.handle)).toBe(false);
  });

  it("keeps an answer for RESPONSE_CACHE_TTL_MS at most", async () => {
    const brief = await apiWith({ RESPONSE_CACHE_TTL_MS: "300" });
    await query(brief.app, PROFILE, { handle: alice.handle });
    expect(await cached(brief.app, alice.handle)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await cached(brief.app, alice.handle)).toBe(false);
  });

  it("keeps nothing with RESPONSE_CACHE=off", async () => {
    await query(uncached.app, PROFILE, { handle: alice.handle });
    expect(await cached(uncached.app, alice.handle)).toBe(false);
    expect(() => loadConfig({ ...testEnv(), RESPONSE_CACHE: "sometimes" })).toThrow(/RESPONSE_CACHE/);
  });
});

describe.runIf(Boolean(process.env.DATABASE_URL) && redisReachable)("two instances on one database, with the Redis event bus", () => {
  const closers: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  async function instance(url: string, config: Config) {
    const db = await openDatabase({ url, poolSize: 3, onQuery: (sql) => void sqlLog.push(sql) });
    const realtime = new Realtime(createEventBus(config.realtime, testLogger()), config.realtime, testLogger());
    const app = createApp({ db: db.prisma, reader: db.reader, config, logger: testLogger(), realtime, versions: db.versions });
    closers.push(() => db.close(), () => realtime.close(), async () => app.dispose());
    return app;
  }

  it("a write on one drops what the other kept", async () => {
    const url = await recreateDatabase(process.env.DATABASE_URL!, "cache_instances", templateName(process.env.DATABASE_URL!));
    // A TTL no test waits for: only the event can make the second instance's answer fresh.
    const config = loadConfig({ ...testEnv(), REDIS_URL: "redis://127.0.0.1:6379", REALTIME_CHANNEL_PREFIX: `chirp-cache-test-${randomUUID()}:`, RESPONSE_CACHE_TTL_MS: "600000" });
    const one = await instance(url, config);
    const two = await instance(url, config);
    const signUp = await query(one, `mutation CacheSignUp($input: SignUpInput!) { signUp(input: $input) { ... on AuthPayload { accessToken } } }`, {
      input: { handle: "cache_two", email: "cache_two@example.com", password: "correct horse battery" },
    });
    const authorization = { authorization: `Bearer ${signUp.json.data.signUp.accessToken}` };
    const created = await query(one, `mutation CacheTwoPost { createPost(input: { body: "on two instances" }) { ... on Post { id } } }`, {}, authorization);
    const id = created.json.data.createPost.id as string;
    // The events of the writes above may still be on their way: read until the second instance keeps its answer.
    const until = async (done: () => Promise<boolean>) => {
      const deadline = Date.now() + 5_000;
      while (!(await done()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      return done();
    };
    expect(await until(async () => (await query(two, THREAD, { id })).statements.length === 0)).toBe(true);
    await query(one, `mutation CacheTwoLike($id: ID!) { likePost(input: { postId: $id }) { __typename } }`, { id }, authorization);
    expect(await until(async () => (await query(two, THREAD, { id })).json.data.post.likeCount === 1)).toBe(true);
  });
});
