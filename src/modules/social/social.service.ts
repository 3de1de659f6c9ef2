import type { PrismaClient } from "@prisma/client";
import type { Viewer } from "../auth/viewer.js";
import { blockedBetween, lockPair } from "../blocks/blocks.service.js";
import { assertNoBlock } from "../blocks/visibility.js";
import { ForbiddenError, ValidationError } from "../../errors.js";
import { notifyGrouped, withdrawGrouped } from "../notifications/notifications.service.js";
import { type Publisher, publishInboxes } from "../../realtime/bus.js";

/** Following twice is a no-op; so is unfollowing someone one does not follow. Returns the other user. */
export async function setFollowing<Q extends object>(db: PrismaClient, viewer: Viewer, userId: number, follow: boolean, query: Q, events: Publisher) {
  if (userId === viewer.id) throw ValidationError.of("userId", "You cannot follow yourself");
  const user = await db.$transaction(async (tx) => {
    // The pair's locks order this follow against a block between the two (blocks.service.ts).
    await lockPair(tx, viewer.id, userId);
    if (follow) {
      assertNoBlock(viewer, userId);
      // A block committed since this request's credential was read.
      if (await blockedBetween(tx, viewer.id, userId)) throw new ForbiddenError("A block between you and this user prevents this.");
    }
    const { count } = follow
      ? await tx.follow.createMany({ data: [{ followerId: viewer.id, followeeId: userId }], skipDuplicates: true })
      : await tx.follow.deleteMany({ where: { followerId: viewer.id, followeeId: userId } });
    if (count === 1) {
      const change = { [follow ? "increment" : "decrement"]: 1 };
      await tx.user.update({ where: { id: viewer.id }, data: { followingCount: change }, select: { id: true } });
      await tx.user.update({ where: { id: userId }, data: { followerCount: change }, select: { id: true } });
      // Under the pair's row locks, so concurrent follows of one user find the same entry.
      await (follow ? notifyGrouped : withdrawGrouped)(tx, "FOLLOW", viewer.id, userId, null);
    }
    return tx.user.findUniqueOrThrow({ ...query, where: { id: userId } });
  });
  publishInboxes(events, [userId]);
  return user;
}
