import type { PrismaClient } from "@prisma/client";
import type { SqlReader } from "../../sql/reader.js";
import type { Viewer } from "../auth/viewer.js";
import { readableMessage } from "../messages/messages.service.js";
import { NotFoundError } from "../../errors.js";
import { homeTimelineShows } from "../timeline/timeline.service.js";

/** What a subscriber reads when an event names it: always the database as committed, seen by its own viewer. */

/** The highest seq among the user's notifications (0 without any): entries above it are news. */
export async function latestNotificationSeq(db: PrismaClient, userId: number) {
  const latest = await db.notification.findFirst({ where: { recipientId: userId }, orderBy: { seq: "desc" }, select: { seq: true } });
  return latest?.seq ?? 0;
}

/**
 * The user's entries that got activity after `afterSeq`, oldest first: new entries, and grouped ones
 * an actor joined (their seq moved up). An actor leaving moves an entry down, which is no news.
 */
export const notificationsAfter = (db: PrismaClient, userId: number, afterSeq: number) =>
  db.notification.findMany({ where: { recipientId: userId, seq: { gt: afterSeq } }, orderBy: { seq: "asc" }, select: { id: true, seq: true }, take: 100 });

export interface UnreadCounts {
  notifications: number;
  messages: number;
}

export async function unreadCounts(db: PrismaClient, userId: number): Promise<UnreadCounts> {
  const [inbox, conversations] = await Promise.all([
    db.notificationInbox.findUnique({ where: { userId }, select: { unreadCount: true } }),
    db.conversationMember.aggregate({ where: { userId, leftAt: null }, _sum: { unreadCount: true } }),
  ]);
  return { notifications: inbox?.unreadCount ?? 0, messages: conversations._sum.unreadCount ?? 0 };
}

/** Whether the viewer may read the message now, by the rule of every path to a message (messages.service.ts). */
export async function mayReadMessage(db: PrismaClient, viewer: Viewer, messageId: number) {
  return (await db.message.findFirst({ where: readableMessage(viewer, messageId), select: { id: true } })) !== null;
}

/**
 * Whether each viewer's home timeline shows the post (homeTimelineShows: follows, mutes, blocks; not
 * their own), for the subscribers one event woke: one statement per post for all of them, reading
 * the post and which of them follow its author now.
 */
export async function inHomeTimelines(reader: SqlReader, db: PrismaClient, asks: readonly { viewer: Viewer; post: { postId: number } }[]): Promise<boolean[]> {
  const postIds = [...new Set(asks.map((ask) => ask.post.postId))];
  const read = await Promise.all(
    postIds.map(async (postId) => {
      const viewerIds = [...new Set(asks.filter((ask) => ask.post.postId === postId).map((ask) => ask.viewer.id))];
      const query = {
        where: { id: postId },
        select: {
          id: true,
          authorId: true,
          deletedAt: true,
          repostOf: { select: { authorId: true } },
          author: { select: { followers: { where: { followerId: { in: viewerIds } }, select: { followerId: true } } } },
        },
      };
      const post = await reader.findFirst("Post", query, (q) => db.post.findFirst(q));
      return [postId, post && { ...post, followers: new Set(post.author.followers.map((f) => f.followerId)) }] as const;
    }),
  );
  const byId = new Map(read);
  return asks.map(({ viewer, post: { postId } }) => {
    const post = byId.get(postId);
    return !!post && post.authorId !== viewer.id && homeTimelineShows(viewer, post, post.followers.has(viewer.id));
  });
}

/**
 * The posts the subscribers of one event read, each with the query of its document: one statement
 * per distinct query (usually one document for everyone), through the SQL reader.
 */
export async function postsById<Q extends object>(reader: SqlReader, db: PrismaClient, reads: readonly { query: Q; id: number }[]): Promise<(object | NotFoundError)[]> {
  const keys = reads.map(({ query }) => JSON.stringify(query));
  const groups = new Map<string, { query: Q; ids: Set<number> }>();
  reads.forEach(({ query, id }, i) => {
    let group = groups.get(keys[i]!);
    if (!group) groups.set(keys[i]!, (group = { query, ids: new Set() }));
    group.ids.add(id);
  });
  const found = new Map<string, Map<number, object>>();
  await Promise.all(
    [...groups].map(async ([key, { query, ids }]) => {
      const args = { ...query, where: { id: { in: [...ids] } } };
      const rows = await reader.findMany("Post", args, (q) => db.post.findMany(q as Parameters<PrismaClient["post"]["findMany"]>[0]));
      found.set(key, new Map((rows as { id: number }[]).map((row) => [row.id, row])));
    }),
  );
  return reads.map(({ id }, i) => found.get(keys[i]!)!.get(id) ?? new NotFoundError("Post"));
}

/**
 * Which of `userIds` follow the author: the only ones a post of theirs can concern. Through the SQL
 * reader, the ids are one array parameter; Prisma compiled a statement with a placeholder for each of
 * 1,000 listeners on every post.
 */
export async function followersAmong(reader: SqlReader, db: PrismaClient, authorId: number, userIds: number[]) {
  if (userIds.length === 0) return new Set<number>();
  const query = { where: { followeeId: authorId, followerId: { in: userIds } }, select: { followerId: true } };
  const rows = await reader.findMany("Follow", query, (q) => db.follow.findMany(q));
  return new Set(rows.map((row) => row.followerId));
}
