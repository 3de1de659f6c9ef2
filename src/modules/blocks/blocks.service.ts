import type { Prisma, PrismaClient } from "@prisma/client";
import type { Viewer } from "../auth/viewer.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { forgetActor } from "../notifications/notifications.service.js";
import { type Publisher, publishInboxes } from "../../realtime/bus.js";

type Tx = Prisma.TransactionClient;

/**
 * Locks the two users' rows, in id order, until the transaction ends. A block and a follow between the
 * same two people both take these locks first, so a follow can never slip in beside a block, and two
 * opposite follows cannot deadlock. Throws NotFoundError when `other` does not exist.
 */
export async function lockPair(tx: Tx, viewerId: number, other: number) {
  const rows = await tx.$queryRaw<{ id: number }[]>`
    SELECT id FROM users WHERE id IN (${viewerId}, ${other}) ORDER BY id FOR NO KEY UPDATE`;
  if (!rows.some((row) => row.id === other)) throw new NotFoundError("User");
}

/** Whether either user has blocked the other, as committed (the viewer's own sets date from the request's start). */
export async function blockedBetween(tx: Tx, a: number, b: number) {
  const [row] = await tx.$queryRaw<{ blocked: boolean }[]>`
    SELECT EXISTS (SELECT 1 FROM blocks WHERE (blocker_id = ${a} AND blocked_id = ${b}) OR (blocker_id = ${b} AND blocked_id = ${a})) AS blocked`;
  return row!.blocked;
}

/**
 * Blocking is idempotent and ends the follows between the two, both ways, with their counters;
 * unblocking restores nothing but the possibility. Updates the viewer's sets for the rest of the
 * request. Returns the other user.
 */
export async function setBlocked<Q extends object>(db: PrismaClient, viewer: Viewer, userId: number, blocked: boolean, query: Q, events: Publisher) {
  if (userId === viewer.id) throw ValidationError.of("userId", "You cannot block yourself");
  const user = await db.$transaction(async (tx) => {
    await lockPair(tx, viewer.id, userId);
    if (!blocked) {
      await tx.block.deleteMany({ where: { blockerId: viewer.id, blockedId: userId } });
    } else {
      const { count } = await tx.block.createMany({ data: [{ blockerId: viewer.id, blockedId: userId }], skipDuplicates: true });
      if (count === 1) {
        await unfollowEachOther(tx, viewer.id, userId);
        // Neither keeps the other in their notifications (after the users' locks, as every notification write).
        await forgetActor(tx, viewer.id, userId);
        await forgetActor(tx, userId, viewer.id);
      }
    }
    return tx.user.findUniqueOrThrow({ ...query, where: { id: userId } });
  });
  if (blocked) viewer.blocking.add(userId);
  else viewer.blocking.delete(userId);
  if (blocked) publishInboxes(events, [viewer.id, userId]);
  return user;
}

async function unfollowEachOther(tx: Tx, a: number, b: number) {
  const ended = await tx.$queryRaw<{ follower_id: number; followee_id: number }[]>`
    DELETE FROM follows WHERE (follower_id = ${a} AND followee_id = ${b}) OR (follower_id = ${b} AND followee_id = ${a})
    RETURNING follower_id, followee_id`;
  for (const { follower_id, followee_id } of ended) {
    await tx.user.update({ where: { id: follower_id }, data: { followingCount: { decrement: 1 } }, select: { id: true } });
    await tx.user.update({ where: { id: followee_id }, data: { followerCount: { decrement: 1 } }, select: { id: true } });
  }
}

/** Muting is idempotent and private: the muted user is not told, and nothing changes for them. Returns them. */
export async function setMuted<Q extends object>(db: PrismaClient, viewer: Viewer, userId: number, muted: boolean, query: Q, events: Publisher) {
  if (userId === viewer.id) throw ValidationError.of("userId", "You cannot mute yourself");
  const user = await db.$transaction(async (tx) => {
    const found = await tx.user.findUnique({ ...query, where: { id: userId } });
    if (!found) throw new NotFoundError("User");
    if (muted) {
      const { count } = await tx.mute.createMany({ data: [{ muterId: viewer.id, mutedId: userId }], skipDuplicates: true });
      if (count === 1) await forgetActor(tx, viewer.id, userId);
    } else await tx.mute.deleteMany({ where: { muterId: viewer.id, mutedId: userId } });
    return found;
  });
  if (muted) viewer.muting.add(userId);
  else viewer.muting.delete(userId);
  if (muted) publishInboxes(events, [viewer.id]);
  return user;
}
