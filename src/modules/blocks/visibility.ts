import { Prisma } from "@prisma/client";
import { ForbiddenError } from "../../errors.js";
import type { Viewer } from "../auth/viewer.js";

/**
 * The one place blocks and mutes are applied. A block hides the two users from each other, whichever
 * blocked: lists leave the other's rows out (keysetPage applies LIST_RULES to every list it pages),
 * a post reached directly (by id, as a reply's parent, in a thread) shows as unavailable, and neither
 * can follow, reply to, like or repost the other. A mute only thins the muter's home timeline and
 * notifications. The viewer's block and mute sets come with their credential, so none of this costs
 * a statement.
 */

/** Whether a block stands between the viewer and the user, either way. */
export const hides = (viewer: Viewer | null, userId: number) => viewer !== null && (viewer.blocking.has(userId) || viewer.blockedBy.has(userId));

/** The users a block hides from the viewer. */
export const hiddenUserIds = (viewer: Viewer | null): number[] => (viewer ? [...viewer.blocking, ...viewer.blockedBy] : []);

/** Refuses an interaction (follow, reply, like, repost) between users a block separates. */
export function assertNoBlock(viewer: Viewer, userId: number) {
  if (viewer.blocking.has(userId)) throw new ForbiddenError("You blocked this user; unblock them first.");
  if (viewer.blockedBy.has(userId)) throw new ForbiddenError("This user does not allow you to interact with them.");
}

/**
 * Posts neither by nor reposting one of `userIds`. The repost's condition is negative on purpose: a
 * NOT EXISTS becomes an anti-join probing the original by its key (0.5 ms for a home timeline page),
 * where "is null or the original's author is not among them" made PostgreSQL hash every post (240 ms).
 */
export const postsApartFrom = (userIds: number[]): Prisma.PostWhereInput => ({
  authorId: { notIn: userIds },
  NOT: { repostOf: { is: { authorId: { in: userIds } } } },
});

/** postsApartFrom for a post already read (with its original's author): true when it is neither by nor reposting one of `userIds`. */
export const postApartFrom = (userIds: ReadonlySet<number>, post: { authorId: number; repostOf: { authorId: number } | null }) =>
  !userIds.has(post.authorId) && !(post.repostOf && userIds.has(post.repostOf.authorId));

type Where<M extends Prisma.ModelName> = Prisma.TypeMap["model"][M]["operations"]["findMany"]["args"]["where"];

/**
 * For each model, the rows of a list that a block hides from the viewer, given the hidden users.
 * Every model says, so a new one must decide; null: its lists show only the viewer's own rows.
 */
const LIST_RULES: { [M in Prisma.ModelName]: ((hidden: number[]) => Where<M>) | null } = {
  Post: postsApartFrom,
  User: (hidden) => ({ id: { notIn: hidden } }),
  Like: (hidden) => ({ userId: { notIn: hidden } }),
  // Both ends: a hidden user's followers and following are empty, and nobody's list shows them.
  Follow: (hidden) => ({ followerId: { notIn: hidden }, followeeId: { notIn: hidden } }),
  // The viewer's own blocks and mutes: the point of the list is to show whom.
  Block: null,
  Mute: null,
  // The viewer's own; a block or mute takes the other's part out of them when it is made (notifications.service.ts forgetActor).
  Notification: null,
  NotificationActor: (hidden) => ({ actorId: { notIn: hidden } }),
  NotificationInbox: null,
  Session: null,
  RefreshToken: null,
  ApiToken: null,
  // A tag's posts (Hashtag.posts): the author's.
  PostHashtag: (hidden) => ({ authorId: { notIn: hidden } }),
  // Nobody's: a tag belongs to no user, and a post's entities go with their post (Post.entities).
  Hashtag: null,
  PostEntity: null,
  // The viewer's own, through their membership rows; in a group, the other's membership and messages are hidden.
  Conversation: null,
  ConversationMember: (hidden) => ({ userId: { notIn: hidden } }),
  Message: (hidden) => ({ senderId: { notIn: hidden } }),
  // Account mail: nobody's list (email tokens, known devices, the outbox and job schedules are never listed).
  EmailToken: null,
  KnownDevice: null,
  OutboxMessage: null,
  JobSchedule: null,
  // Reached through their post (Post.media, which a block empties) or avatar, or the uploader's own.
  Media: null,
};

/** The condition a list of `model` adds for the viewer, or undefined when nothing is hidden. */
export function visibleRows<M extends Prisma.ModelName>(viewer: Viewer | null, model: M): Where<M> | undefined {
  const hidden = hiddenUserIds(viewer);
  const rule = LIST_RULES[model] as ((hidden: number[]) => Where<M>) | null;
  return hidden.length > 0 && rule ? rule(hidden) : undefined;
}

/** For raw SQL lists: `column` is no user a block hides from the viewer (TRUE when none is). */
export function hiddenUsersSql(viewer: Viewer | null, column: Prisma.Sql) {
  const ids = hiddenUserIds(viewer);
  return ids.length > 0 ? Prisma.sql`${column} <> ALL(${ids}::int[])` : Prisma.sql`TRUE`;
}
