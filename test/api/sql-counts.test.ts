import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../gql/index.js";
import { getNamedType, isObjectType } from "graphql";
import { schema } from "../../src/schema.js";
import type {
  SqlCountApiTokensQuery,
  SqlCountConversationMembersQuery,
  SqlCountConversationMessagesQuery,
  SqlCountConversationsQuery,
  SqlCountReadByQuery,
  SqlCountBlockedUsersQuery,
  SqlCountMutedUsersQuery,
  SqlCountNotificationActorsQuery,
  SqlCountNotificationsQuery,
  SqlCountFollowersQuery,
  SqlCountFollowingQuery,
  SqlCountHashtagPostsQuery,
  SqlCountHomeQuery,
  SqlCountLikersQuery,
  SqlCountPostFieldsFragment,
  SqlCountRepliesQuery,
  SqlCountSearchPostsQuery,
  SqlCountSearchUsersQuery,
  SqlCountSessionsQuery,
  SqlCountUserTimelineQuery,
} from "../gql/graphql.js";
import { storeEntities } from "../../src/modules/entities/entities.service.js";
import { loadConfig } from "../../src/config.js";
import { type TestApi, type TestUser, globalId, testApi, testEnv } from "../support/api.js";

// For every connection field of schema.graphql: the number of SQL statements of a realistic query is
// the same at first: 5 and first: 50, small, and never an aggregate (counts are counter columns).

graphql(`
  fragment SqlCountPostFields on Post {
    id
    body
    createdAt
    isDeleted
    likeCount
    replyCount
    repostCount
    viewerHasLiked
    viewerHasReposted
    author { handle followerCount viewerFollows }
    repostOf { id body author { handle } }
    replyTo { id author { handle } }
    threadRoot { id }
    entities { kind start end text url user { handle viewerFollows } hashtag { name postCount } }
    media { id url small: url(size: SMALL) width height altText dominantColor }
    author { avatarUrl }
  }
`);

const Home = graphql(`
  query SqlCountHome($first: Int!, $after: String) {
    homeTimeline(first: $first, after: $after) {
      edges { cursor node { ...SqlCountPostFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);
const UserPosts = graphql(`
  query SqlCountUserTimeline($handle: String!, $first: Int!, $after: String) {
    userTimeline(handle: $handle, first: $first, after: $after, includeReplies: true) {
      edges { cursor node { ...SqlCountPostFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);
const Replies = graphql(`
  query SqlCountReplies($id: ID!, $first: Int!, $after: String) {
    post(id: $id) {
      ...SqlCountPostFields
      replies(first: $first, after: $after) {
        edges { cursor node { ...SqlCountPostFields } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const Likers = graphql(`
  query SqlCountLikers($id: ID!, $first: Int!, $after: String) {
    post(id: $id) {
      id
      likeCount
      likers(first: $first, after: $after) {
        edges { cursor node { handle displayName followerCount followingCount viewerFollows followsViewer } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const Followers = graphql(`
  query SqlCountFollowers($handle: String!, $first: Int!, $after: String) {
    user(handle: $handle) {
      handle
      followerCount
      followers(first: $first, after: $after) {
        edges { cursor node { handle displayName followerCount followingCount viewerFollows followsViewer } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const Following = graphql(`
  query SqlCountFollowing($handle: String!, $first: Int!, $after: String) {
    user(handle: $handle) {
      handle
      followingCount
      following(first: $first, after: $after) {
        edges { cursor node { handle displayName followerCount followingCount viewerFollows followsViewer } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const Sessions = graphql(`
  query SqlCountSessions($first: Int!, $after: String) {
    viewer {
      handle
      sessions(first: $first, after: $after) {
        edges { cursor node { id userAgent createdAt lastUsedAt expiresAt isCurrent } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const ApiTokens = graphql(`
  query SqlCountApiTokens($first: Int!, $after: String) {
    viewer {
      handle
      apiTokens(first: $first, after: $after) {
        edges { cursor node { id name prefix scopes createdAt lastUsedAt expiresAt revokedAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const BlockedUsers = graphql(`
  query SqlCountBlockedUsers($first: Int!, $after: String) {
    viewer {
      handle
      blockedUsers(first: $first, after: $after) {
        edges { cursor node { handle displayName followerCount viewerHasBlocked viewerHasMuted blocksViewer viewerFollows } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const MutedUsers = graphql(`
  query SqlCountMutedUsers($first: Int!, $after: String) {
    viewer {
      handle
      mutedUsers(first: $first, after: $after) {
        edges { cursor node { handle displayName followerCount viewerHasBlocked viewerHasMuted blocksViewer viewerFollows } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const Notifications = graphql(`
  query SqlCountNotifications($first: Int!, $after: String) {
    viewer {
      unreadNotificationCount
      notifications(first: $first, after: $after) {
        edges {
          cursor
          node { id kind actorCount isRead createdAt post { id body } actors(first: 3) { edges { node { handle } } } }
        }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const NotificationActors = graphql(`
  query SqlCountNotificationActors($first: Int!, $after: String) {
    viewer {
      notifications(first: 1, kinds: [LIKE]) {
        edges {
          node {
            actorCount
            actors(first: $first, after: $after) {
              edges { cursor node { handle displayName followerCount viewerFollows followsViewer } }
              pageInfo { hasNextPage endCursor }
            }
          }
        }
      }
    }
  }
`);

const SearchPosts = graphql(`
  query SqlCountSearchPosts($first: Int!, $after: String) {
    searchPosts(query: "author", first: $first, after: $after) {
      edges { cursor highlight { text matched } node { ...SqlCountPostFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);
const SearchUsers = graphql(`
  query SqlCountSearchUsers($first: Int!, $after: String) {
    searchUsers(query: "sql_fan", first: $first, after: $after) {
      edges { cursor node { handle displayName followerCount followingCount viewerFollows followsViewer } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);
const HashtagPosts = graphql(`
  query SqlCountHashtagPosts($first: Int!, $after: String) {
    hashtag(name: "#sqltag") {
      name
      postCount
      posts(first: $first, after: $after) {
        edges { cursor node { ...SqlCountPostFields } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const Trending = graphql(`
  query SqlCountTrending($first: Int!) {
    trendingHashtags(first: $first) {
      authorCount
      hashtag { id name postCount posts(first: 3) { edges { node { ...SqlCountPostFields } } } }
    }
  }
`);

const Conversations = graphql(`
  query SqlCountConversations($first: Int!, $after: String) {
    viewer {
      conversations(first: $first, after: $after) {
        edges { cursor node { id isGroup updatedAt unreadCount lastReadMessageId lastMessage { id body sender { handle } } } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const ConversationMessages = graphql(`
  query SqlCountConversationMessages($first: Int!, $after: String) {
    viewer {
      conversations(first: 1) {
        edges {
          node {
            unreadCount
            messages(first: $first, after: $after) {
              edges { cursor node { id body createdAt sender { handle displayName viewerFollows } } }
              pageInfo { hasNextPage endCursor }
            }
          }
        }
      }
    }
  }
`);
const ConversationMembers = graphql(`
  query SqlCountConversationMembers($first: Int!, $after: String) {
    viewer {
      conversations(first: 1) {
        edges {
          node {
            members(first: $first, after: $after) {
              edges { cursor node { joinedAt lastReadMessageId user { handle displayName viewerFollows } } }
              pageInfo { hasNextPage endCursor }
            }
          }
        }
      }
    }
  }
`);
const ReadBy = graphql(`
  query SqlCountReadBy($first: Int!, $after: String) {
    viewer {
      conversations(first: 1) {
        edges {
          node {
            messages(first: 3) {
              edges {
                node {
                  body
                  readBy(first: $first, after: $after) {
                    edges { cursor node { lastReadMessageId user { handle viewerFollows } } }
                    pageInfo { hasNextPage endCursor }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
`);

const Like = graphql(`
  mutation SqlCountLike($id: ID!) {
    likePost(input: { postId: $id }) { __typename ... on Post { id likeCount viewerHasLiked author { handle } } }
  }
`);
const Unlike = graphql(`
  mutation SqlCountUnlike($id: ID!) {
    unlikePost(input: { postId: $id }) { __typename ... on Post { id likeCount viewerHasLiked author { handle } } }
  }
`);

let api: TestApi;
let viewer: TestUser;
let rootPostId: string;

const BULK = 60;

/** Sets every counter column from the rows, as the mutations would have kept them. */
async function recountCounters() {
  await api.db.$executeRawUnsafe(`
    UPDATE users u SET
      follower_count = (SELECT COUNT(*) FROM follows f WHERE f.followee_id = u.id),
      following_count = (SELECT COUNT(*) FROM follows f WHERE f.follower_id = u.id),
      post_count = (SELECT COUNT(*) FROM posts p WHERE p.author_id = u.id AND p.repost_of_id IS NULL AND p.deleted_at IS NULL)`);
  await api.db.$executeRawUnsafe(`
    UPDATE posts p SET
      like_count = (SELECT COUNT(*) FROM likes l WHERE l.post_id = p.id),
      reply_count = (SELECT COUNT(*) FROM posts r WHERE r.reply_to_id = p.id AND r.deleted_at IS NULL),
      repost_count = (SELECT COUNT(*) FROM posts r WHERE r.repost_of_id = p.id)`);
}

beforeAll(async () => {
  // Every request reads its session here (SESSION_CACHE_MS=0): the counts are what a request costs
  // when its session is not kept; test/api/auth.test.ts counts the requests after the first.
  api = await testApi(loadConfig({ ...testEnv(), SESSION_CACHE_MS: "0" }));
  viewer = await api.signUp({ handle: "sql_viewer" });
  const db = api.db;
  const users = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      handle: `${prefix}${i}`,
      handleKey: `${prefix}${i}`,
      email: `${prefix}${i}@example.com`,
      displayName: `${prefix} ${i}`,
      passwordHash: "not a real hash",
    }));
  const [created] = await db.user.createManyAndReturn({ data: users("sql_author", 1), select: { id: true } });
  const author = created!;
  const fans = await db.user.createManyAndReturn({ data: users("sql_fan", BULK), select: { id: true } });

  // The viewer follows the author and every fan; every fan follows the author and the viewer.
  await db.follow.createMany({
    data: [
      { followerId: viewer.dbId, followeeId: author.id },
      ...fans.flatMap((fan) => [
        { followerId: viewer.dbId, followeeId: fan.id },
        { followerId: fan.id, followeeId: author.id },
        { followerId: fan.id, followeeId: viewer.dbId },
      ]),
    ],
  });

  // Older originals by the fans, then the author's originals, replies and reposts, interleaved.
  const old = await db.post.createManyAndReturn({
    data: fans.slice(0, 30).map((fan, i) => ({ authorId: fan.id, body: `old ${i}` })),
    select: { id: true },
  });
  await db.post.createMany({
    data: Array.from({ length: 90 }, (_, k) => {
      const target = old[Math.floor(k / 3)]!.id;
      if (k % 3 === 0) return { authorId: author.id, body: `author ${k} #sqltag #sqltag${k % 7} to @sql_viewer, @sql_blocked0 and https://chirp.dev/${k}` };
      if (k % 3 === 1) return { authorId: author.id, body: `author reply ${k} #SqlTag`, replyToId: target, rootId: target };
      return { authorId: author.id, repostOfId: target };
    }),
  });
  // A thread under the first old post: a reply by every fan, and the replies answered in turn.
  const root = old[0]!.id;
  rootPostId = globalId("Post", root);
  const replies = await db.post.createManyAndReturn({
    data: fans.map((fan, i) => ({ authorId: fan.id, body: `reply ${i}`, replyToId: root, rootId: root })),
    select: { id: true },
  });
  const answers = await db.post.createManyAndReturn({
    data: replies.slice(0, 20).map((reply, i) => ({ authorId: author.id, body: `answer ${i}`, replyToId: reply.id, rootId: root })),
    select: { id: true },
  });
  // Every fan likes the root; the viewer likes and reposts some recent posts, so the viewer flags vary
  // within the first page.
  await db.like.createMany({ data: [...fans, { id: viewer.dbId }].map((u) => ({ userId: u.id, postId: root })) });
  await db.like.createMany({ data: [...answers.slice(5, 15), ...replies.slice(30, 40)].map((p) => ({ userId: viewer.dbId, postId: p.id })) });
  await db.post.createMany({ data: answers.slice(0, 5).map((p) => ({ authorId: viewer.dbId, repostOfId: p.id })) });
  await db.post.createMany({ data: [1, 2, 3].map((i) => ({ authorId: viewer.dbId, body: `viewer ${i}` })) });

  // The viewer's sessions and API tokens.
  const now = Date.now();
  await db.session.createMany({
    data: Array.from({ length: BULK }, (_, i) => ({
      id: randomUUID(),
      userId: viewer.dbId,
      userAgent: `device ${i}`,
      createdAt: new Date(now - (i + 1) * 60_000),
      expiresAt: new Date(now + 86_400_000),
    })),
  });
  await db.apiToken.createMany({
    data: Array.from({ length: BULK }, (_, i) => ({
      userId: viewer.dbId,
      name: `token ${i}`,
      prefix: `chirp_pat_${i}`,
      tokenHash: `hash-${i}-${randomUUID()}`,
      scopes: i % 2 ? ["READ" as const] : ["READ" as const, "WRITE" as const],
    })),
  });
  // Every list is read with blocks and mutes in force: the viewer blocked and muted BULK users each,
  // and BULK others blocked the viewer.
  const blocked = await db.user.createManyAndReturn({ data: users("sql_blocked", BULK), select: { id: true } });
  const muted = await db.user.createManyAndReturn({ data: users("sql_muted", BULK), select: { id: true } });
  const blockers = await db.user.createManyAndReturn({ data: users("sql_blocker", BULK), select: { id: true } });
  await db.block.createMany({ data: blocked.map((u) => ({ blockerId: viewer.dbId, blockedId: u.id })) });
  await db.block.createMany({ data: blockers.map((u) => ({ blockerId: u.id, blockedId: viewer.dbId })) });
  await db.mute.createMany({ data: muted.map((u) => ({ muterId: viewer.dbId, mutedId: u.id })) });

  // The viewer's notifications: every fan likes one of the viewer's posts and follows the viewer
  // (two entries of BULK actors, the latest), and mentions the viewer in a reply (BULK entries), some read.
  const [viewerPost] = await db.post.findMany({ where: { authorId: viewer.dbId, body: { not: null } }, select: { id: true }, take: 1 });
  const mentions = await db.notification.createManyAndReturn({
    data: replies.map((reply, i) => ({
      recipientId: viewer.dbId,
      kind: "MENTION" as const,
      postId: reply.id,
      groupKey: `MENTION:${reply.id}`,
      actorCount: 1,
      latestAt: new Date(),
      firstUnreadSeq: i % 3 ? 1 : null,
    })),
    select: { id: true, seq: true },
  });
  const grouped = await db.notification.createManyAndReturn({
    data: [
      { recipientId: viewer.dbId, kind: "LIKE" as const, postId: viewerPost!.id, groupKey: "LIKE:bulk", windowStart: new Date(), actorCount: BULK, latestAt: new Date() },
      { recipientId: viewer.dbId, kind: "FOLLOW" as const, groupKey: "FOLLOW:bulk", windowStart: new Date(), actorCount: BULK, latestAt: new Date() },
    ],
    select: { id: true, seq: true },
  });
  await db.notificationActor.createMany({
    data: [
      ...grouped.flatMap((entry) => fans.map((fan) => ({ notificationId: entry.id, actorId: fan.id, seq: entry.seq }))),
      ...mentions.map((entry, i) => ({ notificationId: entry.id, actorId: fans[i]!.id, seq: entry.seq })),
    ],
  });
  await db.notificationInbox.create({ data: { userId: viewer.dbId, unreadCount: 40 } });

  // The viewer's conversations: BULK of two with a fan each, and one (larger than startConversation
  // allows) with every fan, blocked and blocking users too, BULK messages of each fan, all read.
  const now2 = Date.now();
  const pairs = await db.conversation.createManyAndReturn({
    data: fans.map((fan, i) => ({ pairKey: `${viewer.dbId}:${fan.id}`, isGroup: false, lastMessageAt: new Date(now2 - (i + 10) * 60_000) })),
    select: { id: true },
  });
  const crowd = await db.conversation.create({ data: { isGroup: true, lastMessageAt: new Date() }, select: { id: true } });
  const crowdMembers = [viewer.dbId, ...fans.map((f) => f.id), ...blocked.slice(0, 5).map((u) => u.id), ...blockers.slice(0, 5).map((u) => u.id)];
  await db.conversationMember.createMany({
    data: pairs.flatMap((c, i) => [{ conversationId: c.id, userId: viewer.dbId }, { conversationId: c.id, userId: fans[i]!.id }]),
  });
  await db.conversationMember.createMany({ data: crowdMembers.map((userId) => ({ conversationId: crowd.id, userId })) });
  await db.message.createMany({ data: pairs.map((c, i) => ({ conversationId: c.id, senderId: fans[i]!.id, body: `hi ${i}` })) });
  await db.message.createMany({
    data: [...fans, ...blocked.slice(0, 5)].flatMap((u, i) => [{ conversationId: crowd.id, senderId: u.id, body: `crowd ${i}` }, { conversationId: crowd.id, senderId: u.id, body: `again ${i}` }]),
  });
  await db.$executeRawUnsafe(`UPDATE conversations c SET last_message_id = (SELECT max(id) FROM messages m WHERE m.conversation_id = c.id)`);
  await db.$executeRawUnsafe(`UPDATE conversation_members m SET last_read_message_id = c.last_message_id FROM conversations c WHERE c.id = m.conversation_id`);
  // The crowd is the latest conversation: its members' rows take the newest seqs.
  await db.$executeRawUnsafe(`UPDATE conversation_members SET seq = nextval('conversation_members_seq_seq') WHERE conversation_id = ${crowd.id}`);
  await recountCounters();
  // The author's posts get their mentions, tags and links as createPost stores them.
  const authorViewer = { id: author.id, role: "USER" as const, canRead: true, canWrite: true, sessionId: null, blocking: new Set<number>(), blockedBy: new Set<number>(), muting: new Set<number>() };
  const written = await db.post.findMany({ where: { authorId: author.id, body: { not: null } }, select: { id: true, authorId: true, body: true, createdAt: true }, orderBy: { id: "asc" } });
  await db.$transaction(async (tx) => {
    for (const post of written) await storeEntities(tx, authorViewer, post);
  });
  // Two images on every third of the author's posts (one removed, which Post.media leaves out), and an avatar.
  const media = (postId: number | null, position: number | null, removed = false) => ({
    uploaderId: author.id, key: "ab".repeat(32), format: "jpeg", width: 800, height: 600, color: "#336699",
    attachedAt: new Date(), postId, position, removedAt: removed ? new Date() : null,
  });
  await db.media.createMany({ data: written.filter((_, i) => i % 3 === 0).flatMap((p) => [media(p.id, 0), media(p.id, 1), media(p.id, 2, true)]) });
  const avatar = await db.media.create({ data: media(null, null), select: { id: true } });
  await db.user.update({ where: { id: author.id }, data: { avatarMediaId: avatar.id } });
});

interface Counted<R> {
  data?: R | null;
  errors?: unknown;
  statements: string[];
}

/** A statement without its parameters: `IN ($1,$2,$3)`, `IN (NULL)` and `= $1` become `IN (?)` and `= ?`. */
const shape = (sql: string) => sql.replace(/\$\d+(?:,\$\d+)*/g, "?").replace(/IN \(NULL\)/g, "IN (?)");

/**
 * The table each statement reads: the statements of one request, as a readable list. Chirp's SQL
 * reader reads the root table as `t0`; a statement Prisma wrote is marked, so a hot read that falls
 * back to Prisma fails these tests.
 */
const tables = (statements: string[]) =>
  statements.map((sql) => / AS j FROM "(\w+)" t0\b/.exec(sql)?.[1] ?? /^SELECT .*? FROM "public"\."(\w+)"/s.exec(sql)?.[1]?.concat(" (Prisma)") ?? sql);

/**
 * Runs the query at first: 5 and first: 50, checks that both answered full pages and sent the same
 * statements (up to their bound values), none of them an aggregate. Returns the statements' tables.
 */
async function countBoth<R, E>(run: (first: number) => Promise<Counted<R>>, edgesOf: (data: R) => E[]) {
  const small = await run(5);
  const large = await run(50);
  for (const [result, size] of [[small, 5], [large, 50]] as const) {
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    expect(edgesOf(result.data!)).toHaveLength(size);
    for (const sql of result.statements) expect(sql).not.toMatch(/COUNT\(/i);
  }
  expect(large.statements.map(shape)).toEqual(small.statements.map(shape));
  expect(large.statements.length).toBe(small.statements.length);
  return { statements: tables(small.statements), edges: edgesOf(large.data!) };
}

/** The first 50 posts of a timeline exercise every relation and viewer flag the query selects. */
function expectVaried(edges: { node: SqlCountPostFieldsFragment }[]) {
  const nodes = edges.map((e) => e.node);
  expect(nodes.filter((n) => n.repostOf).length).toBeGreaterThan(0);
  expect(nodes.filter((n) => n.replyTo && n.threadRoot).length).toBeGreaterThan(0);
  expect(nodes.filter((n) => !n.repostOf && !n.replyTo).length).toBeGreaterThan(0);
  expect(nodes.filter((n) => n.viewerHasLiked).length).toBeGreaterThan(0);
  expect(nodes.filter((n) => n.viewerHasReposted).length).toBeGreaterThan(0);
  expect(nodes.filter((n) => n.author?.viewerFollows).length).toBeGreaterThan(0);
  expect(nodes.filter((n) => n.media.length === 2 && n.media[0]!.url.endsWith("-large.jpg")).length).toBeGreaterThan(0);
  expect(nodes.filter((n) => n.author?.avatarUrl?.endsWith("-small.jpg")).length).toBeGreaterThan(0);
}

// The first statement of every request with an access token authenticates it: the session joined to
// its user. Everything else a query reads, relations and viewer flags (likes, reposts, follows of the
// viewer) included, is one statement of the SQL reader.
const AUTH = ["sessions"];

interface ListCase {
  run: (first: number, after?: string) => Promise<Counted<unknown>>;
  connection: (data: never) => { edges: { node: unknown }[]; pageInfo: { endCursor?: string | null } };
  /** The tables the statements read; AUTH first when the request carries a token. */
  statements: string[];
  check?: (edges: never) => void;
}

/** Every connection field of the schema has a case here, or the first test fails. */
const LISTS: Record<string, ListCase> = {
  "Hashtag.posts": {
    run: (first, after) => api.executeCounted(HashtagPosts, { first, after }, { as: viewer }),
    connection: (d: SqlCountHashtagPostsQuery) => d.hashtag!.posts,
    statements: [...AUTH, "hashtags"], // the tag with the page of its post_hashtags rows and the posts beneath
    check: (edges: NonNullable<SqlCountHashtagPostsQuery["hashtag"]>["posts"]["edges"]) => {
      expect(edges.every((e) => e.node.entities.some((x) => x.hashtag?.name === "sqltag"))).toBe(true);
      // The mention of a user the viewer blocked shows no user.
      expect(edges.filter((e) => e.node.entities.some((x) => x.kind === "MENTION" && x.text === "@sql_blocked0" && x.user === null)).length).toBeGreaterThan(0);
    },
  },
  "User.conversations": {
    run: (first, after) => api.executeCounted(Conversations, { first, after }, { as: viewer }),
    connection: (d: SqlCountConversationsQuery) => d.viewer!.conversations!,
    statements: [...AUTH, "users"], // the viewer with the page of memberships, each conversation with its last message and the viewer's row
    check: (edges: NonNullable<NonNullable<SqlCountConversationsQuery["viewer"]>["conversations"]>["edges"]) =>
      // The first is the crowd, whose latest message is by a user the viewer blocked: hidden.
      expect([edges[0]!.node.lastMessage, edges.slice(1).every((e) => e.node.lastReadMessageId !== null && e.node.lastMessage?.sender.handle)]).toEqual([null, true]),
  },
  "Conversation.messages": {
    run: (first, after) => api.executeCounted(ConversationMessages, { first, after }, { as: viewer }),
    connection: (d: SqlCountConversationMessagesQuery) => d.viewer!.conversations!.edges[0]!.node.messages,
    statements: [...AUTH, "users"], // the viewer with its latest conversation and the page of messages with their senders
    check: (edges: { node: { sender: { handle: string } } }[]) =>
      expect(edges.every((e) => e.node.sender.handle.startsWith("sql_fan"))).toBe(true),
  },
  "Conversation.members": {
    run: (first, after) => api.executeCounted(ConversationMembers, { first, after }, { as: viewer }),
    connection: (d: SqlCountConversationMembersQuery) => d.viewer!.conversations!.edges[0]!.node.members,
    statements: [...AUTH, "users"],
    check: (edges: { node: { user: { handle: string } } }[]) => expect(edges.some((e) => /sql_block/.test(e.node.user.handle))).toBe(false),
  },
  "Message.readBy": {
    run: (first, after) => api.executeCounted(ReadBy, { first, after }, { as: viewer }),
    connection: (d: SqlCountReadByQuery) => d.viewer!.conversations!.edges[0]!.node.messages.edges[0]!.node.readBy,
    // The viewer down to a page of messages, each with its conversation's members, in one statement.
    statements: [...AUTH, "users"],
  },
  "Query.homeTimeline": {
    run: (first, after) => api.executeCounted(Home, { first, after }, { as: viewer }),
    connection: (d: SqlCountHomeQuery) => d.homeTimeline,
    // The page (an EXISTS on follows), with author, repostOf, replyTo, threadRoot, their authors and the viewer flags.
    statements: [...AUTH, "posts"],
    check: expectVaried,
  },
  "Query.userTimeline": {
    run: (first, after) => api.executeCounted(UserPosts, { handle: "sql_author0", first, after }, { as: viewer }),
    connection: (d: SqlCountUserTimelineQuery) => d.userTimeline,
    // The author's id by handle is a subquery PostgreSQL runs first, so the page walks the (author_id, id DESC) index.
    statements: [...AUTH, "posts"],
    check: expectVaried,
  },
  "Post.replies": {
    run: (first, after) => api.executeCounted(Replies, { id: rootPostId, first, after }, { as: viewer }),
    connection: (d: SqlCountRepliesQuery) => d.post!.replies,
    statements: [...AUTH, "posts"], // the post, its relations and the page of replies with theirs
    check: (edges: NonNullable<SqlCountRepliesQuery["post"]>["replies"]["edges"]) =>
      expect(edges.filter((e) => e.node.viewerHasLiked)).toHaveLength(10),
  },
  "Post.likers": {
    run: (first, after) => api.executeCounted(Likers, { id: rootPostId, first, after }, { as: viewer }),
    connection: (d: SqlCountLikersQuery) => d.post!.likers,
    statements: [...AUTH, "posts"], // the post with the page of likes, their users and the viewer's follows
    // Every fan follows the viewer and is followed back; the viewer is among the likers too.
    check: (edges: NonNullable<SqlCountLikersQuery["post"]>["likers"]["edges"]) =>
      expect(edges.filter((e) => e.node.followsViewer && e.node.viewerFollows)).toHaveLength(49),
  },
  "Query.searchPosts": {
    run: (first, after) => api.executeCounted(SearchPosts, { first, after }, { as: viewer }),
    connection: (d: SqlCountSearchPostsQuery) => d.searchPosts,
    // The ranked page's ids and highlights (one raw statement), then its posts with every relation and viewer flag.
    statements: [...AUTH, expect.stringMatching(/websearch_to_tsquery/) as unknown as string, "posts"],
    check: (edges: SqlCountSearchPostsQuery["searchPosts"]["edges"]) => {
      expect(edges.filter((e) => e.node.replyTo && e.node.author?.viewerFollows).length).toBeGreaterThan(0);
      expect(edges.every((e) => e.highlight.some((r) => r.matched && r.text === "author"))).toBe(true);
    },
  },
  "Query.searchUsers": {
    run: (first, after) => api.executeCounted(SearchUsers, { first, after }, { as: viewer }),
    connection: (d: SqlCountSearchUsersQuery) => d.searchUsers,
    // The ranked page's ids (one raw statement on the trigram indexes), then its users with the viewer's follows.
    statements: [...AUTH, expect.stringMatching(/handle_key LIKE/) as unknown as string, "users"],
    check: (edges: SqlCountSearchUsersQuery["searchUsers"]["edges"]) =>
      expect(edges.filter((e) => e.node.followsViewer && e.node.viewerFollows)).toHaveLength(50),
  },
  "User.followers": {
    run: (first, after) => api.executeCounted(Followers, { handle: "sql_author0", first, after }, { as: viewer }),
    connection: (d: SqlCountFollowersQuery) => d.user!.followers,
    statements: [...AUTH, "users"], // the user with the page of follows, the followers and the viewer's follows
  },
  "User.following": {
    run: (first, after) => api.executeCounted(Following, { handle: "sql_viewer", first, after }, { as: viewer }),
    connection: (d: SqlCountFollowingQuery) => d.user!.following,
    statements: [...AUTH, "users"],
  },
  "User.blockedUsers": {
    run: (first, after) => api.executeCounted(BlockedUsers, { first, after }, { as: viewer }),
    connection: (d: SqlCountBlockedUsersQuery) => d.viewer!.blockedUsers!,
    statements: [...AUTH, "users"], // the viewer with the page of blocks and the blocked users
    check: (edges: NonNullable<NonNullable<SqlCountBlockedUsersQuery["viewer"]>["blockedUsers"]>["edges"]) =>
      expect(edges.every((e) => e.node.viewerHasBlocked && !e.node.blocksViewer)).toBe(true),
  },
  "User.mutedUsers": {
    run: (first, after) => api.executeCounted(MutedUsers, { first, after }, { as: viewer }),
    connection: (d: SqlCountMutedUsersQuery) => d.viewer!.mutedUsers!,
    statements: [...AUTH, "users"],
    check: (edges: NonNullable<NonNullable<SqlCountMutedUsersQuery["viewer"]>["mutedUsers"]>["edges"]) =>
      expect(edges.every((e) => e.node.viewerHasMuted && !e.node.viewerHasBlocked)).toBe(true),
  },
  "User.notifications": {
    run: (first, after) => api.executeCounted(Notifications, { first, after }, { as: viewer }),
    connection: (d: SqlCountNotificationsQuery) => d.viewer!.notifications!,
    // The viewer and its inbox with the page of entries, each with its post and first actors.
    statements: [...AUTH, "users"],
    check: (edges: NonNullable<NonNullable<SqlCountNotificationsQuery["viewer"]>["notifications"]>["edges"]) => {
      expect(new Set(edges.map((e) => e.node.kind))).toEqual(new Set(["MENTION", "LIKE", "FOLLOW"]));
      expect(edges.filter((e) => e.node.isRead).length).toBeGreaterThan(0);
      expect(edges.filter((e) => e.node.post?.body).length).toBeGreaterThan(0);
      expect(edges.every((e) => e.node.actors.edges.length === Math.min(3, e.node.actorCount))).toBe(true);
    },
  },
  "Notification.actors": {
    run: (first, after) => api.executeCounted(NotificationActors, { first, after }, { as: viewer }),
    connection: (d: SqlCountNotificationActorsQuery) => d.viewer!.notifications!.edges[0]!.node.actors,
    statements: [...AUTH, "users"], // the viewer with its latest LIKE entry and the page of its actors
  },
  "User.sessions": {
    run: (first, after) => api.executeCounted(Sessions, { first, after }, { as: viewer }),
    connection: (d: SqlCountSessionsQuery) => d.viewer!.sessions!,
    statements: [...AUTH, "users"], // the viewer with the page of sessions
  },
  "User.apiTokens": {
    run: (first, after) => api.executeCounted(ApiTokens, { first, after }, { as: viewer }),
    connection: (d: SqlCountApiTokensQuery) => d.viewer!.apiTokens!,
    statements: [...AUTH, "users"], // the viewer with the page of tokens
  },
};

/** Every field of the schema that returns a connection, as "Type.field". */
const connectionFields = Object.values(schema.getTypeMap())
  .filter(isObjectType)
  .flatMap((type) =>
    Object.values(type.getFields())
      .filter((field) => getNamedType(field.type).name.endsWith("Connection"))
      .map((field) => `${type.name}.${field.name}`),
  )
  .sort();

describe("SQL statements per list field do not grow with the page size, on page 1 and page 2", () => {
  it("has a case for every connection field of the schema", () => {
    expect(Object.keys(LISTS).sort()).toEqual(connectionFields);
  });

  it.each(connectionFields)("%s", async (name) => {
    const list = LISTS[name];
    if (!list) throw new Error(`${name} has no statement-count case: add one to LISTS`);
    const page = (result: Counted<unknown>) => list.connection(result.data as never);
    const { statements, edges } = await countBoth((first) => list.run(first), (data) => list.connection(data as never).edges);
    list.check?.(edges as never);
    expect(statements).toEqual(list.statements);
    // Page 2, after page 1's last cursor: the same statements, none handed to Prisma.
    const first = await list.run(5);
    const { statements: second, edges: secondEdges } = await countBoth(
      (size) => list.run(size, page(first).pageInfo.endCursor!),
      (data) => list.connection(data as never).edges,
    );
    expect(second).toEqual(list.statements);
    expect(secondEdges).not.toContainEqual(page(first).edges[0]);
  });
});

describe("trendingHashtags", () => {
  // The ranking is the one aggregate, over the 24 hours of the (created_at, hashtag_id, author_id) index.
  it("reads in 3 statements whatever its size: the session, the ranking, the tags with everything beneath", async () => {
    const run = async (first: number) => {
      const result = await api.executeCounted(Trending, { first }, { as: viewer });
      expect(result.errors).toBeUndefined();
      expect(result.data!.trendingHashtags).toHaveLength(first);
      return result.statements;
    };
    const small = await run(2);
    const large = await run(8);
    expect(tables(large)).toEqual([...AUTH, expect.stringMatching(/^\s*SELECT h\.id, count\(\*\)::int AS "authorCount"/), "hashtags"]);
    expect(large.map(shape)).toEqual(small.map(shape));
  });
});

describe("an anonymous request", () => {
  it("reads userTimeline in 1 statement: no credentials, no authentication", async () => {
    const { statements } = await countBoth((first) => api.executeCounted(UserPosts, { handle: "sql_author0", first }), (d) => d.userTimeline.edges);
    expect(statements).toEqual(["posts"]);
  });
});

describe("SQL statements per mutation", () => {
  it("likePost and unlikePost: 3 statements each, the change in one", async () => {
    const author = await api.db.user.findUniqueOrThrow({ where: { handleKey: "sql_author0" }, select: { id: true } });
    const post = await api.db.post.create({ data: { authorId: author.id, body: "to like" }, select: { id: true } });
    const id = globalId("Post", post.id);
    const liked = await api.executeCounted(Like, { id }, { as: viewer });
    expect(liked.data?.likePost).toMatchObject({ __typename: "Post", likeCount: 1, viewerHasLiked: true, author: { handle: "sql_author0" } });
    // The session; one statement locks the post, inserts the like and moves the counter; the post.
    expect(tables(liked.statements)).toEqual([...AUTH, expect.stringMatching(/^\s*WITH target AS/), "posts"]);
    const unliked = await api.executeCounted(Unlike, { id }, { as: viewer });
    expect(unliked.data?.unlikePost).toMatchObject({ likeCount: 0, viewerHasLiked: false });
    expect(tables(unliked.statements)).toEqual([...AUTH, expect.stringMatching(/^\s*WITH target AS/), "posts"]);
  });
});
