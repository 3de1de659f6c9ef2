import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { simpleParser } from "mailparser";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../src/db.js";
import { queueMail, retryDelay } from "../src/jobs/outbox.js";
import { startWorker, type Worker } from "../src/jobs/worker.js";
import { createLogger } from "../src/logger.js";
import { createMailer, messageId } from "../src/modules/mail/mailer.js";
import { verifyEmailMail } from "../src/modules/mail/templates.js";
import { graphql } from "./gql/index.js";
import { type TestApi, testApi, testConfig } from "./support/api.js";
import { recreateDatabase, templateName } from "./support/database.js";
import { logLines } from "./support/logs.js";
import { eventually, fastOutbox, testWorker } from "./support/mail.js";
import { type Smtp, startSmtp } from "./support/smtp.js";

const RequestReset = graphql(`
  mutation OutboxRequestReset($input: RequestPasswordResetInput!) { requestPasswordReset(input: $input) { __typename } }
`);

let api: TestApi;
let smtp: Smtp;
const workers: Worker[] = [];
const start = (...args: Parameters<typeof testWorker> extends [unknown, unknown, unknown, ...infer R] ? R : never) => {
  const worker = testWorker(api.db, testConfig, smtp.url(), ...args);
  workers.push(worker);
  return worker;
};

beforeAll(async () => {
  api = await testApi();
  smtp = await startSmtp();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await smtp.start();
});
afterAll(() => smtp.stop());

const row = (recipient: string) => api.db.outboxMessage.findFirstOrThrow({ where: { recipient } });

describe("retries", () => {
  it("keeps a message while the mail server is down and delivers it once it is back", async () => {
    start();
    const user = await api.signUp();
    await smtp.stop();
    await api.execute(RequestReset, { input: { email: user.email } });
    // Attempts fail and are scheduled again (20 ms doubling, capped at 200 ms), nothing is lost.
    const failing = await eventually(async () => {
      const r = await row(user.email);
      // Between attempts (not claimed), so the delivery below is a later claim.
      return r.attempts >= 3 && r.lockedUntil === null && r;
    });
    expect(failing).toMatchObject({ status: "PENDING", lastError: expect.stringContaining("ECONNREFUSED") });
    expect(failing.text).toContain("#token=");
    expect(logLines.some((l) => l.includes("mail not sent; will retry"))).toBe(true);

    await smtp.start();
    const received = await smtp.mailTo(user.email);
    const sent = await eventually(async () => {
      const r = await row(user.email);
      return r.status === "SENT" && r;
    });
    expect(received.messageId).toBe(messageId(sent.id, testConfig.mail.from));
    expect(sent.attempts).toBeGreaterThan(failing.attempts);
    expect(smtp.received.filter((r) => r.to === user.email)).toHaveLength(1);
  });

  it("ends a message as DEAD after its last attempt, logged, its bodies (links) cleared", async () => {
    await smtp.stop();
    start({ maxAttempts: 3 });
    await queueMail(api.db, "dead@example.com", verifyEmailMail("someone", "http://x.test/#token=t", 3600));
    const dead = await eventually(async () => {
      const r = await row("dead@example.com");
      return r.status === "DEAD" && r;
    });
    expect(dead).toMatchObject({ attempts: 3, text: null, html: null, lockedUntil: null });
    expect(logLines.some((l) => l.includes("mail dead: giving up after the last attempt"))).toBe(true);
  });

  it("backs off exponentially with jitter, up to the cap", () => {
    expect([1, 2, 3, 4, 10].map((n) => retryDelay(n, 100, 1_000, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 10].map((n) => retryDelay(n, 100, 1_000, () => 1))).toEqual([100, 200, 400, 800, 1_000]);
  });
});

describe("without SMTP_URL (development)", () => {
  it("writes each message as an .eml file in DATA_DIR/mail and logs its links", async () => {
    const fileDir = mkdtempSync(join(tmpdir(), "chirp-mail-"));
    const lines: string[] = [];
    const logger = createLogger("info", new Writable({ write: (chunk, _encoding, done) => done(void lines.push(String(chunk))) }));
    try {
      const worker = startWorker({ db: api.db, logger, mailer: createMailer({ ...testConfig.mail, smtpUrl: undefined, fileDir }, logger), settings: fastOutbox });
      workers.push(worker);
      const id = await queueMail(api.db, "dev@example.com", verifyEmailMail("dev", "http://localhost:3000/verify-email#token=abc123", 3600));
      worker.wake();
      const file = join(fileDir, `${id}.eml`);
      const eml = await eventually(async () => existsSync(file) && readFileSync(file));
      const parsed = await simpleParser(eml);
      expect(parsed).toMatchObject({ subject: "Confirm your email address for Chirp", messageId: messageId(id, testConfig.mail.from) });
      expect(parsed.html).toContain("verify-email#token=abc123");
      await eventually(async () => lines.some((l) => l.includes(`"links":["http://localhost:3000/verify-email#token=abc123"]`)));
    } finally {
      rmSync(fileDir, { recursive: true, force: true });
    }
  });
});

describe("several workers on one database", () => {
  it("never send one message twice: every message reaches the server once", async () => {
    // Two workers, each claiming three at a time; on PostgreSQL their claims run on separate connections at once.
    start({}, { batchSize: 3 });
    start({}, { batchSize: 3 });
    const recipients = Array.from({ length: 30 }, (_, i) => `many-${i}@example.com`);
    await api.db.$transaction(async (tx) => {
      for (const to of recipients) await queueMail(tx, to, verifyEmailMail("someone", "http://x.test/#token=t", 3600));
    });
    for (const w of workers) w.wake();
    await eventually(async () => (await api.db.outboxMessage.count({ where: { recipient: { in: recipients }, status: "SENT" } })) === 30);
    const got = smtp.received.filter((r) => recipients.includes(r.to));
    expect(got).toHaveLength(30);
    expect(new Set(got.map((r) => r.messageId)).size).toBe(30);
    expect(await api.db.outboxMessage.count({ where: { recipient: { in: recipients }, attempts: 1 } })).toBe(30);
  });

  it("run a periodic task once per interval between them", async () => {
    let runs = 0;
    const task = { name: `count-${Date.now()}`, intervalMs: 60_000, run: async () => ++runs };
    start({}, { periodic: [task] });
    start({}, { periodic: [task] });
    for (let i = 0; i < 5; i++) {
      for (const w of workers) w.wake();
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    await eventually(async () => runs > 0);
    expect(runs).toBe(1);
  });
});

describe("a worker killed between the server's acceptance and the commit", () => {
  const ROOT = fileURLToPath(new URL("..", import.meta.url));
  const children = new Set<ChildProcess>();
  afterAll(() => {
    for (const child of children) child.kill("SIGKILL");
  });

  function spawnWorker(env: Record<string, string>) {
    const child = spawn(process.execPath, ["--import", "tsx", "test/support/outbox-worker.ts"], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: "test", JWT_SECRET: "test-secret-that-is-at-least-32-chars!", SMTP_URL: smtp.url(), OUTBOX_POLL_MS: "100", OUTBOX_LEASE_MS: "1500", OUTBOX_RETRY_BASE_MS: "20", OUTBOX_RETRY_MAX_MS: "200", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const waitFor = (pattern: RegExp) =>
      eventually(async () => pattern.test(output) || (child.exitCode !== null && Promise.reject(new Error(`the worker exited:\n${output}`))), 30_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${output}`);
      });
    return { child, exited, waitFor, output: () => output };
  }

  it("resends it with the same Message-ID once the lease runs out, and marks it sent once", async () => {
    // A database of its own, which the worker processes open themselves.
    const dataDir = mkdtempSync(join(tmpdir(), "chirp-outbox-"));
    const url = process.env.DATABASE_URL ? await recreateDatabase(process.env.DATABASE_URL, "outbox_crash", templateName(process.env.DATABASE_URL)) : undefined;
    const target: Record<string, string> = url ? { DATABASE_URL: url } : { DATA_DIR: dataDir };
    const email = `crash-${Date.now()}@example.com`;
    try {
      const first = spawnWorker({ ...target, SEED_EMAIL: email, HANG_AFTER_SEND: "1" });
      await first.waitFor(/fault: accepted by the server, not marked sent/);
      const once = await smtp.mailTo(email);
      first.child.kill("SIGKILL");
      await first.exited;

      const second = spawnWorker(target);
      const again = await smtp.mailTo(email, { skip: 1, timeoutMs: 30_000 });
      await second.waitFor(/"msg":"mail sent"/);
      second.child.kill("SIGTERM");
      await second.exited;

      // At least once, recognisably the same message: same Message-ID, same link.
      expect(again.messageId).toBe(once.messageId);
      expect(again.token).toBe(once.token);
      expect(smtp.received.filter((r) => r.to === email)).toHaveLength(2);
      const db = await openDatabase({ url, dataDir: url ? undefined : join(dataDir, "pglite") });
      try {
        const rows = await db.prisma.outboxMessage.findMany({ where: { recipient: email } });
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ status: "SENT", attempts: 2, text: null, html: null });
        expect(once.messageId).toBe(messageId(rows[0]!.id, testConfig.mail.from));
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
