import type { Prisma, PrismaClient } from "@prisma/client";
import type { SqlReader } from "../../sql/reader.js";
import type { Viewer } from "../auth/viewer.js";
import { postApartFrom, postsApartFrom } from "../blocks/visibility.js";
import { handleKey } from "../users/users.service.js";

/** Posts and reposts by the viewer and the people they follow, less the muted; one statement with the page. */
export const homeTimelineWhere = (viewer: Viewer): Prisma.PostWhereInput => ({
  deletedAt: null,
  OR: [{ authorId: viewer.id }, { author: { followers: { some: { followerId: viewer.id } } } }],
  ...(viewer.muting.size > 0 ? { AND: [postsApartFrom([...viewer.muting])] } : {}),
});

/**
 * homeTimelineWhere and the viewer's blocks (visibleRows(viewer, "Post")) for a post already read,
 * someone else's: whether the viewer's home timeline shows it. Both say the same rule; change them together.
 */
export function homeTimelineShows(
  viewer: Viewer,
  post: { authorId: number; deletedAt: Date | null; repostOf: { authorId: number } | null },
  viewerFollowsAuthor: boolean,
) {
  const hidden = new Set([...viewer.blocking, ...viewer.blockedBy]);
  return post.deletedAt === null && viewerFollowsAuthor && postApartFrom(viewer.muting, post) && postApartFrom(hidden, post);
}

/**
 * A user's posts and reposts, newest first, and their replies when asked. The SQL reader turns the
 * filter on the author's handle into `author_id = (SELECT id … WHERE handle_key = …)`, so the page
 * walks the (author_id, id DESC) index; a join on the handle read and sorted every post of the
 * author (6.4 ms for 983 posts, against 0.5 ms).
 */
export function userTimeline<Q extends { where?: Prisma.PostWhereInput; take?: number; skip?: number; include?: Prisma.PostInclude | null; select?: Prisma.PostSelect | null }>(db: PrismaClient, reader: SqlReader, handle: string, includeReplies: boolean, page: Q) {
  const where: Prisma.PostWhereInput = { author: { is: { handleKey: handleKey(handle) } }, deletedAt: null, ...(includeReplies ? {} : { replyToId: null }) };
  return reader.findMany("Post", { ...page, where: page.where ? { AND: [where, page.where] } : where, orderBy: { id: "desc" as const } }, (q) => db.post.findMany(q));
}
