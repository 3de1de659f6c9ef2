import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { DiskStorage } from "../../src/modules/media/media.storage.js";
import { sweepUnattachedMedia } from "../../src/modules/media/media.service.js";
import { graphql } from "../gql/index.js";
import { type As, type TestApi, type TestUser, testApi, testConfig } from "../support/api.js";
import { gifWithFrames, photo, pngDeclaring, sendMultipart, upload } from "../support/uploads.js";

let api: TestApi;
let storage: DiskStorage;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "chirp-media-"));
  storage = new DiskStorage(dir);
  api = await testApi({ ...testConfig, media: { ...testConfig.media, storage: { driver: "disk", dir } } }, { storage });
  alice = await api.signUp();
  bob = await api.signUp();
});

const CREATE_POST = graphql(`mutation MediaCreatePost($input: CreatePostInput!) {
  createPost(input: $input) {
    __typename
    ... on Post { id media { id url width height altText } }
    ... on Error { message code }
    ... on ValidationError { fieldErrors { field message } }
  }
}`);
const POST = graphql(`query MediaPost($id: ID!) { post(id: $id) { id isUnavailable media { id url altText } } }`);
const DELETE_POST = graphql(`mutation MediaDeletePost($id: ID!) { deletePost(input: { postId: $id }) { __typename } }`);
const UPDATE_MEDIA = graphql(`mutation MediaUpdate($input: UpdateMediaInput!) { updateMedia(input: $input) { __typename ... on Media { altText } ... on Error { code message } } }`);
const UPDATE_PROFILE = graphql(`mutation MediaUpdateProfile($input: UpdateProfileInput!) {
  updateProfile(input: $input) { __typename ... on User { avatarUrl large: avatarUrl(size: LARGE) } ... on Error { code message } }
}`);

async function uploaded(as: TestUser, file?: Uint8Array, options?: Parameters<typeof upload>[3]) {
  const result = await upload(api, as, file ?? (await photo(400, 300)), options);
  const media = result.body.data?.uploadMedia;
  if (media?.__typename !== "Media") throw new Error(`upload failed: ${JSON.stringify(result)}`);
  return media as { id: string; url: string; small: string; width: number; height: number; altText: string; dominantColor: string };
}

const get = (path: string, headers: Record<string, string> = {}) => api.app.fetch(`http://chirp.test${path}`, { headers });
async function post(as: As, input: { body: string; mediaIds: string[] }) {
  const result = await api.execute(CREATE_POST, { input }, { as });
  return result.data!.createPost;
}
const postOf = (created: Awaited<ReturnType<typeof post>>) => {
  if (created.__typename !== "Post") throw new Error(`createPost failed: ${JSON.stringify(created)}`);
  return created;
};

describe("uploadMedia", () => {
  it("re-encodes an image: oriented, metadata (EXIF with GPS, XMP, ICC) gone, two sizes, served with stable caching headers", async () => {
    // 600×400 stored sideways (EXIF orientation 6): shown as 400×600.
    const original = await sharp(await photo(600, 400))
      .withExif({ IFD0: { Make: "Chirp test camera" }, IFD3: { GPSLatitudeRef: "N", GPSLatitude: "51/1 30/1 0/1" } })
      .withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>')
      .withIccProfile("p3")
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const before = await sharp(original).metadata();
    expect(before).toMatchObject({ orientation: 6, exif: expect.any(Buffer), xmp: expect.any(Buffer), icc: expect.any(Buffer) });
    const media = await uploaded(alice, original, { filename: "holiday.png", type: "image/png", altText: "  A beach  " });
    expect(media).toMatchObject({ width: 400, height: 600, altText: "A beach", contentType: "image/jpeg", dominantColor: expect.stringMatching(/^#[0-9a-f]{6}$/) });
    expect(media.url).toMatch(/^\/media\/\d+\/[0-9a-f]{64}-large\.jpg$/);

    const response = await get(media.url);
    expect(response.status).toBe(200);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      "content-type": "image/jpeg",
      "cache-control": "public, max-age=31536000, immutable",
      "x-content-type-options": "nosniff",
      etag: `"${media.url.split("/").at(-1)}"`,
    });
    const served = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect(served).toMatchObject({ format: "jpeg", width: 400, height: 600 });
    expect(served.exif).toBeUndefined();
    expect(served.xmp).toBeUndefined();
    expect(served.icc).toBeUndefined();
    expect(served.orientation).toBeUndefined();
    const small = await sharp(Buffer.from(await (await get(media.small)).arrayBuffer())).metadata();
    expect([small.width, small.height]).toEqual([213, 320]);

    const again = await get(media.url, { "if-none-match": response.headers.get("etag")! });
    expect(again.status).toBe(304);
    expect((await get(media.url, { "if-none-match": "*" })).status).toBe(304);
    expect(await get(media.url.replace("-large.jpg", "-large.png"))).toHaveProperty("status", 404);
    expect(await get(media.url.replace(/\/\d+\//, "/999999/"))).toHaveProperty("status", 404);
    expect(await get(`/media/1/${"0".repeat(64)}-large.jpg`)).toHaveProperty("status", 404);
    expect(await get("/media/../../etc/passwd")).toHaveProperty("status", 404);
  });

  it("keeps an animated GIF animated, and takes PNG and WebP", async () => {
    const gif = await uploaded(alice, gifWithFrames(12), { filename: "a.gif", type: "image/gif" });
    const frames = await sharp(Buffer.from(await (await get(gif.url)).arrayBuffer()), { animated: true }).metadata();
    expect(frames).toMatchObject({ format: "gif", pages: 12 });
    for (const format of ["png", "webp"] as const) {
      const media = await uploaded(alice, await photo(50, 40, format));
      expect(media).toMatchObject({ width: 50, height: 40, contentType: `image/${format}` });
      expect((await get(media.url)).headers.get("content-type")).toBe(`image/${format}`);
    }
  });

  it("refuses alt text with NUL or over 1000 characters, before decoding, leaving nothing", async () => {
    const rows = await api.db.media.count();
    for (const [altText, message] of [["bad\u0000text", /not allowed \(U\+0000\)/], ["x".repeat(1001), /At most 1000 characters/]] as const) {
      const result = await upload(api, alice, await photo(20, 20), { altText });
      expect(result.body.data?.uploadMedia).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "altText", message: expect.stringMatching(message) }] });
    }
    expect(await api.db.media.count()).toBe(rows);
  });

  it("the uploader edits the alt text; anyone else finds no such upload", async () => {
    const media = await uploaded(alice);
    const edited = await api.execute(UPDATE_MEDIA, { input: { mediaId: media.id, altText: "A cat" } }, { as: alice });
    expect(edited.data).toEqual({ updateMedia: { __typename: "Media", altText: "A cat" } });
    const other = await api.execute(UPDATE_MEDIA, { input: { mediaId: media.id, altText: "Mine" } }, { as: bob });
    expect(other.data).toEqual({ updateMedia: { __typename: "NotFoundError", code: "NOT_FOUND", message: "Media not found" } });
    const node = `query ($id: ID!) { node(id: $id) { id ... on Media { altText } } }`;
    expect((await api.execute(node, { id: media.id }, { as: alice })).data).toEqual({ node: { id: media.id, altText: "A cat" } });
    // Not attached yet: nobody else reaches it.
    expect((await api.execute(node, { id: media.id }, { as: bob })).data).toEqual({ node: null });
  });
});

describe("attaching uploads", () => {
  it("createPost attaches up to 4 in order; each once, and only the uploader's", async () => {
    const media = await Promise.all([1, 2, 3].map((i) => uploaded(alice, undefined, { altText: `image ${i}` })));
    const created = await post(alice, { body: "three pictures", mediaIds: [media[2]!.id, media[0]!.id, media[1]!.id] });
    expect(postOf(created).media.map((m) => m.altText)).toEqual(["image 3", "image 1", "image 2"]);
    const read = await api.execute(POST, { id: postOf(created).id });
    expect(read.data!.post!.media.map((m) => m.id)).toEqual([media[2]!.id, media[0]!.id, media[1]!.id]);

    const twice = await post(alice, { body: "again", mediaIds: [media[0]!.id] });
    expect(twice).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "mediaIds", message: expect.stringMatching(/attached already/) }] });
    const stolen = await post(bob, { body: "not mine", mediaIds: [(await uploaded(alice)).id] });
    expect(stolen).toMatchObject({ __typename: "NotFoundError", code: "NOT_FOUND" });
    const five = await Promise.all([1, 2, 3, 4, 5].map(() => uploaded(alice)));
    const tooMany = await post(alice, { body: "five", mediaIds: five.map((m) => m.id) });
    expect(tooMany).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "mediaIds", message: "At most 4 images per post" }] });
    const repeated = await post(alice, { body: "dup", mediaIds: [five[0]!.id, five[0]!.id] });
    expect(repeated).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "mediaIds", message: "The same upload is listed twice" }] });
    // A refused post attached nothing: the uploads are free for the next.
    const ok = await post(alice, { body: "four", mediaIds: five.slice(0, 4).map((m) => m.id) });
    expect(postOf(ok).media).toHaveLength(4);
  });

  it("a deleted post's media stop being served; a block hides a post's media", async () => {
    const media = await uploaded(alice);
    const created = await post(alice, { body: "soon gone", mediaIds: [media.id] });
    const id = postOf(created).id;
    expect((await get(media.url)).status).toBe(200);
    await api.execute(`mutation { block(input: { userId: "${bob.id}" }) { __typename } }`, undefined, { as: alice });
    const seen = await api.execute(POST, { id }, { as: bob });
    expect(seen.data!.post).toMatchObject({ isUnavailable: true, media: [] });
    await api.execute(`mutation { unblock(input: { userId: "${bob.id}" }) { __typename } }`, undefined, { as: alice });
    expect((await api.execute(DELETE_POST, { id }, { as: alice })).data).toEqual({ deletePost: { __typename: "Post" } });
    expect((await get(media.url)).status).toBe(404);
    expect((await get(media.url, { "if-none-match": `"${media.url.split("/").at(-1)}"` })).status).toBe(404);
  });

  it("updateProfile sets the avatar; the replaced one stops being served", async () => {
    const carol = await api.signUp();
    const first = await uploaded(carol);
    const set = await api.execute(UPDATE_PROFILE, { input: { avatarMediaId: first.id } }, { as: carol });
    expect(set.data).toEqual({ updateProfile: { __typename: "User", avatarUrl: first.small, large: first.url } });
    const second = await uploaded(carol, await photo(64, 64, "png"));
    await api.execute(UPDATE_PROFILE, { input: { avatarMediaId: second.id } }, { as: carol });
    expect((await get(first.url)).status).toBe(404);
    expect((await get(second.url)).status).toBe(200);
    const profile = await api.execute<{ user: { avatarUrl: string } }, object>(`query ($h: String!) { user(handle: $h) { avatarUrl } }`, { h: carol.handle });
    expect(profile.data!.user.avatarUrl).toBe(second.small);
    // The old avatar was attached once: it is not an avatar or a post's again.
    const back = await api.execute(UPDATE_PROFILE, { input: { avatarMediaId: first.id } }, { as: carol });
    expect(back.data?.updateProfile).toMatchObject({ __typename: "ValidationError" });
    const others = await api.execute(UPDATE_PROFILE, { input: { avatarMediaId: (await uploaded(alice)).id } }, { as: carol });
    expect(others.data?.updateProfile).toMatchObject({ __typename: "NotFoundError" });
    const removed = await api.execute(UPDATE_PROFILE, { input: { avatarMediaId: null } }, { as: carol });
    expect(removed.data).toEqual({ updateProfile: { __typename: "User", avatarUrl: null, large: null } });
    expect((await get(second.url)).status).toBe(404);
  });
});

describe("every bad file gets a clear error and leaves nothing behind", () => {
  const html = Buffer.from("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>");
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>');
  const cases: [string, () => Promise<{ file: Uint8Array; filename: string; type: string }>, RegExp][] = [
    ["HTML named .png", async () => ({ file: html, filename: "cat.png", type: "image/png" }), /^Only JPEG, PNG, WebP and GIF images are accepted; this file is not one of them\.$/],
    ["SVG named .png", async () => ({ file: svg, filename: "cat.png", type: "image/png" }), /^Only JPEG, PNG, WebP and GIF/],
    ["SVG itself", async () => ({ file: svg, filename: "cat.svg", type: "image/svg+xml" }), /^Only JPEG, PNG, WebP and GIF/],
    ["a TIFF (a decoder Chirp blocks)", async () => ({ file: await photo(20, 20, "tiff" as "png"), filename: "a.jpg", type: "image/jpeg" }), /this file is image\/tiff\.$/],
    ["a truncated JPEG", async () => ({ file: (await photo(400, 300)).subarray(0, 4000), filename: "a.jpg", type: "image/jpeg" }), /^The image is damaged or incomplete/],
    ["a corrupted PNG", async () => {
      const png = Buffer.from(await photo(100, 100, "png"));
      png.fill(0x5a, 60, 400);
      return { file: png, filename: "a.png", type: "image/png" };
    }, /^The image is damaged or incomplete/],
    ["zero bytes", async () => ({ file: new Uint8Array(0), filename: "a.jpg", type: "image/jpeg" }), /^The file is empty\.$/],
    ["a pixel flood: a tiny PNG declaring 64,250 × 64,250", async () => ({ file: pngDeclaring(64_250, 64_250), filename: "a.png", type: "image/png" }), /^The image is too large: at most 50 megapixels.*64250×64250/],
    ["a GIF with 5,000 frames", async () => ({ file: gifWithFrames(5_000), filename: "a.gif", type: "image/gif" }), /^An animation may have at most 100 frames; this one has 5000\.$/],
  ];

  it.each(cases)("%s", async (_name, make, message) => {
    const { file, filename, type } = await make();
    const [rows, files] = [await api.db.media.count(), await storage.list()];
    const result = await upload(api, alice, file, { filename, type });
    expect(result.status).toBe(200);
    expect(result.body.data?.uploadMedia).toEqual({ __typename: "ValidationError", code: "BAD_USER_INPUT", message: expect.stringMatching(/^file: /), fieldErrors: [{ field: "file", message: expect.stringMatching(message) }] });
    expect(await api.db.media.count()).toBe(rows);
    expect(await storage.list()).toEqual(files);
  });

  const operations = JSON.stringify({ query: `mutation ($input: UploadMediaInput!) { uploadMedia(input: $input) { __typename } }`, variables: { input: { file: null } } });
  const protocol: [string, () => Promise<Parameters<typeof sendMultipart>[1]>, { status: number; code: string; message: RegExp }, As | "read" | "none"][] = [
    ["too large (6 MB), refused as it streams in", async () => [{ name: "operations", body: operations }, { name: "map", body: '{"0":["variables.input.file"]}' }, { name: "0", body: new Uint8Array(6_000_000), filename: "big.jpg" }], { status: 413, code: "BAD_REQUEST", message: /^A file is larger than the 5000000 bytes allowed\.$/ }, undefined],
    ["a map that is not JSON", async () => [{ name: "operations", body: operations }, { name: "map", body: "{0: variables" }, { name: "0", body: await photo(10, 10), filename: "a.jpg" }], { status: 400, code: "BAD_REQUEST", message: /"map" field is not valid JSON/ }, undefined],
    ["a map naming a file that is not sent", async () => [{ name: "operations", body: operations }, { name: "map", body: '{"1":["variables.input.file"]}' }, { name: "0", body: await photo(10, 10), filename: "a.jpg" }], { status: 400, code: "BAD_REQUEST", message: /names "1", which is not a file/ }, undefined],
    ["a file sent to the wrong variable", async () => [{ name: "operations", body: operations }, { name: "map", body: '{"0":["variables.avatar"]}' }, { name: "0", body: await photo(10, 10), filename: "a.jpg" }], { status: 400, code: "BAD_REQUEST", message: /path variables\.avatar must point at a null/ }, undefined],
    ["a file the map does not place", async () => [{ name: "operations", body: operations }, { name: "map", body: "{}" }, { name: "0", body: await photo(10, 10), filename: "a.jpg" }], { status: 400, code: "BAD_REQUEST", message: /does not say where file "0" goes/ }, undefined],
    ["more files than allowed (5)", async () => [{ name: "operations", body: operations }, { name: "map", body: JSON.stringify({ 0: ["variables.input.file"] }) }, ...[0, 1, 2, 3, 4].map((i) => ({ name: String(i), body: new Uint8Array(10), filename: "a.jpg" }))], { status: 413, code: "BAD_REQUEST", message: /^A request may carry at most 4 files\.$/ }, undefined],
    ["an anonymous upload, refused before its body is read", async () => [{ name: "operations", body: operations }, { name: "map", body: '{"0":["variables.input.file"]}' }, { name: "0", body: await photo(10, 10), filename: "a.jpg" }], { status: 401, code: "UNAUTHENTICATED", message: /^Log in to upload/ }, "none"],
    ["an upload with a READ token", async () => [{ name: "operations", body: operations }, { name: "map", body: '{"0":["variables.input.file"]}' }, { name: "0", body: await photo(10, 10), filename: "a.jpg" }], { status: 200, code: "FORBIDDEN", message: /not allowed/ }, "read"],
  ];

  it.each(protocol)("%s", async (_name, parts, expected, who) => {
    let as: As = alice;
    if (who === "none") as = null;
    if (who === "read") {
      const token = await api.execute<{ createApiToken: { secret: string } }, object>(`mutation { createApiToken(input: { name: "read", scopes: [READ] }) { ... on CreatedApiToken { secret } } }`, {}, { as: alice });
      as = { token: token.data!.createApiToken.secret };
    }
    const [rows, files] = [await api.db.media.count(), await storage.list()];
    const result = await sendMultipart(api, await parts(), { as });
    expect(result.status).toBe(expected.status);
    expect(result.body.errors).toHaveLength(1);
    expect(result.body.errors![0]).toMatchObject({ message: expect.stringMatching(expected.message), extensions: { code: expected.code } });
    expect(await api.db.media.count()).toBe(rows);
    expect(await storage.list()).toEqual(files);
  });

  it("one file the map puts in two variables fills both, as apollo-upload-client sends a File used twice", async () => {
    const twice = `mutation UploadTwice($a: UploadMediaInput!, $b: UploadMediaInput!) {
      a: uploadMedia(input: $a) { __typename ... on Media { width } }
      b: uploadMedia(input: $b) { __typename ... on Media { width } }
    }`;
    const { status, body } = await sendMultipart(
      api,
      [
        { name: "operations", body: JSON.stringify({ query: twice, variables: { a: { file: null }, b: { file: null } } }) },
        { name: "map", body: JSON.stringify({ 0: ["variables.a.file", "variables.b.file"] }) },
        { name: "0", body: await photo(12, 10), filename: "a.jpg" },
      ],
      { as: alice },
    );
    expect({ status, body }).toEqual({ status: 200, body: { data: { a: { __typename: "Media", width: 12 }, b: { __typename: "Media", width: 12 } } } });
  });

  it("a multipart request without the CSRF-prevention header is refused", async () => {
    const { status, body } = await sendMultipart(api, [{ name: "operations", body: operations }, { name: "map", body: "{}" }], { as: alice, csrf: false });
    expect(status).toBe(403);
    expect(body.errors![0]!.extensions?.code).toBe("BAD_REQUEST");
  });
});

/** The content-addressed key in a media URL. */
const key = (url: string) => /([0-9a-f]{64})-/.exec(url)![1]!;

describe("sweepUnattachedMedia", () => {
  it("removes day-old unattached uploads and removed ones with their files, keeps files another upload names, and runs on several instances at once", async () => {
    await sweepUnattachedMedia(api.db, storage, { ttlMs: 0, now: new Date(Date.now() + 1000) });
    const kept = await uploaded(alice, await photo(30, 30));
    const old = await uploaded(alice, await photo(31, 31));
    const shared = await photo(32, 32);
    const removed = await uploaded(alice, shared);
    // Bob uploads the same bytes: one key, two rows.
    const sameBytes = await uploaded(bob, shared);
    expect(key(sameBytes.url)).toBe(key(removed.url));
    const created = await post(alice, { body: "gone", mediaIds: [removed.id] });
    await api.execute(DELETE_POST, { id: postOf(created).id }, { as: alice });
    await api.db.media.updateMany({ where: { key: key(old.url) }, data: { createdAt: new Date(Date.now() - 25 * 3_600_000) } });
    const before = await storage.list();

    const results = await Promise.all([1, 2, 3].map(() => sweepUnattachedMedia(api.db, storage)));
    expect(results.reduce((sum, r) => sum + r.rows, 0)).toBe(2);
    expect(results.reduce((sum, r) => sum + r.files, 0)).toBe(2);
    expect(await storage.list()).toEqual(before.filter((name) => !name.startsWith(key(old.url))));
    expect(await api.db.media.count({ where: { key: { in: [key(old.url), key(removed.url)] } } })).toBe(1);
    expect((await get(kept.url)).status).toBe(200);
    expect((await get(sameBytes.url)).status).toBe(200);
    expect((await get(old.url)).status).toBe(404);
    // Bob's copy swept in turn takes the shared files with it.
    await api.db.media.updateMany({ where: { key: key(sameBytes.url) }, data: { createdAt: new Date(Date.now() - 25 * 3_600_000) } });
    expect(await sweepUnattachedMedia(api.db, storage)).toEqual({ rows: 1, files: 2 });
    expect((await storage.list()).some((name) => name.startsWith(key(sameBytes.url)))).toBe(false);
  });
});
