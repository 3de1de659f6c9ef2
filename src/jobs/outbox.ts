import { Prisma, type PrismaClient } from "@prisma/client";
import { v7 as uuidv7 } from "uuid";
import type { Mail } from "../modules/mail/templates.js";
import type { OutgoingMail } from "../modules/mail/mailer.js";
import { currentScope } from "../observability/scope.js";

/** A Prisma client or the transaction client of `$transaction(async (tx) => …)`. */
export type Tx = Prisma.TransactionClient | PrismaClient;

/**
 * Queues a mail. Call it with the transaction of the change that causes it: the message exists if and
 * only if the change committed. Then call `wakeOutbox(db)` after the commit, so this process sends it at once.
 */
export async function queueMail(tx: Tx, recipient: string, mail: Mail) {
  const id = uuidv7();
  await tx.outboxMessage.create({ data: { id, recipient, template: mail.template, subject: mail.subject, text: mail.text, html: mail.html, runAt: new Date() } });
  const scope = currentScope();
  if (scope) rememberOrigin(id, scope.id);
  return id;
}

/** The requests that queued this process's recent messages, so the lines about sending one carry its request's id. */
const origins = new Map<string, string>();
const MAX_ORIGINS = 10_000;

function rememberOrigin(messageId: string, requestId: string) {
  if (origins.size >= MAX_ORIGINS) origins.delete(origins.keys().next().value!);
  origins.set(messageId, requestId);
}

/** The id of the request that queued the message, when this process queued it. */
export const originOf = (messageId: string) => origins.get(messageId);

const listeners = new WeakMap<object, Set<() => void>>();

/** Tells this process's workers on `db` that a message was committed. */
export function wakeOutbox(db: PrismaClient) {
  for (const listener of listeners.get(db) ?? []) listener();
}

export function onOutboxWake(db: PrismaClient, listener: () => void) {
  let set = listeners.get(db);
  if (!set) listeners.set(db, (set = new Set()));
  set.add(listener);
  return () => void set.delete(listener);
}

export interface Claimed extends OutgoingMail {
  /** This claim's number: marking the message sent or failed needs it to be still the latest claim. */
  attempts: number;
}

// The database's clock, in UTC like the timestamp(3) columns Prisma writes, so instances never compare their own clocks.
const NOW = Prisma.sql`timezone('UTC', now())`;

/**
 * Takes up to `limit` due messages for `leaseMs`, in one statement: rows another worker is claiming
 * right now are skipped (SKIP LOCKED), and a message whose lease ran out (its worker died) is due again.
 */
export function claimDue(db: PrismaClient, limit: number, leaseMs: number) {
  return db.$queryRaw<Claimed[]>`
    UPDATE outbox_messages SET attempts = attempts + 1, locked_until = ${NOW} + ${leaseMs} * interval '1 millisecond'
    WHERE id IN (
      SELECT id FROM outbox_messages
      WHERE status = 'PENDING' AND run_at <= ${NOW} AND (locked_until IS NULL OR locked_until <= ${NOW})
      ORDER BY run_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING id::text AS id, template, recipient, subject, text, html, attempts`;
}

/** Whether this claim was still the message's own (a claim that outlived its lease may have been taken over). */
export async function markSent(db: PrismaClient, claim: Claimed) {
  const count = await db.$executeRaw`
    UPDATE outbox_messages SET status = 'SENT', sent_at = ${NOW}, locked_until = NULL, last_error = NULL, text = NULL, html = NULL
    WHERE id = ${claim.id}::uuid AND attempts = ${claim.attempts} AND status = 'PENDING'`;
  return count === 1;
}

/** Schedules the next attempt after `delayMs`, or ends the message as DEAD when `dead`. */
export async function markFailed(db: PrismaClient, claim: Claimed, error: string, delayMs: number, dead: boolean) {
  await db.$executeRaw`
    UPDATE outbox_messages
    SET locked_until = NULL, last_error = ${error.slice(0, 500)}, run_at = ${NOW} + ${delayMs} * interval '1 millisecond',
        status = ${dead ? "DEAD" : "PENDING"}::"OutboxStatus",
        text = CASE WHEN ${dead} THEN NULL ELSE text END, html = CASE WHEN ${dead} THEN NULL ELSE html END
    WHERE id = ${claim.id}::uuid AND attempts = ${claim.attempts} AND status = 'PENDING'`;
}

/**
 * A message whose last claim outlived its lease with no worker left to end it, when claims ran out
 * (each claim counts): it is dead rather than claimed for ever.
 */
export function buryExhausted(db: PrismaClient, maxAttempts: number) {
  return db.$queryRaw<{ id: string; template: string; attempts: number }[]>`
    UPDATE outbox_messages SET status = 'DEAD', locked_until = NULL, text = NULL, html = NULL,
      last_error = coalesce(last_error, 'its worker stopped during every attempt')
    WHERE status = 'PENDING' AND attempts >= ${maxAttempts} AND locked_until <= ${NOW}
    RETURNING id::text AS id, template, attempts`;
}

/** How long until the next pending message may be claimed (its retry time, or its lease's end), or null when none is pending. */
export async function msUntilNextDue(db: PrismaClient) {
  const [row] = await db.$queryRaw<{ ms: number | null }[]>`
    SELECT (extract(epoch FROM min(greatest(run_at, coalesce(locked_until, run_at))) - ${NOW}) * 1000)::float8 AS ms
    FROM outbox_messages WHERE status = 'PENDING'`;
  return row?.ms ?? null;
}

/** Exponential backoff, capped, with "equal jitter" (half fixed, half random): instances that failed together retry apart. */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Periodic tasks: their rows, due at once for a task new to the database (a worker's start writes them). */
export async function addSchedules(db: PrismaClient, names: string[]) {
  for (const name of names) await db.$executeRaw`INSERT INTO job_schedules (name, next_run_at) VALUES (${name}, ${NOW}) ON CONFLICT (name) DO NOTHING`;
}

/** Moves the task's next run forward if it is due; whoever does so runs it, once per interval across instances. */
export async function claimSchedule(db: PrismaClient, name: string, intervalMs: number) {
  const count = await db.$executeRaw`
    UPDATE job_schedules SET last_run_at = ${NOW}, next_run_at = ${NOW} + ${intervalMs} * interval '1 millisecond'
    WHERE name = ${name} AND next_run_at <= ${NOW}`;
  return count === 1;
}
