import type { PrismaClient } from "@prisma/client";
import type { OutboxSettings } from "../config.js";
import type { Logger } from "../logger.js";
import type { Mailer } from "../modules/mail/mailer.js";
import { RequestScope, detached, inScope } from "../observability/scope.js";
import { type Claimed, addSchedules, buryExhausted, claimDue, claimSchedule, markFailed, markSent, msUntilNextDue, onOutboxWake, originOf, retryDelay } from "./outbox.js";

/** Work that runs once per `intervalMs` across every instance (e.g. removing expired tokens). */
export interface PeriodicTask {
  name: string;
  intervalMs: number;
  run(db: PrismaClient): Promise<unknown>;
}

export interface WorkerOptions {
  db: PrismaClient;
  logger: Logger;
  mailer: Mailer;
  settings: OutboxSettings;
  periodic?: PeriodicTask[];
  /** Messages claimed per round. */
  batchSize?: number;
  /** For tests that stop a worker between the server's acceptance and the commit. */
  afterSend?: (mail: Claimed) => Promise<void>;
}

export interface Worker {
  /** Runs a round now (also done when this process commits a message, and every pollMs). */
  wake(): void;
  /** Lets the round in flight finish (its sends, their marks), then stops; claims it never started run out their lease. */
  stop(): Promise<void>;
}

/**
 * The outbox worker: claims due messages with a lease (claim → send with Message-ID = the row's id →
 * mark sent), retries failures with backoff, and runs the periodic tasks. Several instances may run
 * on one database: claims skip each other's rows, and an expired lease is claimed again, so a crash
 * after sending resends with the same Message-ID (at least once; a receiver can drop the copy).
 */
export function startWorker({ db, logger, mailer, settings, periodic = [], batchSize = 10, afterSend }: WorkerOptions): Worker {
  let stopped = false;
  let round: Promise<void> | null = null;
  let again = false;
  const log = logger.child({ component: "outbox" });

  // The lines about a message carry the id of the request that queued it (when this process did).
  function deliver(claim: Claimed) {
    const origin = originOf(claim.id);
    return origin ? inScope(new RequestScope(origin), () => send(claim)) : send(claim);
  }

  async function send(claim: Claimed) {
    try {
      await mailer.send(claim);
    } catch (error) {
      const dead = claim.attempts >= settings.maxAttempts;
      const delayMs = retryDelay(claim.attempts, settings.retryBaseMs, settings.retryMaxMs);
      const reason = error instanceof Error ? error.message : String(error);
      await markFailed(db, claim, reason, delayMs, dead);
      if (dead) log.error({ messageId: claim.id, template: claim.template, attempts: claim.attempts, reason }, "mail dead: giving up after the last attempt");
      else log.warn({ messageId: claim.id, template: claim.template, attempts: claim.attempts, retryInMs: delayMs, reason }, "mail not sent; will retry");
      return;
    }
    await afterSend?.(claim);
    const own = await markSent(db, claim);
    log.info({ messageId: claim.id, template: claim.template, attempts: claim.attempts, own }, "mail sent");
  }

  // Once per start, not per round: every round asks whether a task is due.
  let scheduled: Promise<void> | undefined;
  async function runPeriodic() {
    // A failed write (the database away) is tried again next round.
    scheduled ??= addSchedules(db, periodic.map((task) => task.name)).catch((error: unknown) => {
      scheduled = undefined;
      throw error;
    });
    await scheduled;
    for (const task of periodic) {
      if (stopped || !(await claimSchedule(db, task.name, task.intervalMs))) continue;
      try {
        const result = await task.run(db);
        log.info({ task: task.name, result }, "periodic task ran");
      } catch (error) {
        log.error({ task: task.name, err: error }, "periodic task failed");
      }
    }
  }

  async function runRound() {
    do {
      again = false;
      for (const dead of await buryExhausted(db, settings.maxAttempts)) log.error(dead, "mail dead: its worker stopped during every attempt");
      let claimed: Claimed[];
      do {
        claimed = await claimDue(db, batchSize, settings.leaseMs);
        await Promise.all(claimed.map(deliver));
      } while (claimed.length === batchSize && !stopped);
      await runPeriodic();
    } while (again && !stopped);
  }

  function wake() {
    if (stopped) return;
    if (round) {
      again = true;
      return;
    }
    // A request's commit wakes the worker: the round is no part of that request.
    round = detached(runRound)
      .catch((error: unknown) => log.error({ err: error }, "outbox round failed; the next poll tries again"))
      .finally(() => {
        round = null;
        // A retry due before the next poll is not waited for past its time.
        void nextRetry();
      });
  }

  let retryTimer: NodeJS.Timeout | undefined;
  async function nextRetry() {
    if (stopped) return;
    const delay = await msUntilNextDue(db).catch(() => null);
    if (delay === null || delay >= settings.pollMs || stopped) return;
    clearTimeout(retryTimer);
    // Never sooner than 50 ms: a message due now but not claimed is another worker's, committed a moment ago.
    retryTimer = setTimeout(wake, Math.max(50, delay + 5));
  }

  const unsubscribe = onOutboxWake(db, wake);
  const poll = setInterval(wake, settings.pollMs);
  wake();

  return {
    wake,
    stop: async () => {
      stopped = true;
      clearInterval(poll);
      clearTimeout(retryTimer);
      unsubscribe();
      await round;
      mailer.close();
    },
  };
}
