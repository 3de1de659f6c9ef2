import { beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../gql/index.js";
import type { EntitiesPostFragment } from "../gql/graphql.js";
import { type As, type TestApi, type TestUser, globalId, testApi, topLevelError } from "../support/api.js";

graphql(`
  fragment EntitiesPost on Post {
    id
    body
    entities { kind start end text url user { handle } hashtag { name postCount } }
  }
`);

const CreatePost = graphql(`
  mutation EntitiesCreatePost($input: CreatePostInput!) {
    createPost(input: $input) { __typename ... on Post { ...EntitiesPost } ... on Error { message code } }
  }
`);
const EditPost = graphql(`
  mutation EntitiesEditPost($input: EditPostInput!) {
    editPost(input: $input) { __typename ... on Post { ...EntitiesPost } ... on Error { message code } }
  }
`);
const DeletePost = graphql(`
  mutation EntitiesDeletePost($input: DeletePostInput!) {
    deletePost(input: $input) { __typename ... on Post { ...EntitiesPost } ... on Error { message code } }
  }
`);
const Repost = graphql(`
  mutation EntitiesRepost($input: RepostInput!) {
    repost(input: $input) { __typename ... on Post { ...EntitiesPost repostOf { ...EntitiesPost } } ... on Error { message code } }
  }
`);
const ReadPost = graphql(`
  query EntitiesReadPost($id: ID!) {
    post(id: $id) { isUnavailable ...EntitiesPost }
  }
`);
const Hashtag = graphql(`
  query EntitiesHashtag($name: String!, $first: Int!, $after: String) {
    hashtag(name: $name) {
      id
      name
      postCount
      posts(first: $first, after: $after) {
        edges { cursor node { id body author { handle } } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const HashtagNode = graphql(`
  query EntitiesHashtagNode($id: ID!) {
    node(id: $id) { __typename ... on Hashtag { name postCount } }
  }
`);
const Trending = graphql(`
  query EntitiesTrending($first: Int) {
    trendingHashtags(first: $first) { authorCount hashtag { name postCount } }
  }
`);
const Block = graphql(`
  mutation EntitiesBlock($input: BlockInput!) { block(input: $input) { __typename } }
`);

let api: TestApi;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  api = await testApi();
  alice = await api.signUp({ handle: "Alice" });
  bob = await api.signUp({ handle: "bob_b" });
  carol = await api.signUp({ handle: "carol" });
});

async function post(as: As, body: string, replyTo?: string): Promise<EntitiesPostFragment> {
  const result = await api.execute(CreatePost, { input: { body, replyToId: replyTo } }, { as });
  const created = result.data?.createPost;
  if (created?.__typename !== "Post") throw new Error(`createPost failed: ${JSON.stringify(result)}`);
  return created;
}

const hashtag = async (name: string, first = 20, as: As = alice, after?: string) => {
  const result = await api.execute(Hashtag, { name, first, after }, { as });
  expect(result.errors).toBeUndefined();
  return result.data!.hashtag;
};

/** Every entity's text is the body's slice at its offsets. */
function expectSlices(created: EntitiesPostFragment) {
  for (const entity of created.entities) expect(created.body!.slice(entity.start, entity.end)).toBe(entity.text);
}

describe("Post.entities", () => {
  it("counts offsets in UTF-16 code units across emoji, ZWJ sequences, flags and combining marks", async () => {
    const body = "👩‍👩‍👧 @alice 🇫🇷 #café #cafe\u0301 😀#日本語 e\u0301 #Ünïcödé #한국어 @bob_b";
    const created = await post(carol, body);
    expectSlices(created);
    expect(created.entities).toEqual([
      // The family emoji is 3 code points joined by 2 ZWJs: 8 code units.
      { kind: "MENTION", start: 9, end: 15, text: "@alice", url: null, user: { handle: "Alice" }, hashtag: null },
      // The flag is two regional indicators, 4 code units.
      { kind: "HASHTAG", start: 21, end: 26, text: "#café", url: null, user: null, hashtag: { name: "café", postCount: 1 } },
      // e + U+0301 is the same tag as the precomposed é (one post, counted once): the mark is part of the name.
      { kind: "HASHTAG", start: 27, end: 33, text: "#cafe\u0301", url: null, user: null, hashtag: { name: "café", postCount: 1 } },
      { kind: "HASHTAG", start: 36, end: 40, text: "#日本語", url: null, user: null, hashtag: { name: "日本語", postCount: 1 } },
      { kind: "HASHTAG", start: 44, end: 52, text: "#Ünïcödé", url: null, user: null, hashtag: { name: "Ünïcödé", postCount: 1 } },
      { kind: "HASHTAG", start: 53, end: 57, text: "#한국어", url: null, user: null, hashtag: { name: "한국어", postCount: 1 } },
      { kind: "MENTION", start: 58, end: 64, text: "@bob_b", url: null, user: { handle: "bob_b" }, hashtag: null },
    ]);
    // Code points would give other numbers: the offsets are JavaScript's.
    expect([...body.slice(0, 9)]).toHaveLength(6);
  });

  it("takes a URL with # and @ inside as one link, and nothing from an e-mail address", async () => {
    const created = await post(alice, "see https://example.com/a#frag?x=@bob_b&y=#tag, chirp.dev/about and write to carol@example.com or bob_b@chirp.test #ok");
    expectSlices(created);
    expect(created.entities.map(({ kind, text, url }) => ({ kind, text, url }))).toEqual([
      { kind: "LINK", text: "https://example.com/a#frag?x=@bob_b&y=#tag", url: "https://example.com/a#frag?x=@bob_b&y=#tag" },
      { kind: "LINK", text: "chirp.dev/about", url: "https://chirp.dev/about" },
      { kind: "HASHTAG", text: "#ok", url: null },
    ]);
  });

  it("takes a link with a scheme whatever its host, and no mention or tag inside it", async () => {
    const created = await post(alice, "at http://localhost:3000/@bob_b, https://chirp.internal/@bob_b#x and http://10.0.0.1/@bob_b, ftp://files.test/@bob_b; hi @bob_b");
    expectSlices(created);
    expect(created.entities.map(({ kind, text, url }) => ({ kind, text, url }))).toEqual([
      { kind: "LINK", text: "http://localhost:3000/@bob_b", url: "http://localhost:3000/@bob_b" },
      { kind: "LINK", text: "https://chirp.internal/@bob_b#x", url: "https://chirp.internal/@bob_b#x" },
      { kind: "LINK", text: "http://10.0.0.1/@bob_b", url: "http://10.0.0.1/@bob_b" },
      { kind: "MENTION", text: "@bob_b", url: null },
    ]);
  });

  it("mentions only existing users, whatever the case of the handle; a list mentions its owner", async () => {
    const created = await post(bob, "@ALICE meet @nobody_at_all and @Carol/friends, not @a@b or x@carol");
    expectSlices(created);
    expect(created.entities.map(({ kind, text, user }) => ({ kind, text, user }))).toEqual([
      { kind: "MENTION", text: "@ALICE", user: { handle: "Alice" } },
      { kind: "MENTION", text: "@Carol", user: { handle: "carol" } },
    ]);
  });

  it("re-parses on edit and drops everything on delete; reposts have none", async () => {
    const created = await post(alice, "#EditOne with @carol");
    expect((await hashtag("editone"))!.postCount).toBe(1);

    const edited = await api.execute(EditPost, { input: { postId: created.id, body: "#EditTwo and #edittwo, https://chirp.dev" } }, { as: alice });
    expect(edited.data?.editPost).toMatchObject({
      __typename: "Post",
      entities: [
        { kind: "HASHTAG", text: "#EditTwo", hashtag: { name: "EditTwo", postCount: 1 } },
        { kind: "HASHTAG", text: "#edittwo", hashtag: { name: "EditTwo", postCount: 1 } },
        { kind: "LINK", text: "https://chirp.dev", url: "https://chirp.dev" },
      ],
    });
    expect(await hashtag("EditOne", 5)).toMatchObject({ postCount: 0, posts: { edges: [] } });

    const reposted = await api.execute(Repost, { input: { postId: created.id } }, { as: bob });
    expect(reposted.data?.repost).toMatchObject({ __typename: "Post", body: null, entities: [], repostOf: { entities: [{ text: "#EditTwo" }, {}, {}] } });

    const deleted = await api.execute(DeletePost, { input: { postId: created.id } }, { as: alice });
    expect(deleted.data?.deletePost).toMatchObject({ __typename: "Post", body: null, entities: [] });
    expect(await hashtag("edittwo", 5)).toMatchObject({ name: "EditTwo", postCount: 0, posts: { edges: [] } });
    // Deleting again changes no counter.
    await api.execute(DeletePost, { input: { postId: created.id } }, { as: alice });
    expect((await hashtag("edittwo"))!.postCount).toBe(0);
  });

  it("keeps a tag's count exact when a post repeats it and when an edit keeps it", async () => {
    const created = await post(carol, "#Repeat #repeat #REPEAT");
    expect((await hashtag("repeat"))!.postCount).toBe(1);
    await api.execute(EditPost, { input: { postId: created.id, body: "still #repeat" } }, { as: carol });
    expect(await hashtag("repeat")).toMatchObject({ name: "Repeat", postCount: 1, posts: { edges: [{ node: { id: created.id } }] } });
  });
});

describe("tag counters under concurrent writes", () => {
  it("stay exact, without deadlocks, when posts naming the same tags in other orders are written, edited and deleted at once", async () => {
    const bodies = Array.from({ length: 12 }, (_, i) => (i % 2 ? "#RaceA #RaceB #RaceC" : "#RaceC #RaceB #RaceA"));
    const created = await Promise.all(bodies.map((body, i) => post([alice, bob, carol][i % 3]!, body)));
    expect((await hashtag("raceb"))!.postCount).toBe(12);
    const owner = (i: number) => [alice, bob, carol][i % 3]!;
    const changes = await Promise.all(
      created.map((p, i) =>
        i % 3 === 0
          ? api.execute(DeletePost, { input: { postId: p.id } }, { as: owner(i) })
          : api.execute(EditPost, { input: { postId: p.id, body: i % 2 ? "#RaceC only" : "#RaceA #RaceD" } }, { as: owner(i) }),
      ),
    );
    expect(changes.map((c) => c.errors)).toEqual(changes.map(() => undefined));
    // 4 deleted; of the 8 edited, 4 keep only RaceC and 4 keep RaceA and add RaceD.
    const counts = await Promise.all(["racea", "raceb", "racec", "raced"].map(async (name) => (await hashtag(name))!.postCount));
    expect(counts).toEqual([4, 0, 4, 4]);
  });
});

describe("hashtag(name:)", () => {
  it("finds a tag with or without #, in any case and width, and shows its first spelling", async () => {
    await post(alice, "first #ChirpTag");
    await post(bob, "second #chirptag");
    for (const name of ["ChirpTag", "#chirptag", "CHIRPTAG", "＃ＣＨＩＲＰＴＡＧ", "  #chirpTag "]) {
      expect(await hashtag(name), name).toMatchObject({ name: "ChirpTag", postCount: 2 });
    }
    const found = await hashtag("chirptag");
    const node = await api.execute(HashtagNode, { id: found!.id }, { as: alice });
    expect(node.data?.node).toEqual({ __typename: "Hashtag", name: "ChirpTag", postCount: 2 });
  });

  it("leaves a tag of more than 100 characters as plain text", async () => {
    const created = await post(alice, `#${"a".repeat(100)} #${"b".repeat(101)}`);
    expect(created.entities.map((e) => e.text.length)).toEqual([101]);
    expect(await hashtag("b".repeat(101))).toBeNull();
  });

  it("is null for a tag no post used, and for names that cannot be one", async () => {
    for (const name of ["neverused", "#", "", "x".repeat(500)]) expect(await hashtag(name), name).toBeNull();
  });

  it("pages the tag's posts newest first, by post, whatever edits added the tag later", async () => {
    const oldest = await post(alice, "no tag yet");
    const tagged = [];
    for (let i = 0; i < 5; i++) tagged.push(await post(i % 2 ? bob : carol, `#Paged number ${i}`));
    // The oldest post gets the tag by an edit: it goes to its place by age, not to the top.
    await api.execute(EditPost, { input: { postId: oldest.id, body: "now #paged" } }, { as: alice });
    const expected = [...tagged.reverse(), oldest].map((p) => p.id);

    const page1 = await hashtag("paged", 4);
    expect(page1!.postCount).toBe(6);
    expect(page1!.posts.edges.map((e) => e.node.id)).toEqual(expected.slice(0, 4));
    expect(page1!.posts.pageInfo.hasNextPage).toBe(true);
    const page2 = await hashtag("paged", 4, alice, page1!.posts.pageInfo.endCursor!);
    expect(page2!.posts.edges.map((e) => e.node.id)).toEqual(expected.slice(4));
    expect(page2!.posts.pageInfo.hasNextPage).toBe(false);

    // A deleted post leaves the list at once, and a cursor of it still pages on.
    await api.execute(DeletePost, { input: { postId: expected[3]! } }, { as: bob });
    const after = await hashtag("paged", 4, alice, page1!.posts.pageInfo.endCursor!);
    expect(after!.posts.edges.map((e) => e.node.id)).toEqual(expected.slice(4));
    expect((await hashtag("paged", 10))!.posts.edges.map((e) => e.node.id)).toEqual(expected.filter((_, i) => i !== 3));
  });

  it("refuses a cursor of another list", async () => {
    // A cursor of a post list (GPC:N:1) and one that is no cursor at all.
    for (const after of [Buffer.from("GPC:N:1").toString("base64"), "not-a-cursor"]) {
      const result = await api.execute(Hashtag, { name: "paged", first: 2, after }, { as: alice });
      expect(topLevelError(result)).toMatchObject({ code: "BAD_USER_INPUT", message: "`after` is not a cursor of this list." });
    }
  });
});

describe("trendingHashtags", () => {
  let dave: TestUser;
  let erin: TestUser;

  beforeAll(async () => {
    // Earlier tests' tags leave the window.
    await api.db.$executeRaw`UPDATE post_hashtags SET created_at = created_at - interval '2 days'`;
    dave = await api.signUp({ handle: "dave" });
    erin = await api.signUp({ handle: "erin" });
  });

  const trending = async (as: As, first?: number) => {
    const result = await api.execute(Trending, { first }, { as });
    expect(result.errors).toBeUndefined();
    return result.data!.trendingHashtags.map((t) => [t.hashtag.name, t.authorCount]);
  };

  it("ranks by distinct authors: one account posting a tag 50 times counts once", async () => {
    for (let i = 0; i < 50; i++) await post(dave, `#Spam ${i}`);
    for (const author of [alice, bob, carol]) await post(author, "#Real news");
    for (const author of [alice, bob]) await post(author, "#Second look");
    expect(await trending(erin)).toEqual([["Real", 3], ["Second", 2], ["Spam", 1]]);
    expect(await trending(null, 2)).toEqual([["Real", 3], ["Second", 2]]);
  });

  it("breaks ties by the most recent use, then by name", async () => {
    await post(erin, "#Tied #Also");
    await post(dave, "#Tied");
    await post(dave, "#Also");
    // Tied, Also and Second have 2 authors each: Also was used last, Second first.
    expect(await trending(null, 4)).toEqual([["Real", 3], ["Also", 2], ["Tied", 2], ["Second", 2]]);
  });

  it("leaves out suspended authors and posts older than 24 hours", async () => {
    await api.db.user.update({ where: { id: carol.dbId }, data: { suspendedAt: new Date() } });
    await api.db.$executeRaw`UPDATE post_hashtags SET created_at = created_at - interval '25 hours'
      WHERE author_id = ${bob.dbId} AND hashtag_id = (SELECT id FROM hashtags WHERE name_key = 'second')`;
    // Real loses carol and Second loses bob's use of 25 hours ago; among equals, the latest use first.
    expect(await trending(null, 10)).toEqual([["Also", 2], ["Tied", 2], ["Real", 2], ["Second", 1], ["Spam", 1]]);
    await api.db.user.update({ where: { id: carol.dbId }, data: { suspendedAt: null } });
  });

  it("refuses a size out of range, and nested pages that multiply past the request's limit", async () => {
    for (const first of [0, 51]) expect(topLevelError(await api.execute(Trending, { first }, { as: alice })).code).toBe("BAD_USER_INPUT");
    // An explicit null is no way past the limit: the argument is non-null with its default.
    expect(topLevelError(await api.execute(Trending, { first: null }, { as: alice })).code).toBe("BAD_USER_INPUT");
    const literal = await api.execute("query { trendingHashtags(first: null) { hashtag { posts(first: 100) { edges { node { likers(first: 49) { edges { node { id } } } } } } } } }", {}, { as: alice });
    expect(topLevelError(literal).code).toBe("GRAPHQL_VALIDATION_FAILED");
    const nested = await api.execute(
      "query { trendingHashtags(first: 50) { hashtag { posts(first: 100) { edges { node { id } } } } } }",
      {},
      { as: alice },
    );
    expect(topLevelError(nested)).toMatchObject({ code: "BAD_USER_INPUT", message: expect.stringContaining("could return 5050 items") });
  });
});

describe("blocks", () => {
  let blocker: TestUser;
  let viewer: TestUser;
  let mentioner: TestUser;

  beforeAll(async () => {
    blocker = await api.signUp({ handle: "blocker_b" });
    viewer = await api.signUp({ handle: "viewer_v" });
    mentioner = await api.signUp({ handle: "mentioner" });
    await api.execute(Block, { input: { userId: viewer.id } }, { as: blocker });
  });

  it("hide the blocker's posts from the blocked viewer's tag pages, both ways, and not from others", async () => {
    const hidden = await post(blocker, "#BlockTag from the blocker");
    const shown = await post(mentioner, "#BlockTag from someone else");
    const ids = async (as: TestUser) => (await hashtag("blocktag", 10, as))!.posts.edges.map((e) => e.node.id);
    expect(await ids(viewer)).toEqual([shown.id]);
    expect(await ids(mentioner)).toEqual([shown.id, hidden.id]);
    const mine = await post(viewer, "#BlockTag from the viewer");
    expect(await ids(blocker)).toEqual([shown.id, hidden.id]);
    expect(await ids(viewer)).toEqual([mine.id, shown.id]);
  });

  it("leave the other's uses out of the viewer's trends", async () => {
    await api.db.$executeRaw`UPDATE post_hashtags SET created_at = created_at - interval '2 days'`;
    await post(blocker, "#Apart");
    await post(mentioner, "#Apart");
    const result = await api.execute(Trending, { first: 5 }, { as: viewer });
    expect(result.data?.trendingHashtags).toEqual([{ authorCount: 1, hashtag: { name: "Apart", postCount: 2 } }]);
    const other = await api.execute(Trending, { first: 5 }, { as: mentioner });
    expect(other.data?.trendingHashtags).toEqual([{ authorCount: 2, hashtag: { name: "Apart", postCount: 2 } }]);
  });

  it("hide a mentioned user from a viewer a block separates them from, and store no mention across a block", async () => {
    const created = await post(mentioner, "hello @blocker_b and @viewer_v");
    const read = async (as: TestUser, id: string) => (await api.execute(ReadPost, { id }, { as })).data!.post!;
    expect((await read(viewer, created.id)).entities.map((e) => e.user)).toEqual([null, { handle: "viewer_v" }]);
    expect((await read(mentioner, created.id)).entities.map((e) => e.user)).toEqual([{ handle: "blocker_b" }, { handle: "viewer_v" }]);

    // Each tries to mention the other: the text stays, with no entity and so no notification.
    const fromBlocker = await post(blocker, "@viewer_v hi");
    expect(fromBlocker.entities).toEqual([]);
    const fromViewer = await post(viewer, "@blocker_b hi #there");
    expect(fromViewer.entities.map((e) => e.text)).toEqual(["#there"]);
    // And the blocker's post, reached by id, is unavailable to the viewer: no entities either.
    expect(await read(viewer, (await post(blocker, "#hidden @mentioner")).id)).toMatchObject({ isUnavailable: true, body: null, entities: [] });
  });
});

it("keeps an unknown Hashtag ID a bad input", async () => {
  const result = await api.execute(HashtagNode, { id: globalId("Hashtag", "x") }, { as: alice });
  expect(topLevelError(result).code).toBe("BAD_USER_INPUT");
});
