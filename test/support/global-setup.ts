import { openDatabase } from "../../src/db.js";
import { migrate } from "../../src/migrate.js";
import { recreateDatabase } from "./database.js";

/** On PostgreSQL, migrates a template database once; each worker clones it (PGlite needs nothing here). */
export default async function setup() {
  const url = process.env.DATABASE_URL;
  if (!url) return;
  const db = await openDatabase({ url: await recreateDatabase(url, "template"), poolSize: 1 });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
}
