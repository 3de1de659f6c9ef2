import type { PrismaClient } from "@prisma/client";
import type { Plugin } from "graphql-yoga";
import { CONTENT_TYPES, type Format, SIZES, fileName } from "./media.images.js";
import { servable } from "./media.service.js";
import type { MediaStorage } from "./media.storage.js";

export const MEDIA_PATH = "/media/";

const FILE = new RegExp(`^([0-9a-f]{64})-(${Object.keys(SIZES).join("|")})\\.(jpg|png|webp|gif)$`);

/** The stable URL of one size of an upload, on Chirp's own origin. */
export const mediaUrl = (key: string, size: keyof typeof SIZES, format: Format) => MEDIA_PATH + fileName(key, size, format);

/**
 * Serves /media/<key>-<size>.<ext>. A name is content-addressed, so its bytes never change: immutable
 * for a year, its ETag the name. A file is served only while an upload that is not removed names it,
 * so a deleted post's or replaced avatar's media answer 404 before the sweep deletes the files.
 */
export function useMediaFiles(db: PrismaClient, storage: MediaStorage): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (!url.pathname.startsWith(MEDIA_PATH)) return;
      const notFound = () => endResponse(new fetchAPI.Response("Not found", { status: 404, headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" } }));
      if (request.method !== "GET" && request.method !== "HEAD") {
        return endResponse(new fetchAPI.Response("Method not allowed", { status: 405, headers: { allow: "GET, HEAD" } }));
      }
      const name = url.pathname.slice(MEDIA_PATH.length);
      const match = FILE.exec(name);
      if (!match) return notFound();
      const format = (match[3] === "jpg" ? "jpeg" : match[3]) as Format;
      if (!(await servable(db, match[1]!, format))) return notFound();
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
      const match304 = request.headers.get("if-none-match")?.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
      if (match304) return endResponse(new fetchAPI.Response(null, { status: 304, headers }));
      const body = await storage.get(name);
      if (!body) return notFound();
      endResponse(new fetchAPI.Response(request.method === "HEAD" ? null : (body as Uint8Array<ArrayBuffer>), { headers: { ...headers, "content-length": String(body.byteLength) } }));
    },
  };
}
