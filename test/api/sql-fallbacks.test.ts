import { beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../gql/index.js";
import { type As, type Result, type TestApi, type TestUser, testApi } from "../support/api.js";
import { fallbackLog } from "../support/database.js";

// The hot reads go through the SQL reader, never through Prisma: with every field of their types
// selected, as nobody and as a signed-in user (whose request also runs the session check).

graphql(`
  fragment FallbackUserFields on User {
    id handle displayName bio avatarUrl createdAt role isSuspended
    followerCount followingCount postCount viewerFollows followsViewer
  }
`);
graphql(`
  fragment FallbackPostFields on Post {
    id body createdAt editedAt deletedAt isDeleted likeCount replyCount repostCount viewerHasLiked viewerHasReposted
    author { ...FallbackUserFields }
    replyTo { id body author { handle } }
    repostOf { id body author { ...FallbackUserFields } }
    threadRoot { id body }
    entities { kind start end text url user { ...FallbackUserFields } hashtag { id name postCount } }
  }
`);

const Home = graphql(`
  query FallbackHome($first: Int, $after: String, $last: Int, $before: String) {
    homeTimeline(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { ...FallbackPostFields } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`);
const UserTimeline = graphql(`
  query FallbackUserTimeline($handle: String!, $includeReplies: Boolean, $first: Int, $after: String, $last: Int, $before: String) {
    userTimeline(handle: $handle, includeReplies: $includeReplies, first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { ...FallbackPostFields } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`);
const Thread = graphql(`
  query FallbackThread($id: ID!) {
    post(id: $id) {
      ...FallbackPostFields
      replies(first: 10) {
        edges { cursor node { ...FallbackPostFields replies(first: 10) { edges { node { id body viewerHasLiked author { handle viewerFollows } } } } } }
        pageInfo { hasNextPage endCursor }
      }
      likers(first: 10) {
        edges { cursor node { ...FallbackUserFields } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const Profile = graphql(`
  query FallbackProfile($handle: String!) {
    user(handle: $handle) {
      ...FallbackUserFields
      followers(first: 10) { edges { cursor node { ...FallbackUserFields } } pageInfo { hasNextPage endCursor } }
      following(first: 10) { edges { cursor node { ...FallbackUserFields } } pageInfo { hasNextPage endCursor } }
    }
  }
`);
const Viewer = graphql(`
  query FallbackViewer {
    viewer {
      ...FallbackUserFields
      email
      sessions(first: 5) { edges { node { id userAgent createdAt lastUsedAt expiresAt isCurrent } } }
      apiTokens(first: 5) { edges { node { id name prefix scopes createdAt lastUsedAt expiresAt revokedAt } } }
      following(first: 10) { edges { node { ...FallbackUserFields } } }
    }
  }
`);

const Hashtag = graphql(`
  query FallbackHashtag($name: String!, $first: Int, $after: String, $last: Int, $before: String) {
    hashtag(name: $name) {
      id name postCount
      posts(first: $first, after: $after, last: $last, before: $before) {
        edges { cursor node { ...FallbackPostFields } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
    trendingHashtags(first: 5) { authorCount hashtag { id name postCount posts(first: 2) { edges { node { ...FallbackPostFields } } } } }
  }
`);
const CreatePost = graphql(`
  mutation FallbackCreatePost($input: CreatePostInput!) {
    createPost(input: $input) { __typename ... on Post { id } ... on Error { message } }
  }
`);
const Repost = graphql(`
  mutation FallbackRepost($input: RepostInput!) {
    repost(input: $input) { __typename ... on Post { id } ... on Error { message } }
  }
`);
const Like = graphql(`
  mutation FallbackLike($input: LikePostInput!) {
    likePost(input: $input) { __typename ... on Error { message } }
  }
`);
const Follow = graphql(`
  mutation FallbackFollow($input: FollowInput!) {
    follow(input: $input) { __typename ... on Error { message } }
  }
`);
const CreateApiToken = graphql(`
  mutation FallbackCreateApiToken($input: CreateApiTokenInput!) {
    createApiToken(input: $input) { __typename ... on Error { message } }
  }
`);

let api: TestApi;
let viewer: TestUser;
let author: TestUser;
let rootId: string;

/** Runs a mutation that must succeed, returning its payload. */
async function mutate(result: Promise<Result<object>>) {
  const { data, errors } = await result;
  const payload = Object.values(data ?? {})[0] as { __typename: string; id?: string } | undefined;
  if (!payload || payload.__typename.endsWith("Error")) throw new Error(`mutation failed: ${JSON.stringify({ data, errors })}`);
  return payload;
}

beforeAll(async () => {
  api = await testApi();
  viewer = await api.signUp({ handle: "fb_viewer" });
  author = await api.signUp({ handle: "fb_author" });
  const replier = await api.signUp({ handle: "fb_replier" });
  const as = (user: TestUser) => ({ as: user });
  await mutate(api.execute(Follow, { input: { userId: author.id } }, as(viewer)));
  await mutate(api.execute(Follow, { input: { userId: viewer.id } }, as(replier)));
  await mutate(api.execute(CreateApiToken, { input: { name: "script", scopes: ["READ"] } }, as(viewer)));
  rootId = (await mutate(api.execute(CreatePost, { input: { body: "the root" } }, as(author)))).id!;
  const reply = (await mutate(api.execute(CreatePost, { input: { body: "a reply", replyToId: rootId } }, as(replier)))).id!;
  await mutate(api.execute(CreatePost, { input: { body: "a reply to the reply", replyToId: reply } }, as(author)));
  for (let i = 0; i < 4; i++) await mutate(api.execute(CreatePost, { input: { body: `post ${i} #FbTag to @fb_viewer, see chirp.dev/${i}` } }, as(author)));
  await mutate(api.execute(Repost, { input: { postId: reply } }, as(author)));
  await mutate(api.execute(Like, { input: { postId: rootId } }, as(viewer)));
  await mutate(api.execute(Like, { input: { postId: rootId } }, as(replier)));
  await mutate(api.execute(CreatePost, { input: { body: "the viewer's own" } }, as(viewer)));
});

/** Runs the read and expects an answer with no error and no read through Prisma. */
async function expectNoFallback<R>(read: () => Promise<Result<R>>): Promise<R> {
  const before = fallbackLog.length;
  const result = await read();
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  expect(fallbackLog.slice(before)).toEqual([]);
  return result.data!;
}

const viewers: [string, () => As][] = [
  ["nobody", () => null],
  ["a signed-in user", () => viewer],
];

describe.each(viewers)("hot reads as %s never fall back to Prisma", (_who, who) => {
  it("userTimeline, with and without replies, forwards and backwards", async () => {
    for (const includeReplies of [false, true]) {
      const first = await expectNoFallback(() => api.execute(UserTimeline, { handle: author.handle, includeReplies, first: 3 }, { as: who() }));
      expect(first.userTimeline.edges).toHaveLength(3);
      const next = await expectNoFallback(() =>
        api.execute(UserTimeline, { handle: author.handle, includeReplies, first: 3, after: first.userTimeline.pageInfo.endCursor }, { as: who() }),
      );
      expect(next.userTimeline.edges.length).toBeGreaterThan(0);
      await expectNoFallback(() => api.execute(UserTimeline, { handle: author.handle, includeReplies, last: 2 }, { as: who() }));
    }
  });

  it("post with its replies two levels deep and its likers", async () => {
    const { post } = await expectNoFallback(() => api.execute(Thread, { id: rootId }, { as: who() }));
    expect(post!.replies.edges[0]!.node.replies.edges).toHaveLength(1);
    expect(post!.likers.edges).toHaveLength(2);
  });

  it("hashtag with its posts, forwards and backwards, and the trending tags", async () => {
    const first = await expectNoFallback(() => api.execute(Hashtag, { name: "#fbtag", first: 3 }, { as: who() }));
    expect(first.hashtag!.posts.edges).toHaveLength(3);
    expect(first.hashtag!.posts.edges[0]!.node.entities.map((e) => e.kind)).toEqual(["HASHTAG", "MENTION", "LINK"]);
    expect(first.trendingHashtags).toHaveLength(1);
    const next = await expectNoFallback(() => api.execute(Hashtag, { name: "fbtag", first: 3, after: first.hashtag!.posts.pageInfo.endCursor }, { as: who() }));
    expect(next.hashtag!.posts.edges).toHaveLength(1);
    await expectNoFallback(() => api.execute(Hashtag, { name: "FBTAG", last: 2 }, { as: who() }));
  });

  it("user with followers and following", async () => {
    const { user } = await expectNoFallback(() => api.execute(Profile, { handle: viewer.handle }, { as: who() }));
    expect(user!.followers.edges).toHaveLength(1);
    expect(user!.following.edges).toHaveLength(1);
  });
});

describe("hot reads of a signed-in user never fall back to Prisma", () => {
  it("homeTimeline, forwards and backwards", async () => {
    const first = await expectNoFallback(() => api.execute(Home, { first: 4 }, { as: viewer }));
    expect(first.homeTimeline.edges).toHaveLength(4);
    await expectNoFallback(() => api.execute(Home, { first: 4, after: first.homeTimeline.pageInfo.endCursor }, { as: viewer }));
    await expectNoFallback(() => api.execute(Home, { last: 3 }, { as: viewer }));
  });

  it("viewer with sessions, API tokens and following", async () => {
    const { viewer: me } = await expectNoFallback(() => api.execute(Viewer, {}, { as: viewer }));
    expect(me!.sessions!.edges).toHaveLength(1);
    expect(me!.apiTokens!.edges).toHaveLength(1);
  });
});
