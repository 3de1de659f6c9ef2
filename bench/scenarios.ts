import { formatPrismaCursor } from "@pothos/plugin-prisma";
import type { Picks } from "./fixtures.js";

export const SERVERS = ["chirp", "postgraphile", "ceiling"] as const;
export type ServerName = (typeof SERVERS)[number];

/** An HTTP request as autocannon and fetch both take it: a POST of JSON, or a GET (REST reads) with no body. */
export interface BenchRequest {
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** What a scenario needs to address a server: the picked rows and how each server knows the viewer. */
export interface Target {
  server: ServerName;
  picks: Picks;
  /** Chirp's access token for the viewer, from its logIn mutation. */
  chirpToken: string;
}

export interface Scenario {
  name: string;
  title: string;
  /** True for the like/unlike pair: responses change from one request to the next. */
  mutates: boolean;
  /** The servers that can answer it, when not all: PostGraphile has no grouped notifications or ranked search. */
  servers?: readonly ServerName[];
  /** What every connection sends in turn: one read, or like then unlike. */
  requests(target: Target): BenchRequest[];
  /** The server's JSON response in the common shape every server must agree on. */
  normalise(server: ServerName, response: unknown): unknown;
}

// ── The common shape ────────────────────────────────────────────────────────────────────────────

interface AuthorView {
  id: number;
  handle: string;
  displayName: string;
  avatarUrl: string | null;
}
interface PostView {
  id: number;
  body: string | null;
  createdAt: string;
  author?: AuthorView;
  likeCount: number;
  replyCount: number;
  repostCount: number;
  viewerHasLiked: boolean;
  replies?: PostView[];
}

// ── Chirp's documents (the ceiling writes the same JSON as Chirp) ──────────────────────────────

const CHIRP_POST = "id body createdAt likeCount replyCount repostCount viewerHasLiked";
const CHIRP_AUTHOR = "author { id handle displayName avatarUrl }";
const chirp = {
  timeline: `query HomeTimeline { homeTimeline(first: 20) { edges { node { ${CHIRP_POST} ${CHIRP_AUTHOR} } } } }`,
  profile: `query Profile($handle: String!) {
    user(handle: $handle) { id handle displayName bio avatarUrl followerCount followingCount postCount viewerFollows }
    userTimeline(handle: $handle, first: 10) { edges { node { ${CHIRP_POST} } } }
  }`,
  thread: `query Thread($id: ID!) {
    post(id: $id) { ${CHIRP_POST} ${CHIRP_AUTHOR}
      replies(first: 10) { edges { node { ${CHIRP_POST} ${CHIRP_AUTHOR}
        replies(first: 10) { edges { node { ${CHIRP_POST} ${CHIRP_AUTHOR} } } } } } } }
  }`,
  like: `mutation Like($id: ID!) { likePost(input: { postId: $id }) { __typename ... on Post { id likeCount viewerHasLiked } } }`,
  unlike: `mutation Unlike($id: ID!) { unlikePost(input: { postId: $id }) { __typename ... on Post { id likeCount viewerHasLiked } } }`,
  notifications: `query Notifications { viewer { unreadNotificationCount notifications(first: 20) { edges { node {
    id kind actorCount isRead createdAt post { id body } actors(first: 3) { edges { node { id handle displayName avatarUrl } } } } } } } }`,
  messages: `query ConversationMessages($id: ID!) { node(id: $id) { ... on Conversation { messages(last: 20) { edges { node {
    id body createdAt sender { id handle displayName avatarUrl } } } } } } }`,
  search: `query Search($query: String!) { searchPosts(query: $query, first: 20) { edges { highlight { text matched } node { ${CHIRP_POST} ${CHIRP_AUTHOR} } } } }`,
};

// ── PostGraphile's documents (bench_peer.sql supplies the viewer-dependent fields) ──────────────

const PEER_POST = "rowId body createdAt likeCount replyCount repostCount viewerHasLiked";
const PEER_AUTHOR = "author { rowId handle displayName avatarUrl }";
const peer = {
  timeline: `query HomeTimeline { benchPeerHomeTimeline(first: 20) { nodes { ${PEER_POST} ${PEER_AUTHOR} } } }`,
  profile: `query Profile($handle: String!) {
    users(condition: { handleKey: $handle }, first: 1) { nodes {
      rowId handle displayName bio avatarUrl followerCount followingCount postCount viewerFollows
      authoredPosts(first: 10, orderBy: ROW_ID_DESC, condition: { replyToId: null }) { nodes { ${PEER_POST} } } } }
  }`,
  thread: `query Thread($id: Int!) {
    post(rowId: $id) { ${PEER_POST} ${PEER_AUTHOR}
      postsByReplyToId(first: 10, orderBy: ROW_ID_ASC) { nodes { ${PEER_POST} ${PEER_AUTHOR}
        postsByReplyToId(first: 10, orderBy: ROW_ID_ASC) { nodes { ${PEER_POST} ${PEER_AUTHOR} } } } } }
  }`,
  like: `mutation Like($id: Int!) { benchPeerLikePost(input: { postId: $id }) { result { rowId likeCount viewerHasLiked } } }`,
  unlike: `mutation Unlike($id: Int!) { benchPeerUnlikePost(input: { postId: $id }) { result { rowId likeCount viewerHasLiked } } }`,
  messages: `query ConversationMessages($id: Int!) { benchPeerConversationMessages(conversationId: $id, first: 20) { nodes {
    rowId body createdAt sender { rowId handle displayName avatarUrl } } } }`,
};

// The REST home timeline's selection (src/rest/view.ts: every field SOFA selects, one level of linked posts).
const PEER_REST_USER = `rowId handle displayName bio avatarUrl createdAt followerCount followingCount postCount role messagePolicy suspendedAt
  viewerFollows followsViewer blocksViewer viewerHasBlocked viewerHasMuted`;
const PEER_REST_POST = `rowId body createdAt editedAt deletedAt likeCount replyCount repostCount
  viewerHasLiked viewerHasReposted viewerCanEdit viewerCanDelete isUnavailable author { ...RestUser }
  postEntities(orderBy: START_OFFSET_ASC) { nodes { startOffset endOffset kind text url user { ...RestUser } hashtag { rowId name postCount } } }
  medias(orderBy: POSITION_ASC, condition: { removedAt: null }) { nodes { rowId url width height altText color format } }`;
const PEER_REST_TIMELINE = `query RestHomeTimeline { benchPeerHomeTimeline(first: 20) {
    edges { cursor node { ...RestPost replyTo { ...RestPost } repostOf { ...RestPost } root { ...RestPost } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }
  fragment RestPost on Post { ${PEER_REST_POST} }
  fragment RestUser on User { ${PEER_REST_USER} }`;
const REST_TIMELINE_PATH = "/api/timeline/home?first=20";

const globalId = (type: string, id: number) => Buffer.from(`${type}:${id}`).toString("base64");

/** One request of a scenario: GraphQL for Chirp and PostGraphile, the scenario's own path for the ceiling. */
function request(target: Target, anonymous: boolean, op: keyof typeof chirp, chirpVars: object, peerVars: object): BenchRequest {
  if (target.server === "postgraphile" && !(op in peer)) throw new Error(`PostGraphile has no ${op} scenario`);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (!anonymous && target.server === "chirp") headers.authorization = `Bearer ${target.chirpToken}`;
  if (!anonymous && target.server !== "chirp") headers["x-viewer-id"] = String(target.picks.viewer.id);
  switch (target.server) {
    case "chirp":
      return { method: "POST", path: "/graphql", headers, body: JSON.stringify({ query: chirp[op], variables: chirpVars }) };
    case "postgraphile":
      return { method: "POST", path: "/graphql", headers, body: JSON.stringify({ query: peer[op as keyof typeof peer], variables: peerVars }) };
    case "ceiling":
      return { method: "POST", path: `/${op}`, headers, body: JSON.stringify(peerVars) };
  }
}

// ── Normalisers ────────────────────────────────────────────────────────────────────────────────

type Json = Record<string, unknown>;

function data(response: unknown): Json {
  const body = response as { data?: Json; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(`GraphQL errors: ${body.errors.map((e) => e.message).join("; ")}`);
  if (!body.data) throw new Error(`No data in the response: ${JSON.stringify(response).slice(0, 300)}`);
  return body.data;
}

/** Chirp's opaque global ID ("Post:42" in base64) back to the database id. */
function fromGlobalId(value: unknown, type: string): number {
  const [prefix, id] = Buffer.from(String(value), "base64").toString("utf8").split(":");
  if (prefix !== type || !id || !/^\d+$/.test(id)) throw new Error(`Not a ${type} global ID: ${String(value)}`);
  return Number(id);
}

/** PostGraphile prints timestamps without a time zone as they are stored (UTC); Chirp prints ISO 8601 with Z. */
const isoTime = (value: unknown) => new Date(/[Zz]|[+-]\d\d:?\d\d$/.test(String(value)) ? String(value) : `${String(value)}Z`).toISOString();

const nodes = (connection: unknown, server: ServerName): Json[] =>
  server === "postgraphile" ? ((connection as { nodes: Json[] }).nodes) : (connection as { edges: { node: Json }[] }).edges.map((e) => e.node);

function author(raw: Json, server: ServerName): AuthorView {
  return {
    id: server === "postgraphile" ? (raw.rowId as number) : fromGlobalId(raw.id, "User"),
    handle: raw.handle as string,
    displayName: raw.displayName as string,
    avatarUrl: raw.avatarUrl as string | null,
  };
}

function post(raw: Json, server: ServerName): PostView {
  const view: PostView = {
    id: server === "postgraphile" ? (raw.rowId as number) : fromGlobalId(raw.id, "Post"),
    body: raw.body as string | null,
    createdAt: isoTime(raw.createdAt),
    likeCount: raw.likeCount as number,
    replyCount: raw.replyCount as number,
    repostCount: raw.repostCount as number,
    viewerHasLiked: raw.viewerHasLiked as boolean,
  };
  if (raw.author) view.author = author(raw.author as Json, server);
  const replies = server === "postgraphile" ? raw.postsByReplyToId : raw.replies;
  if (replies) view.replies = nodes(replies, server).map((r) => post(r, server));
  return view;
}

function likeResult(raw: Json | undefined, server: ServerName) {
  if (!raw) throw new Error("The mutation returned nothing");
  if (server !== "postgraphile" && raw.__typename !== "Post") throw new Error(`The mutation failed: ${JSON.stringify(raw)}`);
  return {
    id: server === "postgraphile" ? (raw.rowId as number) : fromGlobalId(raw.id, "Post"),
    likeCount: raw.likeCount as number,
    viewerHasLiked: raw.viewerHasLiked as boolean,
  };
}

// ── The scenarios ──────────────────────────────────────────────────────────────────────────────

const timeline: Scenario = {
  name: "timeline",
  title: "home timeline (20 posts, viewer follows 200)",
  mutates: false,
  requests: (t) => [request(t, false, "timeline", {}, {})],
  normalise: (server, response) => {
    const d = data(response);
    return nodes(server === "postgraphile" ? d.benchPeerHomeTimeline : d.homeTimeline, server).map((p) => post(p, server));
  },
};

function profile(anonymous: boolean): Scenario {
  return {
    name: anonymous ? "profile-anon" : "profile",
    title: `profile + latest 10 posts${anonymous ? ", anonymous" : ""}`,
    mutates: false,
    requests: (t) => [request(t, anonymous, "profile", { handle: t.picks.profile.handle }, { handle: t.picks.profile.handle.toLowerCase() })],
    normalise: (server, response) => {
      const d = data(response);
      const user = server === "postgraphile" ? (d.users as { nodes: Json[] }).nodes[0] : (d.user as Json | null);
      if (!user) throw new Error("The profile's user was not found");
      return {
        user: {
          ...author(user, server),
          bio: user.bio,
          followerCount: user.followerCount,
          followingCount: user.followingCount,
          postCount: user.postCount,
          viewerFollows: user.viewerFollows,
        },
        posts: nodes(server === "postgraphile" ? user.authoredPosts : d.userTimeline, server).map((p) => post(p, server)),
      };
    },
  };
}

function thread(anonymous: boolean): Scenario {
  return {
    name: anonymous ? "thread-anon" : "thread",
    title: `thread, 2 levels of 10 replies${anonymous ? ", anonymous" : ""}`,
    mutates: false,
    requests: (t) => [request(t, anonymous, "thread", { id: globalId("Post", t.picks.thread.id) }, { id: t.picks.thread.id })],
    normalise: (server, response) => {
      const root = data(response).post as Json | null;
      if (!root) throw new Error("The thread's post was not found");
      return post(root, server);
    },
  };
}

const like: Scenario = {
  name: "like",
  title: "likePost + unlikePost, alternating",
  mutates: true,
  requests: (t) => {
    const chirpVars = { id: globalId("Post", t.picks.likePostId) };
    const peerVars = { id: t.picks.likePostId };
    return [request(t, false, "like", chirpVars, peerVars), request(t, false, "unlike", chirpVars, peerVars)];
  },
  normalise: (server, response) => {
    const d = data(response);
    const keys = server === "postgraphile" ? ["benchPeerLikePost", "benchPeerUnlikePost"] : ["likePost", "unlikePost"];
    const field = keys.find((k) => k in d);
    const raw = field === undefined ? undefined : (d[field] as Json | null);
    return likeResult(server === "postgraphile" ? ((raw?.result ?? undefined) as Json | undefined) : (raw ?? undefined), server);
  },
};

/** The viewer's first page of notifications: 20 grouped entries, each with its post and its latest 3 actors. */
const notifications: Scenario = {
  name: "notifications",
  title: "notifications (20 grouped entries, latest 3 actors each)",
  mutates: false,
  servers: ["chirp", "ceiling"],
  requests: (t) => [request(t, false, "notifications", {}, {})],
  normalise: (server, response) => {
    const viewer = data(response).viewer as Json;
    return {
      unread: viewer.unreadNotificationCount,
      entries: nodes(viewer.notifications, server).map((n) => ({
        id: fromGlobalId(n.id, "Notification"),
        kind: n.kind,
        actorCount: n.actorCount,
        isRead: n.isRead,
        createdAt: isoTime(n.createdAt),
        post: n.post ? { id: fromGlobalId((n.post as Json).id, "Post"), body: (n.post as Json).body } : null,
        actors: nodes(n.actors, server).map((a) => author(a, server)),
      })),
    };
  },
};

// ── The REST read: Chirp's and the ceiling's REST JSON, PostGraphile's GraphQL, in one shape ─────

interface RestUserView {
  id: number;
  handle: string;
  displayName: string;
  bio: string;
  avatarUrl: string | null;
  createdAt: string;
  followerCount: number;
  followingCount: number;
  postCount: number;
  role: string;
  messagePolicy: string;
  isSuspended: boolean;
  viewerFollows: boolean;
  followsViewer: boolean;
  blocksViewer: boolean;
  viewerHasBlocked: boolean;
  viewerHasMuted: boolean;
}

/** A user of Chirp's REST JSON (`rest`) or of PostGraphile's answer, in the common shape. */
function restUser(raw: Json | null, server: ServerName): RestUserView | null {
  if (!raw) return null;
  const rest = server !== "postgraphile";
  return {
    id: rest ? fromGlobalId(raw.id, "User") : (raw.rowId as number),
    handle: raw.handle as string,
    displayName: raw.displayName as string,
    bio: raw.bio as string,
    avatarUrl: raw.avatarUrl as string | null,
    createdAt: isoTime(raw.createdAt),
    followerCount: raw.followerCount as number,
    followingCount: raw.followingCount as number,
    postCount: raw.postCount as number,
    role: raw.role as string,
    messagePolicy: raw.messagePolicy as string,
    isSuspended: rest ? (raw.isSuspended as boolean) : raw.suspendedAt !== null,
    viewerFollows: raw.viewerFollows as boolean,
    followsViewer: raw.followsViewer as boolean,
    blocksViewer: raw.blocksViewer as boolean,
    viewerHasBlocked: raw.viewerHasBlocked as boolean,
    viewerHasMuted: raw.viewerHasMuted as boolean,
  };
}

const orNullTime = (value: unknown) => (value === null ? null : isoTime(value));

/** A post of the REST timeline with its entities, media and (at the top level) the posts it links to. */
function restPost(raw: Json | null, server: ServerName): Json | null {
  if (!raw) return null;
  const rest = server !== "postgraphile";
  const entities = rest ? (raw.entities as Json[]) : (raw.postEntities as { nodes: Json[] }).nodes;
  const media = rest ? (raw.media as Json[]) : (raw.medias as { nodes: Json[] }).nodes;
  const view: Json = {
    id: rest ? fromGlobalId(raw.id, "Post") : raw.rowId,
    body: raw.body,
    createdAt: isoTime(raw.createdAt),
    editedAt: orNullTime(raw.editedAt),
    deletedAt: orNullTime(raw.deletedAt),
    isDeleted: rest ? raw.isDeleted : raw.deletedAt !== null,
    isUnavailable: raw.isUnavailable,
    likeCount: raw.likeCount,
    replyCount: raw.replyCount,
    repostCount: raw.repostCount,
    viewerHasLiked: raw.viewerHasLiked,
    viewerHasReposted: raw.viewerHasReposted,
    viewerCanEdit: raw.viewerCanEdit,
    viewerCanDelete: raw.viewerCanDelete,
    author: restUser(raw.author as Json | null, server),
    entities: entities.map((e) => {
      const tag = e.hashtag as Json | null;
      return {
        kind: e.kind,
        start: rest ? e.start : e.startOffset,
        end: rest ? e.end : e.endOffset,
        text: e.text,
        url: e.url,
        user: restUser(e.user as Json | null, server),
        hashtag: tag ? { id: rest ? fromGlobalId(tag.id, "Hashtag") : tag.rowId, name: tag.name, postCount: tag.postCount } : null,
      };
    }),
    media: media.map((m) => ({
      id: rest ? fromGlobalId(m.id, "Media") : m.rowId,
      url: m.url,
      width: m.width,
      height: m.height,
      altText: m.altText,
      dominantColor: rest ? m.dominantColor : m.color,
      contentType: rest ? m.contentType : `image/${String(m.format)}`,
    })),
  };
  for (const [key, peerKey] of [["replyTo", "replyTo"], ["repostOf", "repostOf"], ["threadRoot", "root"]] as const) {
    const linked = raw[rest ? key : peerKey];
    if (linked !== undefined) view[key] = restPost(linked as Json | null, server);
  }
  return view;
}

/** The REST home timeline: GET /api/timeline/home?first=20 on Chirp and the ceiling, its GraphQL on PostGraphile. */
const rest: Scenario = {
  name: "rest",
  title: "REST GET /api/timeline/home?first=20 (every field of 20 posts and the posts they link to)",
  mutates: false,
  requests: (t) => {
    switch (t.server) {
      case "chirp":
        return [{ method: "GET", path: REST_TIMELINE_PATH, headers: { authorization: `Bearer ${t.chirpToken}` } }];
      case "ceiling":
        return [{ method: "GET", path: REST_TIMELINE_PATH, headers: { "x-viewer-id": String(t.picks.viewer.id) } }];
      case "postgraphile":
        return [{ method: "POST", path: "/graphql", headers: { "content-type": "application/json", "x-viewer-id": String(t.picks.viewer.id) }, body: JSON.stringify({ query: PEER_REST_TIMELINE }) }];
    }
  },
  normalise: (server, response) => {
    const page = (server === "postgraphile" ? data(response).benchPeerHomeTimeline : response) as {
      edges?: { cursor: string; node: Json }[];
      pageInfo?: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
    };
    if (!page?.edges || !page.pageInfo) throw new Error(`Not a page of the home timeline: ${JSON.stringify(response).slice(0, 300)}`);
    const { edges, pageInfo } = page;
    // Cursors are each server's own: Chirp's (and the ceiling's) must be Pothos' of the post's id; every server's page info must point at its edges.
    if (pageInfo.startCursor !== (edges[0]?.cursor ?? null) || pageInfo.endCursor !== (edges.at(-1)?.cursor ?? null)) throw new Error("pageInfo's cursors are not those of the first and last edges");
    const posts = edges.map((edge) => {
      const view = restPost(edge.node, server)!;
      if (server !== "postgraphile" && edge.cursor !== formatPrismaCursor(view, "id")) throw new Error(`Edge cursor ${edge.cursor} is not post ${String(view.id)}'s`);
      return view;
    });
    return { hasNextPage: pageInfo.hasNextPage, hasPreviousPage: pageInfo.hasPreviousPage, posts };
  },
};

/** The viewer's read of one conversation: its latest 20 messages (oldest first), each with its sender. */
const messages: Scenario = {
  name: "messages",
  title: "a conversation's latest 20 messages with their senders",
  mutates: false,
  requests: (t) => [request(t, false, "messages", { id: globalId("Conversation", t.picks.conversation.id) }, { id: t.picks.conversation.id })],
  normalise: (server, response) => {
    const d = data(response);
    const connection = server === "postgraphile" ? d.benchPeerConversationMessages : (d.node as Json | null)?.messages;
    if (!connection) throw new Error("The conversation was not found");
    // PostGraphile's page is newest first (bench_peer.sql); Chirp's and the ceiling's oldest first.
    const page = server === "postgraphile" ? nodes(connection, server).reverse() : nodes(connection, server);
    return page.map((m) => ({
      id: server === "postgraphile" ? (m.rowId as number) : fromGlobalId(m.id, "Message"),
      body: m.body,
      createdAt: isoTime(m.createdAt),
      sender: author(m.sender as Json, server),
    }));
  },
};

/** Two common words over every post: ranked full-text search, the page highlighted. */
export const SEARCH_QUERY = "fixed cache";
const search: Scenario = {
  name: "search",
  title: `searchPosts "${SEARCH_QUERY}" (20 ranked, highlighted)`,
  mutates: false,
  servers: ["chirp", "ceiling"],
  requests: (t) => [request(t, false, "search", { query: SEARCH_QUERY }, { query: SEARCH_QUERY })],
  normalise: (server, response) =>
    ((data(response).searchPosts as { edges: { highlight: unknown; node: Json }[] }).edges).map((e) => ({ highlight: e.highlight, post: post(e.node, server) })),
};

export const SCENARIOS: readonly Scenario[] = [timeline, profile(false), profile(true), thread(false), thread(true), like, notifications, search, messages, rest];

/** Logs the viewer in through Chirp's API and returns the access token (the runner sets ACCESS_TOKEN_TTL to a day). */
export async function chirpLogIn(baseUrl: string, handle: string, password: string): Promise<string> {
  const query = `mutation LogIn($input: LogInInput!) { logIn(input: $input) { __typename ... on AuthPayload { accessToken } ... on Error { message } } }`;
  const res = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables: { input: { login: handle, password } } }),
    signal: AbortSignal.timeout(30_000),
  });
  const result = data(await res.json()).logIn as { __typename: string; accessToken?: string; message?: string };
  if (!result.accessToken) throw new Error(`Chirp refused the log-in of ${handle}: ${result.message ?? result.__typename}`);
  return result.accessToken;
}
