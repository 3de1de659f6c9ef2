import type { Prisma } from "@prisma/client";
import { ValidationError } from "../../errors.js";
import { handleKey } from "../users/users.service.js";

/** Posts and reposts by the viewer and the people they follow; one statement with the page. */
export const homeTimelineWhere = (viewerId: number): Prisma.PostWhereInput => ({
  deletedAt: null,
  OR: [{ authorId: viewerId }, { author: { followers: { some: { followerId: viewerId } } } }],
});

/** A user's posts and reposts, and their replies when asked. */
export const userTimelineWhere = (handle: string, includeReplies: boolean): Prisma.PostWhereInput => ({
  author: { handleKey: handleKey(handle) },
  deletedAt: null,
  ...(includeReplies ? {} : { replyToId: null }),
});

const MAX_INT_ID = 2_147_483_647;

/**
 * Turns a Pothos connection query over a list ordered by `id` descending into a keyset page. Prisma's
 * own `cursor` looks the cursor's row up first, so the page after a row deleted meanwhile (an undone
 * repost, an unfollow) would come back empty. The sign of `take` gives the direction (negative:
 * `last`/`before`); a cursor that does not hold an id is the caller's mistake, not a database error.
 */
export function newestFirstPage<Q extends { cursor?: { id?: unknown }; take?: number; skip?: number }, W extends object>(
  { cursor, skip: _skip, ...query }: Q,
  where?: W,
) {
  if (!cursor) return { ...query, skip: 0, where };
  const backward = (query.take ?? 0) < 0;
  const { id } = cursor;
  if (typeof id !== "number" || !Number.isInteger(id) || id < 1 || id > MAX_INT_ID) {
    throw ValidationError.of(backward ? "before" : "after", "Invalid cursor");
  }
  const beyond = { id: backward ? { gt: id } : { lt: id } };
  return { ...query, skip: 0, where: where ? { AND: [where, beyond] } : beyond };
}
