import { mkdtempSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiskStorage, type MediaStorage, S3Storage } from "../../src/modules/media/media.storage.js";
import { type TestApi, testApi, testConfig } from "../support/api.js";
import { photo, upload } from "../support/uploads.js";

// A real S3-compatible server on a free port, which @aws-sdk/client-s3 talks to over HTTP.
let s3rver: S3rver;
let s3: S3Storage;

beforeAll(async () => {
  s3rver = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: mkdtempSync(join(tmpdir(), "chirp-s3-")), configureBuckets: [{ name: "chirp-media", configs: [] }] });
  const address = (await s3rver.run()) as AddressInfo;
  s3 = new S3Storage({
    bucket: "chirp-media",
    region: "us-east-1",
    endpoint: `http://127.0.0.1:${address.port}`,
    forcePathStyle: true,
    // s3rver's fixed development credentials.
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
});

afterAll(async () => {
  s3?.destroy();
  await s3rver?.close();
});

const name = (n: number, ext = "jpg") => `${String(n).padStart(64, "a")}-large.${ext}`;

const drivers: [string, () => MediaStorage][] = [
  ["disk", () => new DiskStorage(mkdtempSync(join(tmpdir(), "chirp-disk-")))],
  ["S3 (s3rver)", () => s3],
];

describe.each(drivers)("the %s storage driver", (_driver, make) => {
  it("puts, gets, lists and deletes files by name; a missing file is null; deleting twice is fine", async () => {
    const storage = make();
    const before = await storage.list();
    const body = new Uint8Array([1, 2, 3, 250]);
    await storage.put(name(1), body, "image/jpeg");
    await storage.put(name(2, "png"), new Uint8Array(70_000).fill(7), "image/png");
    expect(Buffer.from((await storage.get(name(1)))!)).toEqual(Buffer.from(body));
    expect((await storage.get(name(2, "png")))!.byteLength).toBe(70_000);
    expect(await storage.get(name(3))).toBeNull();
    expect(await storage.list()).toEqual([...before, name(1), name(2, "png")].sort());
    // The same name again (an identical upload) replaces the file with the same bytes.
    await storage.put(name(1), body, "image/jpeg");
    await storage.delete(name(1));
    await storage.delete(name(1));
    await storage.delete(name(3));
    expect(await storage.get(name(1))).toBeNull();
    expect(await storage.list()).toEqual([...before, name(2, "png")].sort());
    await storage.delete(name(2, "png"));
  });

  it("refuses a name Chirp would never write", async () => {
    const storage = make();
    for (const bad of ["../../etc/passwd", `${"a".repeat(64)}-large.jpg/../x`, "", "a-large.jpg"]) {
      await expect(storage.put(bad, new Uint8Array(1), "image/jpeg")).rejects.toThrow(/Not a media file name/);
      await expect(storage.get(bad)).rejects.toThrow(/Not a media file name/);
    }
  });
});

describe("uploads through the app with the S3 driver", () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await testApi(testConfig, { storage: s3 });
  });

  it("stores both sizes in the bucket and serves them from it", async () => {
    const user = await api.signUp();
    const before = await s3.list();
    const result = await upload(api, user, await photo(800, 500));
    const media = result.body.data!.uploadMedia as { url: string; small: string };
    const added = (await s3.list()).filter((n) => !before.includes(n));
    expect(added).toEqual([media.url.split("/").at(-1), media.small.split("/").at(-1)].sort());
    const response = await api.app.fetch(`http://chirp.test${media.url}`);
    expect(response.headers.get("content-type")).toBe("image/jpeg");
    expect(await sharp(Buffer.from(await response.arrayBuffer())).metadata()).toMatchObject({ width: 800, height: 500 });
  });
});
