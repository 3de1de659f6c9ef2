import type { PrismaClient } from "@prisma/client";
import type { SqlReader } from "../../sql/reader.js";
import type { Viewer } from "../auth/viewer.js";
import { visibleRows } from "../blocks/visibility.js";
import { readableMessage } from "../messages/messages.service.js";
import { homeTimelineWhere } from "../timeline/timeline.service.js";

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

/** Whether the post is one the viewer's home timeline shows, by the same rules (follows, mutes, blocks), and not the viewer's own. */
export async function inHomeTimeline(reader: SqlReader, db: PrismaClient, viewer: Viewer, post: { postId: number; authorId: number }) {
  if (post.authorId === viewer.id) return false;
  const blocks = visibleRows(viewer, "Post");
  const where = { AND: [{ id: post.postId }, homeTimelineWhere(viewer), ...(blocks ? [blocks] : [])] };
  return (await reader.findFirst("Post", { where, select: { id: true } }, (q) => db.post.findFirst(q))) !== null;
}

/** Which of `userIds` follow the author: the only ones a post of theirs can concern. */
export async function followersAmong(db: PrismaClient, authorId: number, userIds: number[]) {
  if (userIds.length === 0) return new Set<number>();
  const rows = await db.follow.findMany({ where: { followeeId: authorId, followerId: { in: userIds } }, select: { followerId: true } });
  return new Set(rows.map((row) => row.followerId));
}
