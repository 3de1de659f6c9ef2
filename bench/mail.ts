// npm run bench:mail [-- --rounds 30]: the time from requestPasswordReset's request to the mail's
// arrival at a local SMTP server (smtp-server), through the app, the outbox and its worker, as
// `npm start` runs them. On the embedded database, or on DATABASE_URL's (migrated here first).
import { parseArgs } from "node:util";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { openDatabase } from "../src/db.js";
import { startWorker } from "../src/jobs/worker.js";
import { createLogger } from "../src/logger.js";
import { migrate } from "../src/migrate.js";
import { createMailer } from "../src/modules/mail/mailer.js";
import { startSmtp } from "../test/support/smtp.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "30" } } });
const rounds = Number(values.rounds);
const smtp = await startSmtp();
const config = loadConfig({
  NODE_ENV: "test",
  JWT_SECRET: "bench-secret-that-is-at-least-32-chars!",
  LOG_LEVEL: "silent",
  SMTP_URL: smtp.url(),
  MAILS_PER_ADDRESS: "1000000",
  PASSWORD_RESETS_PER_IP: "1000000",
  ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
});
const logger = createLogger("silent");
const db = await openDatabase({ url: config.databaseUrl });
await migrate(db);
const app = createApp({ db: db.prisma, reader: db.reader, config, logger });
const worker = startWorker({ db: db.prisma, logger, mailer: createMailer(config.mail, logger), settings: config.outbox });

const post = (query: string, variables: unknown) =>
  app.fetch("http://chirp.bench/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) }, { req: { socket: { remoteAddress: "127.0.0.1" } } });
const email = `bench-${Date.now()}@example.com`;
await post(`mutation($input: SignUpInput!) { signUp(input: $input) { __typename } }`, { input: { handle: `bench_${Date.now() % 1e9}`, email, password: "correct horse battery" } });

const times: number[] = [];
for (let i = 0; i < rounds + 3; i++) {
  const started = performance.now();
  const response = await post(`mutation($input: RequestPasswordResetInput!) { requestPasswordReset(input: $input) { __typename } }`, { input: { email } });
  await response.text();
  await smtp.mailTo(email, { skip: i });
  // The first rounds warm the JIT, Prisma and the SMTP connection path up.
  if (i >= 3) times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
console.log(
  `requestPasswordReset → mail at the SMTP server (${db.kind}, ${rounds} rounds): median ${at(0.5)} ms, min ${times[0]!.toFixed(1)} ms, p90 ${at(0.9)} ms, max ${times.at(-1)!.toFixed(1)} ms`,
);
await worker.stop();
await smtp.stop();
await db.close();
