import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../src/config.js";
import { openDatabase } from "../src/db.js";
import { DEMO_PASSWORD, SMALL_DEMO, loadDemoData } from "../src/demo.js";
import { MigrationError, migrate } from "../src/migrate.js";

// `npm run seed -- --users N --posts M [--likes L] [--follows F] [--seed S] [--reset]`: deterministic
// demo data in DATABASE_URL (or the embedded database). Likes and follows default to 5× posts and 10× users.
const { values } = parseArgs({
  options: {
    users: { type: "string", default: String(SMALL_DEMO.users) },
    posts: { type: "string", default: String(SMALL_DEMO.posts) },
    likes: { type: "string" },
    follows: { type: "string" },
    seed: { type: "string", default: String(SMALL_DEMO.seed) },
    reset: { type: "boolean", default: false },
  },
});

function count(name: string, value: string) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 10_000_000) {
    console.error(`--${name} must be a whole number from 0 to 10000000, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}

const size = {
  users: count("users", values.users),
  posts: count("posts", values.posts),
  likes: count("likes", values.likes ?? String(5 * Number(values.posts))),
  follows: count("follows", values.follows ?? String(10 * Number(values.users))),
  seed: count("seed", values.seed),
};

try {
  const config = loadConfig();
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
  try {
    await migrate(db);
    const session = await db.session();
    try {
      if (values.reset) {
        await session.exec("TRUNCATE likes, follows, posts, hashtags, refresh_tokens, sessions, api_tokens, users RESTART IDENTITY CASCADE");
      } else if ((await session.query("SELECT 1 FROM users LIMIT 1")).rows.length > 0) {
        console.error("The database already has users: pass --reset to empty it first.");
        process.exitCode = 1;
      }
    } finally {
      await session.release();
    }
    if (!process.exitCode) {
      const started = performance.now();
      const loaded = await loadDemoData(db, size);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.log(`Loaded ${JSON.stringify(loaded)} in ${seconds} s. Every user's password is ${DEMO_PASSWORD}.`);
    }
  } finally {
    await db.close();
  }
} catch (error) {
  if (!(error instanceof ConfigError || error instanceof MigrationError)) throw error;
  console.error(error.message);
  process.exit(1);
}
