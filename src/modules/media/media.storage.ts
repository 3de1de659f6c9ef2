import { randomUUID } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { MediaConfig } from "../../config.js";

/** Where media files live: written once under a content-addressed name, read, deleted. */
export interface MediaStorage {
  put(name: string, body: Uint8Array, contentType: string): Promise<void>;
  /** The file's bytes, or null when there is none. */
  get(name: string): Promise<Uint8Array | null>;
  /** Removes the file; removing one that is not there is no error. */
  delete(name: string): Promise<void>;
  /** Every stored name (for tests and audits; not on a request's path). */
  list(): Promise<string[]>;
}

const NAME = /^[0-9a-f]{64}-[a-z]+\.[a-z]+$/;

/** Names come from Chirp, never a client; this keeps a bug from ever reaching outside the folder. */
function checked(name: string) {
  if (!NAME.test(name)) throw new Error(`Not a media file name: ${name}`);
  return name;
}

/** Files in a folder, two levels of hash prefix deep so that no folder grows huge. */
export class DiskStorage implements MediaStorage {
  constructor(private readonly dir: string) {}

  private path(name: string) {
    return join(this.dir, name.slice(0, 2), checked(name));
  }

  async put(name: string, body: Uint8Array) {
    const path = this.path(name);
    await mkdir(dirname(path), { recursive: true });
    // Written aside and renamed, so a reader never sees half a file and a crash leaves none.
    const temporary = `${path}.${randomUUID()}.tmp`;
    await writeFile(temporary, body);
    await rename(temporary, path);
  }

  async get(name: string) {
    try {
      return await readFile(this.path(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  }

  async delete(name: string) {
    await rm(this.path(name), { force: true });
  }

  async list() {
    const entries = await readdir(this.dir, { recursive: true, withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [];
      throw error;
    });
    return entries.filter((e) => e.isFile()).map((e) => e.name).sort();
  }
}

export interface S3Options {
  bucket: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** An S3-compatible bucket: what several instances of Chirp share. */
export class S3Storage implements MediaStorage {
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor({ bucket, ...options }: S3Options) {
    this.bucket = bucket;
    this.client = new S3Client(options);
  }

  async put(name: string, body: Uint8Array, contentType: string) {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: checked(name), Body: body, ContentType: contentType }));
  }

  async get(name: string) {
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: checked(name) }));
      return object.Body ? await object.Body.transformToByteArray() : null;
    } catch (error) {
      if (error instanceof NoSuchKey) return null;
      throw error;
    }
  }

  async delete(name: string) {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: checked(name) }));
  }

  async list() {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, ContinuationToken: token }));
      names.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return names.sort();
  }

  destroy() {
    this.client.destroy();
  }
}

export function createStorage(config: MediaConfig["storage"]): MediaStorage {
  return config.driver === "s3" ? new S3Storage(config) : new DiskStorage(config.dir);
}
