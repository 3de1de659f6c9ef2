import type { PrismaClient } from "@prisma/client";
import type { SqlSession } from "../src/db.js";
import { withdrawGrouped } from "../src/modules/notifications/notifications.service.js";

/** How many people the home-timeline viewer follows. */
const VIEWER_FOLLOWING = 200;
/** The thread scenario shows a post, its first 10 replies and their first 10 replies. */
const THREAD_REPLIES = 10;
const THREAD_SECOND_LEVEL = 5;
const VIEWER_HANDLE = "alice";
/** How many users the viewer has blocked, and muted (issue 8): every read pays for applying them. */
const VIEWER_BLOCKS = 50;
const VIEWER_MUTES = 50;
const PROFILE_HANDLE = "bob";
/** The messages scenario's conversation: the viewer, the profile's user and one of the viewer's followees, with 200 messages. */
const CONVERSATION_MESSAGES = 200;

/** The rows every scenario points at, picked the same way on every run. */
export interface Picks {
  viewer: { id: number; handle: string; following: number; blocked: number; muted: number };
  profile: { id: number; handle: string };
  /** A top-level post whose first 10 replies all have replies of their own. */
  thread: { id: number; replies: number; secondLevel: number };
  /** A post the viewer has not liked in the generated data, and in none of the read scenarios. */
  likePostId: number;
  /** A group conversation of the viewer's, after the generated ones, whose latest page the messages scenario reads. */
  conversation: { id: number; members: number[]; messages: number };
}

type Query = Pick<SqlSession, "query">;

/**
 * What the benchmark adds to the generated data, always after the generated rows (higher ids) and
 * with the counters changed in the same transaction: follows for the viewer, and replies that make
 * one thread two full levels deep (the generator's threads are shallow).
 */
export async function ensureFixtures(
  session: SqlSession,
  generated: { posts: number; likes: number },
): Promise<Picks & { added: string[]; newlyBlocked: number[]; newlyMuted: number[] }> {
  await session.exec("BEGIN");
  try {
    const added: string[] = [];
    const viewer = await userByHandle(session, VIEWER_HANDLE);
    const profile = await userByHandle(session, PROFILE_HANDLE);
    const follows = await ensureViewerFollows(session, viewer);
    if (follows > 0) added.push(`${follows} follows by ${viewer.handle}`);
    const thread = await ensureThread(session, generated.posts, [viewer.id, profile.id]);
    if (thread.added > 0) added.push(`${thread.added} replies in the thread of post ${thread.id}`);
    const likePostId = await pickLikePost(session, viewer.id, [profile.id], thread.id, generated.likes);
    const conversation = await ensureConversation(session, viewer.id, profile.id);
    if (conversation.added > 0) added.push(`a conversation of ${conversation.members.length} with ${conversation.added} messages`);
    const silenced = await ensureBlocksAndMutes(session, viewer.id, [profile.id, ...(await authorsOf(session, thread.id, likePostId))]);
    if (silenced.added > 0) added.push(`${silenced.added} blocks and mutes by ${viewer.handle}`);
    await session.exec("COMMIT");
    if (added.length > 0) await session.exec("ANALYZE users, posts, follows, blocks, mutes, conversations, conversation_members, messages");
    return {
      viewer: { id: viewer.id, handle: viewer.handle, following: viewer.following + follows, blocked: silenced.blocked, muted: silenced.muted },
      profile: { id: profile.id, handle: profile.handle },
      thread: { id: thread.id, replies: thread.replies, secondLevel: thread.secondLevel },
      likePostId,
      conversation: { id: conversation.id, members: conversation.members, messages: conversation.messages },
      added,
      newlyBlocked: silenced.newlyBlocked,
      newlyMuted: silenced.newlyMuted,
    };
  } catch (error) {
    await session.exec("ROLLBACK");
    throw error;
  }
}

/**
 * The viewer mutes 50 of the people they follow (every 3rd) (so the home timeline has posts to leave out)
 * and blocks the most prolific authors they do not follow (whose posts their followees repost); none
 * of them is the profile's user, an author in the thread or the like post's author: the peers apply
 * blocks and mutes to the home timeline only, and those answers would otherwise differ.
 */
async function ensureBlocksAndMutes(session: Query, viewerId: number, spared: number[]) {
  const { rows: muted } = await session.query<{ muted_id: number }>(
    `INSERT INTO mutes (muter_id, muted_id)
     SELECT $1, followee_id FROM (
       SELECT followee_id, row_number() OVER (ORDER BY followee_id) AS n FROM follows WHERE follower_id = $1 AND followee_id <> ALL($2::int[])
     ) f WHERE n % 3 = 0 AND NOT EXISTS (SELECT 1 FROM mutes WHERE muter_id = $1)
     ORDER BY followee_id LIMIT $3
     RETURNING muted_id`,
    [viewerId, spared, VIEWER_MUTES],
  );
  const { rows: blocked } = await session.query<{ blocked_id: number }>(
    `INSERT INTO blocks (blocker_id, blocked_id)
     SELECT $1, u.id FROM users u
     WHERE u.id <> $1 AND u.id <> ALL($2::int[])
       AND NOT EXISTS (SELECT 1 FROM follows f WHERE (f.follower_id = $1 AND f.followee_id = u.id) OR (f.follower_id = u.id AND f.followee_id = $1))
       AND NOT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1)
     ORDER BY u.post_count DESC, u.id LIMIT $3
     RETURNING blocked_id`,
    [viewerId, spared, VIEWER_BLOCKS],
  );
  const { rows } = await session.query<{ blocked: number; muted: number }>(
    "SELECT (SELECT count(*) FROM blocks WHERE blocker_id = $1)::int AS blocked, (SELECT count(*) FROM mutes WHERE muter_id = $1)::int AS muted",
    [viewerId],
  );
  return {
    ...rows[0]!,
    added: muted.length + blocked.length,
    newlyBlocked: blocked.map((r) => r.blocked_id),
    newlyMuted: muted.map((r) => r.muted_id),
  };
}

/**
 * The messages scenario's conversation: a group of the viewer, the profile's user and the viewer's
 * first followee (whom no block of the benchmark's can touch: blocks go to people the viewer does not
 * follow), with 200 messages in turn, one a minute, ending now. The rows are what sending them one by
 * one leaves (messages.service.ts send): the conversation's latest message, each member's read receipt
 * at their own latest message, unread counts of the others' messages after it, a fresh seq each.
 * Found again by its members on later runs.
 */
async function ensureConversation(session: Query, viewerId: number, profileId: number) {
  const { rows: followee } = await session.query<{ id: number }>(
    "SELECT min(followee_id) AS id FROM follows WHERE follower_id = $1 AND followee_id <> ALL($2::int[])",
    [viewerId, [viewerId, profileId]],
  );
  if (followee[0]?.id == null) throw new Error("The viewer follows nobody: no third member for the conversation");
  const members = [viewerId, profileId, followee[0].id].sort((a, b) => a - b);
  const found = await session.query<{ id: number; messages: number }>(
    `SELECT c.id, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)::int AS messages FROM conversations c
     WHERE c.is_group AND (SELECT array_agg(user_id ORDER BY user_id) FROM conversation_members WHERE conversation_id = c.id AND left_at IS NULL) = $1::int[]
     ORDER BY c.id LIMIT 1`,
    [members],
  );
  if (found.rows[0]) return { ...found.rows[0], members, added: 0 };
  const { rows } = await session.query<{ id: number }>(
    `INSERT INTO conversations (is_group, created_at, last_message_at)
     VALUES (true, (now() AT TIME ZONE 'UTC') - $1 * interval '1 minute', now() AT TIME ZONE 'UTC') RETURNING id`,
    [CONVERSATION_MESSAGES],
  );
  const id = rows[0]!.id;
  await session.query(
    "INSERT INTO conversation_members (conversation_id, user_id, joined_at) SELECT $1, u, c.created_at FROM unnest($2::int[]) u, conversations c WHERE c.id = $1",
    [id, members],
  );
  // The viewer starts; then the three take turns, a minute apart, the last one now.
  await session.query(
    `INSERT INTO messages (conversation_id, sender_id, body, created_at)
     SELECT $1, ($2::int[])[1 + (n - 1) % 3], 'Bench message ' || n || ' of ' || $3, (now() AT TIME ZONE 'UTC') - ($3 - n) * interval '1 minute'
     FROM generate_series(1, $3) n ORDER BY n`,
    [id, [viewerId, ...members.filter((m) => m !== viewerId)], CONVERSATION_MESSAGES],
  );
  await session.query(
    `UPDATE conversations c SET last_message_id = m.id, last_message_at = m.created_at
     FROM (SELECT id, created_at FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT 1) m WHERE c.id = $1`,
    [id],
  );
  await session.query(
    `UPDATE conversation_members cm SET
       last_read_message_id = own.last_id,
       unread_count = (SELECT count(*) FROM messages x WHERE x.conversation_id = cm.conversation_id AND x.sender_id <> cm.user_id AND x.id > own.last_id),
       seq = nextval('conversation_members_seq_seq')
     FROM (SELECT sender_id, max(id) AS last_id FROM messages WHERE conversation_id = $1 GROUP BY sender_id) own
     WHERE cm.conversation_id = $1 AND own.sender_id = cm.user_id`,
    [id],
  );
  return { id, members, messages: CONVERSATION_MESSAGES, added: CONVERSATION_MESSAGES };
}

/** The authors of the thread and of the like scenario's post. */
async function authorsOf(session: Query, rootId: number, likePostId: number) {
  const { rows } = await session.query<{ author_id: number }>("SELECT DISTINCT author_id FROM posts WHERE id IN ($1, $2) OR root_id = $1", [rootId, likePostId]);
  return rows.map((r) => r.author_id);
}

/**
 * Puts the like scenario's post back as generated: not liked by the viewer, with its exact like
 * count, and the viewer's part of its author's notification taken back as unlikePost takes it
 * (a like left without its notification, or the reverse, would make the next like fail).
 */
export async function resetLike(db: PrismaClient, picks: Pick<Picks, "viewer" | "likePostId">) {
  const { viewer, likePostId } = picks;
  await db.$transaction(async (tx) => {
    const { authorId } = await tx.post.findUniqueOrThrow({ where: { id: likePostId }, select: { authorId: true } });
    await tx.$executeRaw`DELETE FROM likes WHERE user_id = ${viewer.id} AND post_id = ${likePostId}`;
    await withdrawGrouped(tx, "LIKE", viewer.id, authorId, likePostId);
    await tx.$executeRaw`UPDATE posts SET like_count = (SELECT count(*) FROM likes WHERE post_id = ${likePostId}) WHERE id = ${likePostId}`;
  });
}

async function userByHandle(session: Query, handle: string) {
  const { rows } = await session.query<{ id: number; handle: string; following: number }>(
    "SELECT id, handle, following_count AS following FROM users WHERE handle_key = $1 FOR UPDATE",
    [handle],
  );
  if (!rows[0]) throw new Error(`The bench database has no user "${handle}"`);
  return rows[0];
}

/** Tops the viewer up to 200 followees: every (users / 200)th user, so prolific and quiet authors mix. */
async function ensureViewerFollows(session: Query, viewer: { id: number; following: number }) {
  if (viewer.following >= VIEWER_FOLLOWING) return 0;
  const { rows } = await session.query<{ followee_id: number }>(
    `INSERT INTO follows (follower_id, followee_id)
     SELECT $1, u.id FROM users u
     WHERE u.id % (SELECT greatest(count(*) / $3, 1) FROM users) = 0 AND u.id <> $1
       AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $1 AND f.followee_id = u.id)
     ORDER BY u.id LIMIT $2
     RETURNING followee_id`,
    [viewer.id, VIEWER_FOLLOWING - viewer.following, VIEWER_FOLLOWING],
  );
  await session.query("UPDATE users SET follower_count = follower_count + 1 WHERE id = ANY($1::int[])", [rows.map((r) => r.followee_id)]);
  await session.query("UPDATE users SET following_count = following_count + $2 WHERE id = $1", [viewer.id, rows.length]);
  return rows.length;
}

/**
 * The thread: the generated top-level post whose first replies have the most replies, topped up to
 * 10 replies that each have at least 5. Repliers are people the viewer does not follow, so the new
 * posts stay out of the home timeline.
 */
async function ensureThread(session: Query, generatedPosts: number, excludedAuthors: number[]) {
  const existing = await session.query<{ root_id: number }>("SELECT root_id FROM posts WHERE id > $1 ORDER BY id LIMIT 1", [generatedPosts]);
  const rootId = existing.rows[0]?.root_id ?? (await deepestThread(session));
  const [viewerId] = excludedAuthors;
  const authors = (
    await session.query<{ id: number }>(
      `SELECT id FROM users u WHERE u.id > 100 AND u.id <> ALL($1::int[])
         AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $2 AND f.followee_id = u.id)
       ORDER BY u.id LIMIT $3`,
      [excludedAuthors, viewerId, THREAD_REPLIES * (THREAD_SECOND_LEVEL + 1)],
    )
  ).rows.map((r) => r.id);
  let added = 0;
  const reply = async (parentId: number, label: string) => {
    const authorId = authors[added % authors.length]!;
    added++;
    await session.query(
      `WITH reply AS (INSERT INTO posts (author_id, body, reply_to_id, root_id) VALUES ($1, $2, $3, $4))
       UPDATE posts SET reply_count = reply_count + 1 WHERE id = $3`,
      [authorId, `Bench thread reply ${label}`, parentId, rootId],
    );
    await session.query("UPDATE users SET post_count = post_count + 1 WHERE id = $1", [authorId]);
  };
  const firstReplies = async () =>
    (await session.query<{ id: number; replies: number }>("SELECT id, reply_count AS replies FROM posts WHERE reply_to_id = $1 ORDER BY id LIMIT $2", [rootId, THREAD_REPLIES])).rows;
  for (let n = (await firstReplies()).length; n < THREAD_REPLIES; n++) await reply(rootId, `${n + 1}`);
  const first = await firstReplies();
  for (const [i, parent] of first.entries()) {
    for (let n = parent.replies; n < THREAD_SECOND_LEVEL; n++) await reply(parent.id, `${i + 1}.${n + 1}`);
  }
  const secondLevel = (
    await session.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM posts WHERE reply_to_id = ANY($1::int[])",
      [first.map((p) => p.id)],
    )
  ).rows[0]!.n;
  return { id: rootId, replies: first.length, secondLevel, added };
}

async function deepestThread(session: Query) {
  const { rows } = await session.query<{ id: number }>(
    `SELECT p.id FROM posts p
     WHERE p.reply_to_id IS NULL AND p.repost_of_id IS NULL AND p.deleted_at IS NULL AND p.reply_count >= 3
     ORDER BY (SELECT count(*) FROM (SELECT r.reply_count FROM posts r WHERE r.reply_to_id = p.id ORDER BY r.id LIMIT 10) first_replies
               WHERE first_replies.reply_count > 0) DESC, p.reply_count DESC, p.id
     LIMIT 1`,
  );
  if (!rows[0]) throw new Error("The bench database has no post with replies");
  return rows[0].id;
}

/**
 * The oldest original post by someone the viewer does not follow, outside the thread, that the viewer
 * had not liked in the generated data (likes 1…N): a like left by an interrupted run does not move the pick.
 */
async function pickLikePost(session: Query, viewerId: number, excludedAuthors: number[], threadId: number, generatedLikes: number) {
  const { rows } = await session.query<{ id: number }>(
    `SELECT p.id FROM posts p
     WHERE p.repost_of_id IS NULL AND p.reply_to_id IS NULL AND p.deleted_at IS NULL AND p.id <> $3
       AND p.author_id <> $1 AND p.author_id <> ALL($2::int[])
       AND NOT EXISTS (SELECT 1 FROM likes l WHERE l.user_id = $1 AND l.post_id = p.id AND l.id <= $4)
       AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $1 AND f.followee_id = p.author_id)
     ORDER BY p.id LIMIT 1`,
    [viewerId, excludedAuthors, threadId, generatedLikes],
  );
  if (!rows[0]) throw new Error("The bench database has no post for the like scenario");
  return rows[0].id;
}
