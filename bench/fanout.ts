/**
 * The fan-out scenario (issue 12): one author, 1,000 followers listening to homeTimelineUpdated over
 * graphql-ws WebSockets, and the author posting through the API. A post counts once all 1,000 got it.
 * Chirp against a ceiling of its own (fanout-ceiling.ts); PostGraphile cannot serve it (no LISTEN
 * client in the peer). Run by run.ts as scenario `fanout`; see bench/README.md.
 */
import { createClient } from "graphql-ws";
import pg from "pg";
import WebSocket from "ws";
import { newSessionId, signAccessToken } from "../src/modules/auth/credentials.js";
import type { SqlSession } from "../src/db.js";
import { BENCH_SIZE } from "./data.js";
import { BenchStop } from "./errors.js";
import { startSqlCounter } from "./sql-counter.js";
import type { Picks } from "./fixtures.js";
import { type Child, type RunningServer, chirpJwt, compileBenchScript, cpuMs, freePort, peakRssMb, resetPeakRss, spawnChild, startServer, waitUntil } from "./servers.js";

export const FANOUT_FOLLOWERS = 1_000;
/**
 * Posts in flight at saturation (sent and not yet delivered to everyone; BENCH_FANOUT_WINDOW): enough
 * that the server always has the next one. One author's posts also queue on their row (the post count
 * in createPost's transaction): with 4 in flight Chirp's UPDATE waited 150-450 ms on it under load.
 */
const WINDOW = Number(process.env.BENCH_FANOUT_WINDOW ?? 4);
/** The latency run goes at this share of Chirp's saturated rate in the same round, for both servers. */
const FIXED_RATE_SHARE = 0.5;
const DELIVERY_TIMEOUT_MS = 20_000;
const BACKGROUND = /\b(outbox_messages|job_schedules)\b/;
/** Posts sent one at a time behind the SQL counter. */
const COUNTED_POSTS = 3;
/** Handshakes per wave: 1,000 at once each authenticate, as a reconnect storm would. */
const CONNECT_WAVE = 100;
const BODY_PREFIX = "Bench fanout";
const SESSION_AGENT = "chirp-bench-fanout";
const SUBSCRIPTION = "subscription BenchFanout { homeTimelineUpdated { id body createdAt author { handle displayName } } }";
const CREATE_POST = "mutation BenchFanoutPost($body: String!) { createPost(input: { body: $body }) { __typename ... on Post { id } } }";

export const FANOUT_SERVERS = ["chirp", "ceiling"] as const;
export type FanoutServer = (typeof FANOUT_SERVERS)[number];

export interface FanoutRun {
  /** Posts sent in the timed part and delivered to every follower. */
  posts: number;
  postsPerSecond: number;
  deliveriesPerSecond: number;
  /** From sending createPost to the last follower's arrival. */
  p50Ms: number;
  p99Ms: number;
  cpuMsPerPost: number;
  cpuMsPerDelivery: number;
  peakRssMb: number;
  /** The benchmark's own process (the 1,000 clients and the writer): a client that saturates caps the figures. */
  clientCpuMsPerPost: number;
  /** createPost errors, deliveries missing, duplicated or wrong. */
  failed: number;
  problems: string[];
}

export interface FanoutFixedRun extends FanoutRun {
  rate: number;
}

export interface FanoutRound {
  round: number;
  order: FanoutServer[];
  saturation: Partial<Record<FanoutServer, FanoutRun>>;
  fixed: Partial<Record<FanoutServer, FanoutFixedRun>>;
}

export interface FanoutResults {
  followers: number;
  /** SQL statements per post (createPost's included) from a pass behind the statement counter, and one post's statements. */
  statementsPerPost: Partial<Record<FanoutServer, number>>;
  sql: Partial<Record<FanoutServer, string[]>>;
  window: number;
  fixedRateShare: number;
  author: { id: number; handle: string };
  subscription: string;
  rounds: FanoutRound[];
}

type Log = (message: string) => void;
type Query = Pick<SqlSession, "query">;

// ── Fixtures ────────────────────────────────────────────────────────────────────────────────────

/** The fan-out author: the followee of the follows the benchmark added for someone other than the viewer. */
async function fanoutAuthorId(session: Query, viewerId: number): Promise<number | null> {
  const { rows } = await session.query<{ followee_id: number }>("SELECT followee_id FROM follows WHERE id > $1 AND follower_id <> $2 ORDER BY id LIMIT 1", [BENCH_SIZE.follows, viewerId]);
  return rows[0]?.followee_id ?? null;
}

/**
 * An author with exactly 1,000 followers, added after the generated data: the author is the first
 * generated user outside every other scenario (not the viewer, the profile, an author of the thread or
 * of the like post, not followed by the viewer) with no block or mute either way; the followers, the
 * first users by id apart from the viewer and the profile. Follows and counters as the follow mutation
 * leaves them (without its notification). Idempotent.
 */
export async function ensureFanoutFixtures(session: SqlSession, picks: Picks): Promise<{ added: number }> {
  await session.exec("BEGIN");
  try {
    const viewerId = picks.viewer.id;
    let authorId = await fanoutAuthorId(session, viewerId);
    if (authorId === null) {
      const { rows } = await session.query<{ id: number }>(
        `SELECT u.id FROM users u
         WHERE u.id > 100 AND u.id <> ALL($1::int[]) AND u.suspended_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $2 AND f.followee_id = u.id)
           AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id OR b.blocked_id = u.id)
           AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = u.id OR m.muted_id = u.id)
           AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.author_id = u.id AND (p.id = $3 OR p.root_id = $4 OR p.id = $4))
         ORDER BY u.id LIMIT 1`,
        [[viewerId, picks.profile.id], viewerId, picks.likePostId, picks.thread.id],
      );
      if (!rows[0]) throw new BenchStop("The bench database has no user to be the fan-out author");
      authorId = rows[0].id;
    }
    const { rows: counted } = await session.query<{ n: number }>("SELECT count(*)::int AS n FROM follows WHERE followee_id = $1", [authorId]);
    const needed = FANOUT_FOLLOWERS - counted[0]!.n;
    let added = 0;
    if (needed > 0) {
      const { rows } = await session.query<{ follower_id: number }>(
        `INSERT INTO follows (follower_id, followee_id)
         SELECT u.id, $1 FROM users u
         WHERE u.id <> $1 AND u.id <> ALL($2::int[]) AND u.suspended_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = u.id AND f.followee_id = $1)
         ORDER BY u.id LIMIT $3
         RETURNING follower_id`,
        [authorId, [viewerId, picks.profile.id], needed],
      );
      added = rows.length;
      await session.query("UPDATE users SET following_count = following_count + 1 WHERE id = ANY($1::int[])", [rows.map((r) => r.follower_id)]);
      await session.query("UPDATE users SET follower_count = follower_count + $2 WHERE id = $1", [authorId, added]);
    }
    await session.exec("COMMIT");
    return { added };
  } catch (error) {
    await session.exec("ROLLBACK");
    throw error;
  }
}

/** Takes back what a fan-out run leaves: its posts (and the author's post count) and its sessions. Also after an interrupted run. */
export async function removeFanoutLeftovers(session: Query) {
  const { rows } = await session.query<{ author_id: number; n: number }>(
    `WITH gone AS (DELETE FROM posts WHERE id > $1 AND reply_to_id IS NULL AND repost_of_id IS NULL AND body LIKE $2 RETURNING author_id)
     SELECT author_id, count(*)::int AS n FROM gone GROUP BY author_id`,
    [BENCH_SIZE.posts, `${BODY_PREFIX} %`],
  );
  for (const { author_id, n } of rows) await session.query("UPDATE users SET post_count = post_count - $2 WHERE id = $1", [author_id, n]);
  await session.query("DELETE FROM sessions WHERE user_agent = $1", [SESSION_AGENT]);
}

interface Cast {
  author: { id: number; handle: string; displayName: string; token: string };
  followers: { id: number; token: string }[];
}

/** The author and followers, each with a session of their own and a real access token for it (see README: why not logIn). */
async function castWithSessions(databaseUrl: string, picks: Picks): Promise<Cast> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const authorId = await fanoutAuthorId(client, picks.viewer.id);
    if (authorId === null) throw new BenchStop("The fan-out fixtures are missing: the bench database was prepared by an older runner (rerun with --reset)");
    const { rows: authors } = await client.query<{ handle: string; display_name: string }>("SELECT handle, display_name FROM users WHERE id = $1", [authorId]);
    const { rows: followers } = await client.query<{ follower_id: number }>("SELECT follower_id FROM follows WHERE followee_id = $1 ORDER BY follower_id", [authorId]);
    if (followers.length !== FANOUT_FOLLOWERS) throw new BenchStop(`The fan-out author has ${followers.length} followers, not ${FANOUT_FOLLOWERS}: rerun with --reset`);
    const users = [authorId, ...followers.map((f) => f.follower_id)];
    const sessions = users.map(() => newSessionId());
    await client.query(
      `INSERT INTO sessions (id, user_id, user_agent, expires_at) SELECT unnest($1::uuid[]), unnest($2::int[]), $3, now() + interval '1 day'`,
      [sessions, users, SESSION_AGENT],
    );
    const jwt = chirpJwt();
    const tokens = await Promise.all(users.map(async (userId, i) => (await signAccessToken(jwt, userId, sessions[i]!)).token));
    return {
      author: { id: authorId, handle: authors[0]!.handle, displayName: authors[0]!.display_name, token: tokens[0]! },
      followers: followers.map((f, i) => ({ id: f.follower_id, token: tokens[i + 1]! })),
    };
  } finally {
    await client.end();
  }
}

async function withSession<T>(databaseUrl: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

// ── The servers ─────────────────────────────────────────────────────────────────────────────────

interface FanoutTarget {
  name: FanoutServer;
  process: Child;
  wsUrl: string;
  /** Writes a post as the author; resolves to its global id. */
  post(body: string): Promise<string>;
}

async function startTarget(name: FanoutServer, databaseUrl: string, cast: Cast, ceilingJs: string): Promise<FanoutTarget> {
  if (name === "chirp") {
    // All 1,000 followers connect from 127.0.0.1 here; in production they come from 1,000 addresses.
    const server: RunningServer = await startServer("chirp", databaseUrl, { REALTIME_CONNECTIONS_PER_IP: String(FANOUT_FOLLOWERS * 2) });
    const headers = { "content-type": "application/json", authorization: `Bearer ${cast.author.token}` };
    return {
      name,
      process: server,
      wsUrl: `${server.baseUrl.replace("http", "ws")}/graphql`,
      post: async (body) => {
        const res = await fetch(`${server.baseUrl}/graphql`, { method: "POST", headers, body: JSON.stringify({ query: CREATE_POST, variables: { body } }) });
        return postId(await res.text());
      },
    };
  }
  const port = await freePort();
  const child = spawnChild(process.execPath, [ceilingJs], {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: "10",
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(child, async () => (await fetch(`${baseUrl}/`, { signal: AbortSignal.timeout(5_000) })).status === 404);
  } catch (error) {
    await child.stop();
    throw error;
  }
  const headers = { "content-type": "application/json", "x-viewer-id": String(cast.author.id) };
  return {
    name,
    process: child,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    post: async (body) => postId(await (await fetch(`${baseUrl}/post`, { method: "POST", headers, body: JSON.stringify({ body }) })).text()),
  };
}

function postId(text: string): string {
  const answer = JSON.parse(text) as { data?: { createPost?: { __typename: string; id?: string } }; errors?: unknown };
  const created = answer.data?.createPost;
  if (!created?.id || created.__typename !== "Post") throw new Error(`createPost answered ${text.slice(0, 300)}`);
  return created.id;
}

// ── The subscribers and the posts they wait for ─────────────────────────────────────────────────

interface Tracked {
  sentAt: number;
  remaining: number;
  lastAt: number;
  id?: string;
  /** The ids the followers were sent for it (one when right). */
  ids: Set<string>;
  done: Promise<void>;
  resolve: () => void;
}

class Deliveries {
  readonly posts = new Map<string, Tracked>();
  duplicates = 0;
  wrong: string[] = [];
  errors: string[] = [];
  delivered = 0;

  constructor(
    private readonly followers: number,
    private readonly author: Cast["author"],
  ) {}

  track(body: string): Tracked {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const tracked: Tracked = { sentAt: performance.now(), remaining: this.followers, lastAt: 0, ids: new Set(), done, resolve };
    this.posts.set(body, tracked);
    return tracked;
  }

  /** One follower's delivery: the post they were sent, checked against what was written. */
  arrive(seen: Set<string>, result: { data?: unknown; errors?: unknown }) {
    const now = performance.now();
    const post = (result.data as { homeTimelineUpdated?: { id?: string; body?: string; author?: { handle?: string; displayName?: string } } } | undefined)?.homeTimelineUpdated;
    if (!post || result.errors) return void this.wrong.push(JSON.stringify(result).slice(0, 300));
    const tracked = this.posts.get(post.body ?? "");
    if (!tracked || post.author?.handle !== this.author.handle || post.author.displayName !== this.author.displayName) return void this.wrong.push(JSON.stringify(post).slice(0, 300));
    if (seen.has(post.body!)) return void this.duplicates++;
    seen.add(post.body!);
    tracked.ids.add(String(post.id));
    this.delivered++;
    if (--tracked.remaining === 0) {
      tracked.lastAt = now;
      tracked.resolve();
    }
  }
}

interface Listeners {
  deliveries: Deliveries;
  /** Open sockets now, and subscriptions that ended (a figure is worth something only when none did). */
  ended: string[];
  dispose(): void;
}

/** 1,000 graphql-ws clients, one WebSocket each, connected in waves and subscribed to homeTimelineUpdated. */
async function listen(target: FanoutTarget, cast: Cast): Promise<Listeners> {
  const deliveries = new Deliveries(cast.followers.length, cast.author);
  const ended: string[] = [];
  const clients: { dispose(): void }[] = [];
  for (let wave = 0; wave < cast.followers.length; wave += CONNECT_WAVE) {
    await Promise.all(
      cast.followers.slice(wave, wave + CONNECT_WAVE).map(
        (follower) =>
          new Promise<void>((resolve, reject) => {
            const seen = new Set<string>();
            const client = createClient({
              url: target.wsUrl,
              webSocketImpl: WebSocket,
              connectionParams: { authorization: `Bearer ${follower.token}` },
              lazy: false,
              retryAttempts: 0,
              onNonLazyError: () => {},
              on: { connected: () => resolve(), closed: (event) => reject(new Error(`a follower's WebSocket closed before it was connected: ${(event as CloseEvent).code}`)) },
            });
            clients.push(client);
            client.subscribe(
              { query: SUBSCRIPTION },
              {
                next: (result) => deliveries.arrive(seen, result),
                error: (error) => ended.push(Array.isArray(error) ? JSON.stringify(error[0]) : `closed ${(error as CloseEvent).code ?? String(error)}`),
                complete: () => ended.push("completed"),
              },
            );
          }),
      ),
    );
  }
  return { deliveries, ended, dispose: () => clients.forEach((c) => c.dispose()) };
}

/** Posts until one reaches every follower: then every subscription is listening. */
async function untilAllListen(target: FanoutTarget, listeners: Listeners, label: string) {
  for (let attempt = 1; attempt <= 30; attempt++) {
    const body = `${BODY_PREFIX} ${label} probe ${attempt}`;
    const tracked = listeners.deliveries.track(body);
    await target.post(body);
    if (await within(tracked.done, 2_000)) return;
  }
  const { wrong } = listeners.deliveries;
  throw new BenchStop(
    `${target.name}: after 30 posts, not every follower had received one within 2 s (${listeners.ended.length} subscriptions ended${listeners.ended.length > 0 ? `, e.g. ${listeners.ended[0]}` : ""}; ` +
      `${wrong.length} wrong deliveries${wrong.length > 0 ? `, e.g. ${wrong[0]}` : ""})`,
  );
}

const within = (promise: Promise<unknown>, ms: number) =>
  new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });

const quantile = (sorted: number[], q: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);

interface Phase {
  seconds: number;
  /** Posts per second, or null for saturation (WINDOW posts in flight). */
  rate: number | null;
  measure: boolean;
}

/** Writes posts for `seconds` (WINDOW in flight, or at `rate`), waits for their deliveries and measures. */
async function posting(target: FanoutTarget, listeners: Listeners, label: string, phase: Phase): Promise<FanoutRun> {
  const { deliveries } = listeners;
  const mine: Tracked[] = [];
  const failures: string[] = [];
  let inFlight = 0;
  let wakeSender: (() => void) | undefined;
  const send = (n: number) => {
    const body = `${BODY_PREFIX} ${label} ${n}`;
    const tracked = deliveries.track(body);
    mine.push(tracked);
    inFlight++;
    void tracked.done.then(() => {
      inFlight--;
      wakeSender?.();
    });
    target.post(body).then(
      (id) => (tracked.id = id),
      (error: Error) => failures.push(error.message.slice(0, 300)),
    );
  };
  const peakFromHere = phase.measure && resetPeakRss(target.process.pid);
  const cpuBefore = cpuMs(target.process.pid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const end = started + phase.seconds * 1000;
  let n = 0;
  while (performance.now() < end && failures.length === 0) {
    if (phase.rate === null) {
      if (inFlight >= WINDOW) {
        await Promise.race([new Promise<void>((resolve) => (wakeSender = resolve)), new Promise((resolve) => setTimeout(resolve, DELIVERY_TIMEOUT_MS))]);
        wakeSender = undefined;
        if (inFlight >= WINDOW) break;
        continue;
      }
      send(++n);
    } else {
      send(++n);
      const next = started + (n * 1000) / phase.rate;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
    }
  }
  const complete = await within(Promise.all(mine.map((t) => t.done)), DELIVERY_TIMEOUT_MS);
  const finished = Math.max(...mine.map((t) => t.lastAt || performance.now()));
  const cpu = cpuMs(target.process.pid) - cpuBefore;
  const client = process.cpuUsage(clientBefore);
  const posts = mine.filter((t) => t.remaining === 0).length;
  const missing = mine.reduce((sum, t) => sum + t.remaining, 0);
  const wrongIds = mine.filter((t) => t.id !== undefined && (t.ids.size !== 1 || !t.ids.has(t.id))).length;
  const latencies = mine.filter((t) => t.remaining === 0).map((t) => t.lastAt - t.sentAt).sort((a, b) => a - b);
  const seconds = (finished - started) / 1000;
  const problems = [
    ...(complete ? [] : [`${missing} deliveries missing ${DELIVERY_TIMEOUT_MS / 1000} s after the last post`]),
    ...(wrongIds > 0 ? [`${wrongIds} posts delivered with another id than createPost answered`] : []),
    ...(deliveries.wrong.length > 0 ? [`${deliveries.wrong.length} wrong deliveries, e.g. ${deliveries.wrong[0]}`] : []),
    ...(deliveries.duplicates > 0 ? [`${deliveries.duplicates} duplicate deliveries`] : []),
    ...(listeners.ended.length > 0 ? [`${listeners.ended.length} subscriptions ended, e.g. ${listeners.ended[0]}`] : []),
    ...failures.map((f) => `createPost failed: ${f}`),
  ];
  return {
    posts,
    postsPerSecond: posts / seconds,
    deliveriesPerSecond: (posts * FANOUT_FOLLOWERS) / seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    cpuMsPerPost: cpu / Math.max(1, mine.length),
    cpuMsPerDelivery: cpu / Math.max(1, mine.length * FANOUT_FOLLOWERS),
    peakRssMb: peakRssMb(target.process.pid),
    clientCpuMsPerPost: (client.user + client.system) / 1000 / Math.max(1, mine.length),
    failed: failures.length + missing + wrongIds + deliveries.wrong.length + deliveries.duplicates + listeners.ended.length,
    problems: peakFromHere || !phase.measure ? problems : [...problems, "peak RSS since start (clear_refs not allowed)"],
  };
}

// ── Rounds ──────────────────────────────────────────────────────────────────────────────────────

export interface FanoutOptions {
  databaseUrl: string;
  seconds: number;
  warmupSeconds: number;
  rounds: number;
  servers: readonly FanoutServer[];
  picks: Picks;
  log: Log;
}

const describe = (run: FanoutRun) =>
  `${run.postsPerSecond.toFixed(1)} posts/s (${run.deliveriesPerSecond.toFixed(0)} deliveries/s), write → last delivery p50 ${run.p50Ms.toFixed(1)} ms, p99 ${run.p99Ms.toFixed(1)} ms, ` +
  `${run.cpuMsPerPost.toFixed(2)} CPU ms/post (${(run.cpuMsPerDelivery * 1000).toFixed(1)} µs/delivery), ${run.peakRssMb.toFixed(0)} MB peak RSS; client ${run.clientCpuMsPerPost.toFixed(1)} CPU ms/post` +
  (run.problems.length > 0 ? `\n    ${run.problems.join("\n    ")}` : "");

/** One server session: start, 1,000 followers listening, warm-up, the timed phase; everything stopped after. */
async function session(name: FanoutServer, options: FanoutOptions, cast: Cast, ceilingJs: string, label: string, rate: number | null) {
  const target = await startTarget(name, options.databaseUrl, cast, ceilingJs);
  let listeners: Listeners | undefined;
  try {
    listeners = await listen(target, cast);
    await untilAllListen(target, listeners, label);
    if (options.warmupSeconds > 0) await posting(target, listeners, `${label} warm-up`, { seconds: options.warmupSeconds, rate, measure: false });
    return await posting(target, listeners, label, { seconds: options.seconds, rate, measure: true });
  } finally {
    listeners?.dispose();
    if (await target.process.stop()) options.log(`${name} did not exit within 5 s of SIGTERM and was killed`);
    const output = target.process.output().split("\n").filter((line) => line.trim() && !/ready/i.test(line));
    if (output.length > 0) options.log(`${name} printed:\n${output.slice(-10).join("\n").slice(0, 3000)}`);
  }
}

/** Statements per post, each server behind the SQL counter (not timed): a few posts, one at a time. */
async function countStatements(name: FanoutServer, options: FanoutOptions, cast: Cast, ceilingJs: string) {
  const counter = await startSqlCounter(options.databaseUrl);
  const target = await startTarget(name, counter.url, cast, ceilingJs);
  let listeners: Listeners | undefined;
  try {
    listeners = await listen(target, cast);
    await untilAllListen(target, listeners, `${name} count`);
    const counts: number[] = [];
    let sample: string[] = [];
    for (let n = 1; n <= COUNTED_POSTS; n++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      counter.reset();
      const tracked = listeners.deliveries.track(`${BODY_PREFIX} ${name} count ${n}`);
      await target.post(`${BODY_PREFIX} ${name} count ${n}`);
      if (!(await within(tracked.done, DELIVERY_TIMEOUT_MS))) throw new BenchStop(`${name}: a post of the statement count did not reach every follower`);
      // A statement still on its way for the last follower is counted by then.
      await new Promise((resolve) => setTimeout(resolve, 200));
      // Chirp's background workers (the mail outbox, scheduled jobs) poll on their own clock: not the post's.
      const statements = counter.statements.filter((sql) => !BACKGROUND.test(sql));
      counts.push(statements.length);
      if (n === 1) sample = statements;
    }
    return { perPost: counts.reduce((a, b) => a + b, 0) / counts.length, sample };
  } finally {
    listeners?.dispose();
    await target.process.stop();
    await counter.close();
  }
}

/** The fan-out scenario's rounds (saturation for every server, then the fixed rate), with the posts and sessions taken back after. */
export async function runFanout(options: FanoutOptions): Promise<FanoutResults> {
  const ceilingJs = compileBenchScript("fanout-ceiling.ts");
  await withSession(options.databaseUrl, removeFanoutLeftovers);
  if (!Number.isInteger(WINDOW) || WINDOW < 1) throw new BenchStop(`BENCH_FANOUT_WINDOW must be a whole number ≥ 1, not "${process.env.BENCH_FANOUT_WINDOW}"`);
  const cast = await castWithSessions(options.databaseUrl, options.picks);
  const rounds: FanoutRound[] = [];
  const statementsPerPost: FanoutResults["statementsPerPost"] = {};
  const sql: FanoutResults["sql"] = {};
  try {
    for (const name of options.servers) {
      const counted = await countStatements(name, options, cast, ceilingJs);
      statementsPerPost[name] = counted.perPost;
      sql[name] = counted.sample;
      options.log(`fanout ${name}: ${counted.perPost.toFixed(1)} SQL statements per post to ${FANOUT_FOLLOWERS} followers (createPost's included)`);
    }
    for (let round = 1; round <= options.rounds; round++) {
      const shift = (round - 1) % options.servers.length;
      const order = [...options.servers.slice(shift), ...options.servers.slice(0, shift)];
      const result: FanoutRound = { round, order, saturation: {}, fixed: {} };
      options.log(`fanout round ${round}/${options.rounds}: saturation (${WINDOW} posts in flight, ${FANOUT_FOLLOWERS} followers), ${order.join(" → ")}`);
      for (const name of order) {
        const run = await session(name, options, cast, ceilingJs, `${name} r${round}`, null);
        result.saturation[name] = run;
        options.log(`  ${name} fanout: ${describe(run)}`);
      }
      const chirp = result.saturation.chirp?.postsPerSecond;
      if (chirp) {
        const rate = Math.max(0.5, chirp * FIXED_RATE_SHARE);
        options.log(`fanout round ${round}/${options.rounds}: fixed rate ${rate.toFixed(1)} posts/s (${FIXED_RATE_SHARE * 100}% of Chirp's), ${order.join(" → ")}`);
        for (const name of order) {
          const run = await session(name, options, cast, ceilingJs, `${name} r${round} fixed`, rate);
          result.fixed[name] = { ...run, rate };
          options.log(`  ${name} fanout @ ${rate.toFixed(1)} posts/s: ${describe(run)}`);
        }
      }
      rounds.push(result);
    }
  } finally {
    await withSession(options.databaseUrl, removeFanoutLeftovers);
  }
  return { followers: FANOUT_FOLLOWERS, statementsPerPost, sql, window: WINDOW, fixedRateShare: FIXED_RATE_SHARE, author: { id: cast.author.id, handle: cast.author.handle }, subscription: SUBSCRIPTION, rounds };
}

// ── The report's section ────────────────────────────────────────────────────────────────────────

const median = (values: number[]) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "–");
const LABEL: Record<FanoutServer, string> = { chirp: "Chirp", ceiling: "ceiling" };

/** The fan-out section of the report: medians over the rounds (peak RSS: the maximum), each round's ratio, the target. */
export function fanoutMarkdown(results: FanoutResults): string[] {
  const lines = [
    "## Subscription fan-out",
    "",
    `One post by ${results.author.handle} to ${results.followers.toLocaleString("en-US")} followers, each listening on a WebSocket of their own (graphql-ws): \`${results.subscription}\`. ` +
      `Saturation: ${results.window} posts in flight; a post counts once every follower got it. Latency: from sending createPost to the last follower's arrival, at saturation and at ${results.fixedRateShare * 100}% of Chirp's saturated rate. ` +
      "PostGraphile cannot serve this without a LISTEN plugin the peer does not run: not measured.",
    "",
    "| server | posts/s | deliveries/s | p50 ms | p99 ms | fixed rate | p50 ms @ fixed | p99 ms @ fixed | SQL / post | CPU ms / post | CPU µs / delivery | CPU ms / post @ fixed | peak RSS MB | client CPU ms / post |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const servers = FANOUT_SERVERS.filter((s) => results.rounds.some((r) => r.saturation[s]));
  for (const server of servers) {
    const sat = results.rounds.map((r) => r.saturation[server]).filter((r): r is FanoutRun => r !== undefined);
    const fixed = results.rounds.map((r) => r.fixed[server]).filter((r): r is FanoutFixedRun => r !== undefined);
    const m = <T>(runs: T[], pick: (run: T) => number) => median(runs.map(pick));
    const failed = [...sat, ...fixed].reduce((n, r) => n + r.failed, 0);
    lines.push(
      `| ${LABEL[server]} | ${fmt(m(sat, (r) => r.postsPerSecond), 1)}${failed > 0 ? ` (${failed} failed)` : ""} | ${fmt(m(sat, (r) => r.deliveriesPerSecond))} | ${fmt(m(sat, (r) => r.p50Ms), 1)} | ${fmt(m(sat, (r) => r.p99Ms), 1)} | ` +
        `${fmt(m(fixed, (r) => r.rate), 1)} | ${fmt(m(fixed, (r) => r.p50Ms), 1)} | ${fmt(m(fixed, (r) => r.p99Ms), 1)} | ${fmt(results.statementsPerPost[server] ?? Number.NaN, 1)} | ${fmt(m(sat, (r) => r.cpuMsPerPost), 2)} | ${fmt(m(sat, (r) => r.cpuMsPerDelivery * 1000), 1)} | ` +
        `${fmt(m(fixed, (r) => r.cpuMsPerPost), 2)} | ${fmt(Math.max(...sat.map((r) => r.peakRssMb)))} | ${fmt(m(sat, (r) => r.clientCpuMsPerPost), 1)} |`,
    );
  }
  const perRound = (pick: (run: FanoutRun) => number) =>
    results.rounds
      .map((r) => (r.saturation.chirp && r.saturation.ceiling ? pick(r.saturation.chirp) / pick(r.saturation.ceiling) : null))
      .filter((x): x is number => x !== null && Number.isFinite(x))
      .sort((a, b) => a - b);
  const rates = perRound((r) => r.postsPerSecond);
  const cpu = perRound((r) => r.cpuMsPerPost);
  const list = (xs: number[]) => (xs.length > 0 ? xs.map((x) => `${x.toFixed(2)}×`).join(", ") : "–");
  lines.push(
    "",
    `Chirp / ceiling, each round (lowest to highest): posts/s ${list(rates)}; CPU ms per post ${list(cpu)}.`,
    "",
    rates.length > 0
      ? `- ${median(rates) >= 0.4 ? "✓" : "✗"} fan-out: Chirp ≥ 0.4× the ceiling's posts/s (median ${median(rates).toFixed(2)}× over ${rates.length} round(s)${rates.length < 5 ? "; fewer than 5 rounds: no claim" : ""})`
      : "- fan-out: no round ran both Chirp and the ceiling",
  );
  const problems = results.rounds.flatMap((r) =>
    FANOUT_SERVERS.flatMap((s) => [
      ...(r.saturation[s]?.problems ?? []).map((p) => `- round ${r.round}, ${LABEL[s]}: ${p}`),
      ...(r.fixed[s]?.problems ?? []).map((p) => `- round ${r.round}, ${LABEL[s]} @ fixed: ${p}`),
    ]),
  );
  if (problems.length > 0) lines.push("", ...problems);
  const chirpSql = results.sql.chirp ?? [];
  if (chirpSql.length > 0) {
    lines.push("", `<details><summary>fanout: the ${chirpSql.length} statements of one post by Chirp to ${results.followers.toLocaleString("en-US")} followers</summary>`, "", "```sql");
    lines.push(...chirpSql.map((statement) => `${statement.replace(/\s+/g, " ").trim().slice(0, 400)};`), "```", "</details>");
  }
  return lines;
}
