import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PrismaPg } from "@prisma/adapter-pg";
import { type Prisma, PrismaClient } from "@prisma/client";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { datamodel } from "./generated/sql-datamodel.js";
import { trackStatement } from "./observability/scope.js";
import { buildModels } from "./sql/model.js";
import { type Fallback, SqlReader, type SqlReaderOptions } from "./sql/reader.js";
import { TableVersions, type TransactionWrites, tableCatalog } from "./sql/table-versions.js";

/** One SQL connection, used by the migration runner and the seed (multi-statement scripts allowed). */
export interface SqlSession {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
  exec(sql: string): Promise<void>;
  release(): Promise<void>;
}

/** A node-postgres pool's counts (pg.Pool has them), for the metrics. */
export interface PoolCounts {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

export interface Database {
  kind: "pglite" | "postgresql";
  /** PostgreSQL's connection pool; PGlite has none (one connection, in this process). */
  pool?: PoolCounts;
  prisma: PrismaClient;
  /** Compiled reads for the hot paths, on the same connections as Prisma. */
  reader: SqlReader;
  /** A dedicated connection, for work that needs session state such as an advisory lock. */
  session(): Promise<SqlSession>;
  /** What every statement sent through this database wrote: what the response cache holds answers against. */
  versions: TableVersions;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A real PostgreSQL when set; PGlite otherwise. */
  url?: string | undefined;
  /** PGlite's data folder; undefined keeps it in memory. */
  dataDir?: string | undefined;
  poolSize?: number;
  /** How long a query waits for a PostgreSQL connection before it fails (node-postgres waits forever by default). */
  connectTimeoutMs?: number;
  /**
   * How long a transaction may take, waiting for row locks included, before it is rolled back and the
   * request answered SERVICE_UNAVAILABLE. Prisma's default (5 s) failed writes queued behind a busy row.
   */
  transactionTimeoutMs?: number;
  /** Called with every SQL statement Prisma sends (used by the SQL-counting tests and benchmarks). */
  onQuery?: (sql: string) => void;
  /** Called for every read the SQL reader hands to Prisma. */
  onFallback?: (fallback: Fallback) => void;
}

const models = buildModels(datamodel);
const catalog = tableCatalog(datamodel);
const readerOptions = ({ onQuery, onFallback }: DatabaseOptions): SqlReaderOptions => ({ models, onQuery, onFallback });

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.url ? openPostgres(options.url, options) : openPGlite(options);
}

const DEFAULT_TRANSACTION_TIMEOUT_MS = 15_000;

type AdapterFactory = NonNullable<Prisma.PrismaClientOptions["adapter"]>;

function createPrisma(factory: AdapterFactory, versions: TableVersions, { onQuery, transactionTimeoutMs, connectTimeoutMs }: DatabaseOptions) {
  const adapter = tracked(factory, versions);
  // A transaction waits for a pooled connection as long as a query does (the pool's own timeout reports it).
  const transactionOptions = { timeout: transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS, maxWait: (connectTimeoutMs ?? 5_000) + 1_000 };
  if (!onQuery) return new PrismaClient({ adapter, transactionOptions });
  const prisma = new PrismaClient({ adapter, transactionOptions, log: [{ emit: "event", level: "query" }] });
  prisma.$on("query", (event) => onQuery(event.query));
  return prisma;
}

async function openPGlite(options: DatabaseOptions): Promise<Database> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  // Extensions the migrations create must be loaded into PGlite's build first.
  const pglite = await PGlite.create({ dataDir: options.dataDir, extensions: { pg_trgm } });
  const versions = new TableVersions(catalog);
  const prisma = createPrisma(new PrismaPGlite(pglite), versions, options);
  return {
    kind: "pglite",
    prisma,
    versions,
    // PGlite names no statements; its query waits for any open transaction, like a pool connection would.
    reader: new SqlReader(({ text, values }) => versions.statement(text, () => trackStatement(text, () => pglite.query(text, values))), readerOptions(options)),
    // PGlite is a single connection: the session is the database itself.
    session: async () => {
      const tracked = versions.session();
      return {
        query: async (sql, params) => tracked(sql, () => pglite.query(sql, params)),
        exec: async (sql) => void (await tracked(sql, () => pglite.exec(sql))),
        release: async () => {},
      };
    },
    close: async () => {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}

async function openPostgres(url: string, options: DatabaseOptions): Promise<Database> {
  const connectionTimeoutMillis = options.connectTimeoutMs ?? 5_000;
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10, connectionTimeoutMillis });
  // An idle connection that dies (PostgreSQL stopped or restarted) is dropped by the pool, and the next
  // query reports the outage; without a listener its 'error' event would end the process.
  pool.on("error", () => {});
  const versions = new TableVersions(catalog);
  const prisma = createPrisma(releasingFailedTransactions(new PrismaPg(pool)), versions, options);
  return {
    kind: "postgresql",
    pool,
    prisma,
    versions,
    reader: new SqlReader((statement) => versions.statement(statement.text, () => trackStatement(statement.text, () => pool.query(statement))), readerOptions(options)),
    session: async () => {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis });
      // A failure shows in the next query; the 'error' event alone would end the process.
      client.on("error", () => {});
      await client.connect();
      const tracked = versions.session();
      return {
        query: async <R>(sql: string, params?: unknown[]) => (await tracked(sql, () => client.query(sql, params))) as unknown as { rows: R[] },
        exec: async (sql) => void (await tracked(sql, () => client.query(sql))),
        release: () => client.end(),
      };
    },
    close: async () => {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

type PgAdapter = Awaited<ReturnType<PrismaPg["connect"]>>;
type Adapter = Awaited<ReturnType<AdapterFactory["connect"]>>;
type Queryable = Pick<Adapter, "queryRaw" | "executeRaw">;

/**
 * Every statement Prisma sends, counted and timed for the request in scope (and a span when it is
 * traced), where it reaches the driver: BEGIN inside startTransaction, and the COMMIT or ROLLBACK an
 * adapter sends itself (PGlite's "phantom" ones), included. Each also moves the versions of the
 * tables it writes (`versions`): outside a transaction as it is sent and once it returns, inside one
 * as it is sent and again at the transaction's COMMIT or ROLLBACK.
 */
function tracked(factory: AdapterFactory, versions: TableVersions): AdapterFactory {
  const connect = factory.connect.bind(factory);
  const track = (queryable: Queryable, transaction?: TransactionWrites) => {
    const queryRaw = queryable.queryRaw.bind(queryable);
    const executeRaw = queryable.executeRaw.bind(queryable);
    queryable.queryRaw = (query) => versions.statement(query.sql, () => trackStatement(query.sql, () => queryRaw(query)), transaction);
    queryable.executeRaw = (query) => versions.statement(query.sql, () => trackStatement(query.sql, () => executeRaw(query)), transaction);
  };
  factory.connect = async () => {
    const adapter = await connect();
    track(adapter);
    // Scripts (several statements; Prisma's migration tooling sends them) count as one statement of all their words.
    const executeScript = adapter.executeScript.bind(adapter);
    adapter.executeScript = (script) => versions.statement(script, () => trackStatement(script, () => executeScript(script)));
    const startTransaction = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (isolationLevel) => {
      const transaction = await trackStatement("BEGIN", () => startTransaction(isolationLevel));
      const writes: TransactionWrites = { tables: 0 };
      track(transaction, writes);
      if (transaction.options.usePhantomQuery) {
        const commit = transaction.commit.bind(transaction);
        const rollback = transaction.rollback.bind(transaction);
        transaction.commit = () => versions.ending(writes, () => trackStatement("COMMIT", commit));
        transaction.rollback = () => versions.ending(writes, () => trackStatement("ROLLBACK", rollback));
      }
      return transaction;
    };
    return adapter;
  };
  return factory;
}

/**
 * Prisma 6.19 returns a transaction's connection to the pool only after its COMMIT or ROLLBACK
 * succeeds: when the connection died mid-transaction (PostgreSQL stopped), ROLLBACK fails and the
 * connection stays checked out for good, so each such transaction takes a slot of the pool until
 * none is left and pool.end() hangs. Release it whenever that last statement fails.
 */
function releasingFailedTransactions(factory: PrismaPg): PrismaPg {
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const adapter: PgAdapter = await connect();
    const startTransaction = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (isolationLevel) => {
      const transaction = await startTransaction(isolationLevel);
      const executeRaw = transaction.executeRaw.bind(transaction);
      transaction.executeRaw = async (query) => {
        try {
          return await executeRaw(query);
        } catch (error) {
          // rollback() only releases the connection (the pool drops it when it is broken); it sends no SQL.
          if (query.sql === "COMMIT" || query.sql === "ROLLBACK") await transaction.rollback();
          throw error;
        }
      };
      return transaction;
    };
    return adapter;
  };
  return factory;
}
