import { beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../gql/index.js";
import type { NotificationKind } from "../gql/graphql.js";
import { type As, type TestApi, type TestUser, globalId, testApi } from "../support/api.js";

const Notifications = graphql(`
  query NotificationsList($first: Int!, $after: String, $kinds: [NotificationKind!]) {
    viewer {
      unreadNotificationCount
      notifications(first: $first, after: $after, kinds: $kinds) {
        edges {
          cursor
          node {
            id
            kind
            actorCount
            isRead
            createdAt
            post { id body }
            actors(first: 10) { edges { node { handle } } }
          }
        }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const Actors = graphql(`
  query NotificationsActors($id: ID!, $first: Int!, $after: String) {
    node(id: $id) {
      ... on Notification {
        actorCount
        actors(first: $first, after: $after) { edges { node { handle } } pageInfo { hasNextPage endCursor } }
      }
    }
  }
`);
const NodeLookup = graphql(`
  query NotificationsNode($id: ID!) {
    node(id: $id) { __typename ... on Notification { id kind } }
  }
`);
const OthersNotifications = graphql(`
  query NotificationsOfOthers($handle: String!) {
    user(handle: $handle) { handle unreadNotificationCount notifications(first: 5) { edges { node { id } } } }
  }
`);
const MarkRead = graphql(`
  mutation NotificationsMarkRead($input: MarkNotificationsReadInput!) {
    markNotificationsRead(input: $input) {
      __typename
      ... on User { unreadNotificationCount notifications(first: 10) { edges { node { id isRead } } } }
      ... on Error { code message }
    }
  }
`);
const CreatePost = graphql(`
  mutation NotificationsCreatePost($input: CreatePostInput!) {
    createPost(input: $input) { __typename ... on Post { id } ... on Error { code message } }
  }
`);
const DeletePost = graphql(`
  mutation NotificationsDeletePost($input: DeletePostInput!) {
    deletePost(input: $input) { __typename ... on Error { code message } }
  }
`);
const Like = graphql(`
  mutation NotificationsLike($input: LikePostInput!) {
    likePost(input: $input) { __typename ... on Post { likeCount } ... on Error { code message } }
  }
`);
const Unlike = graphql(`
  mutation NotificationsUnlike($input: UnlikePostInput!) {
    unlikePost(input: $input) { __typename ... on Post { likeCount } ... on Error { code message } }
  }
`);
const Repost = graphql(`
  mutation NotificationsRepost($input: RepostInput!) {
    repost(input: $input) { __typename ... on Post { id } ... on Error { code message } }
  }
`);
const UndoRepost = graphql(`
  mutation NotificationsUndoRepost($input: UndoRepostInput!) {
    undoRepost(input: $input) { __typename ... on Error { code message } }
  }
`);
const Follow = graphql(`
  mutation NotificationsFollow($input: FollowInput!) {
    follow(input: $input) { __typename ... on User { followerCount } ... on Error { code message } }
  }
`);
const Unfollow = graphql(`
  mutation NotificationsUnfollow($input: UnfollowInput!) {
    unfollow(input: $input) { __typename ... on Error { code message } }
  }
`);
const Mute = graphql(`
  mutation NotificationsMute($input: MuteInput!) { mute(input: $input) { __typename } }
`);
const Block = graphql(`
  mutation NotificationsBlock($input: BlockInput!) { block(input: $input) { __typename } }
`);

let api: TestApi;
beforeAll(async () => {
  api = await testApi();
});

async function ok<R>(promise: Promise<{ data?: R | null; errors?: unknown }>): Promise<R> {
  const result = await promise;
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data!;
}

async function post(as: TestUser, body: string, replyToId?: string) {
  const { createPost } = await ok(api.execute(CreatePost, { input: { body, replyToId } }, { as }));
  if (createPost.__typename !== "Post") throw new Error(JSON.stringify(createPost));
  return createPost.id;
}
const like = (as: As, postId: string) => ok(api.execute(Like, { input: { postId } }, { as }));
const unlike = (as: As, postId: string) => ok(api.execute(Unlike, { input: { postId } }, { as }));
const follow = (as: As, userId: string) => ok(api.execute(Follow, { input: { userId } }, { as }));

/** The viewer's entries, newest first, and their unread count. */
async function inbox(as: TestUser, { first = 50, after, kinds }: { first?: number; after?: string; kinds?: NotificationKind[] } = {}) {
  const { viewer } = await ok(api.execute(Notifications, { first, after, kinds }, { as }));
  const entries = viewer!.notifications!.edges.map(({ cursor, node }) => ({
    ...node,
    cursor,
    actors: node.actors.edges.map((e) => e.node.handle),
  }));
  return { unread: viewer!.unreadNotificationCount!, entries, pageInfo: viewer!.notifications!.pageInfo };
}

async function markRead(as: TestUser, upToId?: string) {
  const { markNotificationsRead } = await ok(api.execute(MarkRead, { input: { upToId } }, { as }));
  return markNotificationsRead;
}

let people = 0;
const signUp = (name: string) => api.signUp({ handle: `${name}_${++people}`.slice(0, 20) });

describe("each kind of notification", () => {
  it("tells the author of a like, a repost, a reply and a follow, and no one else", async () => {
    const [author, fan, stranger] = [await signUp("kind_author"), await signUp("kind_fan"), await signUp("kind_stranger")];
    const postId = await post(author, "a post worth it");
    await like(fan, postId);
    await ok(api.execute(Repost, { input: { postId } }, { as: fan }));
    const replyId = await post(fan, "a reply", postId);
    await follow(fan, author.id);

    const { unread, entries } = await inbox(author);
    expect(unread).toBe(4);
    expect(entries.map(({ kind, actorCount, isRead, post, actors }) => ({ kind, actorCount, isRead, post: post?.id ?? null, actors }))).toEqual([
      { kind: "FOLLOW", actorCount: 1, isRead: false, post: null, actors: [fan.handle] },
      { kind: "REPLY", actorCount: 1, isRead: false, post: replyId, actors: [fan.handle] },
      { kind: "REPOST", actorCount: 1, isRead: false, post: postId, actors: [fan.handle] },
      { kind: "LIKE", actorCount: 1, isRead: false, post: postId, actors: [fan.handle] },
    ]);
    expect(entries[1]!.post!.body).toBe("a reply");
    for (const entry of entries) expect(Date.parse(entry.createdAt)).toBeGreaterThan(Date.now() - 60_000);

    expect(await inbox(fan)).toMatchObject({ unread: 0, entries: [] });
    expect(await inbox(stranger)).toMatchObject({ unread: 0, entries: [] });
  });

  it("does not notify anyone of what they do to themselves", async () => {
    const author = await signUp("self");
    const postId = await post(author, "mine");
    await like(author, postId);
    await ok(api.execute(Repost, { input: { postId } }, { as: author }));
    await post(author, "talking to myself", postId);
    expect(await inbox(author)).toMatchObject({ unread: 0, entries: [] });
  });

  it("a like of a repost notifies the original's author", async () => {
    const [author, reposter, fan] = [await signUp("orig_author"), await signUp("orig_reposter"), await signUp("orig_fan")];
    const postId = await post(author, "original");
    const { repost } = await ok(api.execute(Repost, { input: { postId } }, { as: reposter }));
    await like(fan, (repost as { id: string }).id);
    const { entries } = await inbox(author);
    expect(entries.map((e) => [e.kind, e.post?.id, e.actors])).toEqual([
      ["LIKE", postId, [fan.handle]],
      ["REPOST", postId, [reposter.handle]],
    ]);
    expect(await inbox(reposter)).toMatchObject({ entries: [] });
  });
});

describe("grouping", () => {
  it("gathers likes of one post into one entry, actors newest first, and takes each back on unlike", async () => {
    const author = await signUp("group_author");
    const fans = [await signUp("group_ana"), await signUp("group_ben"), await signUp("group_cy")];
    const postId = await post(author, "popular");
    for (const fan of fans) await like(fan, postId);

    let { unread, entries } = await inbox(author);
    expect(unread).toBe(1);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ kind: "LIKE", actorCount: 3, isRead: false, post: { id: postId }, actors: fans.map((f) => f.handle).reverse() });
    const latest = entries[0]!.createdAt;

    // The latest liker takes it back: two left, and the entry's time is the one before.
    await unlike(fans[2]!, postId);
    ({ unread, entries } = await inbox(author));
    expect(entries[0]).toMatchObject({ actorCount: 2, actors: [fans[1]!.handle, fans[0]!.handle] });
    expect(Date.parse(entries[0]!.createdAt)).toBeLessThanOrEqual(Date.parse(latest));
    // Unliking twice changes nothing.
    await unlike(fans[2]!, postId);
    expect((await inbox(author)).entries[0]!.actorCount).toBe(2);

    await unlike(fans[0]!, postId);
    expect((await inbox(author)).entries[0]).toMatchObject({ actorCount: 1, actors: [fans[1]!.handle] });
    await unlike(fans[1]!, postId);
    expect(await inbox(author)).toMatchObject({ unread: 0, entries: [] });
  });

  it("groups reposts and follows the same way, and undoing them ungroups", async () => {
    const author = await signUp("group2_author");
    const fans = [await signUp("group2_a"), await signUp("group2_b")];
    const postId = await post(author, "share me");
    for (const fan of fans) {
      await ok(api.execute(Repost, { input: { postId } }, { as: fan }));
      await follow(fan, author.id);
    }
    let { entries } = await inbox(author);
    expect(entries.map((e) => [e.kind, e.actorCount, e.actors])).toEqual([
      ["FOLLOW", 2, [fans[1]!.handle, fans[0]!.handle]],
      ["REPOST", 2, [fans[1]!.handle, fans[0]!.handle]],
    ]);
    await ok(api.execute(UndoRepost, { input: { postId } }, { as: fans[0]! }));
    await ok(api.execute(Unfollow, { input: { userId: author.id } }, { as: fans[1]! }));
    ({ entries } = await inbox(author));
    // The follows' latest actor left: that entry falls back to its other follow, older than the repost left.
    expect(entries.map((e) => [e.kind, e.actorCount, e.actors])).toEqual([
      ["REPOST", 1, [fans[1]!.handle]],
      ["FOLLOW", 1, [fans[0]!.handle]],
    ]);
    // Deleting the repost itself is undoing it.
    const { repost } = await ok(api.execute(Repost, { input: { postId } }, { as: fans[1]! }));
    await ok(api.execute(DeletePost, { input: { postId: (repost as { id: string }).id } }, { as: fans[1]! }));
    ({ entries } = await inbox(author));
    expect(entries.map((e) => e.kind)).toEqual(["FOLLOW"]);
  });

  it("never groups replies", async () => {
    const author = await signUp("reply_author");
    const fan = await signUp("reply_fan");
    const postId = await post(author, "ask me anything");
    const first = await post(fan, "one", postId);
    const second = await post(fan, "two", postId);
    const { unread, entries } = await inbox(author);
    expect(unread).toBe(2);
    expect(entries.map((e) => [e.kind, e.actorCount, e.post?.id])).toEqual([
      ["REPLY", 1, second],
      ["REPLY", 1, first],
    ]);
  });

  it("starts a new entry for a like after the window of the last one", async () => {
    const author = await signUp("window_author");
    const fans = [await signUp("window_a"), await signUp("window_b"), await signUp("window_c")];
    const postId = await post(author, "slow burner");
    await like(fans[0]!, postId);
    // The entry as it would be had its window opened 11 hours ago: still open.
    const age = (hours: number) => api.db.$executeRaw`
      UPDATE notifications SET window_start = window_start - make_interval(hours => ${hours}),
        group_key = 'LIKE:' || post_id || ':' || extract(epoch FROM window_start - make_interval(hours => ${hours}))::bigint
      WHERE recipient_id = ${author.dbId}`;
    await age(11);
    await like(fans[1]!, postId);
    expect((await inbox(author)).entries.map((e) => e.actorCount)).toEqual([2]);
    // Opened 13 hours ago: closed, the next like starts an entry of its own.
    await age(2);
    await like(fans[2]!, postId);
    const { unread, entries } = await inbox(author);
    expect(entries.map((e) => [e.actorCount, e.actors])).toEqual([
      [1, [fans[2]!.handle]],
      [2, [fans[1]!.handle, fans[0]!.handle]],
    ]);
    expect(unread).toBe(2);
  });
});

describe("read state and the unread count", () => {
  it("marks everything read, then an entry with new activity is unread again and moves to the top", async () => {
    const author = await signUp("read_author");
    const fans = [await signUp("read_a"), await signUp("read_b")];
    const older = await post(author, "older");
    const newer = await post(author, "newer");
    await like(fans[0]!, older);
    await like(fans[0]!, newer);
    expect((await inbox(author)).unread).toBe(2);

    const marked = await markRead(author);
    expect(marked).toMatchObject({ __typename: "User", unreadNotificationCount: 0 });
    expect((await inbox(author)).entries.map((e) => e.isRead)).toEqual([true, true]);

    await like(fans[1]!, older);
    const { unread, entries } = await inbox(author);
    expect(unread).toBe(1);
    expect(entries.map((e) => [e.post?.id, e.isRead, e.actorCount])).toEqual([
      [older, false, 2],
      [newer, true, 1],
    ]);
    // More activity on an unread entry leaves the count alone.
    await follow(fans[1]!, author.id);
    await ok(api.execute(Repost, { input: { postId: older } }, { as: fans[0]! }));
    expect((await inbox(author)).unread).toBe(3);
    await ok(api.execute(Repost, { input: { postId: older } }, { as: fans[1]! }));
    expect((await inbox(author)).unread).toBe(3);
  });

  it("marks read up to an entry: that one and those below it", async () => {
    const author = await signUp("upto_author");
    const fan = await signUp("upto_fan");
    const posts = [await post(author, "p1"), await post(author, "p2"), await post(author, "p3")];
    for (const p of posts) await like(fan, p);
    const { entries } = await inbox(author);
    const marked = await markRead(author, entries[1]!.id);
    expect(marked).toMatchObject({ unreadNotificationCount: 1 });
    expect((await inbox(author)).entries.map((e) => e.isRead)).toEqual([false, true, true]);
    // Again: nothing more to mark.
    expect(await markRead(author, entries[1]!.id)).toMatchObject({ unreadNotificationCount: 1 });
    expect(await markRead(author)).toMatchObject({ unreadNotificationCount: 0 });
  });

  it("refuses an entry that is not the viewer's, and a malformed id", async () => {
    const [author, fan, stranger] = [await signUp("mark_author"), await signUp("mark_fan"), await signUp("mark_stranger")];
    await like(fan, await post(author, "x"));
    const { entries } = await inbox(author);
    expect(await markRead(stranger, entries[0]!.id)).toMatchObject({ __typename: "NotFoundError", code: "NOT_FOUND" });
    expect(await markRead(author, globalId("Notification", 2_000_000_000))).toMatchObject({ __typename: "NotFoundError" });
    expect(await markRead(author, globalId("Post", 1))).toMatchObject({ __typename: "ValidationError", code: "BAD_USER_INPUT" });
    expect((await inbox(author)).unread).toBe(1);
  });

  it("counts down when a post with unread notifications is deleted, and its notifications go", async () => {
    const [author, fan] = [await signUp("del_author"), await signUp("del_fan")];
    const kept = await post(author, "kept");
    const doomed = await post(author, "doomed");
    await like(fan, kept);
    await like(fan, doomed);
    await ok(api.execute(Repost, { input: { postId: doomed } }, { as: fan }));
    const reply = await post(fan, "reply to doomed", doomed);
    const replyToKept = await post(fan, "reply to kept", kept);
    expect((await inbox(author)).unread).toBe(5);
    await markRead(author, (await inbox(author)).entries.find((e) => e.kind === "REPOST")!.id);

    await ok(api.execute(DeletePost, { input: { postId: doomed } }, { as: author }));
    let { unread, entries } = await inbox(author);
    // The like and repost of the deleted post go; the reply to it stays (the reply is not deleted).
    expect(entries.map((e) => [e.kind, e.post?.id])).toEqual([
      ["REPLY", replyToKept],
      ["REPLY", reply],
      ["LIKE", kept],
    ]);
    expect(unread).toBe(2);

    // The reply is deleted: the notification it caused goes too.
    await ok(api.execute(DeletePost, { input: { postId: reply } }, { as: fan }));
    ({ unread, entries } = await inbox(author));
    expect(entries.map((e) => e.post?.id)).toEqual([replyToKept, kept]);
    expect(unread).toBe(1);
  });
});

describe("taking activity back after a read", () => {
  type Step = (actor: TestUser, recipient: TestUser, postId: string) => Promise<unknown>;
  const repost: Step = (actor, _r, postId) => ok(api.execute(Repost, { input: { postId } }, { as: actor }));
  const cases: [string, NotificationKind, Step, Step][] = [
    ["like, unlike", "LIKE", (a, _r, p) => like(a, p), (a, _r, p) => unlike(a, p)],
    ["follow, unfollow", "FOLLOW", (a, r) => follow(a, r.id), (a, r) => ok(api.execute(Unfollow, { input: { userId: r.id } }, { as: a }))],
    ["repost, undoRepost", "REPOST", repost, (a, _r, postId) => ok(api.execute(UndoRepost, { input: { postId } }, { as: a }))],
    ["like, then the recipient blocks the liker", "LIKE", (a, _r, p) => like(a, p), (a, r) => ok(api.execute(Block, { input: { userId: a.id } }, { as: r }))],
    ["like, then the recipient mutes the liker", "LIKE", (a, _r, p) => like(a, p), (a, r) => ok(api.execute(Mute, { input: { userId: a.id } }, { as: r }))],
  ];

  it.each(cases)("%s: the entry is read again, back in its place by time, and the count back", async (_name, kind, act, undo) => {
    const [recipient, bob, zby, other, carol] = [await signUp("back_r"), await signUp("back_bob"), await signUp("back_zby"), await signUp("back_other"), await signUp("back_carol")];
    const [subject, later] = [await post(recipient, "subject"), await post(recipient, "later")];
    await act(bob, recipient, subject);
    await act(zby, recipient, subject);
    await like(other, later); // an entry with later activity, above the subject's
    await markRead(recipient);
    const before = await inbox(recipient);
    expect(before.unread).toBe(0);
    expect(before.entries.map((e) => [e.kind, e.actors, e.isRead])).toEqual([
      ["LIKE", [other.handle], true],
      [kind, [zby.handle, bob.handle], true],
    ]);

    await act(carol, recipient, subject);
    const during = await inbox(recipient);
    expect(during.unread).toBe(1);
    expect(during.entries.map((e) => [e.kind, e.actors[0], e.isRead])).toEqual([
      [kind, carol.handle, false],
      ["LIKE", other.handle, true],
    ]);

    await undo(carol, recipient, subject);
    // As if carol had never acted: cursors (the entries' seqs) and times included.
    const after = await inbox(recipient);
    expect(after).toEqual(before);
    const times = after.entries.map((e) => Date.parse(e.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // Paging meets each entry once.
    const first = await inbox(recipient, { first: 1 });
    const second = await inbox(recipient, { first: 1, after: first.pageInfo.endCursor! });
    expect([...first.entries, ...second.entries].map((e) => e.id)).toEqual(before.entries.map((e) => e.id));
    expect(second.pageInfo.hasNextPage).toBe(false);
  });

  it("taking back an actor who is not the only unread one leaves the entry unread, at its latest remaining activity", async () => {
    const [r, b, c, d, e, f] = [await signUp("keep_r"), await signUp("keep_bob"), await signUp("keep_carol"), await signUp("keep_dan"), await signUp("keep_eve"), await signUp("keep_fay")];
    const [subject, later] = [await post(r, "subject"), await post(r, "later")];
    await like(b, subject);
    await like(e, later);
    await markRead(r);

    // Two unread likes: taking back the earlier of them changes nothing but the actors.
    await like(c, subject);
    await like(d, subject);
    const both = await inbox(r);
    await unlike(c, subject);
    let now = await inbox(r);
    expect(now.unread).toBe(1);
    expect(now.entries.map((x) => [x.post?.id, x.actors, x.isRead])).toEqual([
      [subject, [d.handle, b.handle], false],
      [later, [e.handle], true],
    ]);
    expect(now.entries[0]!.createdAt).toBe(both.entries[0]!.createdAt);
    expect(now.entries[0]!.cursor).toBe(both.entries[0]!.cursor);

    // Carol again, then later activity elsewhere, then dan: dan's leaving moves the entry down to
    // carol's like, below the other entry's, and it stays unread (carol's like is unread).
    await unlike(d, subject);
    await like(c, subject);
    await like(f, later);
    await like(d, subject);
    expect((await inbox(r)).entries.map((x) => x.post?.id)).toEqual([subject, later]);
    await unlike(d, subject);
    now = await inbox(r);
    expect(now.unread).toBe(2);
    expect(now.entries.map((x) => [x.post?.id, x.actors, x.isRead])).toEqual([
      [later, [f.handle, e.handle], false],
      [subject, [c.handle, b.handle], false],
    ]);
    // Carol leaves too: nothing unread is left in it.
    await unlike(c, subject);
    now = await inbox(r);
    expect(now.unread).toBe(1);
    expect(now.entries.map((x) => [x.post?.id, x.actors, x.isRead])).toEqual([
      [later, [f.handle, e.handle], false],
      [subject, [b.handle], true],
    ]);
  });

  it("an entry whose latest actor leaves moves down: a page after one that showed it can show it again", async () => {
    const [r, a, b] = [await signUp("down_r"), await signUp("down_a"), await signUp("down_b")];
    const posts = [await post(r, "p0"), await post(r, "p1"), await post(r, "p2")];
    await like(a, posts[2]!);
    await like(a, posts[0]!);
    await like(a, posts[1]!);
    await like(b, posts[2]!);
    const first = await inbox(r, { first: 2 });
    expect(first.entries.map((x) => x.post?.id)).toEqual([posts[2], posts[1]]);
    // b's like was the latest of the top entry: it falls back to a's, the oldest, below the page's end.
    await unlike(b, posts[2]!);
    const second = await inbox(r, { first: 2, after: first.pageInfo.endCursor! });
    expect(second.entries.map((x) => x.post?.id)).toEqual([posts[0], posts[2]]);
    expect((await inbox(r)).entries.map((x) => x.post?.id)).toEqual([posts[1], posts[0], posts[2]]);
  });
});

describe("paging", () => {
  it("pages over entries, never splitting one, with cursors that hold when an entry moves to the top", async () => {
    const author = await signUp("page_author");
    const fans = [await signUp("page_a"), await signUp("page_b"), await signUp("page_c")];
    const posts: string[] = [];
    for (let i = 0; i < 6; i++) posts.push(await post(author, `post ${i}`));
    for (const p of posts) for (const fan of fans) await like(fan, p);

    const first = await inbox(author, { first: 2 });
    expect(first.entries.map((e) => [e.post?.id, e.actorCount])).toEqual([
      [posts[5], 3],
      [posts[4], 3],
    ]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    // An entry further down gets new activity: it moves to the top, and the next page goes on where the first ended.
    const mover = await signUp("page_mover");
    await like(mover, posts[1]!);
    const second = await inbox(author, { first: 2, after: first.pageInfo.endCursor! });
    expect(second.entries.map((e) => e.post?.id)).toEqual([posts[3], posts[2]]);
    const third = await inbox(author, { first: 2, after: second.pageInfo.endCursor! });
    expect(third.entries.map((e) => e.post?.id)).toEqual([posts[0]]);
    expect(third.pageInfo.hasNextPage).toBe(false);
    const top = await inbox(author, { first: 1 });
    expect(top.entries.map((e) => [e.post?.id, e.actorCount, e.actors[0]])).toEqual([[posts[1], 4, mover.handle]]);
  });

  it("pages over an entry's actors, newest first", async () => {
    const author = await signUp("actors_author");
    const fans = [await signUp("actors_a"), await signUp("actors_b"), await signUp("actors_c")];
    const postId = await post(author, "liked thrice");
    for (const fan of fans) await like(fan, postId);
    const id = (await inbox(author)).entries[0]!.id;
    const page1 = await ok(api.execute(Actors, { id, first: 2 }, { as: author }));
    const actors1 = page1.node as { actorCount: number; actors: { edges: { node: { handle: string } }[]; pageInfo: { hasNextPage: boolean; endCursor?: string | null } } };
    expect(actors1.actors.edges.map((e) => e.node.handle)).toEqual([fans[2]!.handle, fans[1]!.handle]);
    const page2 = await ok(api.execute(Actors, { id, first: 2, after: actors1.actors.pageInfo.endCursor }, { as: author }));
    expect((page2.node as typeof actors1).actors.edges.map((e) => e.node.handle)).toEqual([fans[0]!.handle]);
  });

  it("filters by kind", async () => {
    const [author, fan] = [await signUp("kinds_author"), await signUp("kinds_fan")];
    const postId = await post(author, "filter me");
    await like(fan, postId);
    await follow(fan, author.id);
    await post(fan, "a reply", postId);
    expect((await inbox(author, { kinds: ["LIKE", "FOLLOW"] })).entries.map((e) => e.kind)).toEqual(["FOLLOW", "LIKE"]);
    expect((await inbox(author, { kinds: ["REPLY"] })).entries.map((e) => e.kind)).toEqual(["REPLY"]);
    expect((await inbox(author, { kinds: ["MENTION"] })).entries).toEqual([]);
    expect((await inbox(author, { kinds: [] })).entries).toEqual([]);
  });
});

describe("privacy", () => {
  it("shows nobody else a user's notifications: node(id) is null, the fields are FORBIDDEN or UNAUTHENTICATED", async () => {
    const [author, fan, stranger] = [await signUp("priv_author"), await signUp("priv_fan"), await signUp("priv_stranger")];
    await like(fan, await post(author, "private news"));
    const { entries } = await inbox(author);
    const id = entries[0]!.id;
    expect(await ok(api.execute(NodeLookup, { id }, { as: author }))).toEqual({ node: { __typename: "Notification", id, kind: "LIKE" } });
    expect(await ok(api.execute(NodeLookup, { id }, { as: stranger }))).toEqual({ node: null });
    expect(await ok(api.execute(NodeLookup, { id }, { as: fan }))).toEqual({ node: null });

    const byStranger = await api.execute(OthersNotifications, { handle: author.handle }, { as: stranger });
    expect(byStranger.data?.user).toEqual({ handle: author.handle, unreadNotificationCount: null, notifications: null });
    expect(byStranger.errors?.map((e) => e.extensions?.code)).toEqual(["FORBIDDEN", "FORBIDDEN"]);
    const anonymous = await api.execute(OthersNotifications, { handle: author.handle });
    expect(anonymous.errors?.map((e) => e.extensions?.code)).toEqual(["UNAUTHENTICATED", "UNAUTHENTICATED"]);
    const anonymousNode = await api.execute(NodeLookup, { id });
    expect(anonymousNode.data).toEqual({ node: null });
  });
});

describe("blocks and mutes", () => {
  it("none from someone the recipient muted: likes, reposts, replies and follows still happen, unheard", async () => {
    const [author, muted, other] = [await signUp("mute_author"), await signUp("mute_muted"), await signUp("mute_other")];
    const postId = await post(author, "quietly");
    await ok(api.execute(Mute, { input: { userId: muted.id } }, { as: author }));
    expect(await like(muted, postId)).toMatchObject({ likePost: { likeCount: 1 } });
    await like(other, postId);
    await ok(api.execute(Repost, { input: { postId } }, { as: muted }));
    await post(muted, "you muted me", postId);
    await follow(muted, author.id);
    const { unread, entries } = await inbox(author);
    expect(entries.map((e) => [e.kind, e.actors])).toEqual([["LIKE", [other.handle]]]);
    expect(unread).toBe(1);
    // Muting is one way: the muted user hears of the author's likes.
    const mutedPost = await post(muted, "mine");
    await like(author, mutedPost);
    expect((await inbox(muted)).entries.map((e) => e.kind)).toEqual(["LIKE"]);
  });

  it.each(["block", "mute"] as const)("a %s takes the other's part out of every entry of the recipient, with exact counts", async (how) => {
    const [author, gone, stays] = [await signUp(`forget_${how}_author`), await signUp(`forget_${how}_gone`), await signUp(`forget_${how}_stays`)];
    const [first, second] = [await post(author, "first"), await post(author, "second")];
    await like(stays, first);
    await like(gone, first); // the latest actor of this entry
    await like(gone, second); // the only one of this one
    await ok(api.execute(Repost, { input: { postId: first } }, { as: gone }));
    await post(gone, "a reply", first);
    await follow(stays, author.id);
    await follow(gone, author.id);
    await like(gone, await post(stays, "someone else's"));
    await markRead(author, (await inbox(author, { kinds: ["LIKE"] })).entries[1]!.id); // the first post's likes and older
    const before = await inbox(author);
    expect(before.entries.map((e) => [e.kind, e.actorCount])).toEqual([
      ["FOLLOW", 2], ["REPLY", 1], ["REPOST", 1], ["LIKE", 1], ["LIKE", 2],
    ]);
    expect(before.unread).toBe(4);

    if (how === "block") await ok(api.execute(Block, { input: { userId: gone.id } }, { as: author }));
    else await ok(api.execute(Mute, { input: { userId: gone.id } }, { as: author }));
    const after = await inbox(author);
    expect(after.entries.map((e) => [e.kind, e.actorCount, e.actors, e.isRead])).toEqual([
      ["FOLLOW", 1, [stays.handle], false],
      ["LIKE", 1, [stays.handle], true],
    ]);
    expect(after.unread).toBe(1);
    // The entry's time is now its remaining actor's.
    expect(Date.parse(after.entries[1]!.createdAt)).toBeLessThan(Date.parse(before.entries[4]!.createdAt));
    // Another recipient's notifications from the same actor stay.
    expect((await inbox(stays)).entries.map((e) => [e.kind, e.actors])).toEqual([["LIKE", [gone.handle]]]);
  });
});

describe("concurrency", () => {
  it("one user's likes and unlikes of one post racing each other (a client retrying, many tabs): never an error, the entry as the likes", async () => {
    const [author, fan, other] = [await signUp("flip_author"), await signUp("flip_fan"), await signUp("flip_other")];
    const postId = await post(author, "flip me");
    await like(other, postId);
    for (let round = 0; round < 6; round++) {
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? api.execute(Like, { input: { postId } }, { as: fan }) : api.execute(Unlike, { input: { postId } }, { as: fan }))),
      );
      for (const result of results) expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
      const [state] = await api.db.$queryRaw<{ liked: boolean; acted: boolean; count: number; actors: number }[]>`
        SELECT EXISTS (SELECT 1 FROM likes l JOIN posts p ON p.id = l.post_id WHERE l.user_id = ${fan.dbId} AND p.author_id = ${author.dbId}) AS liked,
          EXISTS (SELECT 1 FROM notification_actors a JOIN notifications n ON n.id = a.notification_id WHERE n.recipient_id = ${author.dbId} AND a.actor_id = ${fan.dbId}) AS acted,
          (SELECT actor_count FROM notifications WHERE recipient_id = ${author.dbId} AND kind = 'LIKE')::int AS count,
          (SELECT count(*) FROM notification_actors a JOIN notifications n ON n.id = a.notification_id WHERE n.recipient_id = ${author.dbId})::int AS actors`;
      expect(state!.acted).toBe(state!.liked);
      expect(state!.count).toBe(state!.actors);
    }
  });

  it("30 concurrent likes of one post by 30 users: one entry of 30, one unread; 30 concurrent unlikes empty it", async () => {
    const author = await signUp("race_author");
    const fans: TestUser[] = [];
    for (let i = 0; i < 30; i++) fans.push(await signUp(`race_${i}`));
    const postId = await post(author, "everyone at once");
    const liked = await Promise.all(fans.map((fan) => api.execute(Like, { input: { postId } }, { as: fan })));
    for (const result of liked) expect(result.errors).toBeUndefined();

    const { unread, entries } = await inbox(author);
    expect(unread).toBe(1);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.actorCount).toBe(30);
    const rows = await api.db.notificationActor.findMany({ where: { notificationId: Number(Buffer.from(entries[0]!.id, "base64").toString().split(":")[1]) } });
    expect(new Set(rows.map((r) => r.actorId)).size).toBe(30);

    // Concurrent follows of one user by the same 30, and half of them unlike meanwhile.
    const mixed = await Promise.all([
      ...fans.map((fan) => api.execute(Follow, { input: { userId: author.id } }, { as: fan })),
      ...fans.slice(0, 15).map((fan) => api.execute(Unlike, { input: { postId } }, { as: fan })),
    ]);
    for (const result of mixed) expect(result.errors).toBeUndefined();
    const after = await inbox(author);
    expect(after.entries.map((e) => [e.kind, e.actorCount])).toEqual([
      ["FOLLOW", 30],
      ["LIKE", 15],
    ]);
    expect(after.unread).toBe(2);

    await markRead(author);
    await Promise.all([
      ...fans.slice(15).map((fan) => api.execute(Unlike, { input: { postId } }, { as: fan })),
      ...fans.slice(0, 10).map((fan) => api.execute(Like, { input: { postId } }, { as: fan })),
      markRead(author),
    ]);
    const last = await inbox(author);
    expect(last.entries.map((e) => [e.kind, e.actorCount])).toEqual([
      ["LIKE", 10],
      ["FOLLOW", 30],
    ]);
    // Exact whichever way the races went: the counter equals the entries shown unread.
    expect(last.unread).toBe(last.entries.filter((e) => !e.isRead).length);
    // Concurrent unlikes of the latest likers: each entry's seq and time are its latest remaining actor's.
    await Promise.all(fans.slice(5, 10).map((fan) => api.execute(Unlike, { input: { postId } }, { as: fan })));
    const drift = await api.db.$queryRaw<unknown[]>`
      SELECT n.id FROM notifications n WHERE n.recipient_id = ${author.dbId} AND (
        n.seq <> (SELECT max(a.seq) FROM notification_actors a WHERE a.notification_id = n.id)
        OR n.latest_at <> (SELECT max(a.created_at) FROM notification_actors a WHERE a.notification_id = n.id)
        OR n.actor_count <> (SELECT count(*) FROM notification_actors a WHERE a.notification_id = n.id))`;
    expect(drift).toEqual([]);
    const end = await inbox(author);
    expect(end.entries.map((e) => [e.kind, e.actorCount])).toEqual([
      ["LIKE", 5],
      ["FOLLOW", 30],
    ]);
    expect(end.unread).toBe(end.entries.filter((e) => !e.isRead).length);
  });
});

describe("concurrency between recipients", () => {
  it("two users replying to, liking and following each other while reading and deleting: no deadlock, exact counters", async () => {
    const [ann, bea] = [await signUp("pair_ann"), await signUp("pair_bea")];
    const [annPost, beaPost] = [await post(ann, "ann's"), await post(bea, "bea's")];
    const results = await Promise.all(
      [ann, bea].flatMap((me, i) => {
        const [other, theirs] = i === 0 ? [bea, beaPost] : [ann, annPost];
        return [
          ...Array.from({ length: 6 }, (_, k) => api.execute(CreatePost, { input: { body: `re ${k}`, replyToId: theirs } }, { as: me })),
          api.execute(Like, { input: { postId: theirs } }, { as: me }),
          api.execute(Repost, { input: { postId: theirs } }, { as: me }),
          api.execute(Follow, { input: { userId: other.id } }, { as: me }),
          api.execute(MarkRead, { input: {} }, { as: me }),
          api.execute(Unlike, { input: { postId: theirs } }, { as: me }),
        ];
      }),
    );
    for (const result of results) expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    // Deleting a post with its entries while the other reads and replies.
    await Promise.all([
      api.execute(DeletePost, { input: { postId: annPost } }, { as: ann }),
      api.execute(MarkRead, { input: {} }, { as: bea }),
      api.execute(CreatePost, { input: { body: "late", replyToId: beaPost } }, { as: ann }),
    ]);
    for (const user of [ann, bea]) {
      const { unread, entries } = await inbox(user);
      expect(unread).toBe(entries.filter((e) => !e.isRead).length);
    }
    expect((await inbox(ann)).entries.every((e) => e.post?.id !== annPost)).toBe(true);
  });
});

const EditPost = graphql(`
  mutation NotificationsEditPost($input: EditPostInput!) { editPost(input: $input) { __typename } }
`);

describe("mentions", () => {
  it("a post that mentions users gives each one entry, never the author, none twice, and edits add only the newly mentioned", async () => {
    const [author, ana, ben, cy] = [await signUp("mention_author"), await signUp("mention_ana"), await signUp("mention_ben"), await signUp("mention_cy")];
    const postId = await post(author, `hello @${ana.handle} and @${ben.handle}, @${ana.handle.toUpperCase()} again, and me: @${author.handle}`);
    await ok(api.execute(EditPost, { input: { postId, body: `hello @${ana.handle} and @${cy.handle}` } }, { as: author }));
    for (const user of [ana, ben, cy]) {
      const { unread, entries } = await inbox(user);
      expect(unread).toBe(1);
      expect(entries.map((e) => [e.kind, e.actorCount, e.post?.id, e.actors])).toEqual([["MENTION", 1, postId, [author.handle]]]);
    }
    expect((await inbox(author)).entries).toEqual([]);
    await ok(api.execute(DeletePost, { input: { postId } }, { as: author }));
    expect(await inbox(ana)).toMatchObject({ unread: 0, entries: [] });
  });

  it("a reply that mentions the author it answers is one REPLY entry for them, not a reply and a mention", async () => {
    const [author, replier] = [await signUp("mention_parent"), await signUp("mention_replier")];
    const parent = await post(author, "question?");
    const reply = await post(replier, `@${author.handle} answer`, parent);
    expect((await inbox(author)).entries.map((e) => [e.kind, e.post?.id])).toEqual([["REPLY", reply]]);
  });

  it("a mention across a block, either way, notifies no one", async () => {
    const [author, blocker, blockedByAuthor, friend] = [await signUp("mb_author"), await signUp("mb_blocker"), await signUp("mb_blocked"), await signUp("mb_friend")];
    await ok(api.execute(Block, { input: { userId: author.id } }, { as: blocker }));
    await ok(api.execute(Block, { input: { userId: blockedByAuthor.id } }, { as: author }));
    await post(author, `hi @${blocker.handle} @${blockedByAuthor.handle} @${friend.handle}`);
    expect((await inbox(blocker)).entries).toEqual([]);
    expect((await inbox(blockedByAuthor)).entries).toEqual([]);
    expect((await inbox(friend)).entries.map((e) => e.kind)).toEqual(["MENTION"]);
  });
});
