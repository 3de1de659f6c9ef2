import { createApp } from "./app.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { openDatabase } from "./db.js";
import { loadDemoData } from "./demo.js";
import { ErrorReporter } from "./error-reporter.js";
import { createHttpServer } from "./http-server.js";
import { startWorker } from "./jobs/worker.js";
import { createLogger } from "./logger.js";
import { migrate } from "./migrate.js";
import { sweepUnattachedMedia } from "./modules/media/media.service.js";
import { createStorage } from "./modules/media/media.storage.js";
import { removeExpiredEmailData } from "./modules/account/account.service.js";
import { createMailer } from "./modules/mail/mailer.js";
import { createEventBus } from "./realtime/bus.js";
import { Realtime } from "./realtime/live.js";
import { attachWebSockets } from "./realtime/websocket.js";

const startedAt = performance.now();
let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
const logger = createLogger(config.logLevel);
// Only with OTEL_EXPORTER_OTLP_ENDPOINT: without it there is no provider, and no span is ever made.
const tracing = config.tracing.enabled ? (await import("./observability/tracing-sdk.js")).startTracing() : undefined;

const db = await openDatabase({
  url: config.databaseUrl,
  dataDir: config.dataDir,
  poolSize: config.databasePoolSize,
  connectTimeoutMs: config.databaseConnectTimeoutMs,
  transactionTimeoutMs: config.databaseTransactionTimeoutMs,
  // A read the SQL reader cannot compile costs Prisma's CPU time instead: LOG_LEVEL=debug shows which and why.
  onFallback: (fallback) => logger.debug(fallback, "SQL reader: read through Prisma"),
});
if (db.kind === "pglite") {
  // The embedded database migrates itself; a real PostgreSQL is migrated by `npm run db:migrate` before deploys.
  const { applied, fresh } = await migrate(db);
  if (applied.length > 0) logger.info({ migrations: applied }, "applied migrations");
  if (fresh && config.demoData) {
    const counts = await loadDemoData(db);
    logger.info(counts, "loaded demo data into the new embedded database (DEMO_DATA=false turns this off)");
  }
}

// Sends the outbox (at once for this process's own commits, by polling for other instances') and runs periodic tasks.
const storage = createStorage(config.media.storage);
const worker = startWorker({
  db: db.prisma,
  logger,
  mailer: createMailer(config.mail, logger),
  settings: config.outbox,
  periodic: [
    { name: "remove-expired-email-data", intervalMs: 3_600_000, run: removeExpiredEmailData },
    // Uploads never attached within a day, and media of deleted posts and replaced avatars, with their files.
    { name: "sweep-unattached-media", intervalMs: 3_600_000, run: (db) => sweepUnattachedMedia(db, storage) },
  ],
});

const shutdown = new AbortController();
const realtime = new Realtime(createEventBus(config.realtime, logger), config.realtime, logger);
// One reporter for HTTP and WebSocket errors: one count per kind, flushed once when the app is disposed.
const reporter = new ErrorReporter(logger);
const app = createApp({ db: db.prisma, reader: db.reader, config, logger, shutdown: shutdown.signal, storage, realtime, reporter, pool: db.pool, tracer: tracing?.tracer, versions: db.versions });
const { server, drain } = createHttpServer(app, config.http);
attachWebSockets(server, app, realtime, config, logger, reporter);
server.on("error", async (error: NodeJS.ErrnoException) => {
  // Most often another Chirp (or anything else) already listens there: say so, without a stack trace.
  const reason = error.code === "EADDRINUSE" ? `port ${config.port} is already in use (PORT sets another)` : error.message;
  logger.fatal({ code: error.code }, `cannot listen on ${config.host}:${config.port}: ${reason}`);
  await worker.stop();
  await db.close();
  process.exit(1);
});
server.listen(config.port, config.host, () => {
  const { port } = server.address() as { port: number };
  const url = `http://localhost:${port}/graphql`;
  logger.info(
    { url, port, database: db.kind, events: realtime.bus.kind, metrics: config.metrics.enabled, tracing: config.tracing.enabled, startupMs: Math.round(performance.now() - startedAt) },
    `Chirp is ready at ${url}`,
  );
});

async function stop(signal: string) {
  if (shutdown.signal.aborted) return;
  shutdown.abort();
  logger.info({ signal }, "shutting down");
  // Live streams never finish by themselves: WebSockets close with 1001, SSE streams end, then the drain.
  await realtime.close();
  // Let in-flight requests (and their transactions) finish, then close the database: closing it first
  // fails every open transaction with "Unknown transaction status".
  // Meanwhile the worker's send in flight finishes and is marked; a claim it never got to runs out its lease.
  const [{ cut }] = await Promise.all([drain(config.shutdownTimeoutMs), worker.stop()]);
  if (cut > 0) logger.warn({ connections: cut }, "cut connections still busy after SHUTDOWN_TIMEOUT");
  await app.dispose();
  await db.close();
  // The spans of the last requests, still in the batch.
  await tracing?.shutdown().catch((error: unknown) => logger.warn({ err: { message: (error as Error).message } }, "could not export the last spans"));
  logger.info("stopped");
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
