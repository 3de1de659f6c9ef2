import { createHash } from "node:crypto";
import { fileTypeFromBuffer } from "file-type";
import pLimit from "p-limit";
import sharp, { type Metadata, type Sharp } from "sharp";
import { ValidationError } from "../../errors.js";

/** The stored sizes: each fits inside a square of this many pixels, never enlarged. */
export const SIZES = { small: 320, large: 1600 } as const;
export type SizeName = keyof typeof SIZES;

export const FORMATS = ["jpeg", "png", "webp", "gif"] as const;
export type Format = (typeof FORMATS)[number];

export const CONTENT_TYPES: Record<Format, string> = { jpeg: "image/jpeg", png: "image/png", webp: "image/webp", gif: "image/gif" };
const BY_MIME = new Map(Object.entries(CONTENT_TYPES).map(([format, mime]) => [mime, format as Format]));

/** Every frame of an image counts: sharp's default (268 MP) lets a small file take gigabytes to decode. */
export const MAX_PIXELS = 50_000_000;
export const MAX_FRAMES = 100;

/** A file's name in storage: the upload's key, its size and its format. */
export const fileName = (key: string, size: SizeName, format: Format) => `${key}-${size}.${format === "jpeg" ? "jpg" : format}`;

export interface ProcessedImage {
  /** SHA-256 of the uploaded bytes: identical uploads share their files. */
  key: string;
  format: Format;
  /** Of the large size, after orientation. */
  width: number;
  height: number;
  /** The dominant colour, #rrggbb. */
  color: string;
  files: { name: string; body: Uint8Array; contentType: string }[];
}

const reject = (message: string) => ValidationError.of("file", message);
const damaged = () => reject("The image is damaged or incomplete and could not be read.");

let blocked = false;

/** Only the four decoders Chirp accepts may run, whatever a file claims to be (SVG, TIFF, HEIF, PDF, … never). */
function blockOtherDecoders() {
  if (blocked) return;
  sharp.block({ operation: ["VipsForeignLoad"] });
  sharp.unblock({ operation: ["VipsForeignLoadJpegBuffer", "VipsForeignLoadPngBuffer", "VipsForeignLoadWebpBuffer", "VipsForeignLoadNsgifBuffer"] });
  // Each image on one thread: the concurrency limit, not libvips, decides how many cores uploads take.
  sharp.concurrency(1);
  blocked = true;
}

const decode = (bytes: Uint8Array, format: Format) =>
  sharp(bytes, { failOn: "warning", limitInputPixels: MAX_PIXELS, animated: format === "gif" || format === "webp", sequentialRead: true });

function encode(image: Sharp, format: Format, size: number) {
  const resized = image.autoOrient().resize({ width: size, height: size, fit: "inside", withoutEnlargement: true });
  // sharp writes no metadata unless asked: EXIF (GPS included), XMP and ICC are left behind, colours converted to sRGB.
  if (format === "jpeg") return resized.jpeg({ quality: 82 });
  if (format === "png") return resized.png();
  if (format === "webp") return resized.webp({ quality: 80 });
  return resized.gif();
}

/**
 * Checks an uploaded file and re-encodes it into every size. The type comes from the bytes, never
 * the name or the declared type; anything Chirp does not accept is a ValidationError on `file`.
 */
export async function processImage(bytes: Uint8Array): Promise<ProcessedImage> {
  blockOtherDecoders();
  if (bytes.byteLength === 0) throw reject("The file is empty.");
  const detected = await fileTypeFromBuffer(bytes);
  const format = detected && BY_MIME.get(detected.mime);
  if (!format) throw reject(`Only JPEG, PNG, WebP and GIF images are accepted; this file is ${detected ? detected.mime : "not one of them"}.`);
  let meta: Metadata;
  try {
    // The header only: the pixel limit is checked below, with the numbers in the message.
    meta = await sharp(bytes, { limitInputPixels: false, animated: true }).metadata();
  } catch {
    throw damaged();
  }
  if (meta.format !== format) throw damaged();
  const frames = meta.pages ?? 1;
  if (frames > MAX_FRAMES) throw reject(`An animation may have at most ${MAX_FRAMES} frames; this one has ${frames}.`);
  const frameHeight = meta.pageHeight ?? meta.height;
  if (meta.width * frameHeight * frames > MAX_PIXELS) {
    throw reject(`The image is too large: at most ${MAX_PIXELS / 1_000_000} megapixels, all frames together (this one is ${meta.width}×${frameHeight}${frames > 1 ? ` × ${frames} frames` : ""}).`);
  }
  try {
    const large = await encode(decode(bytes, format), format, SIZES.large).toBuffer();
    // The small size comes from the large one: already oriented and stripped, and far cheaper to decode.
    const small = await encode(sharp(large, { animated: true }), format, SIZES.small).toBuffer();
    const [out, stats] = await Promise.all([sharp(large).metadata(), sharp(small).stats()]);
    const key = createHash("sha256").update(bytes).digest("hex");
    const hex = (n: number) => n.toString(16).padStart(2, "0");
    return {
      key,
      format,
      width: out.width,
      height: out.pageHeight ?? out.height,
      color: `#${hex(stats.dominant.r)}${hex(stats.dominant.g)}${hex(stats.dominant.b)}`,
      files: [
        { name: fileName(key, "large", format), body: large, contentType: CONTENT_TYPES[format] },
        { name: fileName(key, "small", format), body: small, contentType: CONTENT_TYPES[format] },
      ],
    };
  } catch {
    throw damaged();
  }
}

export type ImageProcessor = (bytes: Uint8Array) => Promise<ProcessedImage>;

/** At most `concurrency` images decode at once; sharp works on libuv's threads, off the event loop. */
export function boundedImageProcessor(concurrency: number): ImageProcessor {
  const limit = pLimit(concurrency);
  return (bytes) => limit(() => processImage(bytes));
}
