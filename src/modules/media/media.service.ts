import { Prisma, type PrismaClient } from "@prisma/client";
import { z } from "zod";
import type { Viewer } from "../auth/viewer.js";
import { NotFoundError, ValidationError, parseInput } from "../../errors.js";
import { FORMATS, type Format, type ImageProcessor, SIZES, fileName } from "./media.images.js";
import type { MediaStorage } from "./media.storage.js";

type Db = PrismaClient;
type Tx = Prisma.TransactionClient;

export const MAX_POST_MEDIA = 4;
/** How long an upload may wait to be attached before the sweep removes it. */
export const UNATTACHED_TTL_MS = 86_400_000;

const AltText = z.string().trim().max(1000, "At most 1000 characters");

/**
 * One key's files are written and removed under this lock (a transaction's advisory lock on the key),
 * so a sweep that finds no row for a key cannot delete the files an identical upload is about to name.
 */
const keyLock = (key: string) => Prisma.sql`pg_advisory_xact_lock(hashtextextended(${key}, 7))`;
const lockKey = (tx: Tx, key: string) => tx.$executeRaw`SELECT ${keyLock(key)}`;

const filesOf = (key: string, format: Format) => (Object.keys(SIZES) as (keyof typeof SIZES)[]).map((size) => fileName(key, size, format));

/**
 * Checks and re-encodes the file, records the upload and stores its files. A file refused leaves
 * nothing behind; a failure to store removes the row again and any file no other row names.
 */
export async function uploadMedia<Q extends object>(
  db: Db,
  storage: MediaStorage,
  processImage: ImageProcessor,
  viewer: Viewer,
  input: { file: File; altText?: string | null },
  query: Q,
) {
  const { altText } = parseInput(z.object({ altText: AltText.optional() }), { altText: input.altText ?? undefined });
  const image = await processImage(new Uint8Array(await input.file.arrayBuffer()));
  // The row first, under the key's lock, in one statement (its own transaction): from then on a sweep sees the key in use.
  const [{ id }] = await db.$queryRaw<[{ id: number }]>`
    WITH locked AS (SELECT ${keyLock(image.key)})
    INSERT INTO media (uploader_id, key, format, width, height, color, alt_text)
    SELECT ${viewer.id}, ${image.key}, ${image.format}, ${image.width}, ${image.height}, ${image.color}, ${altText ?? ""} FROM locked
    RETURNING id`;
  try {
    await Promise.all(image.files.map((f) => storage.put(f.name, f.body, f.contentType)));
  } catch (error) {
    await db.media.delete({ where: { id } });
    await releaseFiles(db, storage, [{ key: image.key, format: image.format }]);
    throw error;
  }
  return db.media.findUniqueOrThrow({ ...query, where: { id } });
}

/** The uploader changes an upload's alt text, attached or not. */
export async function updateMedia<Q extends object>(db: Db, viewer: Viewer, id: number, altText: string, query: Q) {
  const parsed = parseInput(z.object({ altText: AltText }), { altText }).altText;
  const { count } = await db.media.updateMany({ where: { id, uploaderId: viewer.id, removedAt: null }, data: { altText: parsed } });
  if (count === 0) throw new NotFoundError("Media");
  return db.media.findUniqueOrThrow({ ...query, where: { id } });
}

/**
 * Takes uploads of the viewer's that nothing has taken yet, in a transaction of the caller's: an
 * upload of someone else's is not found, one attached before (even if since removed) is refused.
 */
async function attach(tx: Tx, viewer: Viewer, field: string, ids: number[], data: (index: number) => Prisma.MediaUncheckedUpdateManyInput) {
  const now = new Date();
  for (const [index, id] of ids.entries()) {
    const { count } = await tx.media.updateMany({ where: { id, uploaderId: viewer.id, attachedAt: null }, data: { ...data(index), attachedAt: now } });
    if (count === 1) continue;
    const found = await tx.media.findFirst({ where: { id, uploaderId: viewer.id }, select: { id: true } });
    if (!found) throw new NotFoundError("Media");
    throw ValidationError.of(field, "This upload is attached already; upload the image again to use it twice.");
  }
}

/** Attaches up to four uploads to a new post, in the order given. */
export async function attachToPost(tx: Tx, viewer: Viewer, postId: number, mediaIds: number[]) {
  if (mediaIds.length > MAX_POST_MEDIA) throw ValidationError.of("mediaIds", `At most ${MAX_POST_MEDIA} images per post`);
  if (new Set(mediaIds).size !== mediaIds.length) throw ValidationError.of("mediaIds", "The same upload is listed twice");
  await attach(tx, viewer, "mediaIds", mediaIds, (position) => ({ postId, position }));
}

/** A deleted post's media stop being served at once; the sweep deletes them and their files. */
export async function removePostMedia(tx: Tx, postId: number) {
  await tx.media.updateMany({ where: { postId, removedAt: null }, data: { removedAt: new Date() } });
}

/**
 * The data that makes `mediaId` the viewer's avatar (null: none), in a transaction of the caller's:
 * the avatar it replaces is removed.
 */
export async function avatarChange(tx: Tx, viewer: Viewer, mediaId: number | null) {
  const current = await tx.user.findUniqueOrThrow({ where: { id: viewer.id }, select: { avatarMediaId: true } });
  if (current.avatarMediaId === mediaId) return { avatarMediaId: mediaId };
  if (mediaId !== null) await attach(tx, viewer, "avatarMediaId", [mediaId], () => ({}));
  if (current.avatarMediaId !== null) await tx.media.update({ where: { id: current.avatarMediaId }, data: { removedAt: new Date() }, select: { id: true } });
  return { avatarMediaId: mediaId };
}

/** Whether a file of upload `id` may be served: the upload is there, names the file and is not removed. */
export async function servable(db: Db, id: number, key: string, format: Format) {
  return (await db.media.findFirst({ where: { id, key, format, removedAt: null }, select: { id: true } })) !== null;
}

/** Deletes the files of keys that no row names any more, each under its key's lock. */
async function releaseFiles(db: Db, storage: MediaStorage, keys: { key: string; format: string }[]) {
  let files = 0;
  for (const { key, format } of keys) {
    if (!(FORMATS as readonly string[]).includes(format)) continue;
    files += await db.$transaction(async (tx) => {
      await lockKey(tx, key);
      if (await tx.media.findFirst({ where: { key }, select: { id: true } })) return 0;
      const names = filesOf(key, format as Format);
      await Promise.all(names.map((name) => storage.delete(name)));
      return names.length;
    });
  }
  return files;
}

/**
 * Deletes uploads removed from their post or avatar, and uploads nothing attached within `ttlMs`,
 * then the files that no upload names any more. Safe on several instances at once: each batch takes
 * the rows no other sweep holds (SKIP LOCKED), and files go under their key's lock. Returns counts.
 */
export async function sweepUnattachedMedia(db: Db, storage: MediaStorage, { now = new Date(), ttlMs = UNATTACHED_TTL_MS, batch = 500 } = {}) {
  const cutoff = new Date(now.getTime() - ttlMs);
  let rows = 0;
  let files = 0;
  for (;;) {
    const swept = await db.$queryRaw<{ key: string; format: string }[]>`
      WITH doomed AS (
        SELECT id FROM media
        WHERE removed_at IS NOT NULL OR (attached_at IS NULL AND created_at < ${cutoff})
        ORDER BY id LIMIT ${batch} FOR UPDATE SKIP LOCKED
      )
      DELETE FROM media m USING doomed d WHERE m.id = d.id RETURNING m.key, m.format`;
    rows += swept.length;
    const keys = new Map(swept.map((s) => [s.key, s]));
    files += await releaseFiles(db, storage, [...keys.values()]);
    if (swept.length < batch) return { rows, files };
  }
}
