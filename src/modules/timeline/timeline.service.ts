import type { Prisma } from "@prisma/client";
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
