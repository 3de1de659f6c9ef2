import type { PrismaClient } from "@prisma/client";
import type { Viewer } from "../auth/viewer.js";
import { NotFoundError, ValidationError } from "../../errors.js";

/** Following twice is a no-op; so is unfollowing someone one does not follow. Returns the other user. */
export async function setFollowing<Q extends object>(db: PrismaClient, viewer: Viewer, userId: number, follow: boolean, query: Q) {
  if (userId === viewer.id) throw ValidationError.of("userId", "You cannot follow yourself");
  return db.$transaction(async (tx) => {
    const exists = await tx.user.count({ where: { id: userId } });
    if (!exists) throw new NotFoundError("User");
    const { count } = follow
      ? await tx.follow.createMany({ data: [{ followerId: viewer.id, followeeId: userId }], skipDuplicates: true })
      : await tx.follow.deleteMany({ where: { followerId: viewer.id, followeeId: userId } });
    if (count === 1) {
      const change = { [follow ? "increment" : "decrement"]: 1 };
      const counters = [
        { id: viewer.id, data: { followingCount: change } },
        { id: userId, data: { followerCount: change } },
      ];
      // Lock the two users in id order: A following B while B follows A would otherwise deadlock.
      for (const { id, data } of counters.sort((a, b) => a.id - b.id)) {
        await tx.user.update({ where: { id }, data, select: { id: true } });
      }
    }
    return tx.user.findUniqueOrThrow({ ...query, where: { id: userId } });
  });
}
