import { beforeAll, describe, expect, it } from "vitest";
import { type TestApi, type TestUser, globalId, testApi } from "../support/api.js";

// Blocks and mutes through the API, as the blocker, the blocked, the muted and a bystander.

const POST_FIELDS = `id body isUnavailable isDeleted createdAt author { handle } repostOf { id body author { handle } } replyTo { id body author { handle } } threadRoot { id body author { handle } } entities { text user { handle } }`;

/** Every read of the API that can show someone else's posts, people or lists, as one viewer runs them. */
type Who = "blocker" | "blocked";
const BOTH: Who[] = ["blocker", "blocked"];

interface Read {
  name: string;
  query: string;
  variables: (w: World) => Record<string, unknown>;
  /** Whom of the two the bystander, whom no block concerns, sees in this read: the matrix reads something. */
  bystanderSees: Who[];
}

/**
 * Every read of the API that can show someone else's posts, people or lists. A module that adds a
 * read (search, hashtags, notifications, …) adds it here.
 */
export const READS: Read[] = [
  { name: "homeTimeline", query: `query($n: Int!) { homeTimeline(first: $n) { edges { node { ${POST_FIELDS} } } } }`, variables: () => ({ n: 50 }), bystanderSees: BOTH },
  ...(["blocker", "blocked", "bystander"] as const).map((who) => ({
    name: `userTimeline of the ${who}`,
    query: `query($h: String!) { userTimeline(handle: $h, first: 50, includeReplies: true) { edges { node { ${POST_FIELDS} } } } }`,
    variables: (w: World) => ({ h: w[who].handle }),
    bystanderSees: who === "bystander" ? BOTH : [who],
  })),
  ...(["blocker", "blocked", "bystander"] as const).map((who) => ({
    name: `followers and following of the ${who}`,
    query: `query($h: String!) { user(handle: $h) { followers(first: 50) { edges { node { handle } } } following(first: 50) { edges { node { handle } } } } }`,
    variables: (w: World) => ({ h: w[who].handle }),
    // The block ended the two's follows of each other: their lists hold only the bystander.
    bystanderSees: who === "bystander" ? BOTH : [],
  })),
  {
    name: "the bystander's post: likers and replies",
    query: `query($id: ID!) { post(id: $id) { ${POST_FIELDS} likers(first: 50) { edges { node { handle } } } replies(first: 50) { edges { node { ${POST_FIELDS} } } } } }`,
    variables: (w) => ({ id: w.posts.bystander }),
    bystanderSees: BOTH,
  },
  {
    name: "the thread under the bystander's reply",
    query: `query($id: ID!) { post(id: $id) { ${POST_FIELDS} replies(first: 50) { edges { node { ${POST_FIELDS} } } } } }`,
    variables: (w) => ({ id: w.posts.bystanderReply }),
    bystanderSees: BOTH,
  },
  {
    name: "node and nodes",
    query: `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Post { ${POST_FIELDS} } } }`,
    variables: (w) => ({ ids: [w.posts.blocker, w.posts.blocked, w.posts.bystander, w.posts.bystanderRepostOfBlocker, w.posts.bystanderRepostOfBlocked] }),
    bystanderSees: BOTH,
  },
  {
    name: "searchPosts",
    query: `query { searchPosts(query: "post", first: 50) { edges { highlight { text matched } node { ${POST_FIELDS} } } } }`,
    variables: () => ({}),
    bystanderSees: BOTH,
  },
  {
    name: "searchUsers",
    query: `query { searchUsers(query: "blk", first: 50) { edges { node { id handle } } } }`,
    variables: () => ({}),
    bystanderSees: BOTH,
  },
  {
    name: "a tag's posts, and the trending tags' posts",
    query: `query { hashtag(name: "blktag") { posts(first: 50) { edges { node { ${POST_FIELDS} } } } } trendingHashtags(first: 5) { hashtag { posts(first: 10) { edges { node { ${POST_FIELDS} } } } } } }`,
    variables: () => ({}),
    bystanderSees: BOTH,
  },
];

interface World {
  blocker: TestUser;
  blocked: TestUser;
  bystander: TestUser;
  posts: Record<"blocker" | "blocked" | "bystander" | "blockedReply" | "bystanderReply" | "bystanderRepostOfBlocker" | "bystanderRepostOfBlocked", string>;
}

let api: TestApi;
let w: World;

async function mutate(name: string, input: Record<string, unknown>, as: TestUser, select = "id") {
  const result = await api.execute(
    `mutation($input: ${name[0]!.toUpperCase()}${name.slice(1)}Input!) { ${name}(input: $input) { __typename ... on Error { code message } ... on Node { ${select} } } }`,
    { input },
    { as },
  );
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return (result.data as Record<string, { __typename: string; code?: string; message?: string } & Record<string, unknown>>)[name]!;
}

async function post(as: TestUser, body: string, replyTo?: string) {
  const created = await mutate("createPost", { body, ...(replyTo ? { replyToId: replyTo } : {}) }, as);
  expect(created.__typename).toBe("Post");
  return created.id as string;
}

/** What of `user` a response holds: their handle or id, or the words of a post of theirs ("… by <handle>"). */
const traces = (data: unknown, user: TestUser) => {
  const text = JSON.stringify(data);
  return [`"${user.handle}"`, `"${user.id}"`, ` by ${user.handle}"`].filter((trace) => text.includes(trace));
};

beforeAll(async () => {
  api = await testApi();
  const [blocker, blocked, bystander] = [await api.signUp({ handle: "blk_blocker" }), await api.signUp({ handle: "blk_blocked" }), await api.signUp({ handle: "blk_bystander" })];
  // Everyone follows everyone; each posts, replies into the others' threads and likes the bystander's post.
  for (const a of [blocker, blocked, bystander]) {
    for (const b of [blocker, blocked, bystander]) if (a !== b) await mutate("follow", { userId: b.id }, a);
  }
  const blockerPost = await post(blocker, `#BlkTag post by ${blocker.handle}`);
  const blockedPost = await post(blocked, `#BlkTag post by ${blocked.handle}`);
  // The bystander mentions both: each of the two sees the mention of the other as no one.
  const bystanderPost = await post(bystander, `#BlkTag for @${blocker.handle} and @${blocked.handle}, post by ${bystander.handle}`);
  const blockedReply = await post(blocked, `reply by ${blocked.handle}`, bystanderPost);
  await post(blocker, `reply by ${blocker.handle}`, bystanderPost);
  const bystanderReply = await post(bystander, `answer by ${bystander.handle}`, blockedReply);
  await post(blocker, `answer by ${blocker.handle}`, bystanderReply);
  for (const u of [blocker, blocked]) await mutate("likePost", { postId: bystanderPost }, u);
  const repostOf = async (id: string) => (await mutate("repost", { postId: id }, bystander)).id as string;
  w = {
    blocker,
    blocked,
    bystander,
    posts: {
      blocker: blockerPost,
      blocked: blockedPost,
      bystander: bystanderPost,
      blockedReply,
      bystanderReply,
      bystanderRepostOfBlocker: await repostOf(blockerPost),
      bystanderRepostOfBlocked: await repostOf(blockedPost),
    },
  };
  const block = await mutate("block", { userId: blocked.id }, blocker, "... on User { handle viewerHasBlocked blocksViewer followerCount followingCount }");
  expect(block).toMatchObject({ __typename: "User", handle: blocked.handle, viewerHasBlocked: true, blocksViewer: false });
});

describe("a block, the matrix: every read, as either of the two, shows nothing of the other", () => {
  it.each(READS.flatMap((read) => [{ ...read, as: "blocked" as const }, { ...read, as: "blocker" as const }]))("$name, as the $as", async ({ query, variables, as }) => {
    const other = as === "blocked" ? w.blocker : w.blocked;
    const result = await api.execute(query, variables(w), { as: w[as] });
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    expect(traces(result.data, other), JSON.stringify(result.data)).toEqual([]);
  });

  it.each(READS)("$name, as the bystander, shows whom no block hides from them", async ({ query, variables, bystanderSees }) => {
    const result = await api.execute(query, variables(w), { as: w.bystander });
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    for (const who of BOTH) expect(traces(result.data, w[who]).length > 0, `${who}: ${JSON.stringify(result.data)}`).toBe(bystanderSees.includes(who));
  });
});

describe("a block", () => {
  it("keeps the thread's shape: the other's reply is there, unavailable, with the replies beneath it", async () => {
    const result = await api.execute(
      `query($id: ID!) { post(id: $id) { replies(first: 10) { edges { node { id isUnavailable body author { handle } editedAt replies(first: 5) { edges { node { body author { handle } } } } } } } } }`,
      { id: w.posts.bystander },
      { as: w.blocker },
    );
    const replies = (result.data as { post: { replies: { edges: { node: Record<string, unknown> }[] } } }).post.replies.edges.map((e) => e.node);
    expect(replies).toEqual([
      {
        id: w.posts.blockedReply,
        isUnavailable: true,
        body: null,
        author: null,
        editedAt: null,
        replies: { edges: [{ node: { body: `answer by ${w.bystander.handle}`, author: { handle: w.bystander.handle } } }] },
      },
      expect.objectContaining({ isUnavailable: false, body: `reply by ${w.blocker.handle}`, author: { handle: w.blocker.handle } }),
    ]);
  });

  it("ended the follows both ways, with exact counters", async () => {
    const profile = `query($h: String!) { user(handle: $h) { followerCount followingCount viewerFollows followsViewer viewerHasBlocked blocksViewer } }`;
    const asBlocker = await api.execute(profile, { h: w.blocked.handle }, { as: w.blocker });
    expect(asBlocker.data).toEqual({ user: { followerCount: 1, followingCount: 1, viewerFollows: false, followsViewer: false, viewerHasBlocked: true, blocksViewer: false } });
    const asBlocked = await api.execute(profile, { h: w.blocker.handle }, { as: w.blocked });
    expect(asBlocked.data).toEqual({ user: { followerCount: 1, followingCount: 1, viewerFollows: false, followsViewer: false, viewerHasBlocked: false, blocksViewer: true } });
    const rows = await api.db.follow.count({ where: { OR: [{ followerId: w.blocker.dbId, followeeId: w.blocked.dbId }, { followerId: w.blocked.dbId, followeeId: w.blocker.dbId }] } });
    expect(rows).toBe(0);
  });

  it.each([
    ["follow", (o: TestUser) => ({ userId: o.id })],
    ["likePost", () => ({ postId: "" })],
    ["repost", () => ({ postId: "" })],
    ["createPost", () => ({ body: "a reply", replyToId: "" })],
  ] as const)("refuses %s between the two, either way, with a ForbiddenError, and changes nothing", async (name, input) => {
    for (const [as, other] of [[w.blocked, w.blocker], [w.blocker, w.blocked]] as const) {
      const target = other === w.blocker ? w.posts.blocker : w.posts.blocked;
      const values = Object.fromEntries(Object.entries(input(other)).map(([k, v]) => [k, v === "" ? target : v]));
      const before = await api.db.post.findUniqueOrThrow({ where: { id: Number(Buffer.from(target, "base64").toString().split(":")[1]) } });
      const result = await mutate(name, values, as);
      expect(result).toMatchObject({ __typename: "ForbiddenError", code: "FORBIDDEN" });
      expect(result.message).toMatch(as === w.blocker ? /you blocked/i : /does not allow/i);
      const after = await api.db.post.findUniqueOrThrow({ where: { id: before.id } });
      expect(after).toEqual(before);
    }
    expect(await api.db.follow.count({ where: { followerId: { in: [w.blocker.dbId, w.blocked.dbId] }, followeeId: { in: [w.blocker.dbId, w.blocked.dbId] } } })).toBe(0);
  });

  it("still lets the blocked take back what they did before: unlike, unfollow, undo a repost", async () => {
    const unlike = await mutate("unlikePost", { postId: w.posts.bystander }, w.blocked);
    expect(unlike.__typename).toBe("Post");
    await mutate("likePost", { postId: w.posts.bystander }, w.blocked);
    expect((await mutate("unfollow", { userId: w.blocker.id }, w.blocked)).__typename).toBe("User");
  });

  it("and a follow racing it never leave a follow beside a block, nor a counter off", async () => {
    for (let round = 0; round < 8; round++) {
      const [a, b] = [await api.signUp(), await api.signUp()];
      await mutate("follow", { userId: b.id }, a);
      await Promise.all([mutate("follow", { userId: a.id }, b), mutate("block", { userId: b.id }, a)]);
      const users = await api.db.user.findMany({ where: { id: { in: [a.dbId, b.dbId] } }, select: { followerCount: true, followingCount: true } });
      expect(users).toEqual([{ followerCount: 0, followingCount: 0 }, { followerCount: 0, followingCount: 0 }]);
      expect(await api.db.follow.count({ where: { followerId: { in: [a.dbId, b.dbId] } } })).toBe(0);
    }
  });

  it("lists whom the viewer blocked, to them only", async () => {
    const list = `query($h: String!) { user(handle: $h) { blockedUsers(first: 10) { edges { node { handle viewerHasBlocked } } } } }`;
    expect((await api.execute(list, { h: w.blocker.handle }, { as: w.blocker })).data).toEqual({
      user: { blockedUsers: { edges: [{ node: { handle: w.blocked.handle, viewerHasBlocked: true } }] } },
    });
    for (const as of [w.blocked, w.bystander, null]) {
      const result = await api.execute(list, { h: w.blocker.handle }, { as });
      expect(result.data).toEqual({ user: { blockedUsers: null } });
      expect(result.errors?.[0]?.extensions?.code).toBe(as ? "FORBIDDEN" : "UNAUTHENTICATED");
    }
  });

  it("refuses blocking oneself, an unknown user, or without a writing credential", async () => {
    const self = await mutate("block", { userId: w.bystander.id }, w.bystander, "id");
    expect(self).toMatchObject({ __typename: "ValidationError" });
    const unknown = await mutate("block", { userId: globalId("User", 99_999_999) }, w.bystander);
    expect(unknown).toMatchObject({ __typename: "NotFoundError", code: "NOT_FOUND" });
    const anonymous = await api.execute(`mutation($id: ID!) { block(input: { userId: $id }) { __typename } }`, { id: w.blocker.id });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("is idempotent, and unblocking brings the posts back but not the follows", async () => {
    const again = await mutate("block", { userId: w.blocked.id }, w.blocker, "... on User { followerCount }");
    expect(again).toMatchObject({ __typename: "User", followerCount: 1 });
    const timeline = `query($h: String!) { userTimeline(handle: $h, first: 50) { edges { node { body } } } }`;
    expect((await api.execute(timeline, { h: w.blocker.handle }, { as: w.blocked })).data).toEqual({ userTimeline: { edges: [] } });
    await mutate("unblock", { userId: w.blocked.id }, w.blocker);
    const after = await api.execute(timeline, { h: w.blocker.handle }, { as: w.blocked });
    expect((after.data as { userTimeline: { edges: unknown[] } }).userTimeline.edges.length).toBeGreaterThan(0);
    const profile = await api.execute(`query($h: String!) { user(handle: $h) { viewerFollows blocksViewer } }`, { h: w.blocker.handle }, { as: w.blocked });
    expect(profile.data).toEqual({ user: { viewerFollows: false, blocksViewer: false } });
    // Blocked again for whatever runs after this.
    await mutate("block", { userId: w.blocked.id }, w.blocker);
  });
});

describe("a mute", () => {
  let muter: TestUser;
  let muted: TestUser;
  let friend: TestUser;

  beforeAll(async () => {
    [muter, muted, friend] = [await api.signUp({ handle: "mute_muter" }), await api.signUp({ handle: "mute_muted" }), await api.signUp({ handle: "mute_friend" })];
    for (const u of [muted, friend]) await mutate("follow", { userId: u.id }, muter);
    await mutate("follow", { userId: friend.id }, muted);
    const mutedPost = await post(muted, `post by ${muted.handle}`);
    await post(friend, `post by ${friend.handle}`);
    await mutate("repost", { postId: mutedPost }, friend);
    const friendPost = await post(friend, `second post by ${friend.handle}`);
    await mutate("repost", { postId: friendPost }, muted);
    const result = await mutate("mute", { userId: muted.id }, muter, "... on User { viewerHasMuted viewerFollows }");
    expect(result).toMatchObject({ __typename: "User", viewerHasMuted: true, viewerFollows: true });
  });

  const home = `query { homeTimeline(first: 50) { edges { node { body author { handle } repostOf { body author { handle } } } } } }`;

  it("takes the muted user's posts and reposts, and reposts of their posts, out of the muter's home timeline", async () => {
    const result = await api.execute(home, {}, { as: muter });
    expect(traces(result.data, muted)).toEqual([]);
    expect(traces(result.data, friend)).not.toEqual([]);
  });

  it("changes nothing else: the muted user's profile and posts, and everything the muted user sees", async () => {
    const timeline = await api.execute(`query($h: String!) { userTimeline(handle: $h, first: 5) { edges { node { body } } } }`, { h: muted.handle }, { as: muter });
    expect((timeline.data as { userTimeline: { edges: unknown[] } }).userTimeline.edges).toHaveLength(2);
    // Nothing tells the muted user: the muter looks the same to them, and they can still follow and like.
    const seen = await api.execute(`query($h: String!) { user(handle: $h) { viewerHasMuted viewerHasBlocked blocksViewer followsViewer } }`, { h: muter.handle }, { as: muted });
    expect(seen.data).toEqual({ user: { viewerHasMuted: false, viewerHasBlocked: false, blocksViewer: false, followsViewer: true } });
    expect((await mutate("follow", { userId: muter.id }, muted)).__typename).toBe("User");
    const mutedHome = await api.execute(home, {}, { as: muted });
    expect(traces(mutedHome.data, friend)).not.toEqual([]);
  });

  it("is listed to the muter only, and unmuting brings the posts back", async () => {
    const list = await api.execute(`query { viewer { mutedUsers(first: 5) { edges { node { handle viewerHasMuted } } } } }`, {}, { as: muter });
    expect(list.data).toEqual({ viewer: { mutedUsers: { edges: [{ node: { handle: muted.handle, viewerHasMuted: true } }] } } });
    const other = await api.execute(`query($h: String!) { user(handle: $h) { mutedUsers(first: 5) { edges { node { handle } } } } }`, { h: muter.handle }, { as: muted });
    expect(other.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    await mutate("unmute", { userId: muted.id }, muter);
    expect(traces((await api.execute(home, {}, { as: muter })).data, muted)).not.toEqual([]);
    await mutate("mute", { userId: muted.id }, muter);
  });

  it("refuses muting oneself and an unknown user", async () => {
    expect(await mutate("mute", { userId: muter.id }, muter)).toMatchObject({ __typename: "ValidationError" });
    expect(await mutate("mute", { userId: globalId("User", 99_999_999) }, muter)).toMatchObject({ __typename: "NotFoundError" });
  });
});
