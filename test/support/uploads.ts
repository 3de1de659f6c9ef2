import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";
import type { As, TestApi } from "./api.js";

export const UPLOAD = `mutation Upload($input: UploadMediaInput!) {
  uploadMedia(input: $input) {
    __typename
    ... on Media { id url small: url(size: SMALL) width height altText dominantColor contentType }
    ... on ValidationError { message code fieldErrors { field message } }
  }
}`;

export interface Part {
  name: string;
  body: Uint8Array | string;
  filename?: string;
  type?: string;
}

/** The answer to a multipart request; its data is whatever the operation selected. */
export interface MultipartResult {
  // The shape is the operation's: tests read what they selected.
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** A multipart request as a client library writes it: `operations`, `map`, then the files. */
export async function multipart(parts: Part[]) {
  const form = new FormData();
  for (const part of parts) {
    if (typeof part.body === "string" && part.filename === undefined) form.append(part.name, part.body);
    else form.append(part.name, new Blob([part.body as BlobPart], { type: part.type ?? "application/octet-stream" }), part.filename ?? "file");
  }
  const request = new Request("http://chirp.test/graphql", { method: "POST", body: form });
  return { body: new Uint8Array(await request.arrayBuffer()), contentType: request.headers.get("content-type")! };
}

/** Sends a multipart request through the app, with the CSRF-prevention header unless told otherwise. */
export async function sendMultipart(api: TestApi, parts: Part[], { as, csrf = true }: { as?: As; csrf?: boolean } = {}) {
  const { body, contentType } = await multipart(parts);
  const headers: Record<string, string> = { "content-type": contentType, "content-length": String(body.byteLength) };
  if (csrf) headers["x-graphql-yoga-csrf"] = "1";
  if (as) headers.authorization = `Bearer ${as.token}`;
  const response = await api.app.fetch("http://chirp.test/graphql", { method: "POST", headers, body });
  return { status: response.status, body: (await response.json()) as MultipartResult };
}

/** uploadMedia with one file, as the multipart spec sends it. */
export function upload(api: TestApi, as: As, file: Uint8Array, { filename = "image.jpg", type = "image/jpeg", altText }: { filename?: string; type?: string; altText?: string } = {}) {
  return sendMultipart(
    api,
    [
      { name: "operations", body: JSON.stringify({ query: UPLOAD, variables: { input: { file: null, altText } } }) },
      { name: "map", body: JSON.stringify({ 0: ["variables.input.file"] }) },
      { name: "0", body: file, filename, type },
    ],
    { as },
  );
}

/** A photo with a gradient, so that it does not compress to nothing. */
export async function photo(width: number, height: number, format: "jpeg" | "png" | "webp" | "gif" = "jpeg") {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + Math.floor(i / (width * 3)) * 13) % 256;
  return sharp(raw, { raw: { width, height, channels: 3 } }).toFormat(format).toBuffer();
}

function pngChunk(type: string, data: Buffer) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A valid PNG header declaring width × height, with a few bytes of image data: a decompression bomb's shape. */
export function pngDeclaring(width: number, height: number) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk("IHDR", header), pngChunk("IDAT", deflateSync(Buffer.alloc(1024))), pngChunk("IEND", Buffer.alloc(0))]);
}

/** An animated 1×1 GIF of `frames` frames, written byte by byte. */
export function gifWithFrames(frames: number) {
  const head = Buffer.from([
    ...Buffer.from("GIF89a"), 1, 0, 1, 0, 0x80, 0, 0, // 1×1, a global table of 2 colours
    0, 0, 0, 255, 255, 255,
    0x21, 0xff, 0x0b, ...Buffer.from("NETSCAPE2.0"), 3, 1, 0, 0, 0, // loop forever
  ]);
  // Black and white in turn (LZW codes clear, pixel, end), so that no encoder merges them.
  const frame = (pixel: number) => Buffer.from([0x21, 0xf9, 4, 0, 10, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, pixel ? 0x4c : 0x44, 0x01, 0]);
  return Buffer.concat([head, ...Array.from({ length: frames }, (_, i) => frame(i % 2)), Buffer.from([0x3b])]);
}
