import pg from "pg";
import { openDatabase } from "../../src/db.js";
import { migrate } from "../../src/migrate.js";
import { templateName } from "./database.js";

/** On PostgreSQL, migrates a template database once; each worker clones it (PGlite needs nothing here). */
export default async function setup() {
  const url = process.env.DATABASE_URL;
  if (!url) return;
  const template = templateName(url);
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${template}"`);
  } finally {
    await client.end();
  }
  const templateUrl = new URL(url);
  templateUrl.pathname = `/${template}`;
  const db = await openDatabase({ url: templateUrl.toString(), poolSize: 1 });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
}
