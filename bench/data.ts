import { readFile } from "node:fs/promises";
import pg from "pg";
import { type Database, type SqlSession, openDatabase } from "../src/db.js";
import { forgetActor } from "../src/modules/notifications/notifications.service.js";
import { type DemoSize, loadDemoData } from "../src/demo.js";
import { migrate } from "../src/migrate.js";
import { BenchStop } from "./errors.js";
import { ensureFanoutFixtures, removeFanoutLeftovers } from "./fanout.js";
import { type Picks, ensureFixtures, resetLike } from "./fixtures.js";

export const BENCH_SIZE: DemoSize = { users: 10_000, posts: 200_000, likes: 1_000_000, follows: 100_000, seed: 42 };

type Log = (message: string) => void;

/**
 * Creates, migrates and loads the bench database when needed, adds the benchmark's fixtures, resets
 * the like scenario's post and (re)creates PostGraphile's bench_peer schema.
 */
export async function prepareDatabase(url: string, options: { reset: boolean; log: Log }): Promise<Picks> {
  await ensureDatabase(url, options.reset, options.log);
  const db = await openDatabase({ url, poolSize: 1 });
  try {
    const { applied } = await migrate(db);
    if (applied.length > 0) options.log(`applied migrations: ${applied.join(", ")}`);
    const session = await db.session();
    let fixtures: Awaited<ReturnType<typeof ensureFixtures>>;
    try {
      await removeFanoutLeftovers(session);
      await ensureData(session, options.log, () => loadDemoData(db, BENCH_SIZE));
      fixtures = await ensureFixtures(session, BENCH_SIZE);
      if (fixtures.added.length > 0) options.log(`added ${fixtures.added.join(" and ")}`);
      const fanout = await ensureFanoutFixtures(session, fixtures);
      if (fanout.added > 0) options.log(`added ${fanout.added} follows of the fan-out author`);
      await session.exec(await readFile(new URL("./peers/bench_peer.sql", import.meta.url), "utf8"));
    } finally {
      await session.release();
    }
    // Through Prisma and the services, now that the pool's one connection is free.
    const { added: _added, newlyBlocked, newlyMuted, ...picks } = fixtures;
    await forgetSilenced(db, { newlyBlocked, newlyMuted });
    await resetLike(db.prisma, picks);
    // The like scenario is the only writer of likes, and a run stopped midway may leave its like behind: count them once it is undone.
    const [{ likes }] = await db.prisma.$queryRaw<[{ likes: number }]>`SELECT count(*)::int AS likes FROM likes`;
    if (likes !== BENCH_SIZE.likes) throw new BenchStop(`The bench database holds other data (likes: ${likes}, expected ${BENCH_SIZE.likes}). Rerun with --reset to reload it.`);
    return picks;
  } finally {
    await db.close();
  }
}

async function forgetSilenced(db: Database, { newlyBlocked, newlyMuted }: { newlyBlocked: number[]; newlyMuted: number[] }) {
  const viewer = await db.prisma.user.findUniqueOrThrow({ where: { handleKey: "alice" }, select: { id: true } });
  for (const other of [...newlyBlocked, ...newlyMuted]) {
    await db.prisma.$transaction(async (tx) => {
      await forgetActor(tx, viewer.id, other);
      if (newlyBlocked.includes(other)) await forgetActor(tx, other, viewer.id);
    });
  }
}

/** Puts the like scenario's post back as generated (see resetLike). */
export async function restoreLikePost(url: string, picks: Picks) {
  const db = await openDatabase({ url, poolSize: 1 });
  try {
    await resetLike(db.prisma, picks);
  } finally {
    await db.close();
  }
}

async function ensureDatabase(url: string, reset: boolean, log: Log) {
  const name = new URL(url).pathname.slice(1);
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new BenchStop(`BENCH_DATABASE_URL must name a database like chirp_bench, not "${name}"`);
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    if (reset) {
      log(`dropping database ${name} (--reset)`);
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (!rowCount) {
      log(`creating database ${name}`);
      await client.query(`CREATE DATABASE "${name}"`);
    }
  } finally {
    await client.end();
  }
}

interface Counts {
  users: number;
  posts: number;
  likes: number;
  follows: number;
}

async function countRows(session: Pick<SqlSession, "query">): Promise<Counts> {
  const { rows } = await session.query<Counts>(`SELECT
    (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM posts)::int AS posts,
    (SELECT count(*) FROM likes)::int AS likes, (SELECT count(*) FROM follows)::int AS follows`);
  return rows[0]!;
}

/** Loads the data set into an empty database; refuses a database that holds something else. */
async function ensureData(session: SqlSession, log: Log, load: () => Promise<unknown>) {
  const counts = await countRows(session);
  if (counts.users + counts.posts + counts.likes + counts.follows === 0) {
    log(`loading ${BENCH_SIZE.users} users, ${BENCH_SIZE.posts} posts, ${BENCH_SIZE.likes} likes, ${BENCH_SIZE.follows} follows (seed ${BENCH_SIZE.seed})…`);
    const started = performance.now();
    await load();
    log(`loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return;
  }
  const extra = await addedRows(session);
  const expected = { ...BENCH_SIZE, follows: BENCH_SIZE.follows + extra.follows, posts: BENCH_SIZE.posts + extra.posts };
  // Likes are counted after the like scenario's post is reset (prepareDatabase).
  const differs = (["users", "posts", "follows"] as const).filter((k) => counts[k] !== expected[k]);
  if (differs.length > 0 || extra.unknown > 0) {
    const detail = differs.map((k) => `${k}: ${counts[k]} (expected ${expected[k]})`);
    if (extra.unknown > 0) detail.push(`${extra.unknown} rows after the generated ones that the benchmark did not add`);
    throw new BenchStop(`The bench database holds other data (${detail.join(", ")}). Rerun with --reset to reload it.`);
  }
  log(`reusing the loaded data (${counts.users} users, ${counts.posts} posts, ${counts.likes} likes, ${counts.follows} follows)`);
}

/**
 * The generated rows come first (ids 1…N); the benchmark's fixtures add only the viewer's follows,
 * the followers of one fan-out author and the replies of one thread after them.
 */
async function addedRows(session: Pick<SqlSession, "query">) {
  const { rows } = await session.query<{ follows: number; posts: number; unknown: number }>(
    `WITH extra_follows AS (SELECT follower_id, followee_id FROM follows WHERE id > $1),
          fanout_follows AS (SELECT followee_id FROM extra_follows WHERE follower_id IS DISTINCT FROM (SELECT id FROM users WHERE handle_key = $3)),
          extra_posts AS (SELECT root_id, reply_to_id FROM posts WHERE id > $2)
     SELECT (SELECT count(*) FROM extra_follows)::int AS follows, (SELECT count(*) FROM extra_posts)::int AS posts,
            ((SELECT count(DISTINCT followee_id) FROM fanout_follows) > 1)::int
            + (SELECT count(*) FROM extra_posts WHERE reply_to_id IS NULL)::int
            + ((SELECT count(DISTINCT root_id) FROM extra_posts) > 1)::int AS unknown`,
    [BENCH_SIZE.follows, BENCH_SIZE.posts, "alice"],
  );
  return rows[0]!;
}
