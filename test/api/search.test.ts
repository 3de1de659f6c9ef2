import { beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../gql/index.js";
import { type TestApi, type TestUser, globalId, testApi, topLevelError } from "../support/api.js";

const SearchPosts = graphql(`
  query SearchPosts($query: String!, $first: Int!, $after: String) {
    searchPosts(query: $query, first: $first, after: $after) {
      edges { cursor highlight { text matched } node { id body author { handle } } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`);
const SearchUsers = graphql(`
  query SearchUsers($query: String!, $first: Int!, $after: String) {
    searchUsers(query: $query, first: $first, after: $after) {
      edges { cursor node { id handle displayName followerCount } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`);
const DeletePost = graphql(`
  mutation SearchDeletePost($id: ID!) {
    deletePost(input: { postId: $id }) { __typename }
  }
`);
const Block = graphql(`
  mutation SearchBlock($id: ID!) {
    block(input: { userId: $id }) { __typename }
  }
`);
const Mute = graphql(`
  mutation SearchMute($id: ID!) {
    mute(input: { userId: $id }) { __typename }
  }
`);
const EditPost = graphql(`
  mutation SearchEditPost($id: ID!, $body: String!) {
    editPost(input: { postId: $id, body: $body }) { __typename }
  }
`);

let api: TestApi;
let author: TestUser;
let reader: TestUser;

beforeAll(async () => {
  api = await testApi();
  author = await api.signUp({ handle: "search_author" });
  reader = await api.signUp({ handle: "search_reader" });
});

/** Inserts a post by `by` (the author by default) and returns its global ID. */
async function post(body: string, by: TestUser = author) {
  const row = await api.db.post.create({ data: { authorId: by.dbId, body }, select: { id: true } });
  return globalId("Post", row.id);
}

async function searchPosts(query: string, first = 20, after?: string, as: TestUser | null = reader) {
  const result = await api.execute(SearchPosts, { query, first, after }, { as });
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data!.searchPosts;
}

const bodies = (connection: Awaited<ReturnType<typeof searchPosts>>) => connection.edges.map((e) => e.node.body);

describe("searchPosts", () => {
  it("ranks a post with both words above one with either, and more matches above fewer", async () => {
    const one = await post("an aardvark crossed the road");
    const both = await post("an aardvark met a bandicoot");
    const other = await post("a bandicoot slept");
    const many = await post("aardvark aardvark aardvark, all day long");
    const either = await searchPosts("aardvark or bandicoot");
    expect(either.edges.map((e) => e.node.id)).toEqual([many, both, other, one]);
    const single = await searchPosts("aardvark");
    expect(single.edges.map((e) => e.node.id)).toEqual([many, both, one]);
  });

  it("ranks the words close together above the words far apart, and equal ranks newest first", async () => {
    const far = await post("cormorant on the pier, and later, far down the coast, a single dolphin");
    const near = await post("a cormorant dolphin sighting");
    const nearAgain = await post("the cormorant dolphin again");
    expect((await searchPosts("cormorant dolphin")).edges.map((e) => e.node.id)).toEqual([nearAgain, near, far]);
  });

  it("matches stemmed words, case-insensitively, and highlights them as runs that join to the body", async () => {
    const body = "The quick brown FOXES jumped\nover a fox's den 🦊, see https://example.com/fox";
    const id = await post(body);
    const { edges } = await searchPosts("fox");
    expect(edges.map((e) => e.node.id)).toEqual([id]);
    const [edge] = edges;
    expect(edge!.highlight.map((r) => r.text).join("")).toBe(body);
    // A URL is one token to the parser: its path is not a word of the text.
    expect(edge!.highlight.filter((r) => r.matched).map((r) => r.text)).toEqual(["FOXES", "fox"]);
    expect(edge!.highlight[0]).toEqual({ text: "The quick brown ", matched: false });
  });

  it("pages through the results with cursors, without duplicates or gaps", async () => {
    for (let i = 0; i < 25; i++) await post(`gazelle ${i % 5 === 0 ? "gazelle " : ""}number ${i}`);
    const all = await searchPosts("gazelle", 50);
    expect(all.edges).toHaveLength(25);
    expect(all.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    const seen: string[] = [];
    let after: string | undefined;
    for (const size of [10, 10, 5]) {
      const page = await searchPosts("gazelle", 10, after);
      expect(page.edges).toHaveLength(size);
      expect(page.pageInfo.hasNextPage).toBe(size === 10);
      expect(page.pageInfo.hasPreviousPage).toBe(after !== undefined);
      seen.push(...page.edges.map((e) => e.node.id));
      after = page.pageInfo.endCursor!;
    }
    expect(seen).toEqual(all.edges.map((e) => e.node.id));
    // The five posts with the word twice come first.
    expect(bodies(all).slice(0, 5).every((b) => b!.startsWith("gazelle gazelle"))).toBe(true);
    // Past the last result: an empty page.
    expect((await searchPosts("gazelle", 10, after)).edges).toEqual([]);
  });

  it("keeps paging from a cursor whose post was deleted meanwhile", async () => {
    for (let i = 0; i < 4; i++) await post(`hedgehog ${i}`);
    const first = await searchPosts("hedgehog", 2);
    const deleted = await api.execute(DeletePost, { id: first.edges[1]!.node.id }, { as: author });
    expect(deleted.data?.deletePost.__typename).toBe("Post");
    const second = await searchPosts("hedgehog", 2, first.pageInfo.endCursor!);
    expect(second.edges.map((e) => e.node.body)).toEqual(["hedgehog 1", "hedgehog 0"]);
  });

  it("understands web-search syntax: quoted phrases, -exclusions and or", async () => {
    const phrase = await post("iguana lizard on a rock");
    const apart = await post("a lizard, then an iguana");
    const alone = await post("just an iguana");
    const ids = async (query: string) => (await searchPosts(query)).edges.map((e) => e.node.id).sort();
    expect(await ids('"iguana lizard"')).toEqual([phrase]);
    expect(await ids("iguana lizard")).toEqual([phrase, apart].sort());
    expect(await ids("iguana -lizard")).toEqual([alone]);
    expect(await ids("iguana or lizard")).toEqual([phrase, apart, alone].sort());
    // An exclusion alone has nothing to look up: it would rank every other post.
    expect(await ids("-iguana")).toEqual([]);
    expect(await ids("-iguana or -lizard")).toEqual([]);
  });

  it("finds nothing, without an error, for empty, blank and stop-word-only queries", async () => {
    await post("the a of and to");
    for (const query of ["", "   ", "\n\t", "the a of", "The AND of", "or", "-"]) {
      const result = await searchPosts(query);
      expect(result, JSON.stringify(query)).toEqual({ edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } });
    }
  });

  it("answers any query string: operators, quotes, SQL and tsquery syntax, markup, long words", async () => {
    await post("jackal's den & burrow");
    const hostile = [
      "'", '"', '"""', "\\", "\\'", "'; DROP TABLE posts; --", "jackal:*", "jackal & !burrow", "(jackal | burrow)", "<->", "!!!",
      "<b>jackal</b>", "%", "_", "jackal'", "' OR 1=1 --", "🦊🦊🦊", "\u0301", "ﬁ", "x".repeat(200), "jackal ".repeat(28),
      '"unterminated phrase', "- - - or or or", "jackal -", "OR jackal OR",
    ];
    for (const query of hostile) {
      const result = await api.execute(SearchPosts, { query, first: 5 }, { as: reader });
      expect(result.errors, JSON.stringify(query)).toBeUndefined();
    }
    expect((await searchPosts("jackal's")).edges).toHaveLength(1);
    expect((await searchPosts("'; DROP TABLE posts; --")).edges).toEqual([]);
  });

  it("refuses a query over 200 characters with BAD_USER_INPUT, and takes one of 200", async () => {
    for (const query of ["x".repeat(201), "word ".repeat(2_000), "🦊".repeat(201)]) {
      const result = await api.execute(SearchPosts, { query, first: 5 }, { as: reader });
      expect(topLevelError(result)).toEqual({ code: "BAD_USER_INPUT", message: "query: At most 200 characters" });
    }
    expect((await searchPosts("🦊".repeat(200))).edges).toEqual([]);
    // Surrounding blanks do not count.
    expect((await searchPosts(` ${"y".repeat(200)} `)).edges).toEqual([]);
  });

  it("never finds reposts or deleted posts, and follows edits", async () => {
    const original = await post("a kookaburra laughing");
    const originalId = Number(Buffer.from(original, "base64").toString().split(":")[1]);
    await api.db.post.create({ data: { authorId: reader.dbId, repostOfId: originalId } });
    const doomed = await post("a kookaburra, soon gone");
    expect((await searchPosts("kookaburra")).edges).toHaveLength(2);
    await api.execute(DeletePost, { id: doomed }, { as: author });
    expect((await searchPosts("kookaburra")).edges.map((e) => e.node.id)).toEqual([original]);
    await api.execute(EditPost, { id: original, body: "a lyrebird mimicking" }, { as: author });
    expect((await searchPosts("kookaburra")).edges).toEqual([]);
    expect((await searchPosts("lyrebird")).edges.map((e) => e.node.id)).toEqual([original]);
  });

  it("finds suspended authors' posts, as timelines and threads still show them", async () => {
    const banned = await api.signUp({ handle: "search_banned" });
    const theirs = await post("a mongoose by someone suspended", banned);
    await api.db.user.update({ where: { id: banned.dbId }, data: { suspendedAt: new Date() } });
    expect((await searchPosts("mongoose")).edges.map((e) => e.node.id)).toEqual([theirs]);
  });

  it("hides the posts of users a block stands between with the viewer, either way, and not those of the muted", async () => {
    const [blocker, blocked, muted, bystander] = [await api.signUp(), await api.signUp(), await api.signUp(), await api.signUp()];
    const ids = { blocker: await post("a platypus by the blocker", blocker), blocked: await post("a platypus by the blocked", blocked), muted: await post("a platypus by the muted", muted) };
    expect((await api.execute(Block, { id: blocked.id }, { as: blocker })).data?.block.__typename).toBe("User");
    expect((await api.execute(Mute, { id: muted.id }, { as: blocker })).data?.mute.__typename).toBe("User");
    const found = async (as: TestUser) => (await searchPosts("platypus", 20, undefined, as)).edges.map((e) => e.node.id).sort();
    expect(await found(blocker)).toEqual([ids.blocker, ids.muted].sort());
    expect(await found(blocked)).toEqual([ids.blocked, ids.muted].sort());
    expect(await found(bystander)).toEqual(Object.values(ids).sort());
    const people = async (as: TestUser, handle: string) => (await api.execute(SearchUsers, { query: handle, first: 5 }, { as })).data!.searchUsers.edges.map((e) => e.node.handle);
    expect(await people(blocker, blocked.handle)).toEqual([]);
    expect(await people(blocked, blocker.handle)).toEqual([]);
    expect(await people(blocker, muted.handle)).toEqual([muted.handle]);
    expect(await people(bystander, blocked.handle)).toEqual([blocked.handle]);
  });

  it("answers anonymous viewers too", async () => {
    const id = await post("a narwhal surfacing");
    expect((await searchPosts("narwhal", 5, undefined, null)).edges.map((e) => e.node.id)).toEqual([id]);
  });

  it("refuses cursors it did not write, and out-of-range page sizes, with BAD_USER_INPUT", async () => {
    await post("an ocelot");
    const users = await api.execute(SearchUsers, { query: "search", first: 1 }, { as: reader });
    const foreign = [
      users.data!.searchUsers.pageInfo.endCursor!,
      "not a cursor",
      Buffer.from("GPC:N:12").toString("base64"),
      Buffer.from("GPC:S:post:1e999:1").toString("base64"),
      Buffer.from("GPC:S:post:-1:1").toString("base64"),
      Buffer.from("GPC:S:post:0.1:99999999999").toString("base64"),
      Buffer.from("GPC:S:post:NaN:1").toString("base64"),
      Buffer.from("GPC:S:post:0.1").toString("base64"),
    ];
    for (const after of foreign) {
      const result = await api.execute(SearchPosts, { query: "ocelot", first: 5, after }, { as: reader });
      expect(topLevelError(result).code, after).toBe("BAD_USER_INPUT");
    }
    for (const first of [0, 101]) {
      expect(topLevelError(await api.execute(SearchPosts, { query: "ocelot", first }, { as: reader })).code).toBe("BAD_USER_INPUT");
    }
  });
});

async function searchUsers(query: string, first = 20, after?: string) {
  const result = await api.execute(SearchUsers, { query, first, after }, { as: reader });
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data!.searchUsers;
}
const handles = async (query: string, first?: number) => (await searchUsers(query, first)).edges.map((e) => e.node.handle);

describe("searchUsers", () => {
  let people: Record<string, TestUser>;

  beforeAll(async () => {
    people = {};
    const profiles: [string, string][] = [
      ["pelican", "Percy"],
      ["pelican_fan", "Fan of birds"],
      ["Pelicans4Ever", "Big Fan"],
      ["quail_q", "Pelican Person"],
      ["rook", "Mrs pelican Smith"],
      ["stork", "Unrelated"],
      ["under_score", "100% Real"],
      ["underXscore", "Impostor"],
      ["tern", "Émile Tern"],
    ];
    for (const [handle, displayName] of profiles) {
      people[handle] = await api.signUp({ handle });
      await api.db.user.update({ where: { id: people[handle]!.dbId }, data: { displayName } });
    }
    // Followers order the users of a tier.
    await api.db.user.update({ where: { id: people.Pelicans4Ever!.dbId }, data: { followerCount: 10 } });
    await api.db.user.update({ where: { id: people.pelican_fan!.dbId }, data: { followerCount: 3 } });
  });

  it("ranks the exact handle, then handle prefixes by followers, then display-name prefixes, then later words", async () => {
    expect(await handles("pelican")).toEqual(["pelican", "Pelicans4Ever", "pelican_fan", "quail_q", "rook"]);
  });

  it("ignores case and a leading @, and matches display names by prefix and by word", async () => {
    expect(await handles("PELICAN_")).toEqual(["pelican_fan"]);
    expect(await handles("@Pelicans")).toEqual(["Pelicans4Ever"]);
    expect(await handles("big f")).toEqual(["Pelicans4Ever"]);
    expect(await handles("fan")).toEqual(["pelican_fan", "Pelicans4Ever"]);
    expect(await handles("smi")).toEqual(["rook"]);
    expect(await handles("mrs PELICAN")).toEqual(["rook"]);
    // Beyond ASCII, as the database's ctype folds it (C.UTF-8 on PGlite and on the PostgreSQL of the tests).
    expect(await handles("émile")).toEqual(["tern"]);
    // A display name's middle is not a prefix of a word.
    expect(await handles("elican")).toEqual([]);
  });

  it("takes LIKE's wildcards literally", async () => {
    expect(await handles("under_")).toEqual(["under_score"]);
    expect(await handles("under%")).toEqual([]);
    expect(await handles("100%")).toEqual(["under_score"]);
    expect(await handles("%")).toEqual([]);
    expect(await handles("_")).toEqual([]);
    expect(await handles("\\")).toEqual([]);
  });

  it("pages with cursors, without duplicates or gaps", async () => {
    const all = await handles("pelican");
    const first = await searchUsers("pelican", 2);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await searchUsers("pelican", 2, first.pageInfo.endCursor!);
    const third = await searchUsers("pelican", 2, second.pageInfo.endCursor!);
    expect(third.pageInfo.hasNextPage).toBe(false);
    expect([first, second, third].flatMap((p) => p.edges.map((e) => e.node.handle))).toEqual(all);
  });

  it("leaves out suspended users", async () => {
    const gone = await api.signUp({ handle: "vulture_gone" });
    await api.db.user.update({ where: { id: gone.dbId }, data: { suspendedAt: new Date() } });
    expect(await handles("vulture")).toEqual([]);
  });

  it("finds nothing for an empty query, refuses a long one, and answers hostile ones", async () => {
    expect(await handles("")).toEqual([]);
    expect(await handles(" @ ")).toEqual([]);
    const long = await api.execute(SearchUsers, { query: "p".repeat(201), first: 5 }, { as: reader });
    expect(topLevelError(long)).toEqual({ code: "BAD_USER_INPUT", message: "query: At most 200 characters" });
    for (const query of ["'", "'; DROP TABLE users; --", "[a-z]*", "(", "%%%", "\\%", "🦊", "x".repeat(200)]) {
      expect(await handles(query), query).toEqual([]);
    }
    const posts = await api.execute(SearchPosts, { query: "pelican", first: 1 }, { as: reader });
    const cursor = Buffer.from("GPC:S:post:0.1:1").toString("base64");
    expect(topLevelError(await api.execute(SearchUsers, { query: "pelican", first: 1, after: cursor }, { as: reader })).code).toBe("BAD_USER_INPUT");
    expect(posts.errors).toBeUndefined();
  });
});
