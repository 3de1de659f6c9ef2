import type { PrismaClient } from "@prisma/client";
import type { Config, OutboxSettings } from "../../src/config.js";
import { startWorker } from "../../src/jobs/worker.js";
import { createMailer } from "../../src/modules/mail/mailer.js";
import { testLogger } from "./logs.js";

/** Retries in tens of milliseconds, so tests of a mail server that is down stay short. */
export const fastOutbox: OutboxSettings = { pollMs: 200, leaseMs: 2_000, retryBaseMs: 20, retryMaxMs: 200, maxAttempts: 50 };

/** An outbox worker in this process, sending to `smtpUrl`. */
export function testWorker(db: PrismaClient, config: Config, smtpUrl: string, settings: Partial<OutboxSettings> = {}, extra: Partial<Parameters<typeof startWorker>[0]> = {}) {
  const logger = testLogger();
  return startWorker({ db, logger, mailer: createMailer({ ...config.mail, smtpUrl }, logger), settings: { ...fastOutbox, ...settings }, ...extra });
}

/** Polls until `check` returns something truthy. */
export async function eventually<T>(check: () => Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
