import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { UPLOAD, gifWithFrames, multipart, photo, pngDeclaring } from "../test/support/uploads.js";
import { freePort, spawnChild, waitUntil } from "./servers.js";

// `npm run bench:uploads [-- --rounds 3 --seconds 5]`: Chirp on its embedded database with the demo
// data, in its own process; this process only sends requests and reads the server's /proc entries.

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg("rounds", 3);
const SECONDS = arg("seconds", 5);
const PER_ROUND = 20;
const AT_ONCE = 20;

const dataDir = mkdtempSync(join(tmpdir(), "chirp-bench-uploads-"));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && k !== "DATABASE_URL")) as Record<string, string>;
const child = spawnChild("node", ["--import", "tsx", "src/server.ts"], { ...env, PORT: String(port), HOST: "127.0.0.1", DATA_DIR: dataDir, LOG_LEVEL: "warn", NODE_ENV: "development" });

/** CPU time (user + system) of the server so far, in ms; its resident set and peak, in MB. */
const ticks = () => {
  const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
};
const memory = (field: "VmRSS" | "VmHWM") => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) / 1024;

async function gql(query: string, variables: object, token?: string) {
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data: Record<string, Record<string, unknown>> };
}

const request = (file: Uint8Array, filename: string) =>
  multipart([
    { name: "operations", body: JSON.stringify({ query: UPLOAD, variables: { input: { file: null } } }) },
    { name: "map", body: '{"0":["variables.input.file"]}' },
    { name: "0", body: file, filename, type: "image/jpeg" },
  ]);

async function send(token: string, file: Uint8Array | Awaited<ReturnType<typeof request>>, filename = "photo.jpg") {
  const { body, contentType } = file instanceof Uint8Array ? await request(file, filename) : file;
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": contentType, "content-length": String(body.byteLength), "x-graphql-yoga-csrf": "1", authorization: `Bearer ${token}` },
    body,
  });
  return { status: response.status, json: (await response.json()) as { data?: { uploadMedia: Record<string, unknown> }; errors?: { message: string; extensions: { code: string } }[] } };
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

/** Reads the home timeline four at a time for `seconds`; the latency of each, in ms. */
async function timelineLatencies(token: string, seconds: number) {
  const query = "query { homeTimeline(first: 20) { edges { node { id body author { handle avatarUrl } likeCount media { url width height } } } } }";
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    [1, 2, 3, 4].map(async () => {
      while (performance.now() < end) {
        const start = performance.now();
        await gql(query, {}, token);
        latencies.push(performance.now() - start);
      }
    }),
  );
  return latencies;
}

try {
  await waitUntil(child, async () => (await fetch(`${base}/ready`)).ok, 180_000);
  const login = await gql(`mutation { logIn(input: { login: "alice", password: "chirp-demo-password" }) { ... on AuthPayload { accessToken } } }`, {});
  const token = login.data.logIn!.accessToken as string;

  // A JPEG of about 1 MB: a 2400×1600 photo-like gradient with some noise.
  const [width, height] = [2400, 1600];
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = ((i % (width * 3)) / 12 + Math.floor(i / (width * 3)) / 8 + ((i * 2654435761) >>> 28)) & 255;
  const jpeg = await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
  // Each upload differs in two bytes of its JFIF header, so none shares another's key; the body is
  // written once and copied, so that this process spends little of the two cores on making requests.
  const template = await request(jpeg, "photo.jpg");
  const at = Buffer.from(template.body).indexOf(jpeg.subarray(0, 64)) + 14;
  let serial = 0;
  const variant = () => {
    const body = Buffer.from(template.body);
    body.writeUInt16BE(serial++ % 65536, at);
    return { body, contentType: template.contentType };
  };
  console.log(`file: ${(jpeg.length / 1e6).toFixed(2)} MB JPEG, ${width}×${height}; ${ROUNDS} rounds; load average ${loadavg()[0]!.toFixed(2)} (figures mean little above the core count)`);
  const check = await send(token, variant());
  if (check.json.data?.uploadMedia.__typename !== "Media") throw new Error(`upload failed: ${JSON.stringify(check.json)}`);

  // Throughput: PER_ROUND uploads four at a time, per round.
  const rounds: { perSecond: number; cpuMs: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const cpu = ticks();
    const start = performance.now();
    let next = 0;
    await Promise.all([1, 2, 3, 4].map(async () => {
      while (next++ < PER_ROUND) await send(token, variant());
    }));
    const seconds = (performance.now() - start) / 1000;
    rounds.push({ perSecond: PER_ROUND / seconds, cpuMs: (ticks() - cpu) / PER_ROUND });
  }
  console.log(`throughput: ${rounds.map((r) => r.perSecond.toFixed(1)).join(", ")} uploads/s; CPU ${rounds.map((r) => r.cpuMs.toFixed(0)).join(", ")} ms per upload`);

  // Peak RSS: AT_ONCE uploads sent together.
  const idleRss = memory("VmRSS");
  let peak = idleRss;
  const poll = setInterval(() => (peak = Math.max(peak, memory("VmRSS"))), 10);
  await Promise.all(Array.from({ length: AT_ONCE }, () => send(token, variant())));
  clearInterval(poll);
  console.log(`RSS: ${idleRss.toFixed(0)} MB before ${AT_ONCE} uploads at once, ${peak.toFixed(0)} MB at most while they ran (process peak so far ${memory("VmHWM").toFixed(0)} MB)`);

  // Timeline latency alone, then while AT_ONCE uploads are kept in flight.
  const quiet = await timelineLatencies(token, SECONDS);
  let uploading = true;
  const busy = Promise.all(Array.from({ length: AT_ONCE }, async () => {
    while (uploading) await send(token, variant());
  }));
  const loaded = await timelineLatencies(token, SECONDS);
  uploading = false;
  await busy;
  const line = (name: string, l: number[]) => `${name}: p50 ${quantile(l, 0.5).toFixed(1)} ms, p99 ${quantile(l, 0.99).toFixed(1)} ms (${l.length} reads)`;
  console.log(`timeline ${line("alone", quiet)}; ${line(`with ${AT_ONCE} uploads in flight`, loaded)}`);

  // The bad files, as the tests build them, and what each got.
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
  const bad: [string, Uint8Array, string][] = [
    ["HTML named .png", Buffer.from("<!doctype html><script>alert(1)</script>"), "a.png"],
    ["SVG named .png", svg, "a.png"],
    ["SVG", svg, "a.svg"],
    ["TIFF named .jpg", await photo(20, 20, "tiff" as "png"), "a.jpg"],
    ["truncated JPEG", jpeg.subarray(0, 50_000), "a.jpg"],
    ["zero bytes", new Uint8Array(0), "a.jpg"],
    ["PNG declaring 64250×64250", pngDeclaring(64_250, 64_250), "a.png"],
    ["GIF of 5000 frames", gifWithFrames(5_000), "a.gif"],
    ["6 MB of JPEG-looking bytes", Buffer.concat([jpeg, Buffer.alloc(6_000_000 - jpeg.length)]), "a.jpg"],
  ];
  console.log(`load average at the end ${loadavg()[0]!.toFixed(2)}`);
  console.log("bad files:");
  for (const [name, file, filename] of bad) {
    const { status, json } = await send(token, file, filename);
    const result = json.data?.uploadMedia;
    const what = result ? `${result.__typename}: ${result.message}` : `${json.errors![0]!.extensions.code}: ${json.errors![0]!.message}`;
    console.log(`  ${name} → HTTP ${status}, ${what}`);
  }
} finally {
  await child.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
