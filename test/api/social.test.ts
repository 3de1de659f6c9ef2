import { beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../gql/index.js";
import { type As, type Result, type TestApi, type TestUser, globalId, testApi, topLevelError } from "../support/api.js";

const Follow = graphql(`
  mutation SocialFollow($input: FollowInput!) {
    follow(input: $input) {
      __typename
      ... on User { id handle followerCount followingCount viewerFollows followsViewer }
      ... on Error { code message }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);
const Unfollow = graphql(`
  mutation SocialUnfollow($input: UnfollowInput!) {
    unfollow(input: $input) {
      __typename
      ... on User { id handle followerCount followingCount viewerFollows followsViewer }
      ... on Error { code message }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);
const Profile = graphql(`
  query SocialProfile($handle: String!) {
    user(handle: $handle) { id handle followerCount followingCount viewerFollows followsViewer }
  }
`);
const Followers = graphql(`
  query SocialFollowers($handle: String!, $first: Int, $after: String, $last: Int, $before: String) {
    user(handle: $handle) {
      followers(first: $first, after: $after, last: $last, before: $before) {
        edges { cursor node { handle viewerFollows followsViewer } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
`);
const Following = graphql(`
  query SocialFollowing($handle: String!, $first: Int, $after: String, $last: Int, $before: String) {
    user(handle: $handle) {
      following(first: $first, after: $after, last: $last, before: $before) {
        edges { cursor node { handle viewerFollows followsViewer } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
`);
const CursorsOnly = graphql(`
  query SocialCursorsOnly($handle: String!) {
    user(handle: $handle) {
      followers(first: 2) { edges { cursor } pageInfo { hasNextPage endCursor } }
      following(first: 1) { pageInfo { hasNextPage hasPreviousPage } }
    }
  }
`);
const CreateReadToken = graphql(`
  mutation SocialCreateReadToken {
    createApiToken(input: { name: "reader", scopes: [READ] }) {
      __typename
      ... on CreatedApiToken { secret }
    }
  }
`);

let api: TestApi;
beforeAll(async () => {
  api = await testApi();
});

const follow = (as: As, userId: string) => api.execute(Follow, { input: { userId } }, { as });
const unfollow = (as: As, userId: string) => api.execute(Unfollow, { input: { userId } }, { as });

async function profile(handle: string, as?: As) {
  const result = await api.execute(Profile, { handle }, { as });
  expect(result.errors).toBeUndefined();
  return result.data!.user!;
}

async function counters(user: TestUser) {
  return api.db.user.findUniqueOrThrow({ where: { id: user.dbId }, select: { followerCount: true, followingCount: true } });
}

/** A top-level error with this code: a known failure, never the masked "Unexpected error.". */
function expectTopLevelError(result: Result<unknown>, code: string, message?: string) {
  const error = topLevelError(result);
  expect(error.code).toBe(code);
  if (message) expect(error.message).toBe(message);
}

const cursorOf = (text: string) => Buffer.from(text).toString("base64");

describe("follow and unfollow", () => {
  it("follows once however often it is asked: one row, counts up by one", async () => {
    const alice = await api.signUp();
    const bob = await api.signUp();
    const expected = {
      __typename: "User",
      id: bob.id,
      handle: bob.handle,
      followerCount: 1,
      followingCount: 0,
      viewerFollows: true,
      followsViewer: false,
    };
    const first = await follow(alice, bob.id);
    expect(first).toEqual({ status: 200, data: { follow: expected } });
    const second = await follow(alice, bob.id);
    expect(second).toEqual({ status: 200, data: { follow: expected } });

    const rows = await api.db.follow.findMany({ where: { OR: [{ followerId: alice.dbId }, { followeeId: alice.dbId }] } });
    expect(rows.map((r) => [r.followerId, r.followeeId])).toEqual([[alice.dbId, bob.dbId]]);
    expect(await counters(alice)).toEqual({ followerCount: 0, followingCount: 1 });
    expect(await counters(bob)).toEqual({ followerCount: 1, followingCount: 0 });
    expect(await profile(alice.handle, alice)).toMatchObject({ followerCount: 0, followingCount: 1 });
  });

  it("unfollows once however often it is asked, and never counts below zero", async () => {
    const alice = await api.signUp();
    const bob = await api.signUp();
    await follow(alice, bob.id);
    const expected = {
      __typename: "User",
      id: bob.id,
      handle: bob.handle,
      followerCount: 0,
      followingCount: 0,
      viewerFollows: false,
      followsViewer: false,
    };
    expect(await unfollow(alice, bob.id)).toEqual({ status: 200, data: { unfollow: expected } });
    expect(await unfollow(alice, bob.id)).toEqual({ status: 200, data: { unfollow: expected } });
    expect(await api.db.follow.count({ where: { followerId: alice.dbId } })).toBe(0);
    expect(await counters(alice)).toEqual({ followerCount: 0, followingCount: 0 });
    expect(await counters(bob)).toEqual({ followerCount: 0, followingCount: 0 });

    // Unfollowing someone one never followed is a no-op too.
    const carol = await api.signUp();
    const never = await unfollow(bob, carol.id);
    expect(never.data?.unfollow).toMatchObject({ __typename: "User", handle: carol.handle, followerCount: 0 });
    expect(await counters(bob)).toEqual({ followerCount: 0, followingCount: 0 });
  });

  it("refuses to follow or unfollow yourself with a ValidationError", async () => {
    const alice = await api.signUp();
    const followSelf = await follow(alice, alice.id);
    expect(followSelf).toEqual({
      status: 200,
      data: {
        follow: {
          __typename: "ValidationError",
          code: "BAD_USER_INPUT",
          message: "userId: You cannot follow yourself",
          fieldErrors: [{ field: "userId", message: "You cannot follow yourself" }],
        },
      },
    });
    const unfollowSelf = await unfollow(alice, alice.id);
    expect(unfollowSelf.data?.unfollow).toMatchObject({ __typename: "ValidationError", code: "BAD_USER_INPUT" });
    expect(await api.db.follow.count({ where: { followerId: alice.dbId } })).toBe(0);
    expect(await counters(alice)).toEqual({ followerCount: 0, followingCount: 0 });
  });

  it("answers NotFoundError for an unknown user", async () => {
    const alice = await api.signUp();
    const nobody = globalId("User", 2_000_000_000);
    const notFound = { __typename: "NotFoundError", code: "NOT_FOUND", message: "User not found" };
    expect(await follow(alice, nobody)).toEqual({ status: 200, data: { follow: notFound } });
    expect(await unfollow(alice, nobody)).toEqual({ status: 200, data: { unfollow: notFound } });
    expect(await api.db.follow.count({ where: { followerId: alice.dbId } })).toBe(0);
    expect(await counters(alice)).toEqual({ followerCount: 0, followingCount: 0 });
  });

  it("answers an ID that is malformed or names another type with a ValidationError on userId", async () => {
    const alice = await api.signUp();
    for (const userId of ["not an id", globalId("Post", 1), globalId("User", "abc"), globalId("User", "99999999999")]) {
      const result = await follow(alice, userId);
      expect(result.errors).toBeUndefined();
      expect(result.data?.follow).toMatchObject({ __typename: "ValidationError", code: "BAD_USER_INPUT", message: expect.stringMatching(/^userId: Not (a valid ID|the ID of a User)$/) });
    }
    expect(await api.db.follow.count({ where: { followerId: alice.dbId } })).toBe(0);
  });

  it("requires a logged-in viewer: anonymous → UNAUTHENTICATED", async () => {
    const bob = await api.signUp();
    for (const result of [await follow(null, bob.id), await unfollow(null, bob.id)]) {
      expectTopLevelError(result, "UNAUTHENTICATED", "You must be logged in to do this.");
      expect(result.data ?? null).toBeNull();
    }
    const badToken = await follow({ token: "not-a-jwt" }, bob.id);
    expectTopLevelError(badToken, "UNAUTHENTICATED");
    expect(await api.db.follow.count({ where: { followeeId: bob.dbId } })).toBe(0);
    expect(await counters(bob)).toEqual({ followerCount: 0, followingCount: 0 });
  });

  it("forbids a suspended user to follow or unfollow (FORBIDDEN); the follow they made stays", async () => {
    const bob = await api.signUp();
    const suspended = await api.signUp({ suspended: true });
    const result = await follow(suspended, bob.id);
    expectTopLevelError(result, "FORBIDDEN", "This account is suspended.");
    expect(result.data ?? null).toBeNull();
    expect(await api.db.follow.count({ where: { followerId: suspended.dbId } })).toBe(0);

    // Someone suspended after following keeps the follow and cannot undo it.
    const later = await api.signUp();
    await follow(later, bob.id);
    await api.db.user.update({ where: { id: later.dbId }, data: { suspendedAt: new Date() } });
    expectTopLevelError(await unfollow(later, bob.id), "FORBIDDEN");
    expect(await api.db.follow.count({ where: { followerId: later.dbId } })).toBe(1);
    expect(await counters(bob)).toEqual({ followerCount: 1, followingCount: 0 });
    await api.db.user.update({ where: { id: later.dbId }, data: { suspendedAt: null } });
    expect(await profile(bob.handle, later)).toMatchObject({ viewerFollows: true, followerCount: 1 });
  });

  it("forbids a read-only API token to follow", async () => {
    const alice = await api.signUp();
    const bob = await api.signUp();
    const created = await api.execute(CreateReadToken, {}, { as: alice });
    if (created.data?.createApiToken.__typename !== "CreatedApiToken") throw new Error(JSON.stringify(created));
    const readOnly = { token: created.data.createApiToken.secret };
    expectTopLevelError(await follow(readOnly, bob.id), "FORBIDDEN", "You are not allowed to do this.");
    expect(await api.db.follow.count({ where: { followerId: alice.dbId } })).toBe(0);
    expect(await profile(alice.handle, readOnly)).toMatchObject({ handle: alice.handle, followingCount: 0 });
  });

  it("lets an admin follow like anyone else", async () => {
    const admin = await api.signUp({ role: "ADMIN" });
    const bob = await api.signUp();
    expect((await follow(admin, bob.id)).data?.follow).toMatchObject({ __typename: "User", followerCount: 1, viewerFollows: true });
    expect((await follow(admin, admin.id)).data?.follow).toMatchObject({ __typename: "ValidationError" });
    expect(await counters(admin)).toEqual({ followerCount: 0, followingCount: 1 });
  });
});

describe("followerCount and followingCount", () => {
  it("match COUNT(*) of the follow rows after sequential and concurrent follows and unfollows by several users", async () => {
    const users: TestUser[] = [];
    for (let i = 0; i < 6; i++) users.push(await api.signUp());
    const [u0, u1, u2, u3, u4, u5] = users as [TestUser, TestUser, TestUser, TestUser, TestUser, TestUser];
    const edges = new Set<string>();
    const key = (a: TestUser, b: TestUser) => `${a.dbId}>${b.dbId}`;

    async function all(calls: [op: "follow" | "unfollow", from: TestUser, to: TestUser][]) {
      const results = await Promise.all(calls.map(([op, from, to]) => (op === "follow" ? follow(from, to.id) : unfollow(from, to.id))));
      for (const result of results) {
        expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
        expect(Object.values(result.data ?? {})[0]).toMatchObject({ __typename: "User" });
      }
      for (const [op, from, to] of calls) {
        if (op === "follow") edges.add(key(from, to));
        else edges.delete(key(from, to));
      }
    }

    // The same follow sent five times at once by each of four users.
    await all([u1, u2, u3, u4].flatMap((u) => Array.from({ length: 5 }, () => ["follow", u, u0] as ["follow", TestUser, TestUser])));
    expect(await counters(u0)).toEqual({ followerCount: 4, followingCount: 0 });

    // Everybody follows everybody at once: pairs following each other in both directions concurrently.
    await all(users.flatMap((a) => users.filter((b) => b !== a).map((b) => ["follow", a, b] as ["follow", TestUser, TestUser])));
    expect(edges.size).toBe(30);

    // Concurrent unfollows, repeated, mixed with follows of other pairs; then some sequential changes.
    await all([
      ["unfollow", u1, u0],
      ["unfollow", u1, u0],
      ["unfollow", u0, u1],
      ["unfollow", u2, u3],
      ["unfollow", u3, u2],
      ["unfollow", u3, u2],
      ["follow", u4, u5],
      ["unfollow", u5, u4],
      ["unfollow", u5, u0],
      ["unfollow", u0, u5],
    ]);
    await all([["unfollow", u4, u0]]);
    await all([["follow", u4, u0]]);
    await all([["unfollow", u2, u1], ["unfollow", u2, u1]]);
    await all([["follow", u1, u0], ["follow", u1, u0], ["follow", u1, u0]]);

    const expectedEdges = [...edges].sort();
    const rows = await api.db.follow.findMany({ where: { followerId: { in: users.map((u) => u.dbId) } } });
    expect(rows.map((r) => `${r.followerId}>${r.followeeId}`).sort()).toEqual(expectedEdges);

    for (const user of users) {
      const expectedFollowers = expectedEdges.filter((e) => e.endsWith(`>${user.dbId}`)).length;
      const expectedFollowing = expectedEdges.filter((e) => e.startsWith(`${user.dbId}>`)).length;
      const [row] = await api.db.$queryRaw<{ followers: bigint; following: bigint }[]>`
        SELECT (SELECT COUNT(*) FROM follows WHERE followee_id = ${user.dbId}) AS followers,
               (SELECT COUNT(*) FROM follows WHERE follower_id = ${user.dbId}) AS following`;
      expect([Number(row!.followers), Number(row!.following)]).toEqual([expectedFollowers, expectedFollowing]);
      expect(await counters(user)).toEqual({ followerCount: expectedFollowers, followingCount: expectedFollowing });
      expect(await profile(user.handle)).toMatchObject({ followerCount: expectedFollowers, followingCount: expectedFollowing });
    }
    // Spot-check the arithmetic above with the numbers worked out by hand.
    expect(await profile(u0.handle)).toMatchObject({ followerCount: 4, followingCount: 3 });
    expect(await profile(u5.handle)).toMatchObject({ followerCount: 4, followingCount: 3 });
    expect(await profile(u1.handle)).toMatchObject({ followerCount: 3, followingCount: 5 });
  });
});

describe("viewerFollows and followsViewer", () => {
  it("say who follows whom, from each side, and are false for anonymous and for oneself", async () => {
    const alice = await api.signUp();
    const bob = await api.signUp();
    const carol = await api.signUp();
    await follow(alice, bob.id);
    await follow(carol, alice.id);
    await follow(alice, carol.id);

    const flags = async (handle: string, as: As) => {
      const { viewerFollows, followsViewer } = await profile(handle, as);
      return { viewerFollows, followsViewer };
    };
    // alice → bob only.
    expect(await flags(bob.handle, alice)).toEqual({ viewerFollows: true, followsViewer: false });
    expect(await flags(alice.handle, bob)).toEqual({ viewerFollows: false, followsViewer: true });
    // alice ↔ carol.
    expect(await flags(carol.handle, alice)).toEqual({ viewerFollows: true, followsViewer: true });
    expect(await flags(alice.handle, carol)).toEqual({ viewerFollows: true, followsViewer: true });
    // bob and carol do not know each other.
    expect(await flags(carol.handle, bob)).toEqual({ viewerFollows: false, followsViewer: false });
    expect(await flags(bob.handle, carol)).toEqual({ viewerFollows: false, followsViewer: false });
    // Oneself, and nobody.
    expect(await flags(alice.handle, alice)).toEqual({ viewerFollows: false, followsViewer: false });
    for (const handle of [alice.handle, bob.handle, carol.handle]) {
      expect(await flags(handle, null)).toEqual({ viewerFollows: false, followsViewer: false });
    }

    await unfollow(carol, alice.id);
    expect(await flags(carol.handle, alice)).toEqual({ viewerFollows: true, followsViewer: false });
    expect(await flags(alice.handle, carol)).toEqual({ viewerFollows: false, followsViewer: true });
  });
});

describe("followers and following connections", () => {
  let target: TestUser;
  let fans: TestUser[];

  type Page = NonNullable<Awaited<ReturnType<typeof followersPage>>>;
  async function followersPage(vars: { first?: number; after?: string; last?: number; before?: string }, as?: As) {
    const result = await api.execute(Followers, { handle: target.handle, ...vars }, { as });
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    return result.data!.user!.followers;
  }
  const handles = (page: Page) => page.edges.map((e) => e.node.handle);
  const name = (i: number) => fans[i - 1]!.handle;

  beforeAll(async () => {
    target = await api.signUp();
    fans = [];
    for (let i = 1; i <= 7; i++) {
      const fan = await api.signUp();
      fans.push(fan);
      await follow(fan, target.id);
    }
  });

  it("lists followers newest first and pages forward with first/after", async () => {
    const page1 = await followersPage({ first: 3 });
    expect(handles(page1)).toEqual([name(7), name(6), name(5)]);
    expect(page1.pageInfo).toEqual({
      hasNextPage: true,
      hasPreviousPage: false,
      startCursor: page1.edges[0]!.cursor,
      endCursor: page1.edges[2]!.cursor,
    });
    const page2 = await followersPage({ first: 3, after: page1.pageInfo.endCursor! });
    expect(handles(page2)).toEqual([name(4), name(3), name(2)]);
    expect(page2.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const page3 = await followersPage({ first: 3, after: page2.pageInfo.endCursor! });
    expect(handles(page3)).toEqual([name(1)]);
    expect(page3.pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: true,
      startCursor: page3.edges[0]!.cursor,
      endCursor: page3.edges[0]!.cursor,
    });
    const all = await followersPage({ first: 100 });
    expect(handles(all)).toEqual([7, 6, 5, 4, 3, 2, 1].map(name));
    expect(all.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    expect(new Set(all.edges.map((e) => e.cursor)).size).toBe(7);
  });

  it("pages backward with last/before", async () => {
    const page1 = await followersPage({ last: 3 });
    expect(handles(page1)).toEqual([name(3), name(2), name(1)]);
    expect(page1.pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: true,
      startCursor: page1.edges[0]!.cursor,
      endCursor: page1.edges[2]!.cursor,
    });
    const page2 = await followersPage({ last: 3, before: page1.pageInfo.startCursor! });
    expect(handles(page2)).toEqual([name(6), name(5), name(4)]);
    expect(page2.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const page3 = await followersPage({ last: 3, before: page2.pageInfo.startCursor! });
    expect(handles(page3)).toEqual([name(7)]);
    expect(page3.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
  });

  it("shows viewerFollows and followsViewer on each follower, false for anonymous", async () => {
    await follow(target, fans[1]!.id); // target follows fan 2 back
    const asTarget = await followersPage({ first: 7 }, target);
    expect(asTarget.edges.map((e) => [e.node.handle, e.node.viewerFollows, e.node.followsViewer])).toEqual(
      [7, 6, 5, 4, 3, 2, 1].map((i) => [name(i), i === 2, true]),
    );
    const asFan1 = await followersPage({ first: 7 }, fans[0]);
    expect(asFan1.edges.map((e) => [e.node.viewerFollows, e.node.followsViewer])).toEqual(Array.from({ length: 7 }, () => [false, false]));
    const anonymous = await followersPage({ first: 7 }, null);
    expect(anonymous.edges.map((e) => [e.node.viewerFollows, e.node.followsViewer])).toEqual(Array.from({ length: 7 }, () => [false, false]));
    await unfollow(target, fans[1]!.id);
  });

  it("lists whom a user follows, newest first", async () => {
    const fan = fans[0]!;
    await follow(fan, fans[6]!.id);
    await follow(fan, fans[3]!.id);
    const result = await api.execute(Following, { handle: fan.handle.toUpperCase(), first: 10 }, { as: fan });
    expect(result.errors).toBeUndefined();
    const following = result.data!.user!.following;
    expect(following.edges.map((e) => [e.node.handle, e.node.viewerFollows])).toEqual([
      [name(4), true],
      [name(7), true],
      [target.handle, true],
    ]);
    expect(following.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    const last2 = await api.execute(Following, { handle: fan.handle, last: 2 }, { as: null });
    expect(last2.data!.user!.following.edges.map((e) => e.node.handle)).toEqual([name(7), target.handle]);
    const before = await api.execute(Following, { handle: fan.handle, last: 2, before: last2.data!.user!.following.pageInfo.startCursor });
    expect(before.data!.user!.following.edges.map((e) => e.node.handle)).toEqual([name(4)]);
    await unfollow(fan, fans[6]!.id);
    await unfollow(fan, fans[3]!.id);
  });

  it("moves a follower who unfollows and follows again to the front", async () => {
    await unfollow(fans[3]!, target.id);
    expect(handles(await followersPage({ first: 10 }))).toEqual([7, 6, 5, 3, 2, 1].map(name));
    await follow(fans[3]!, target.id);
    expect(handles(await followersPage({ first: 10 }))).toEqual([4, 7, 6, 5, 3, 2, 1].map(name));
  });

  it("keeps paging when the follow at the cursor is removed between pages", async () => {
    // Now: 4, 7, 6, 5, 3, 2, 1.
    const page1 = await followersPage({ first: 2 });
    expect(handles(page1)).toEqual([name(4), name(7)]);
    await unfollow(fans[6]!, target.id);
    const page2 = await followersPage({ first: 2, after: page1.pageInfo.endCursor! });
    expect(handles(page2)).toEqual([name(6), name(5)]);
    const back = await followersPage({ last: 2, before: page2.pageInfo.startCursor! });
    expect(handles(back)).toEqual([name(4)]);
    await follow(fans[6]!, target.id);
  });

  it("answers a query for cursors and pageInfo only", async () => {
    const result = await api.execute(CursorsOnly, { handle: target.handle });
    expect(result.errors).toBeUndefined();
    const full = await followersPage({ first: 2 });
    expect(result.data).toEqual({
      user: {
        followers: { edges: full.edges.map((e) => ({ cursor: e.cursor })), pageInfo: { hasNextPage: true, endCursor: full.pageInfo.endCursor } },
        following: { pageInfo: { hasNextPage: false, hasPreviousPage: false } },
      },
    });
  });

  const badPages: [string, { first?: number; after?: string; last?: number; before?: string }][] = [
    ["neither first nor last", {}],
    ["first: 0", { first: 0 }],
    ["first: 101", { first: 101 }],
    ["first: -1", { first: -1 }],
    ["last: 0", { last: 0 }],
    ["last: 101", { last: 101 }],
    ["both first and last", { first: 2, last: 2 }],
    ["a cursor that is not base64 of anything", { first: 2, after: "zzz" }],
    ["a cursor of another shape", { first: 2, after: cursorOf("hello") }],
    ["a cursor holding a string", { first: 2, after: cursorOf("GPC:S:abc") }],
    ["a cursor holding a fraction", { first: 2, after: cursorOf("GPC:N:1.5") }],
    ["a cursor beyond the id range", { last: 2, before: cursorOf("GPC:N:99999999999") }],
    ["a cursor holding null", { first: 2, after: cursorOf("GPC:Z:") }],
    ["a cursor holding an object", { first: 2, after: cursorOf("GPC:O:{}") }],
    ["first with before", { first: 2, before: cursorOf("GPC:N:1") }],
    ["last with after", { last: 2, after: cursorOf("GPC:N:1") }],
  ];
  it.each(badPages)("rejects %s with BAD_USER_INPUT", async (_name, vars) => {
    const results = [
      await api.executeCounted(Followers, { handle: target.handle, ...vars }),
      await api.executeCounted(Following, { handle: target.handle, ...vars }),
    ];
    for (const result of results) {
      expectTopLevelError(result, "BAD_USER_INPUT");
      // Rejected before any SQL ran: page sizes before execution, a cursor's key as the query is built.
      expect(result.statements).toEqual([]);
      expect(result.data?.user ?? null).toBeNull();
    }
  });
});
