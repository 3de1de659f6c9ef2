import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MIGRATIONS_DIR } from "../src/migrate.js";

// `npm run db:migration -- <name>`: writes the SQL from the last migrated schema to prisma/schema.prisma.
// No database is needed: the schema as of the last migration is kept beside the migrations.
export const SNAPSHOT = join(MIGRATIONS_DIR, "schema.snapshot.prisma");
const SCHEMA = fileURLToPath(new URL("../prisma/schema.prisma", import.meta.url));

const name = process.argv[2];
if (!name || !/^[a-z0-9_]{1,60}$/.test(name)) {
  console.error("Usage: npm run db:migration -- <name>   (lower-case letters, digits and underscores, e.g. add_bookmarks)");
  process.exit(2);
}

const sql = execFileSync(
  "npx",
  ["prisma", "migrate", "diff", "--from-schema-datamodel", SNAPSHOT, "--to-schema-datamodel", SCHEMA, "--script"],
  { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
);
if (!/^\s*[A-Z]/m.test(sql)) {
  console.log("prisma/schema.prisma has no changes since the last migration: nothing to write.");
  process.exit(0);
}
const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
const folder = join(MIGRATIONS_DIR, `${stamp}_${name}`);
mkdirSync(folder);
writeFileSync(join(folder, "migration.sql"), sql);
copyFileSync(SCHEMA, SNAPSHOT);
console.log(`Wrote ${folder}/migration.sql. Review it, then apply it with npm start (embedded) or npm run db:migrate.`);
