// An outbox worker in a process of its own, for the crash test (test/outbox.test.ts): on the database
// of DATABASE_URL, or the embedded one in DATA_DIR. SEED_EMAIL: first sign that address up and ask a
// password reset for it (through the services, as the API does). HANG_AFTER_SEND: once the SMTP server
// accepted a message, print a line and hang before marking it sent, so the test can SIGKILL it there.
import { loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db.js";
import { startWorker } from "../../src/jobs/worker.js";
import { createLogger } from "../../src/logger.js";
import { migrate } from "../../src/migrate.js";
import { requestPasswordReset } from "../../src/modules/account/account.service.js";
import { createMailer } from "../../src/modules/mail/mailer.js";
import { createUser } from "../../src/modules/users/users.service.js";
import { RateLimits } from "../../src/rate-limits.js";

const config = loadConfig();
const logger = createLogger("info");
const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
if (db.kind === "pglite") await migrate(db);
const email = process.env.SEED_EMAIL;
if (email) {
  await createUser(db.prisma, { handle: "crash_test", email, password: "correct horse battery" });
  await requestPasswordReset(db.prisma, config, { email }, { userAgent: null, ip: "local", rateLimits: new RateLimits(config.rateLimits) });
}
const worker = startWorker({
  db: db.prisma,
  logger,
  mailer: createMailer(config.mail, logger),
  settings: config.outbox,
  afterSend: process.env.HANG_AFTER_SEND
    ? async (mail) => {
        logger.info({ messageId: mail.id, attempts: mail.attempts }, "fault: accepted by the server, not marked sent");
        await new Promise(() => {});
      }
    : undefined,
});
logger.info("worker started");
process.on("SIGTERM", async () => {
  await worker.stop();
  await db.close();
  process.exit(0);
});
