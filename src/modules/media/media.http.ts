import type { PrismaClient } from "@prisma/client";
import type { Plugin } from "graphql-yoga";
import { CONTENT_TYPES, type Format, SIZES, fileName } from "./media.images.js";
import { servable } from "./media.service.js";
import type { MediaStorage } from "./media.storage.js";

export const MEDIA_PATH = "/media/";

const FILE = new RegExp(`^([1-9]\\d{0,9})/(([0-9a-f]{64})-(?:${Object.keys(SIZES).join("|")})\\.(jpg|png|webp|gif))$`);

/**
 * The stable URL of one size of an upload, on Chirp's own origin: the upload's id, then the file's
 * content-addressed name. Identical uploads share files but not URLs, so each stops being served
 * with its own row.
 */
export const mediaUrl = (id: number, key: string, size: keyof typeof SIZES, format: Format) => `${MEDIA_PATH}${id}/${fileName(key, size, format)}`;

/**
 * Serves /media/<id>/<key>-<size>.<ext>. A name is content-addressed, so its bytes never change:
 * immutable for a year, its ETag the name. A file is served only while its upload is not removed,
 * so a deleted post's or replaced avatar's media answer 404 at once, before the sweep deletes files.
 */
export function useMediaFiles(db: PrismaClient, storage: MediaStorage): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (!url.pathname.startsWith(MEDIA_PATH)) return;
      const notFound = () => endResponse(new fetchAPI.Response("Not found", { status: 404, headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" } }));
      if (request.method !== "GET" && request.method !== "HEAD") {
        return endResponse(new fetchAPI.Response("Method not allowed", { status: 405, headers: { allow: "GET, HEAD" } }));
      }
      const match = FILE.exec(url.pathname.slice(MEDIA_PATH.length));
      if (!match || Number(match[1]) > 2_147_483_647) return notFound();
      const [, id, name, key] = match as unknown as [string, string, string, string];
      const format = (match[4] === "jpg" ? "jpeg" : match[4]) as Format;
      if (!(await servable(db, Number(id), key, format))) return notFound();
      const etag = `"${name}"`;
      const headers = {
        "content-type": CONTENT_TYPES[format],
        "cache-control": "public, max-age=31536000, immutable",
        etag,
        "x-content-type-options": "nosniff",
        // Opened directly, an image is still only an image.
        "content-security-policy": "default-src 'none'; sandbox",
        "cross-origin-resource-policy": "cross-origin",
      };
      const match304 = request.headers.get("if-none-match")?.split(",").some((tag) => tag.trim() === "*" || tag.trim().replace(/^W\//, "") === etag);
      if (match304) return endResponse(new fetchAPI.Response(null, { status: 304, headers }));
      const body = await storage.get(name);
      if (!body) return notFound();
      endResponse(new fetchAPI.Response(request.method === "HEAD" ? null : (body as Uint8Array<ArrayBuffer>), { headers: { ...headers, "content-length": String(body.byteLength) } }));
    },
  };
}
