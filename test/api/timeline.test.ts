import { beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../gql/index.js";
import type { TimelinePostFieldsFragment } from "../gql/graphql.js";
import { type As, type Result, type TestApi, type TestUser, testApi, topLevelError } from "../support/api.js";

graphql(`
  fragment TimelinePostFields on Post {
    __typename
    id
    body
    isDeleted
    author { handle }
    replyTo { id }
    repostOf { id body author { handle } }
  }
`);

const Home = graphql(`
  query TimelineHome($first: Int, $after: String, $last: Int, $before: String) {
    homeTimeline(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { ...TimelinePostFields } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`);
const UserPosts = graphql(`
  query TimelineUser($handle: String!, $includeReplies: Boolean, $first: Int, $after: String, $last: Int, $before: String) {
    userTimeline(handle: $handle, includeReplies: $includeReplies, first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { ...TimelinePostFields viewerHasLiked } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`);
const CreatePost = graphql(`
  mutation TimelineCreatePost($input: CreatePostInput!) {
    createPost(input: $input) { __typename ... on Post { id } ... on Error { message } }
  }
`);
const Repost = graphql(`
  mutation TimelineRepost($input: RepostInput!) {
    repost(input: $input) { __typename ... on Post { id } ... on Error { message } }
  }
`);
const UndoRepost = graphql(`
  mutation TimelineUndoRepost($input: UndoRepostInput!) {
    undoRepost(input: $input) { __typename ... on Error { message } }
  }
`);
const DeletePost = graphql(`
  mutation TimelineDeletePost($input: DeletePostInput!) {
    deletePost(input: $input) { __typename ... on Error { message } }
  }
`);
const LikePost = graphql(`
  mutation TimelineLikePost($input: LikePostInput!) {
    likePost(input: $input) { __typename ... on Error { message } }
  }
`);
const Follow = graphql(`
  mutation TimelineFollow($input: FollowInput!) {
    follow(input: $input) { __typename ... on Error { message } }
  }
`);
const Unfollow = graphql(`
  mutation TimelineUnfollow($input: UnfollowInput!) {
    unfollow(input: $input) { __typename ... on Error { message } }
  }
`);

let api: TestApi;
beforeAll(async () => {
  api = await testApi();
});

/** Expects a mutation's payload to be of this type. */
async function expectTypename(promise: Promise<Result<object>>, typename: string) {
  const result = await promise;
  const payload = Object.values(result.data ?? {})[0] as { __typename?: string } | undefined;
  expect(payload?.__typename, JSON.stringify(result)).toBe(typename);
}

async function post(author: TestUser, body: string, replyToId?: string) {
  const result = await api.execute(CreatePost, { input: { body, replyToId } }, { as: author });
  if (result.data?.createPost.__typename !== "Post") throw new Error(`createPost failed: ${JSON.stringify(result)}`);
  return result.data.createPost.id;
}
async function repost(user: TestUser, postId: string) {
  const result = await api.execute(Repost, { input: { postId } }, { as: user });
  if (result.data?.repost.__typename !== "Post") throw new Error(`repost failed: ${JSON.stringify(result)}`);
  return result.data.repost.id;
}
const undoRepost = (user: TestUser, postId: string) => expectTypename(api.execute(UndoRepost, { input: { postId } }, { as: user }), "Post");
const deletePost = (user: TestUser, id: string) => expectTypename(api.execute(DeletePost, { input: { postId: id } }, { as: user }), "Post");
const follow = (user: TestUser, other: TestUser) => expectTypename(api.execute(Follow, { input: { userId: other.id } }, { as: user }), "User");
const unfollow = (user: TestUser, other: TestUser) => expectTypename(api.execute(Unfollow, { input: { userId: other.id } }, { as: user }), "User");

interface PageArgs {
  first?: number;
  after?: string | null;
  last?: number;
  before?: string | null;
}

async function home(as: As, page: PageArgs = { first: 100 }) {
  const result = await api.execute(Home, page, { as });
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data!.homeTimeline;
}
async function userTimeline(handle: string, options: PageArgs & { includeReplies?: boolean } = {}, as?: As) {
  const result = await api.execute(UserPosts, { handle, first: options.last ? undefined : 100, ...options }, { as });
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data!.userTimeline;
}
const ids = (connection: { edges: { node: { id: string } }[] }) => connection.edges.map((e) => e.node.id);
const dbId = (globalId: string) => Number(Buffer.from(globalId, "base64").toString().split(":")[1]);

/** A readable label per post: "handle: body", "handle ↻ original body" for a repost. */
function label(node: TimelinePostFieldsFragment) {
  if (node.repostOf) return `${node.author?.handle} ↻ ${node.repostOf.author?.handle}: ${node.repostOf.body}`;
  return `${node.author?.handle}: ${node.body}`;
}
const labels = (connection: { edges: { node: TimelinePostFieldsFragment }[] }) => connection.edges.map((e) => label(e.node));

function expectBadUserInput(result: Result<unknown>) {
  expect(result.errors, JSON.stringify(result)).toHaveLength(1);
  expect(result.errors![0]!.extensions?.code).toBe("BAD_USER_INPUT");
  expect(result.errors![0]!.message).not.toBe("Unexpected error.");
  expect(result.data ?? null).toBeNull();
}

describe("homeTimeline", () => {
  let viewer: TestUser;
  let friend: TestUser;
  let pal: TestUser;
  let stranger: TestUser;
  const p = {} as Record<"s1" | "f1" | "v1" | "palRepostsS1" | "strangerRepostsF1" | "friendReply" | "s2" | "pal1" | "viewerRepostsF1", string>;

  beforeAll(async () => {
    viewer = await api.signUp({ handle: "home_viewer" });
    friend = await api.signUp({ handle: "home_friend" });
    pal = await api.signUp({ handle: "home_pal" });
    stranger = await api.signUp({ handle: "home_stranger" });
    await follow(viewer, friend);
    await follow(viewer, pal);
    await follow(stranger, friend);

    p.s1 = await post(stranger, "s1");
    p.f1 = await post(friend, "f1");
    p.v1 = await post(viewer, "v1");
    p.palRepostsS1 = await repost(pal, p.s1);
    p.strangerRepostsF1 = await repost(stranger, p.f1);
    p.friendReply = await post(friend, "f reply to s1", p.s1);
    p.s2 = await post(stranger, "s2");
    p.pal1 = await post(pal, "pal1");
    p.viewerRepostsF1 = await repost(viewer, p.f1);
  });

  it("holds the viewer's own posts and the posts and reposts of the people they follow, newest first", async () => {
    const timeline = await home(viewer);
    expect(labels(timeline)).toEqual([
      "home_viewer ↻ home_friend: f1",
      "home_pal: pal1",
      "home_friend: f reply to s1",
      "home_pal ↻ home_stranger: s1",
      "home_viewer: v1",
      "home_friend: f1",
    ]);
    expect(ids(timeline)).toEqual([p.viewerRepostsF1, p.pal1, p.friendReply, p.palRepostsS1, p.v1, p.f1]);
    expect(timeline.edges[3]!.node).toEqual({
      __typename: "Post",
      id: p.palRepostsS1,
      body: null,
      isDeleted: false,
      author: { handle: "home_pal" },
      replyTo: null,
      repostOf: { id: p.s1, body: "s1", author: { handle: "home_stranger" } },
    });
    expect(timeline.edges[2]!.node).toMatchObject({ replyTo: { id: p.s1 }, repostOf: null });
    expect(timeline.pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: false,
      startCursor: timeline.edges[0]!.cursor,
      endCursor: timeline.edges[5]!.cursor,
    });
  });

  it("is personal: each viewer sees their own circle", async () => {
    expect(labels(await home(friend))).toEqual(["home_friend: f reply to s1", "home_friend: f1"]);
    expect(labels(await home(stranger))).toEqual([
      "home_stranger: s2",
      "home_friend: f reply to s1",
      "home_stranger ↻ home_friend: f1",
      "home_friend: f1",
      "home_stranger: s1",
    ]);
    const loner = await api.signUp();
    expect(await home(loner)).toEqual({
      edges: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    });
  });

  it("loses someone's posts and reposts after unfollowing them, and gets them back after following again", async () => {
    await unfollow(viewer, pal);
    expect(ids(await home(viewer))).toEqual([p.viewerRepostsF1, p.friendReply, p.v1, p.f1]);
    await unfollow(viewer, friend);
    expect(ids(await home(viewer))).toEqual([p.viewerRepostsF1, p.v1]);
    await follow(viewer, pal);
    await follow(viewer, friend);
    expect(ids(await home(viewer))).toEqual([p.viewerRepostsF1, p.pal1, p.friendReply, p.palRepostsS1, p.v1, p.f1]);
  });

  it("refuses a suspended user, shows the timeline again once unsuspended, and an admin sees only their own circle", async () => {
    const quiet = await api.signUp();
    const quietPost = await post(quiet, "before the suspension");
    await follow(quiet, pal);
    await api.db.user.update({ where: { id: quiet.dbId }, data: { suspendedAt: new Date() } });
    expect(topLevelError(await api.execute(Home, { first: 10 }, { as: quiet }))).toEqual({ message: "This account is suspended.", code: "FORBIDDEN" });
    await api.db.user.update({ where: { id: quiet.dbId }, data: { suspendedAt: null } });
    expect(ids(await home(quiet))).toEqual([quietPost, p.pal1, p.palRepostsS1]);

    const admin = await api.signUp({ role: "ADMIN" });
    expect(ids(await home(admin))).toEqual([]);
  });

  it("drops deleted posts, the reposts of deleted posts and undone reposts", async () => {
    await deletePost(friend, p.f1); // also removes the viewer's and the stranger's reposts of it
    expect(ids(await home(viewer))).toEqual([p.pal1, p.friendReply, p.palRepostsS1, p.v1]);
    await deletePost(viewer, p.v1);
    await undoRepost(pal, p.s1);
    expect(ids(await home(viewer))).toEqual([p.pal1, p.friendReply]);
    const admin = await api.signUp({ role: "ADMIN" });
    await deletePost(admin, p.pal1);
    expect(labels(await home(viewer))).toEqual(["home_friend: f reply to s1"]);
    expect(await api.db.post.count({ where: { id: { in: [dbId(p.f1), dbId(p.v1), dbId(p.pal1)] }, deletedAt: { not: null } } })).toBe(3);
  });

  it("requires a logged-in viewer: anonymous → UNAUTHENTICATED", async () => {
    const result = await api.execute(Home, { first: 10 });
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]).toMatchObject({ message: "You must be logged in to do this.", extensions: { code: "UNAUTHENTICATED" } });
    expect(result.data ?? null).toBeNull();
    const badToken = await api.execute(Home, { first: 10 }, { as: { token: "not-a-jwt" } });
    expect(badToken.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

describe("userTimeline", () => {
  let author: TestUser;
  let other: TestUser;
  const p = {} as Record<"a1" | "o1" | "reply" | "repost" | "o2" | "a2" | "deleted" | "otherReposts", string>;

  beforeAll(async () => {
    author = await api.signUp({ handle: "Tl_Author" });
    other = await api.signUp({ handle: "tl_other" });
    p.a1 = await post(author, "a1");
    p.o1 = await post(other, "o1");
    p.reply = await post(author, "a reply", p.o1);
    p.repost = await repost(author, p.o1);
    p.o2 = await post(other, "o2");
    p.a2 = await post(author, "a2");
    p.deleted = await post(author, "a3, soon deleted");
    await deletePost(author, p.deleted);
    p.otherReposts = await repost(other, p.a1);
  });

  it("shows the user's posts and reposts newest first, without replies or deleted posts", async () => {
    const timeline = await userTimeline("Tl_Author");
    expect(labels(timeline)).toEqual(["Tl_Author: a2", "Tl_Author ↻ tl_other: o1", "Tl_Author: a1"]);
    expect(ids(timeline)).toEqual([p.a2, p.repost, p.a1]);
    expect(timeline.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
  });

  it("includes replies with includeReplies: true, and leaves them out with false", async () => {
    const timeline = await userTimeline("Tl_Author", { includeReplies: true });
    expect(ids(timeline)).toEqual([p.a2, p.repost, p.reply, p.a1]);
    expect(timeline.edges[2]!.node).toMatchObject({ body: "a reply", replyTo: { id: p.o1 }, repostOf: null });
    expect(ids(await userTimeline("Tl_Author", { includeReplies: false }))).toEqual([p.a2, p.repost, p.a1]);
  });

  it("finds the user whatever the case of the handle", async () => {
    for (const handle of ["tl_author", "TL_AUTHOR", "tL_aUtHoR"]) {
      expect(ids(await userTimeline(handle))).toEqual([p.a2, p.repost, p.a1]);
    }
  });

  it("is empty for an unknown handle", async () => {
    expect(await userTimeline("nobody_here")).toEqual({
      edges: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    });
  });

  it("works anonymously and for any viewer, with viewer fields set per viewer", async () => {
    await expectTypename(api.execute(LikePost, { input: { postId: p.a1 } }, { as: other }), "Post");
    const anonymous = await userTimeline("tl_author", {}, null);
    expect(ids(anonymous)).toEqual([p.a2, p.repost, p.a1]);
    expect(anonymous.edges.map((e) => e.node.viewerHasLiked)).toEqual([false, false, false]);
    const asOther = await userTimeline("tl_author", {}, other);
    expect(asOther.edges.map((e) => e.node.viewerHasLiked)).toEqual([false, false, true]);
  });

  it("shows the other user's repost of the author's post on the other user's timeline only", async () => {
    expect(ids(await userTimeline("tl_other"))).toEqual([p.otherReposts, p.o2, p.o1]);
  });
});

describe("pagination", () => {
  /** Signs up an author and a follower; the author writes `count` posts, oldest first. Returns their ids. */
  async function authorWithPosts(handle: string, count: number) {
    const author = await api.signUp({ handle });
    const reader = await api.signUp();
    await follow(reader, author);
    const posted: string[] = [];
    for (let i = 1; i <= count; i++) posted.push(await post(author, `${handle} ${i}`));
    return { author, reader, posted, newestFirst: [...posted].reverse() };
  }

  type Connection = Awaited<ReturnType<typeof home>>;
  /** The same page request against homeTimeline (as the reader) or userTimeline (anonymously). */
  const fetcher = (field: "homeTimeline" | "userTimeline", handle: string, reader: TestUser) => (page: PageArgs): Promise<Connection> =>
    field === "homeTimeline" ? home(reader, page) : userTimeline(handle, page, null);
  const fetchers = (handle: string, reader: TestUser) =>
    (["homeTimeline", "userTimeline"] as const).map((field) => [field, fetcher(field, handle, reader)] as const);

  it("visits each of 25 posts exactly once, in order, with first: 10 and after", async () => {
    const { reader, newestFirst } = await authorWithPosts("pager", 25);
    for (const [field, fetch] of fetchers("pager", reader)) {
      const pages: Connection[] = [];
      let after: string | null = null;
      do {
        const page: Connection = await fetch({ first: 10, after });
        pages.push(page);
        after = page.pageInfo.hasNextPage ? (page.pageInfo.endCursor ?? null) : null;
      } while (after && pages.length < 10);
      expect(pages.map((page) => page.edges.length), field).toEqual([10, 10, 5]);
      expect(pages.flatMap(ids), field).toEqual(newestFirst);
      expect(pages.map((page) => page.pageInfo.hasNextPage), field).toEqual([true, true, false]);
      expect(pages.map((page) => page.pageInfo.hasPreviousPage), field).toEqual([false, true, true]);
      for (const page of pages) {
        expect(page.pageInfo.startCursor).toBe(page.edges[0]!.cursor);
        expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)!.cursor);
      }
    }
  });

  it("pages backward with last and before, each post once", async () => {
    const { reader, newestFirst } = await authorWithPosts("backpager", 25);
    for (const [field, fetch] of fetchers("backpager", reader)) {
      const oldest = await fetch({ last: 10 });
      expect(ids(oldest), field).toEqual(newestFirst.slice(15, 25));
      expect(oldest.pageInfo, field).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
      const middle = await fetch({ last: 10, before: oldest.pageInfo.startCursor });
      expect(ids(middle), field).toEqual(newestFirst.slice(5, 15));
      expect(middle.pageInfo, field).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
      const newest = await fetch({ last: 10, before: middle.pageInfo.startCursor });
      expect(ids(newest), field).toEqual(newestFirst.slice(0, 5));
      expect(newest.pageInfo, field).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
      // Forward and backward agree on the cursors.
      const forward = await fetch({ first: 5 });
      expect(forward.edges.map((e) => e.cursor)).toEqual(newest.edges.map((e) => e.cursor));
    }
  });

  it("keeps its cursors stable while new posts arrive between page requests", async () => {
    for (const field of ["homeTimeline", "userTimeline"] as const) {
      const handle = `streamer_${field.slice(0, 4)}`;
      const { author, reader, newestFirst } = await authorWithPosts(handle, 25);
      const fetch = fetcher(field, handle, reader);
      const seen: string[] = [];
      const page1 = await fetch({ first: 10 });
      seen.push(...ids(page1));
      const arrived = [await post(author, "new 1"), await post(author, "new 2"), await post(author, "new 3")];
      const page2 = await fetch({ first: 10, after: page1.pageInfo.endCursor });
      seen.push(...ids(page2));
      arrived.push(await post(author, "new 4"));
      const page3 = await fetch({ first: 10, after: page2.pageInfo.endCursor });
      seen.push(...ids(page3));
      expect(page3.pageInfo.hasNextPage, field).toBe(false);
      expect(seen, field).toEqual(newestFirst);
      expect(new Set(seen).size, field).toBe(25);
      // Asking for what came before the first page returns exactly the newcomers, newest first.
      const newer = await fetch({ last: 10, before: page1.pageInfo.startCursor });
      expect(ids(newer), field).toEqual([...arrived].reverse());
      expect(newer.pageInfo, field).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
      expect(ids(await fetch({ first: 4 })), field).toEqual([...arrived].reverse());
    }
  });

  it("keeps paging when the post at the cursor is removed between pages", async () => {
    for (const field of ["homeTimeline", "userTimeline"] as const) {
      const handle = `remover_${field.slice(0, 4)}`;
      const { author, reader } = await authorWithPosts(handle, 0);
      const fetch = fetcher(field, handle, reader);
      const other = await api.signUp();
      const originals = [await post(other, "x1"), await post(other, "x2"), await post(other, "x3")];
      const own = [await post(author, "r1"), await post(author, "r2")];
      const reposts: string[] = [];
      for (const original of originals) reposts.push(await repost(author, original));
      // Newest first: repost of x3, repost of x2, repost of x1, r2, r1.
      const page1 = await fetch({ first: 2 });
      expect(ids(page1), field).toEqual([reposts[2], reposts[1]]);
      await undoRepost(author, originals[1]!); // deletes the row under page1's endCursor
      const page2 = await fetch({ first: 2, after: page1.pageInfo.endCursor });
      expect(ids(page2), field).toEqual([reposts[0], own[1]]);
      const page3 = await fetch({ first: 2, after: page2.pageInfo.endCursor });
      expect(ids(page3), field).toEqual([own[0]]);
      expect(page3.pageInfo.hasNextPage, field).toBe(false);
      const back = await fetch({ last: 5, before: page2.pageInfo.startCursor });
      expect(ids(back), field).toEqual([reposts[2]]);
    }
  });

  const cursorOf = (text: string) => Buffer.from(text).toString("base64");
  const badPages: [string, Record<string, unknown>][] = [
    ["neither first nor last", {}],
    ["first: 0", { first: 0 }],
    ["first: 101", { first: 101 }],
    ["first: -5", { first: -5 }],
    ["last: 0", { last: 0 }],
    ["last: 101", { last: 101 }],
    ["both first and last", { first: 10, last: 10 }],
    ["first with before", { first: 10, before: cursorOf("GPC:N:5") }],
    ["last with after", { last: 10, after: cursorOf("GPC:N:5") }],
    ["a cursor that is not base64 of a cursor", { first: 10, after: "zzz" }],
    ["a cursor of another shape", { first: 10, after: cursorOf("hello") }],
    ["a cursor holding a string", { first: 10, after: cursorOf("GPC:S:abc") }],
    ["a cursor holding a fraction", { first: 10, after: cursorOf("GPC:N:1.5") }],
    ["a cursor beyond the id range", { first: 10, after: cursorOf("GPC:N:99999999999") }],
    ["a cursor holding null", { last: 10, before: cursorOf("GPC:Z:") }],
    ["a cursor holding an object", { last: 10, before: cursorOf("GPC:O:{}") }],
  ];
  it.each(badPages)("rejects %s with BAD_USER_INPUT on both timelines", async (_name, page) => {
    const viewer = await api.signUp();
    expectBadUserInput(await api.execute(Home, page, { as: viewer }));
    expectBadUserInput(await api.execute(UserPosts, { handle: viewer.handle, ...page }));
  });

  it("accepts the bounds, first: 1 and first: 100", async () => {
    const { reader, newestFirst } = await authorWithPosts("bounds", 3);
    expect(ids(await home(reader, { first: 1 }))).toEqual(newestFirst.slice(0, 1));
    expect(ids(await home(reader, { last: 100 }))).toEqual(newestFirst);
    expect(ids(await userTimeline("bounds", { first: 100 }))).toEqual(newestFirst);
  });
});
