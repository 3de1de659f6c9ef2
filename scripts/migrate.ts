import pg from "pg";
import { ConfigError, loadConfig } from "../src/config.js";
import { openDatabase } from "../src/db.js";
import { MigrationError, migrate } from "../src/migrate.js";

/** A first deploy (or CI) may point at a database that does not exist yet on the server. */
async function createDatabaseIfMissing(url: string) {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
      console.log(`Created database ${name}.`);
    }
  } finally {
    await client.end();
  }
}

// `npm run db:migrate`: applies pending migrations to DATABASE_URL (or the embedded database's data folder).
try {
  const config = loadConfig();
  if (config.databaseUrl) await createDatabaseIfMissing(config.databaseUrl);
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
  try {
    const { applied } = await migrate(db);
    console.log(applied.length > 0 ? `Applied ${applied.length} migration(s):\n  ${applied.join("\n  ")}` : "The database is up to date.");
  } finally {
    await db.close();
  }
} catch (error) {
  if (!(error instanceof ConfigError || error instanceof MigrationError)) throw error;
  console.error(error.message);
  process.exit(1);
}
