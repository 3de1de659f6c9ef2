import { beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../gql/index.js";
import type { PostsLikersQuery, PostsPostFieldsFragment } from "../gql/graphql.js";
import { type As, type Result, type TestApi, type TestUser, globalId, testApi, topLevelError } from "../support/api.js";

graphql(`
  fragment PostsPostFields on Post {
    id
    body
    isDeleted
    createdAt
    editedAt
    deletedAt
    likeCount
    replyCount
    repostCount
    viewerHasLiked
    viewerHasReposted
    author { id handle }
    replyTo { id }
    threadRoot { id }
    repostOf { id body }
  }
`);

const CreatePost = graphql(`
  mutation PostsCreatePost($input: CreatePostInput!) {
    createPost(input: $input) {
      __typename
      ... on Post { ...PostsPostFields }
      ... on Error { message code }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);
const EditPost = graphql(`
  mutation PostsEditPost($input: EditPostInput!) {
    editPost(input: $input) {
      __typename
      ... on Post { ...PostsPostFields }
      ... on Error { message code }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);
const DeletePost = graphql(`
  mutation PostsDeletePost($input: DeletePostInput!) {
    deletePost(input: $input) {
      __typename
      ... on Post { ...PostsPostFields }
      ... on Error { message code }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);
const Repost = graphql(`
  mutation PostsRepost($input: RepostInput!) {
    repost(input: $input) {
      __typename
      ... on Post { ...PostsPostFields }
      ... on Error { message code }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);
const UndoRepost = graphql(`
  mutation PostsUndoRepost($input: UndoRepostInput!) {
    undoRepost(input: $input) {
      __typename
      ... on Post { ...PostsPostFields }
      ... on Error { message code }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);
const LikePost = graphql(`
  mutation PostsLikePost($input: LikePostInput!) {
    likePost(input: $input) {
      __typename
      ... on Post { ...PostsPostFields }
      ... on Error { message code }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);
const UnlikePost = graphql(`
  mutation PostsUnlikePost($input: UnlikePostInput!) {
    unlikePost(input: $input) {
      __typename
      ... on Post { ...PostsPostFields }
      ... on Error { message code }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);
const GetPost = graphql(`
  query PostsGetPost($id: ID!) {
    post(id: $id) { ...PostsPostFields }
  }
`);
const Replies = graphql(`
  query PostsReplies($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    post(id: $id) {
      id
      replies(first: $first, after: $after, last: $last, before: $before) {
        edges {
          cursor
          node {
            id
            body
            isDeleted
            replyTo { id }
            replies(first: 10) { edges { node { id body } } }
          }
        }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
`);
const Likers = graphql(`
  query PostsLikers($id: ID!, $first: Int, $after: String) {
    post(id: $id) {
      likers(first: $first, after: $after) {
        edges { cursor node { id handle } }
        pageInfo { hasNextPage hasPreviousPage endCursor }
      }
    }
  }
`);
const Node = graphql(`
  query PostsNode($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on Post { body author { handle } }
      ... on User { handle }
    }
  }
`);
const Nodes = graphql(`
  query PostsNodes($ids: [ID!]!) {
    nodes(ids: $ids) {
      __typename
      id
      ... on Post { body likeCount replyCount repostCount }
      ... on User { handle postCount }
    }
  }
`);
const UserPostCount = graphql(`
  query PostsUserPostCount($handle: String!) {
    user(handle: $handle) { id postCount }
  }
`);
const UserTimeline = graphql(`
  query PostsUserTimeline($handle: String!) {
    userTimeline(handle: $handle, first: 50, includeReplies: true) {
      edges { node { id body repostOf { id body author { handle } } author { handle } } }
    }
  }
`);

let api: TestApi;
beforeAll(async () => {
  api = await testApi();
});

// ---------------------------------------------------------------------------------------------
// Helpers: each asserts the happy path it relies on, so a broken arrangement fails loudly.

type PostFields = PostsPostFieldsFragment;
type Payload = { __typename: string } & Partial<PostFields> & {
  message?: string;
  code?: string;
  fieldErrors?: { field: string; message: string }[];
};

/** The union a mutation returned, with no top-level errors. */
function payload<R>(result: Result<R>, field: keyof R): Payload {
  expect(result.errors).toBeUndefined();
  expect(result.status).toBe(200);
  const value = result.data?.[field] as Payload | undefined;
  expect(value).toBeDefined();
  return value!;
}

function asPost(value: Payload): PostFields {
  expect(value, JSON.stringify(value)).toMatchObject({ __typename: "Post" });
  return value as unknown as PostFields;
}

const dbId = (id: string) => {
  const [typename, raw] = Buffer.from(id, "base64").toString("utf8").split(":");
  expect(typename).toBe("Post");
  return Number(raw);
};

async function create(as: As, body: string, replyToId?: string) {
  return api.execute(CreatePost, { input: { body, replyToId: replyToId ?? null } }, { as });
}
async function createOk(as: As, body: string, replyToId?: string) {
  return asPost(payload(await create(as, body, replyToId), "createPost"));
}
async function get(id: string, as?: As) {
  const result = await api.execute(GetPost, { id }, { as });
  expect(result.errors).toBeUndefined();
  return result.data?.post ?? null;
}
async function getOk(id: string, as?: As) {
  const post = await get(id, as);
  expect(post).not.toBeNull();
  return post!;
}
async function edit(as: As, id: string, body: string) {
  return payload(await api.execute(EditPost, { input: { postId: id, body } }, { as }), "editPost");
}
async function del(as: As, id: string) {
  return payload(await api.execute(DeletePost, { input: { postId: id } }, { as }), "deletePost");
}
async function repost(as: As, postId: string) {
  return payload(await api.execute(Repost, { input: { postId } }, { as }), "repost");
}
async function undoRepost(as: As, postId: string) {
  return payload(await api.execute(UndoRepost, { input: { postId } }, { as }), "undoRepost");
}
async function like(as: As, postId: string) {
  return payload(await api.execute(LikePost, { input: { postId } }, { as }), "likePost");
}
async function unlike(as: As, postId: string) {
  return payload(await api.execute(UnlikePost, { input: { postId } }, { as }), "unlikePost");
}
async function postCount(user: TestUser) {
  const result = await api.execute(UserPostCount, { handle: user.handle });
  expect(result.errors).toBeUndefined();
  return result.data!.user!.postCount;
}
type Tuple<N extends number, T, R extends T[] = []> = R["length"] extends N ? R : Tuple<N, T, [...R, T]>;

/** `n` new users, signed up one after the other (so their ids, and likes, are in order). */
async function users<N extends number>(n: N, overrides: Parameters<TestApi["signUp"]>[0] = {}) {
  const list: TestUser[] = [];
  for (let i = 0; i < n; i++) list.push(await api.signUp(overrides));
  return list as Tuple<N, TestUser>;
}

interface CounterRow {
  id: number;
  like_count: number;
  likes: number;
  reply_count: number;
  replies: number;
  repost_count: number;
  reposts: number;
}

/** Every post's stored counters next to the same numbers counted from the rows. */
async function postCounters() {
  return api.db.$queryRaw<CounterRow[]>`
    SELECT p.id, p.like_count, p.reply_count, p.repost_count,
      (SELECT COUNT(*) FROM likes l WHERE l.post_id = p.id)::int AS likes,
      (SELECT COUNT(*) FROM posts r WHERE r.reply_to_id = p.id AND r.deleted_at IS NULL)::int AS replies,
      (SELECT COUNT(*) FROM posts r WHERE r.repost_of_id = p.id)::int AS reposts
    FROM posts p ORDER BY p.id`;
}

/** Every user's stored postCount next to their posts and replies that are not deleted. */
async function userCounters() {
  return api.db.$queryRaw<{ id: number; post_count: number; posts: number }[]>`
    SELECT u.id, u.post_count,
      (SELECT COUNT(*) FROM posts p WHERE p.author_id = u.id AND p.repost_of_id IS NULL AND p.deleted_at IS NULL)::int AS posts
    FROM users u ORDER BY u.id`;
}

/** Compares whole lists, so a failure shows every row that drifted. */
async function expectCountersExact() {
  const posts = await postCounters();
  expect(posts.length).toBeGreaterThan(0);
  expect(posts.map((r) => ({ id: r.id, likeCount: r.like_count, replyCount: r.reply_count, repostCount: r.repost_count }))).toEqual(
    posts.map((r) => ({ id: r.id, likeCount: r.likes, replyCount: r.replies, repostCount: r.reposts })),
  );
  const authors = await userCounters();
  expect(authors.map((r) => ({ id: r.id, postCount: r.post_count }))).toEqual(authors.map((r) => ({ id: r.id, postCount: r.posts })));
}

const thumbs = "👍🏽"; // 4 UTF-16 units, one grapheme
const family = "👨‍👩‍👧‍👦"; // 11 UTF-16 units, one grapheme

// ---------------------------------------------------------------------------------------------

describe("createPost", () => {
  it("creates a top-level post with its body trimmed and counts it for the author", async () => {
    const [author] = await users(1);
    const post = await createOk(author, "  \n\t hello, world \n ");
    expect(post).toMatchObject({
      body: "hello, world",
      isDeleted: false,
      editedAt: null,
      deletedAt: null,
      likeCount: 0,
      replyCount: 0,
      repostCount: 0,
      viewerHasLiked: false,
      viewerHasReposted: false,
      author: { id: author.id, handle: author.handle },
      replyTo: null,
      threadRoot: null,
      repostOf: null,
    });
    expect(new Date(post.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    const row = await api.db.post.findUniqueOrThrow({ where: { id: dbId(post.id) } });
    expect(row).toMatchObject({ authorId: author.dbId, body: "hello, world", replyToId: null, rootId: null, repostOfId: null });
    expect(await postCount(author)).toBe(1);
  });

  it.each([
    ["empty", ""],
    ["whitespace only", "   \n\t  "],
  ])("rejects an %s body with a ValidationError on body and writes nothing", async (_name, body) => {
    const [author] = await users(1);
    const result = await create(author, body);
    expect(payload(result, "createPost")).toEqual({
      __typename: "ValidationError",
      code: "BAD_USER_INPUT",
      message: "body: A post cannot be empty",
      fieldErrors: [{ field: "body", message: "A post cannot be empty" }],
    });
    expect(await api.db.post.count({ where: { authorId: author.dbId } })).toBe(0);
    expect(await postCount(author)).toBe(0);
  });

  it("counts grapheme clusters, not UTF-16 units: 500 emoji pass, 501 do not", async () => {
    const [author] = await users(1);
    const skinTones = thumbs.repeat(500);
    expect(skinTones.length).toBe(2000);
    expect((await createOk(author, skinTones)).body).toBe(skinTones);

    const families = family.repeat(500);
    expect(families.length).toBe(5500);
    expect((await createOk(author, families)).body).toBe(families);

    // Surrounding whitespace is trimmed before counting.
    const padded = `  ${"a".repeat(500)}  `;
    expect((await createOk(author, padded)).body).toBe("a".repeat(500));

    // One letter under 40,000 combining marks is one character, but no text a person writes.
    const piled = `a${"\u0301".repeat(40_000)}`;
    for (const tooLong of [thumbs.repeat(501), family.repeat(501), "a".repeat(501), `${family.repeat(500)}x`, piled]) {
      expect(payload(await create(author, tooLong), "createPost")).toEqual({
        __typename: "ValidationError",
        code: "BAD_USER_INPUT",
        message: "body: At most 500 characters",
        fieldErrors: [{ field: "body", message: "At most 500 characters" }],
      });
    }
    expect(await api.db.post.count({ where: { authorId: author.dbId } })).toBe(3);
    expect(await postCount(author)).toBe(3);
  });

  it("replies: sets replyTo and threadRoot (the thread's first post, also for a reply to a reply) and counts replies", async () => {
    const [alice, bob, carol] = await users(3);
    const root = await createOk(alice, "root");
    const reply = await createOk(bob, "reply", root.id);
    expect(reply).toMatchObject({ body: "reply", replyTo: { id: root.id }, threadRoot: { id: root.id } });
    const nested = await createOk(carol, "nested", reply.id);
    expect(nested).toMatchObject({ replyTo: { id: reply.id }, threadRoot: { id: root.id } });
    const deeper = await createOk(alice, "deeper", nested.id);
    expect(deeper).toMatchObject({ replyTo: { id: nested.id }, threadRoot: { id: root.id } });

    expect((await getOk(root.id)).replyCount).toBe(1);
    expect((await getOk(reply.id)).replyCount).toBe(1);
    expect((await getOk(nested.id)).replyCount).toBe(1);
    expect((await getOk(deeper.id)).replyCount).toBe(0);
    await createOk(carol, "second reply", root.id);
    expect((await getOk(root.id)).replyCount).toBe(2);
    expect(await api.db.post.findUniqueOrThrow({ where: { id: dbId(deeper.id) } })).toMatchObject({
      replyToId: dbId(nested.id),
      rootId: dbId(root.id),
    });
    expect(await postCount(alice)).toBe(2);
    expect(await postCount(bob)).toBe(1);
    expect(await postCount(carol)).toBe(2);
  });

  it("a reply to a repost replies to the original", async () => {
    const [alice, bob, carol] = await users(3);
    const original = await createOk(alice, "original");
    const theRepost = asPost(await repost(bob, original.id));
    const reply = await createOk(carol, "replying to what I saw", theRepost.id);
    expect(reply).toMatchObject({ replyTo: { id: original.id }, threadRoot: { id: original.id } });
    expect((await getOk(original.id)).replyCount).toBe(1);
    expect((await getOk(theRepost.id)).replyCount).toBe(0);
  });

  it("rejects a reply to a deleted post with a ValidationError on replyToId", async () => {
    const [alice, bob] = await users(2);
    const root = await createOk(alice, "soon gone");
    asPost(await del(alice, root.id));
    const result = payload(await create(bob, "too late", root.id), "createPost");
    expect(result).toMatchObject({ __typename: "ValidationError", code: "BAD_USER_INPUT" });
    expect(result.fieldErrors).toEqual([{ field: "replyToId", message: "You cannot reply to a deleted post" }]);
    expect((await getOk(root.id)).replyCount).toBe(0);
    expect(await postCount(bob)).toBe(0);
  });

  it("rejects a reply to an unknown post with a NotFoundError", async () => {
    const [bob] = await users(1);
    const result = payload(await create(bob, "hello?", globalId("Post", 999_999)), "createPost");
    expect(result).toEqual({ __typename: "NotFoundError", code: "NOT_FOUND", message: "Post not found" });
    expect(await api.db.post.count({ where: { authorId: bob.dbId } })).toBe(0);
    expect(await postCount(bob)).toBe(0);
  });

  it("refuses an anonymous viewer with a top-level UNAUTHENTICATED error", async () => {
    const before = await api.db.post.count();
    const result = await create(null, "who am I");
    expect(result.data ?? null).toBeNull();
    expect(topLevelError(result)).toEqual({ message: "You must be logged in to do this.", code: "UNAUTHENTICATED" });
    expect(await api.db.post.count()).toBe(before);
  });

  it("refuses a suspended user with a top-level FORBIDDEN error", async () => {
    const [suspended] = await users(1, { suspended: true });
    const result = await create(suspended, "let me speak");
    expect(result.data ?? null).toBeNull();
    expect(topLevelError(result)).toEqual({ message: "This account is suspended.", code: "FORBIDDEN" });
    expect(await api.db.post.count({ where: { authorId: suspended.dbId } })).toBe(0);
  });

  it("refuses every request of a suspended user, reads too, while others still read the post", async () => {
    const [alice] = await users(1);
    const [suspended] = await users(1, { suspended: true });
    const post = await createOk(alice, "read me");
    const results: Result<unknown>[] = [
      await api.execute(LikePost, { input: { postId: post.id } }, { as: suspended }),
      await api.execute(UnlikePost, { input: { postId: post.id } }, { as: suspended }),
      await api.execute(Repost, { input: { postId: post.id } }, { as: suspended }),
      await api.execute(UndoRepost, { input: { postId: post.id } }, { as: suspended }),
      await api.execute(EditPost, { input: { postId: post.id, body: "x" } }, { as: suspended }),
      await api.execute(DeletePost, { input: { postId: post.id } }, { as: suspended }),
    ];
    results.push(await api.execute(GetPost, { id: post.id }, { as: suspended }));
    for (const result of results) {
      expect(result.data ?? null).toBeNull();
      expect(topLevelError(result)).toEqual({ message: "This account is suspended.", code: "FORBIDDEN" });
    }
    expect(await getOk(post.id, alice)).toMatchObject({ body: "read me", likeCount: 0, repostCount: 0 });
  });
});

describe("editPost", () => {
  it("lets the author edit: the body changes, trimmed, and editedAt is set", async () => {
    const [author] = await users(1);
    const post = await createOk(author, "first draft");
    const edited = asPost(await edit(author, post.id, "  second draft  "));
    expect(edited).toMatchObject({ id: post.id, body: "second draft", createdAt: post.createdAt, isDeleted: false });
    expect(edited.editedAt).not.toBeNull();
    expect(new Date(edited.editedAt!).getTime()).toBeGreaterThanOrEqual(new Date(post.createdAt).getTime());
    expect(await getOk(post.id)).toMatchObject({ body: "second draft", editedAt: edited.editedAt });
    expect(await postCount(author)).toBe(1);
  });

  it("refuses another user with a ForbiddenError and leaves the post unchanged", async () => {
    const [author, other] = await users(2);
    const post = await createOk(author, "mine");
    expect(await edit(other, post.id, "yours now")).toEqual({
      __typename: "ForbiddenError",
      code: "FORBIDDEN",
      message: "Only the author can change this post.",
    });
    expect(await getOk(post.id)).toMatchObject({ body: "mine", editedAt: null });
  });

  it("refuses an admin too: admins may delete other people's posts, never put words in their mouth", async () => {
    const [author] = await users(1);
    const [admin] = await users(1, { role: "ADMIN" });
    const post = await createOk(author, "my words");
    expect(await edit(admin, post.id, "an admin's words")).toMatchObject({ __typename: "ForbiddenError", code: "FORBIDDEN" });
    expect(await getOk(post.id)).toMatchObject({ body: "my words", editedAt: null });
    // An admin edits their own posts like anyone.
    const own = await createOk(admin, "admin post");
    expect(asPost(await edit(admin, own.id, "admin post, edited")).body).toBe("admin post, edited");
  });

  it("refuses anonymous viewers with UNAUTHENTICATED", async () => {
    const [author] = await users(1);
    const post = await createOk(author, "anon edit target");
    const result = await api.execute(EditPost, { input: { postId: post.id, body: "anon" } });
    expect(topLevelError(result).code).toBe("UNAUTHENTICATED");
    expect((await getOk(post.id)).body).toBe("anon edit target");
  });

  it("cannot edit a deleted post, and the body stays gone", async () => {
    const [author] = await users(1);
    const post = await createOk(author, "to delete");
    asPost(await del(author, post.id));
    const result = await edit(author, post.id, "resurrected");
    expect(result).toMatchObject({ __typename: "ValidationError", code: "BAD_USER_INPUT" });
    expect(result.fieldErrors).toEqual([{ field: "postId", message: "A deleted post cannot be edited" }]);
    expect(await getOk(post.id)).toMatchObject({ body: null, isDeleted: true, editedAt: null });
  });

  it("cannot edit a repost", async () => {
    const [author, reposter] = await users(2);
    const post = await createOk(author, "repost me");
    const theRepost = asPost(await repost(reposter, post.id));
    const result = await edit(reposter, theRepost.id, "words");
    expect(result.fieldErrors).toEqual([{ field: "postId", message: "A repost has no text to edit" }]);
    expect((await getOk(theRepost.id)).body).toBeNull();
  });

  it("validates the body like createPost", async () => {
    const [author] = await users(1);
    const post = await createOk(author, "valid");
    expect(await edit(author, post.id, "  ")).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ field: "body", message: "A post cannot be empty" }],
    });
    expect(await edit(author, post.id, family.repeat(501))).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ field: "body", message: "At most 500 characters" }],
    });
    expect(asPost(await edit(author, post.id, thumbs.repeat(500))).body).toBe(thumbs.repeat(500));
    expect(await edit(author, globalId("Post", 999_999), "nobody's")).toEqual({
      __typename: "NotFoundError",
      code: "NOT_FOUND",
      message: "Post not found",
    });
  });
});

describe("deletePost", () => {
  it("lets the author delete: the post keeps its place in the thread, without a body", async () => {
    const [alice, bob, carol] = await users(3);
    const root = await createOk(alice, "root");
    const reply = await createOk(bob, "reply to be deleted", root.id);
    const replyOfReply = await createOk(carol, "reply of the deleted reply", reply.id);
    const sibling = await createOk(carol, "sibling", root.id);
    expect((await getOk(root.id)).replyCount).toBe(2);
    expect(await postCount(bob)).toBe(1);

    const deleted = asPost(await del(bob, reply.id));
    expect(deleted).toMatchObject({ id: reply.id, body: null, isDeleted: true, replyTo: { id: root.id }, threadRoot: { id: root.id } });
    expect(deleted.deletedAt).not.toBeNull();

    const { data, errors } = await api.execute(Replies, { id: root.id, first: 10 });
    expect(errors).toBeUndefined();
    expect(data!.post!.replies.edges.map((e) => e.node)).toEqual([
      { id: reply.id, body: null, isDeleted: true, replyTo: { id: root.id }, replies: { edges: [{ node: { id: replyOfReply.id, body: "reply of the deleted reply" } }] } },
      { id: sibling.id, body: "sibling", isDeleted: false, replyTo: { id: root.id }, replies: { edges: [] } },
    ]);
    expect(await getOk(replyOfReply.id)).toMatchObject({ body: "reply of the deleted reply", replyTo: { id: reply.id }, threadRoot: { id: root.id } });
    expect((await getOk(root.id)).replyCount).toBe(1);
    expect(await postCount(bob)).toBe(0);
    expect(await api.db.post.findUniqueOrThrow({ where: { id: dbId(reply.id) } })).toMatchObject({ body: null, replyToId: dbId(root.id) });
  });

  it("lets an admin delete someone else's post, counting it off the author, not the admin", async () => {
    const [author] = await users(1);
    const [admin] = await users(1, { role: "ADMIN" });
    const parent = await createOk(admin, "admin thread");
    const post = await createOk(author, "offensive", parent.id);
    expect(await postCount(admin)).toBe(1);
    const deleted = asPost(await del(admin, post.id));
    expect(deleted).toMatchObject({ id: post.id, body: null, isDeleted: true, author: { id: author.id } });
    expect(await postCount(author)).toBe(0);
    expect(await postCount(admin)).toBe(1);
    expect((await getOk(parent.id)).replyCount).toBe(0);
  });

  it("refuses another user with a ForbiddenError and an anonymous one with UNAUTHENTICATED", async () => {
    const [author, other] = await users(2);
    const post = await createOk(author, "still here");
    expect(await del(other, post.id)).toEqual({ __typename: "ForbiddenError", code: "FORBIDDEN", message: "Only the author can change this post." });
    expect(topLevelError(await api.execute(DeletePost, { input: { postId: post.id } })).code).toBe("UNAUTHENTICATED");
    expect(await getOk(post.id)).toMatchObject({ body: "still here", isDeleted: false });
    expect(await postCount(author)).toBe(1);
    expect(await del(other, globalId("Post", 999_999))).toMatchObject({ __typename: "NotFoundError", code: "NOT_FOUND" });
  });

  it("decrements the author's postCount and the parent's replyCount exactly once when deleted twice", async () => {
    const [alice, bob] = await users(2);
    const root = await createOk(alice, "root");
    const reply = await createOk(bob, "reply", root.id);
    await createOk(bob, "another post by bob");
    expect(await postCount(bob)).toBe(2);
    expect((await getOk(root.id)).replyCount).toBe(1);

    asPost(await del(bob, reply.id));
    const again = asPost(await del(bob, reply.id));
    expect(again).toMatchObject({ id: reply.id, isDeleted: true, body: null });
    expect(await postCount(bob)).toBe(1);
    expect((await getOk(root.id)).replyCount).toBe(0);
    expect(await postCount(alice)).toBe(1);
  });

  it("removes the reposts of a deleted post and keeps repostCount consistent", async () => {
    const [author, r1, r2, r3] = await users(4);
    const post = await createOk(author, "viral");
    for (const reposter of [r1, r2, r3]) asPost(await repost(reposter, post.id));
    expect((await getOk(post.id)).repostCount).toBe(3);

    const deleted = asPost(await del(author, post.id));
    expect(deleted).toMatchObject({ repostCount: 0, isDeleted: true, body: null });
    expect(await api.db.post.count({ where: { repostOfId: dbId(post.id) } })).toBe(0);
    for (const reposter of [r1, r2, r3]) {
      const { data } = await api.execute(UserTimeline, { handle: reposter.handle });
      expect(data!.userTimeline.edges).toEqual([]);
      expect((await getOk(post.id, reposter)).viewerHasReposted).toBe(false);
    }
    // It cannot be reposted again.
    expect((await repost(r1, post.id)).__typename).toBe("ValidationError");
    expect((await getOk(post.id)).repostCount).toBe(0);
  });

  it("deleting a repost removes it and returns the original", async () => {
    const [author, reposter, other] = await users(3);
    const [admin] = await users(1, { role: "ADMIN" });
    const post = await createOk(author, "repost then delete the repost");
    const theRepost = asPost(await repost(reposter, post.id));
    const second = asPost(await repost(other, post.id));
    expect((await getOk(post.id)).repostCount).toBe(2);

    expect(await del(author, theRepost.id)).toMatchObject({ __typename: "ForbiddenError" });
    const result = asPost(await del(reposter, theRepost.id));
    expect(result).toMatchObject({ id: post.id, body: "repost then delete the repost", repostCount: 1, isDeleted: false });
    expect(await get(theRepost.id)).toBeNull();
    expect(await api.db.post.findUnique({ where: { id: dbId(theRepost.id) } })).toBeNull();

    // An admin may remove someone's repost too; the original is untouched.
    expect(asPost(await del(admin, second.id))).toMatchObject({ id: post.id, repostCount: 0, isDeleted: false });
    expect(await getOk(post.id)).toMatchObject({ body: "repost then delete the repost", repostCount: 0, isDeleted: false });
    expect(await postCount(author)).toBe(1);
    expect(await postCount(reposter)).toBe(0);
  });
});

describe("repost and undoRepost", () => {
  it("is idempotent: reposting twice makes one repost, shown with body null and repostOf set", async () => {
    const [author, reposter] = await users(2);
    const post = await createOk(author, "worth sharing");
    const first = asPost(await repost(reposter, post.id));
    expect(first).toMatchObject({
      body: null,
      isDeleted: false,
      author: { id: reposter.id },
      repostOf: { id: post.id, body: "worth sharing" },
      replyTo: null,
      threadRoot: null,
    });
    expect(first.id).not.toBe(post.id);
    const second = asPost(await repost(reposter, post.id));
    expect(second.id).toBe(first.id);
    expect(await getOk(post.id)).toMatchObject({ repostCount: 1 });
    expect(await api.db.post.count({ where: { repostOfId: dbId(post.id) } })).toBe(1);

    const { data } = await api.execute(UserTimeline, { handle: reposter.handle });
    expect(data!.userTimeline.edges).toEqual([
      { node: { id: first.id, body: null, author: { handle: reposter.handle }, repostOf: { id: post.id, body: "worth sharing", author: { handle: author.handle } } } },
    ]);
    // A repost is not a post of the reposter's own.
    expect(await postCount(reposter)).toBe(0);
    expect(await postCount(author)).toBe(1);
  });

  it("reposting a repost reposts the original", async () => {
    const [author, r1, r2] = await users(3);
    const post = await createOk(author, "the original");
    const firstRepost = asPost(await repost(r1, post.id));
    const chained = asPost(await repost(r2, firstRepost.id));
    expect(chained.repostOf).toEqual({ id: post.id, body: "the original" });
    expect(await getOk(post.id)).toMatchObject({ repostCount: 2 });
    expect((await getOk(firstRepost.id)).repostCount).toBe(0);
  });

  it("viewerHasReposted is per viewer", async () => {
    const [author, reposter, bystander] = await users(3);
    const post = await createOk(author, "who reposted me");
    asPost(await repost(reposter, post.id));
    expect((await getOk(post.id, reposter)).viewerHasReposted).toBe(true);
    expect((await getOk(post.id, bystander)).viewerHasReposted).toBe(false);
    expect((await getOk(post.id, author)).viewerHasReposted).toBe(false);
    expect((await getOk(post.id, null)).viewerHasReposted).toBe(false);
  });

  it("undoRepost removes the repost, returns the original and is idempotent", async () => {
    const [author, reposter] = await users(2);
    const post = await createOk(author, "undo me");
    const theRepost = asPost(await repost(reposter, post.id));
    const undone = asPost(await undoRepost(reposter, post.id));
    expect(undone).toMatchObject({ id: post.id, repostCount: 0, viewerHasReposted: false, body: "undo me" });
    expect(await get(theRepost.id)).toBeNull();
    const again = asPost(await undoRepost(reposter, post.id));
    expect(again).toMatchObject({ id: post.id, repostCount: 0 });
    // Undoing what one never reposted does not touch other people's reposts.
    const other = asPost(await repost(author, post.id));
    asPost(await undoRepost(reposter, post.id));
    expect(await getOk(post.id)).toMatchObject({ repostCount: 1 });
    expect(await get(other.id)).not.toBeNull();
    // Given the repost's own id, it undoes the repost of the original.
    expect(asPost(await undoRepost(author, other.id))).toMatchObject({ id: post.id, repostCount: 0 });
    expect(await api.db.post.count({ where: { repostOfId: dbId(post.id) } })).toBe(0);
    expect(await undoRepost(author, globalId("Post", 999_999))).toEqual({ __typename: "NotFoundError", code: "NOT_FOUND", message: "Post not found" });
  });

  it("rejects a repost of a deleted post and of an unknown post", async () => {
    const [author, reposter] = await users(2);
    const post = await createOk(author, "gone");
    asPost(await del(author, post.id));
    const result = await repost(reposter, post.id);
    expect(result).toMatchObject({ __typename: "ValidationError", code: "BAD_USER_INPUT" });
    expect(result.fieldErrors).toEqual([{ field: "postId", message: "You cannot repost a deleted post" }]);
    expect(await getOk(post.id)).toMatchObject({ repostCount: 0 });
    expect(await api.db.post.count({ where: { authorId: reposter.dbId } })).toBe(0);
    expect(await repost(reposter, globalId("Post", 999_999))).toEqual({ __typename: "NotFoundError", code: "NOT_FOUND", message: "Post not found" });
  });

  it("refuses anonymous viewers", async () => {
    const [author] = await users(1);
    const post = await createOk(author, "anon repost target");
    expect(topLevelError(await api.execute(Repost, { input: { postId: post.id } })).code).toBe("UNAUTHENTICATED");
    expect(topLevelError(await api.execute(UndoRepost, { input: { postId: post.id } })).code).toBe("UNAUTHENTICATED");
    expect((await getOk(post.id)).repostCount).toBe(0);
  });
});

describe("likePost and unlikePost", () => {
  it("keeps likeCount exact through like/like/unlike/unlike by several users", async () => {
    const [author, u1, u2, u3] = await users(4);
    const post = await createOk(author, "like me");
    const count = async () => (await getOk(post.id)).likeCount;

    expect(asPost(await like(u1, post.id))).toMatchObject({ likeCount: 1, viewerHasLiked: true });
    expect(asPost(await like(u1, post.id))).toMatchObject({ likeCount: 1, viewerHasLiked: true });
    expect(asPost(await like(u2, post.id))).toMatchObject({ likeCount: 2, viewerHasLiked: true });
    expect(asPost(await like(u3, post.id))).toMatchObject({ likeCount: 3 });
    expect(asPost(await like(u2, post.id))).toMatchObject({ likeCount: 3 });
    expect(asPost(await unlike(u1, post.id))).toMatchObject({ likeCount: 2, viewerHasLiked: false });
    expect(asPost(await unlike(u1, post.id))).toMatchObject({ likeCount: 2, viewerHasLiked: false });
    expect(await count()).toBe(2);
    // Unliking what one never liked is a no-op.
    expect(asPost(await unlike(author, post.id))).toMatchObject({ likeCount: 2, viewerHasLiked: false });
    expect(asPost(await unlike(u2, post.id))).toMatchObject({ likeCount: 1 });
    expect(asPost(await unlike(u3, post.id))).toMatchObject({ likeCount: 0 });
    expect(asPost(await unlike(u3, post.id))).toMatchObject({ likeCount: 0 });
    expect(await count()).toBe(0);
    expect(await api.db.like.count({ where: { postId: dbId(post.id) } })).toBe(0);
  });

  it("viewerHasLiked is per viewer, and false for anonymous viewers", async () => {
    const [author, liker, other] = await users(3);
    const post = await createOk(author, "who likes me");
    asPost(await like(liker, post.id));
    expect((await getOk(post.id, liker)).viewerHasLiked).toBe(true);
    expect((await getOk(post.id, other)).viewerHasLiked).toBe(false);
    expect((await getOk(post.id, author)).viewerHasLiked).toBe(false);
    expect(await getOk(post.id, null)).toMatchObject({ viewerHasLiked: false, likeCount: 1 });
  });

  it("liking a repost likes the original", async () => {
    const [author, reposter, liker] = await users(3);
    const post = await createOk(author, "like through a repost");
    const theRepost = asPost(await repost(reposter, post.id));
    expect(asPost(await like(liker, theRepost.id))).toMatchObject({ id: post.id, likeCount: 1, viewerHasLiked: true });
    expect((await getOk(theRepost.id)).likeCount).toBe(0);
    expect(asPost(await unlike(liker, theRepost.id))).toMatchObject({ id: post.id, likeCount: 0 });
  });

  it("rejects a like of a deleted post; its existing likes can still be taken back", async () => {
    const [author, early, late] = await users(3);
    const post = await createOk(author, "liked then deleted");
    asPost(await like(early, post.id));
    asPost(await del(author, post.id));
    const result = await like(late, post.id);
    expect(result).toMatchObject({ __typename: "ValidationError", code: "BAD_USER_INPUT" });
    expect(result.fieldErrors).toEqual([{ field: "postId", message: "You cannot like a deleted post" }]);
    expect(await api.db.like.count({ where: { postId: dbId(post.id) } })).toBe(1);
    expect(asPost(await unlike(early, post.id))).toMatchObject({ likeCount: 0, isDeleted: true });
    expect(await like(late, globalId("Post", 999_999))).toEqual({ __typename: "NotFoundError", code: "NOT_FOUND", message: "Post not found" });
  });

  it("refuses anonymous viewers", async () => {
    const [author] = await users(1);
    const post = await createOk(author, "anon like target");
    expect(topLevelError(await api.execute(LikePost, { input: { postId: post.id } })).code).toBe("UNAUTHENTICATED");
    expect(topLevelError(await api.execute(UnlikePost, { input: { postId: post.id } })).code).toBe("UNAUTHENTICATED");
    expect((await getOk(post.id)).likeCount).toBe(0);
  });

  it("lists likers newest first, page by page", async () => {
    const [author, ...likers] = await users(6);
    const post = await createOk(author, "popular");
    for (const liker of likers) asPost(await like(liker, post.id));
    // An unlike takes the user out of the list; liking again puts them first.
    asPost(await unlike(likers[1], post.id));
    asPost(await like(likers[1], post.id));
    const expected = [likers[1], likers[4], likers[3], likers[2], likers[0]].map((u) => u!.handle);

    const handles: string[] = [];
    let after: string | null = null;
    const pages: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const result: Result<PostsLikersQuery> = await api.execute(Likers, { id: post.id, first: 2, after });
      expect(result.errors).toBeUndefined();
      const { edges, pageInfo } = result.data!.post!.likers;
      handles.push(...edges.map((e) => e.node.handle));
      pages.push(pageInfo.hasNextPage);
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor ?? null;
    }
    expect(handles).toEqual(expected);
    expect(pages).toEqual([true, true, false]);
    const all = await api.execute(Likers, { id: post.id, first: 100 });
    expect(all.data!.post!.likers.edges.map((e) => e.node.handle)).toEqual(expected);
    expect((await getOk(post.id)).likeCount).toBe(5);
  });

  it("keeps paging likers when the like under the cursor was taken back meanwhile", async () => {
    const [author, ...likers] = await users(6);
    const post = await createOk(author, "fickle fans");
    for (const liker of likers) asPost(await like(liker, post.id));
    const first = await api.execute(Likers, { id: post.id, first: 2 });
    expect(first.data!.post!.likers.edges.map((e) => e.node.handle)).toEqual([likers[4].handle, likers[3].handle]);
    asPost(await unlike(likers[3], post.id));
    const next = await api.execute(Likers, { id: post.id, first: 2, after: first.data!.post!.likers.pageInfo.endCursor });
    expect(next.errors).toBeUndefined();
    expect(next.data!.post!.likers.edges.map((e) => e.node.handle)).toEqual([likers[2].handle, likers[1].handle]);
    expect(next.data!.post!.likers.pageInfo.hasNextPage).toBe(true);
  });
});

describe("counters", () => {
  it("stay exact, against COUNT(*) in the database, after a long scripted sequence by several users", async () => {
    const people = await users(5);
    const [admin] = await users(1, { role: "ADMIN" });
    const actors = [...people, admin];
    // A small deterministic generator, so a failure replays the same way.
    let seed = 20260131;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 16) % n;
    };
    const pick = <T>(list: T[]) => list[random(list.length)]!;

    const posts: { id: string; author: TestUser }[] = [];
    for (const author of people) posts.push({ id: (await createOk(author, `hello from ${author.handle}`)).id, author });

    const outcomes = new Map<string, number>();
    const note = (name: string, value: Payload) => outcomes.set(`${name}:${value.__typename}`, (outcomes.get(`${name}:${value.__typename}`) ?? 0) + 1);
    for (let step = 0; step < 160; step++) {
      const actor = pick(actors);
      const target = pick(posts);
      switch (random(9)) {
        case 0: {
          const result = payload(await create(actor, `step ${step}`, random(2) ? target.id : undefined), "createPost");
          note("create", result);
          if (result.__typename === "Post") posts.push({ id: result.id!, author: actor });
          break;
        }
        case 1:
        case 2:
          note("like", await like(actor, target.id));
          break;
        case 3:
          note("unlike", await unlike(actor, target.id));
          break;
        case 4: {
          const result = await repost(actor, target.id);
          note("repost", result);
          if (result.__typename === "Post") posts.push({ id: result.id!, author: actor });
          break;
        }
        case 5:
          note("undoRepost", await undoRepost(actor, target.id));
          break;
        case 6:
          // Mostly the author, sometimes someone else (refused unless admin), sometimes twice.
          note("delete", await del(random(3) ? target.author : actor, target.id));
          break;
        case 7:
          note("edit", await edit(target.author, target.id, `edited at ${step}`));
          break;
        case 8: {
          const result = payload(await create(actor, `reply at ${step}`, target.id), "createPost");
          note("reply", result);
          if (result.__typename === "Post") posts.push({ id: result.id!, author: actor });
          break;
        }
      }
    }
    // The sequence exercised the interesting paths, not only the happy ones.
    for (const key of ["create:Post", "reply:Post", "like:Post", "unlike:Post", "repost:Post", "undoRepost:Post", "delete:Post", "edit:Post"]) {
      expect(outcomes.get(key), key).toBeGreaterThan(0);
    }
    expect([...outcomes.keys()].filter((k) => k.endsWith(":ValidationError")).length).toBeGreaterThan(0);

    await expectCountersExact();

    // And the API shows the same numbers as COUNT(*) for every post and every user.
    const counted = await postCounters();
    expect(counted.length).toBeGreaterThan(20);
    const ids = counted.map((row) => globalId("Post", row.id));
    const { data, errors } = await api.execute(Nodes, { ids: [...ids, ...actors.map((a) => a.id)] });
    expect(errors).toBeUndefined();
    const shown = data!.nodes;
    counted.forEach((row, i) => {
      expect(shown[i]).toMatchObject({ __typename: "Post", id: ids[i], likeCount: row.likes, replyCount: row.replies, repostCount: row.reposts });
    });
    const userRows = new Map((await userCounters()).map((row) => [row.id, row.posts]));
    actors.forEach((actor, i) => {
      expect(shown[counted.length + i]).toMatchObject({ __typename: "User", handle: actor.handle, postCount: userRows.get(actor.dbId) });
    });
  });
});

describe("relay", () => {
  it("post(id:) and node(id:) return posts; nodes(ids:) mixes types and keeps the order", async () => {
    const [author] = await users(1);
    const post = await createOk(author, "a node");
    expect(await getOk(post.id)).toMatchObject({ id: post.id, body: "a node" });
    const node = await api.execute(Node, { id: post.id });
    expect(node).toEqual({ status: 200, data: { node: { __typename: "Post", id: post.id, body: "a node", author: { handle: author.handle } } } });
    const user = await api.execute(Node, { id: author.id });
    expect(user.data).toEqual({ node: { __typename: "User", id: author.id, handle: author.handle } });

    const nodes = await api.execute(Nodes, { ids: [author.id, post.id, globalId("Post", 999_999)] });
    expect(nodes.errors).toBeUndefined();
    expect(nodes.data!.nodes).toEqual([
      { __typename: "User", id: author.id, handle: author.handle, postCount: 1 },
      { __typename: "Post", id: post.id, body: "a node", likeCount: 0, replyCount: 0, repostCount: 0 },
      null,
    ]);
    expect(await get(globalId("Post", 999_999))).toBeNull();
    expect((await api.execute(Node, { id: globalId("Post", 999_999) })).data).toEqual({ node: null });
  });

  describe("malformed IDs are the caller's input (BAD_USER_INPUT, a ValidationError in mutations), never an unexpected error", () => {
    let author: TestUser;
    let postId: string;
    beforeAll(async () => {
      [author] = await users(1);
      postId = (await createOk(author, "id target")).id;
    });
    const malformed = () => ({
      garbage: "not an id!",
      "no separator": Buffer.from("Post42").toString("base64"),
      "Post:abc": globalId("Post", "abc"),
      "Post:1.5": globalId("Post", "1.5"),
      "Post:-1": globalId("Post", "-1"),
      "Post: too large": globalId("Post", "99999999999"),
      "Post:(empty)": globalId("Post", ""),
      "Post:01 (another spelling of Post:1)": globalId("Post", "01"),
      "Post:1 with extra padding": `${globalId("Post", 1)}=`,
    });

    it.each(["garbage", "no separator", "Post:abc", "Post:1.5", "Post:-1", "Post: too large", "Post:(empty)", "Post:01 (another spelling of Post:1)", "Post:1 with extra padding"] as const)(
      "post(id:) with %s",
      async (name) => {
        const result = await api.execute(GetPost, { id: malformed()[name] });
        expect(result.data?.post ?? null).toBeNull();
        expect(topLevelError(result).code).toBe("BAD_USER_INPUT");
      },
    );

    it.each(["garbage", "no separator", "Post:abc", "Post:1.5", "Post:-1", "Post: too large", "Post:(empty)"] as const)(
      "node(id:) with %s",
      async (name) => {
        const result = await api.execute(Node, { id: malformed()[name] });
        expect(result.data?.node ?? null).toBeNull();
        expect(topLevelError(result).code).toBe("BAD_USER_INPUT");
      },
    );

    it("nodes(ids:) with one malformed ID among good ones", async () => {
      const result = await api.execute(Nodes, { ids: [postId, globalId("Post", "abc")] });
      expect(result.errors?.length).toBeGreaterThan(0);
      for (const error of result.errors!) {
        expect(error.message).not.toBe("Unexpected error.");
        expect(error.extensions?.code).toBe("BAD_USER_INPUT");
      }
    });

    it("a User ID where a Post ID is expected, in a query and in every mutation", async () => {
      const asQuery = await api.execute(GetPost, { id: author.id });
      expect(asQuery.data?.post ?? null).toBeNull();
      expect(topLevelError(asQuery).code).toBe("BAD_USER_INPUT");
      const results: Result<unknown>[] = [
        await api.execute(CreatePost, { input: { body: "reply to a user?", replyToId: author.id } }, { as: author }),
        await api.execute(EditPost, { input: { postId: author.id, body: "x" } }, { as: author }),
        await api.execute(DeletePost, { input: { postId: author.id } }, { as: author }),
        await api.execute(Repost, { input: { postId: author.id } }, { as: author }),
        await api.execute(UndoRepost, { input: { postId: author.id } }, { as: author }),
        await api.execute(LikePost, { input: { postId: author.id } }, { as: author }),
        await api.execute(UnlikePost, { input: { postId: author.id } }, { as: author }),
      ];
      for (const result of results) expectIdError(result, "Not the ID of a Post");
      expect(await api.db.post.count({ where: { authorId: author.dbId } })).toBe(1);
      expect(await api.db.like.count({ where: { userId: author.dbId } })).toBe(0);
    });

    /** A mutation's typed ValidationError for its one ID field (replyToId or postId). */
    function expectIdError(result: Result<unknown>, message: string) {
      expect(result.errors, JSON.stringify(result)).toBeUndefined();
      const payload = Object.values(result.data as Record<string, { __typename: string; message?: string }>)[0]!;
      expect(payload.__typename).toBe("ValidationError");
      expect(payload.message).toMatch(new RegExp(`^(replyToId|postId): ${message}$`));
    }

    it("malformed IDs in mutation inputs", async () => {
      for (const id of [malformed().garbage, malformed()["Post:abc"], malformed()["Post: too large"]]) {
        const results: Result<unknown>[] = [
          await api.execute(CreatePost, { input: { body: "reply", replyToId: id } }, { as: author }),
          await api.execute(LikePost, { input: { postId: id } }, { as: author }),
          await api.execute(DeletePost, { input: { postId: id } }, { as: author }),
        ];
        for (const result of results) expectIdError(result, "Not a valid ID");
      }
      expect(await api.db.post.count({ where: { authorId: author.dbId } })).toBe(1);
    });
  });

  describe("replies connection", () => {
    let root: PostFields;
    let replies: PostFields[];
    beforeAll(async () => {
      const [alice, bob] = await users(2);
      root = await createOk(alice, "page through my replies");
      replies = [];
      for (let i = 0; i < 5; i++) replies.push(await createOk(i % 2 ? alice : bob, `reply ${i}`, root.id));
    });

    it("lists direct replies oldest first, page by page with first/after and pageInfo", async () => {
      const first = await api.execute(Replies, { id: root.id, first: 2 });
      expect(first.errors).toBeUndefined();
      const page1 = first.data!.post!.replies;
      expect(page1.edges.map((e) => e.node.body)).toEqual(["reply 0", "reply 1"]);
      expect(page1.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false, startCursor: page1.edges[0]!.cursor, endCursor: page1.edges[1]!.cursor });

      const second = await api.execute(Replies, { id: root.id, first: 2, after: page1.pageInfo.endCursor });
      const page2 = second.data!.post!.replies;
      expect(page2.edges.map((e) => e.node.body)).toEqual(["reply 2", "reply 3"]);
      expect(page2.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });

      const third = await api.execute(Replies, { id: root.id, first: 2, after: page2.pageInfo.endCursor });
      const page3 = third.data!.post!.replies;
      expect(page3.edges.map((e) => e.node.id)).toEqual([replies[4]!.id]);
      expect(page3.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true, endCursor: page3.edges[0]!.cursor });

      const all = await api.execute(Replies, { id: root.id, first: 100 });
      expect(all.data!.post!.replies.edges.map((e) => e.node.id)).toEqual(replies.map((r) => r.id));
      expect(all.data!.post!.replies.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    });

    it("pages backwards with last/before", async () => {
      const last = await api.execute(Replies, { id: root.id, last: 2 });
      expect(last.errors).toBeUndefined();
      const page = last.data!.post!.replies;
      expect(page.edges.map((e) => e.node.body)).toEqual(["reply 3", "reply 4"]);
      expect(page.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
      const before = await api.execute(Replies, { id: root.id, last: 2, before: page.pageInfo.startCursor });
      expect(before.data!.post!.replies.edges.map((e) => e.node.body)).toEqual(["reply 1", "reply 2"]);
    });

    it.each([
      ["neither first nor last", {}],
      ["first: 0", { first: 0 }],
      ["first: 101", { first: 101 }],
      ["first: -1", { first: -1 }],
      ["last: 101", { last: 101 }],
      ["both first and last", { first: 2, last: 2 }],
      ["first with before", { first: 2, before: Buffer.from("GPC:N:1").toString("base64") }],
      ["last with after", { last: 2, after: Buffer.from("GPC:N:1").toString("base64") }],
      ["a malformed cursor", { first: 2, after: "not-a-cursor" }],
      ["a cursor of another kind", { first: 2, after: Buffer.from("GPC:garbage").toString("base64") }],
      ["a malformed before cursor", { last: 2, before: "%%%" }],
      ["a cursor holding a string", { first: 2, after: Buffer.from("GPC:S:1").toString("base64") }],
      ["a cursor holding a fraction", { first: 2, after: Buffer.from("GPC:N:1.5").toString("base64") }],
      ["a cursor holding no number", { first: 2, after: Buffer.from("GPC:N:abc").toString("base64") }],
      ["a cursor out of range", { first: 2, after: Buffer.from("GPC:N:99999999999").toString("base64") }],
    ])("rejects %s with BAD_USER_INPUT", async (_name, args) => {
      const result = await api.execute(Replies, { id: root.id, ...args });
      expect(result.data?.post ?? null).toBeNull();
      expect(topLevelError(result).code).toBe("BAD_USER_INPUT");
    });

    it("bounds the likers connection the same way", async () => {
      const cursor = (text: string) => Buffer.from(text).toString("base64");
      for (const args of [
        {},
        { first: 0 },
        { first: 101 },
        { first: 1, after: "bogus" },
        { first: 1, after: cursor("GPC:S:1") },
        { first: 1, after: cursor("GPC:N:abc") },
        { first: 1, after: cursor("GPC:N:99999999999") },
      ]) {
        const result = await api.execute(Likers, { id: root.id, ...args });
        expect(topLevelError(result).code).toBe("BAD_USER_INPUT");
      }
    });
  });
});

describe("concurrency", () => {
  it("10 concurrent likes by the same user count once", async () => {
    const [author, fan] = await users(2);
    const post = await createOk(author, "like me fast");
    const results = await Promise.all(Array.from({ length: 10 }, () => api.execute(LikePost, { input: { postId: post.id } }, { as: fan })));
    for (const result of results) asPost(payload(result, "likePost"));
    expect((await getOk(post.id, fan)).likeCount).toBe(1);
    expect(await api.db.like.count({ where: { postId: dbId(post.id) } })).toBe(1);
  });

  it("concurrent likes by 10 users count 10, and concurrent unlikes bring it back to 0", async () => {
    const [author] = await users(1);
    const fans = await users(10);
    const post = await createOk(author, "like me, everyone");
    const liked = await Promise.all(fans.map((fan) => api.execute(LikePost, { input: { postId: post.id } }, { as: fan })));
    for (const result of liked) asPost(payload(result, "likePost"));
    expect((await getOk(post.id)).likeCount).toBe(10);
    expect(await api.db.like.count({ where: { postId: dbId(post.id) } })).toBe(10);
    const unliked = await Promise.all(fans.flatMap((fan) => [1, 2].map(() => api.execute(UnlikePost, { input: { postId: post.id } }, { as: fan }))));
    for (const result of unliked) asPost(payload(result, "unlikePost"));
    expect((await getOk(post.id)).likeCount).toBe(0);
  });

  it("concurrent reposts by the same user make one repost", async () => {
    const [author, fan] = await users(2);
    const post = await createOk(author, "repost me fast");
    const results = await Promise.all(Array.from({ length: 10 }, () => api.execute(Repost, { input: { postId: post.id } }, { as: fan })));
    const ids = new Set(results.map((result) => asPost(payload(result, "repost")).id));
    expect(ids.size).toBe(1);
    expect((await getOk(post.id)).repostCount).toBe(1);
    await Promise.all(Array.from({ length: 5 }, () => api.execute(UndoRepost, { input: { postId: post.id } }, { as: fan })));
    expect((await getOk(post.id)).repostCount).toBe(0);
    await expectCountersExact();
  });

  it("concurrent deletes of the same post count it off once", async () => {
    const [alice, bob] = await users(2);
    const [admin] = await users(1, { role: "ADMIN" });
    const root = await createOk(alice, "root of a contested reply");
    const reply = await createOk(bob, "delete me many times", root.id);
    await createOk(bob, "bob keeps this one");
    const results = await Promise.all(
      [bob, admin, bob, admin, bob, admin, bob, admin].map((as) => api.execute(DeletePost, { input: { postId: reply.id } }, { as })),
    );
    for (const result of results) expect(asPost(payload(result, "deletePost"))).toMatchObject({ id: reply.id, isDeleted: true });
    expect(await postCount(bob)).toBe(1);
    expect((await getOk(root.id)).replyCount).toBe(0);
    await expectCountersExact();
  });

  it("reposts, likes and replies racing a delete leave no repost of the deleted post and exact counters", async () => {
    const [author] = await users(1);
    const crowd = await users(8);
    for (let round = 0; round < 3; round++) {
      const post = await createOk(author, `contested ${round}`);
      const racing = crowd.flatMap((user, i) => [
        api.execute(Repost, { input: { postId: post.id } }, { as: user }),
        i % 2 ? api.execute(LikePost, { input: { postId: post.id } }, { as: user }) : api.execute(CreatePost, { input: { body: "me too", replyToId: post.id } }, { as: user }),
      ]);
      const deleting = api.execute(DeletePost, { input: { postId: post.id } }, { as: author });
      const results = await Promise.all([...racing, deleting]);
      for (const result of results) {
        expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
        const value = Object.values(result.data as object)[0] as Payload;
        expect(["Post", "ValidationError"]).toContain(value.__typename);
      }
      expect(await getOk(post.id)).toMatchObject({ isDeleted: true, body: null, repostCount: 0 });
      expect(await api.db.post.count({ where: { repostOfId: dbId(post.id) } })).toBe(0);
    }
    await expectCountersExact();
  });

  it("an edit racing a delete never brings the body back", async () => {
    const [author] = await users(1);
    for (let round = 0; round < 5; round++) {
      const post = await createOk(author, `edit race ${round}`);
      const [edited, deleted] = await Promise.all([
        api.execute(EditPost, { input: { postId: post.id, body: "edited in the race" } }, { as: author }),
        api.execute(DeletePost, { input: { postId: post.id } }, { as: author }),
      ]);
      expect(["Post", "ValidationError"]).toContain(payload(edited, "editPost").__typename);
      asPost(payload(deleted, "deletePost"));
      expect(await getOk(post.id)).toMatchObject({ isDeleted: true, body: null });
      expect(await api.db.post.findUniqueOrThrow({ where: { id: dbId(post.id) } })).toMatchObject({ body: null });
    }
  });
});

const ViewerCan = graphql(`
  query PostsViewerCan($id: ID!) {
    post(id: $id) { viewerCanEdit viewerCanDelete }
  }
`);

describe("viewerCanEdit and viewerCanDelete", () => {
  it("answer what editPost and deletePost then do, for every kind of viewer and post", async () => {
    const [author, stranger] = await users(2);
    const admin = await api.signUp({ role: "ADMIN" });
    const minted = await api.execute(
      `mutation { createApiToken(input: { name: "reader", scopes: [READ] }) { ... on CreatedApiToken { secret } } }`,
      {},
      { as: author },
    );
    const readOnly = { token: (minted.data as { createApiToken: { secret: string } }).createApiToken.secret };
    const viewers: [string, As, boolean, boolean][] = [
      // who, as, may edit their post, may delete it
      ["the author", author, true, true],
      ["a stranger", stranger, false, false],
      ["an admin", admin, false, true],
      ["anonymous", null, false, false],
      ["the author's read-only token", readOnly, false, false],
    ];
    for (const [who, as, edit, remove] of viewers) {
      const post = await createOk(author, `for ${who}`);
      const flags = await api.execute(ViewerCan, { id: post.id }, { as });
      expect(flags.data?.post, who).toEqual({ viewerCanEdit: edit, viewerCanDelete: remove });
      const edited = await api.execute(EditPost, { input: { postId: post.id, body: "edited" } }, { as });
      expect(edited.data?.editPost?.__typename === "Post", `${who} edits`).toBe(edit);
      const deleted = await api.execute(DeletePost, { input: { postId: post.id } }, { as });
      expect(deleted.data?.deletePost?.__typename === "Post", `${who} deletes`).toBe(remove);
    }
  });

  it("are false for a deleted post, and a repost can be deleted but not edited", async () => {
    const [author, other] = await users(2);
    const post = await createOk(author, "soon gone");
    const reposted = await api.execute(Repost, { input: { postId: post.id } }, { as: other });
    const repostId = (reposted.data?.repost as { id: string }).id;
    expect((await api.execute(ViewerCan, { id: repostId }, { as: other })).data?.post).toEqual({ viewerCanEdit: false, viewerCanDelete: true });
    await api.execute(DeletePost, { input: { postId: post.id } }, { as: author });
    expect((await api.execute(ViewerCan, { id: post.id }, { as: author })).data?.post).toEqual({ viewerCanEdit: false, viewerCanDelete: false });
  });
});
