import type { PrismaClient } from "@prisma/client";
import DataLoader from "dataloader";
import type { Viewer } from "./context.js";

/** Per-request batches for the fields that depend on who is asking. */
export interface Loaders {
  viewerHasLiked: Flag;
  viewerHasReposted: Flag;
  viewerFollows: Flag;
  followsViewer: Flag;
}

type Flag = Pick<DataLoader<number, boolean>, "load">;

// An anonymous viewer has liked and followed nothing: no query, no cache.
const never: Flag = { load: async () => false };

function membership(ids: readonly number[], found: Iterable<number>) {
  const set = new Set(found);
  return ids.map((id) => set.has(id));
}

export function createLoaders(db: PrismaClient, viewer: Viewer | null): Loaders {
  if (!viewer) return { viewerHasLiked: never, viewerHasReposted: never, viewerFollows: never, followsViewer: never };
  const me = viewer.id;
  return {
    viewerHasLiked: new DataLoader(async (postIds) => {
      const rows = await db.like.findMany({ where: { userId: me, postId: { in: [...postIds] } }, select: { postId: true } });
      return membership(postIds, rows.map((r) => r.postId));
    }),
    viewerHasReposted: new DataLoader(async (postIds) => {
      const rows = await db.post.findMany({ where: { authorId: me, repostOfId: { in: [...postIds] } }, select: { repostOfId: true } });
      return membership(postIds, rows.map((r) => r.repostOfId!));
    }),
    viewerFollows: new DataLoader(async (userIds) => {
      const rows = await db.follow.findMany({ where: { followerId: me, followeeId: { in: [...userIds] } }, select: { followeeId: true } });
      return membership(userIds, rows.map((r) => r.followeeId));
    }),
    followsViewer: new DataLoader(async (userIds) => {
      const rows = await db.follow.findMany({ where: { followeeId: me, followerId: { in: [...userIds] } }, select: { followerId: true } });
      return membership(userIds, rows.map((r) => r.followerId));
    }),
  };
}
