import { Prisma, type PrismaClient } from "@prisma/client";
import { z } from "zod";
import type { Viewer } from "../auth/viewer.js";
import { assertNoBlock, hiddenUsersSql } from "../blocks/visibility.js";
import { ForbiddenError, NotFoundError, ValidationError, parseInput } from "../../errors.js";
import {
  notifyGrouped,
  notifyGroupedCtes,
  notifyMentions,
  notifyReply,
  removePostNotifications,
  withdrawGrouped,
  withdrawGroupedCtes,
} from "../notifications/notifications.service.js";
import { dropEntities, replaceEntities, storeEntities } from "../entities/entities.service.js";
import { attachToPost, removePostMedia } from "../media/media.service.js";
import { type Publisher, publishInboxes } from "../../realtime/bus.js";
import type { SqlReader } from "../../sql/reader.js";

type Db = PrismaClient;
type Tx = Prisma.TransactionClient;

export const MAX_POST_LENGTH = 500;
const graphemes = new Intl.Segmenter("en", { granularity: "grapheme" });

/** Length as a person counts it: an emoji with modifiers or a flag is one character. */
export const visibleLength = (text: string) => {
  let n = 0;
  for (const _ of graphemes.segment(text)) n++;
  return n;
};

// The longest emoji sequences (a family with skin tones) are 15 UTF-16 units: more per character is
// combining marks piled on one letter, which would let a "1-character" text weigh a megabyte.
const MAX_UNITS_PER_CHARACTER = 16;

/** Text of 1 to `max` characters as people count them (and of at most 16 UTF-16 units for each). */
export const visibleText = (max: number, empty: string) =>
  z
    .string()
    .trim()
    .min(1, empty)
    .refine((text) => text.length <= max * MAX_UNITS_PER_CHARACTER && visibleLength(text) <= max, `At most ${max} characters`);

const Body = visibleText(MAX_POST_LENGTH, "A post cannot be empty");

/** The post a reply, like or repost points at: reposts stand for their original. */
async function findTarget(db: Pick<Db, "post">, id: number) {
  const post = await db.post.findUnique({ where: { id }, select: { id: true, authorId: true, rootId: true, repostOfId: true } });
  if (!post) throw new NotFoundError("Post");
  if (post.repostOfId === null) return post;
  return findTarget(db, post.repostOfId);
}

/**
 * Locks a post's row until the transaction ends and says whether it is deleted. Every write to a
 * post's counters, reposts or deletion takes this lock first, so concurrent writes queue up instead of
 * each acting on what it read before the other committed (double decrements, reposts of deleted posts).
 */
async function lockPost(tx: Tx, id: number) {
  const [row] = await tx.$queryRaw<{ deleted: boolean }[]>`
    SELECT deleted_at IS NOT NULL AS deleted FROM posts WHERE id = ${id} FOR NO KEY UPDATE`;
  if (!row) throw new NotFoundError("Post");
  return row;
}

export async function createPost<Q extends object>(
  db: Db,
  viewer: Viewer,
  input: { body: string; replyToId?: number | null; mediaIds?: number[] },
  query: Q,
  events: Publisher,
) {
  const body = parseInput(z.object({ body: Body }), { body: input.body }).body;
  let created: { id: number; notified: number[] } | undefined;
  const result = await db.$transaction(async (tx) => {
    let thread: { replyToId: number; rootId: number } | null = null;
    let parentAuthorId: number | null = null;
    if (input.replyToId != null) {
      const parent = await findTarget(tx, input.replyToId);
      assertNoBlock(viewer, parent.authorId);
      if ((await lockPost(tx, parent.id)).deleted) throw ValidationError.of("replyToId", "You cannot reply to a deleted post");
      thread = { replyToId: parent.id, rootId: parent.rootId ?? parent.id };
      parentAuthorId = parent.authorId;
      await tx.post.update({ where: { id: parent.id }, data: { replyCount: { increment: 1 } }, select: { id: true } });
    }
    await tx.user.update({ where: { id: viewer.id }, data: { postCount: { increment: 1 } }, select: { id: true } });
    const post = await tx.post.create({ data: { authorId: viewer.id, body, ...thread }, select: { id: true, authorId: true, body: true, createdAt: true } });
    await attachToPost(tx, viewer, post.id, input.mediaIds ?? []);
    const { mentionedUserIds } = await storeEntities(tx, viewer, post);
    if (parentAuthorId !== null) await notifyReply(tx, { postId: post.id, actorId: viewer.id, recipientId: parentAuthorId });
    // After the reply's: a mentioned parent author hears of the reply once.
    await notifyMentions(tx, { postId: post.id, actorId: viewer.id, userIds: mentionedUserIds });
    created = { id: post.id, notified: parentAuthorId === null ? [...mentionedUserIds] : [parentAuthorId, ...mentionedUserIds] };
    // Read once the entities are in, for a query that selects them.
    return tx.post.findUniqueOrThrow({ ...query, where: { id: post.id } });
  });
  events.publish("post", { postId: created!.id, authorId: viewer.id });
  publishInboxes(events, created!.notified);
  return result;
}

/** The author edits a post; the author or an admin deletes it. Writing needs a writing credential. */
const mayChange = (viewer: Viewer | null, post: { authorId: number }, action: "edit" | "delete") =>
  viewer !== null && viewer.canWrite && (post.authorId === viewer.id || (action === "delete" && viewer.role === "ADMIN"));

type PostState = { authorId: number; repostOfId: number | null; deletedAt: Date | null };

/** Whether editPost would change this post for the viewer (what Post.viewerCanEdit answers). */
export const canEditPost = (viewer: Viewer | null, post: PostState) => mayChange(viewer, post, "edit") && post.repostOfId === null && post.deletedAt === null;

/** Whether deletePost would remove this post for the viewer (what Post.viewerCanDelete answers). */
export const canDeletePost = (viewer: Viewer | null, post: PostState) => mayChange(viewer, post, "delete") && post.deletedAt === null;

async function findOwnPost(db: Pick<Db, "post">, viewer: Viewer, id: number, action: "edit" | "delete") {
  const post = await db.post.findUnique({
    where: { id },
    select: { id: true, authorId: true, replyToId: true, repostOfId: true },
  });
  if (!post) throw new NotFoundError("Post");
  if (!mayChange(viewer, post, action)) throw new ForbiddenError("Only the author can change this post.");
  return post;
}

export async function editPost<Q extends object>(db: Db, viewer: Viewer, id: number, body: string, query: Q, events: Publisher) {
  const parsed = parseInput(z.object({ body: Body }), { body }).body;
  const post = await findOwnPost(db, viewer, id, "edit");
  if (post.repostOfId !== null) throw ValidationError.of("postId", "A repost has no text to edit");
  let mentioned: readonly number[] = [];
  const result = await db.$transaction(async (tx) => {
    if ((await lockPost(tx, id)).deleted) throw ValidationError.of("postId", "A deleted post cannot be edited");
    const edited = await tx.post.update({ where: { id }, data: { body: parsed, editedAt: new Date() }, select: { id: true, authorId: true, body: true, createdAt: true } });
    const { mentionedUserIds } = await replaceEntities(tx, viewer, edited);
    // Only the newly mentioned hear of it; a mention taken out by the edit keeps its notification.
    await notifyMentions(tx, { postId: id, actorId: viewer.id, userIds: mentionedUserIds });
    mentioned = mentionedUserIds;
    return tx.post.findUniqueOrThrow({ ...query, where: { id } });
  });
  publishInboxes(events, mentioned);
  return result;
}

/**
 * A deleted post keeps its place in its thread (replies still point at it) but loses its body.
 * Reposts of it disappear; a repost itself is simply removed.
 */
export async function deletePost<Q extends object>(db: Db, viewer: Viewer, id: number, query: Q, events: Publisher) {
  const post = await findOwnPost(db, viewer, id, "delete");
  if (post.repostOfId !== null) {
    await removeRepost(db, post.authorId, post.repostOfId, events);
    return db.post.findUniqueOrThrow({ ...query, where: { id: post.repostOfId } });
  }
  let recounted: number[] = [];
  const result = await db.$transaction(async (tx) => {
    // Only the delete that finds the post alive under the lock counts it off, however many race.
    if ((await lockPost(tx, id)).deleted) return tx.post.findUniqueOrThrow({ ...query, where: { id } });
    const reposts = await tx.post.deleteMany({ where: { repostOfId: id } });
    // Posts before users, as createPost does, so a reply and a delete by the same author cannot deadlock.
    if (post.replyToId !== null) {
      await tx.post.update({ where: { id: post.replyToId }, data: { replyCount: { decrement: 1 } }, select: { id: true } });
    }
    await tx.user.update({ where: { id: post.authorId }, data: { postCount: { decrement: 1 } }, select: { id: true } });
    // Tags before notifications, as createPost takes them, so a post and a delete cannot deadlock.
    await dropEntities(tx, id);
    await removePostMedia(tx, id);
    recounted = await removePostNotifications(tx, id);
    return tx.post.update({
      ...query,
      where: { id },
      data: { body: null, deletedAt: new Date(), repostCount: { decrement: reposts.count } },
    });
  });
  publishInboxes(events, recounted);
  return result;
}

/** Reposting twice is a no-op; reposting a repost reposts its original. Returns the repost. */
export async function repost<Q extends object>(db: Db, viewer: Viewer, postId: number, query: Q, events: Publisher) {
  let created: { id: number; originalAuthorId: number } | undefined;
  const result = await db.$transaction(async (tx) => {
    const target = await findTarget(tx, postId);
    assertNoBlock(viewer, target.authorId);
    if ((await lockPost(tx, target.id)).deleted) throw ValidationError.of("postId", "You cannot repost a deleted post");
    const { count } = await tx.post.createMany({ data: [{ authorId: viewer.id, repostOfId: target.id }], skipDuplicates: true });
    if (count === 1) {
      await tx.post.update({ where: { id: target.id }, data: { repostCount: { increment: 1 } }, select: { id: true } });
      await notifyGrouped(tx, "REPOST", viewer.id, target.authorId, target.id);
      const { id } = await tx.post.findUniqueOrThrow({ where: { authorId_repostOfId: { authorId: viewer.id, repostOfId: target.id } }, select: { id: true } });
      created = { id, originalAuthorId: target.authorId };
    }
    return tx.post.findUniqueOrThrow({ ...query, where: { authorId_repostOfId: { authorId: viewer.id, repostOfId: target.id } } });
  });
  if (created) {
    events.publish("post", { postId: created.id, authorId: viewer.id });
    publishInboxes(events, [created.originalAuthorId]);
  }
  return result;
}

/** Undoing a repost that does not exist is a no-op. Returns the original post. */
export async function undoRepost<Q extends object>(db: Db, viewer: Viewer, postId: number, query: Q, events: Publisher) {
  const target = await findTarget(db, postId);
  await removeRepost(db, viewer.id, target.id, events);
  return db.post.findUniqueOrThrow({ ...query, where: { id: target.id } });
}

async function removeRepost(db: Db, authorId: number, originalId: number, events: Publisher) {
  let originalAuthorId: number | undefined;
  await db.$transaction(async (tx) => {
    await lockPost(tx, originalId);
    const { count } = await tx.post.deleteMany({ where: { authorId, repostOfId: originalId } });
    if (count === 1) {
      const original = await tx.post.update({ where: { id: originalId }, data: { repostCount: { decrement: 1 } }, select: { authorId: true } });
      await withdrawGrouped(tx, "REPOST", authorId, original.authorId, originalId);
      originalAuthorId = original.authorId;
    }
  });
  publishInboxes(events, [originalAuthorId]);
}

/**
 * Liking twice is a no-op; so is unliking a post one has not liked. Both return the post. One
 * statement locks the target (a repost stands for its original), adds or removes the viewer's like
 * (never of someone a block separates them from), and moves the counter only when the like row
 * changed, so concurrent likes queue on the row lock and the counter stays exact. Then the post is
 * read for the response.
 */
export async function setLiked<R>(
  reader: SqlReader,
  viewer: Viewer,
  postId: number,
  liked: boolean,
  read: (id: number) => Promise<R | null>,
  events: Publisher,
) {
  const change = liked
    ? Prisma.sql`INSERT INTO likes (user_id, post_id) SELECT ${viewer.id}, id FROM target WHERE NOT deleted AND ${hiddenUsersSql(viewer, Prisma.sql`author_id`)}
        ON CONFLICT (user_id, post_id) DO NOTHING RETURNING post_id`
    : Prisma.sql`DELETE FROM likes WHERE user_id = ${viewer.id} AND post_id IN (SELECT id FROM target) RETURNING post_id`;
  // The post's author hears of a like, or the like leaves their entry, in the same statement.
  const liker = Prisma.sql`SELECT t.author_id AS recipient_id, t.id AS post_id FROM changed c JOIN target t ON t.id = c.post_id`;
  const [target] = await reader.query<{ id: number; author_id: number; deleted: boolean }>(Prisma.sql`
    WITH target AS (
      SELECT t.id, t.author_id, t.deleted_at IS NOT NULL AS deleted FROM posts p JOIN posts t ON t.id = COALESCE(p.repost_of_id, p.id)
      WHERE p.id = ${postId} FOR NO KEY UPDATE OF t
    ), changed AS (${change}), counted AS (
      UPDATE posts SET like_count = like_count ${liked ? Prisma.sql`+` : Prisma.sql`-`} 1 WHERE id IN (SELECT post_id FROM changed) RETURNING id
    ), ${liked ? notifyGroupedCtes("LIKE", viewer.id, liker) : withdrawGroupedCtes("LIKE", viewer.id, liker)}
    SELECT id, author_id, deleted FROM target`);
  if (!target) throw new NotFoundError("Post");
  // One statement, committed: the author's entry (or count) may have changed.
  publishInboxes(events, [target.author_id]);
  if (liked) assertNoBlock(viewer, target.author_id);
  if (liked && target.deleted) throw ValidationError.of("postId", "You cannot like a deleted post");
  const post = await read(target.id);
  if (!post) throw new NotFoundError("Post");
  return post;
}
