import type { EmailTokenPurpose, PrismaClient } from "@prisma/client";
import { z } from "zod";
import type { Config } from "../../config.js";
import { isUniqueViolation } from "../../db-errors.js";
import { ValidationError, parseInput } from "../../errors.js";
import { type Tx, queueMail, wakeOutbox } from "../../jobs/outbox.js";
import type { Client } from "../auth/auth.service.js";
import { hashPassword, newSecret, sha256, verifyPassword } from "../auth/credentials.js";
import type { Viewer } from "../auth/viewer.js";
import { changeEmailMail, emailChangedMail, resetPasswordMail, verifyEmailMail } from "../mail/templates.js";
import { Email, Password } from "../users/users.service.js";

type Db = PrismaClient;
type AccountConfig = Pick<Config, "mail">;

export const EMAIL_TOKEN_PREFIX = "chirp_et_";
// newSecret: the prefix and 32 random bytes (256 bits) in base64url.
const TOKEN_FORMAT = /^chirp_et_[A-Za-z0-9_-]{43}$/;

const MALFORMED = "This is not a Chirp link token: copy the whole link from the mail.";
const UNKNOWN = "This link is not valid (a newer one replaces it); ask for a new one.";
const USED = "This link was already used.";
const EXPIRED = "This link has expired; ask for a new one.";
const STALE = "This link was sent to an address the account no longer has.";

/**
 * The frontend's page for a link. The token goes in the fragment, which browsers send to no server:
 * it stays out of access logs and Referer headers.
 */
const link = (config: AccountConfig, page: string, token: string) => `${config.mail.appUrl}/${page}#token=${token}`;

/** Issues a token, replacing the user's earlier unused ones of the purpose: only the latest link works. */
async function issueToken(tx: Tx, userId: number, purpose: EmailTokenPurpose, email: string, ttlSeconds: number) {
  const { secret, hash } = newSecret(EMAIL_TOKEN_PREFIX);
  await tx.emailToken.deleteMany({ where: { userId, purpose, usedAt: null } });
  await tx.emailToken.create({ data: { tokenHash: hash, userId, purpose, email, expiresAt: new Date(Date.now() + ttlSeconds * 1000) } });
  return secret;
}

/**
 * The token's row if it may be used now. It is found by the SHA-256 of what was sent: the database
 * compares hashes, never the secret, and a caller who varies the secret cannot steer the hash byte
 * by byte, so the look-up's timing tells nothing about a valid token (the reason constant-time
 * comparison exists). Nothing else compares the secret.
 */
async function usableToken(tx: Tx, token: string, purposes: EmailTokenPurpose[]) {
  if (!TOKEN_FORMAT.test(token)) throw ValidationError.of("token", MALFORMED);
  const found = await tx.emailToken.findUnique({
    where: { tokenHash: sha256(token) },
    select: { id: true, purpose: true, email: true, usedAt: true, expiresAt: true, user: { select: { id: true, handle: true, email: true, emailVerifiedAt: true } } },
  });
  if (!found || !purposes.includes(found.purpose)) throw ValidationError.of("token", UNKNOWN);
  if (found.usedAt) throw ValidationError.of("token", USED);
  if (found.expiresAt.getTime() <= Date.now()) throw ValidationError.of("token", EXPIRED);
  if (found.purpose !== "CHANGE_EMAIL" && found.email !== found.user.email) throw ValidationError.of("token", STALE);
  return found;
}

/** Marks the token used; of two requests racing with one token, only one gets past this. */
async function useToken(tx: Tx, id: number) {
  const { count } = await tx.emailToken.updateMany({ where: { id, usedAt: null }, data: { usedAt: new Date() } });
  if (count === 0) throw ValidationError.of("token", USED);
}

export async function requestEmailVerification(db: Db, config: AccountConfig, viewer: Viewer, { rateLimits, ip }: Client) {
  const user = await db.user.findUniqueOrThrow({ where: { id: viewer.id }, select: { handle: true, email: true, emailVerifiedAt: true } });
  if (user.emailVerifiedAt) throw ValidationError.of("email", "Your address is already verified.");
  await rateLimits.mailTo(user.email, ip);
  const ttl = config.mail.verificationTtlSeconds;
  await db.$transaction(async (tx) => {
    const token = await issueToken(tx, viewer.id, "VERIFY_EMAIL", user.email, ttl);
    await queueMail(tx, user.email, verifyEmailMail(user.handle, link(config, "verify-email", token), ttl));
  });
  wakeOutbox(db);
  return true;
}

/**
 * Follows a verification link: the account's address is verified, or (a change of address) becomes
 * the new one, with a notice to the old one. The users' unique email index settles a race with a
 * sign-up or another change that took the address meanwhile: the transaction fails whole.
 */
export async function verifyEmail(db: Db, config: AccountConfig, token: string) {
  let changed = false;
  try {
    const userId = await db.$transaction(async (tx) => {
      const found = await usableToken(tx, token, ["VERIFY_EMAIL", "CHANGE_EMAIL"]);
      await useToken(tx, found.id);
      const { user } = found;
      if (found.purpose === "VERIFY_EMAIL") {
        await tx.user.update({ where: { id: user.id }, data: { emailVerifiedAt: new Date() } });
        return user.id;
      }
      await queueMail(tx, user.email, emailChangedMail(user.handle, found.email, `${config.mail.appUrl}/reset-password`));
      await tx.user.update({ where: { id: user.id }, data: { email: found.email, emailVerifiedAt: new Date() } });
      // Links sent to the old address stop working with it.
      await tx.emailToken.deleteMany({ where: { userId: user.id, usedAt: null } });
      changed = true;
      return user.id;
    });
    if (changed) wakeOutbox(db);
    return userId;
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw ValidationError.of("token", "Another account took this address meanwhile; ask for a change to another one.");
    }
    throw error;
  }
}

const PasswordResetRequest = z.object({ email: Email });

/**
 * Answers the same whether or not an account has the address: the same result, the same rate limits
 * (counted before the look-up), and the same work but two inserts; the mail goes out from the outbox,
 * after the answer. A suspended account gets no link.
 */
export async function requestPasswordReset(db: Db, config: AccountConfig, input: z.input<typeof PasswordResetRequest>, client: Client) {
  const { email } = parseInput(PasswordResetRequest, input);
  await client.rateLimits.passwordReset(email, client.ip);
  const ttl = config.mail.resetTtlSeconds;
  const queued = await db.$transaction(async (tx) => {
    const user = await tx.user.findUnique({ where: { email }, select: { id: true, handle: true, suspendedAt: true } });
    if (!user || user.suspendedAt) return false;
    const token = await issueToken(tx, user.id, "RESET_PASSWORD", email, ttl);
    await queueMail(tx, email, resetPasswordMail(user.handle, link(config, "reset-password", token), ttl));
    return true;
  });
  if (queued) wakeOutbox(db);
  return true;
}

const PasswordReset = z.object({ token: z.string(), password: Password });

/**
 * Sets a new password from a reset link, and ends every session (their refresh tokens with them) and
 * every API token: a reset is what someone does who thinks another has their password, and a token
 * minted by that other would outlive it. Following the link also proves the address.
 */
export async function resetPassword(db: Db, input: z.input<typeof PasswordReset>) {
  const { token, password } = parseInput(PasswordReset, input);
  // The link is checked before argon2 runs, so a made-up token costs no hashing.
  await usableToken(db, token, ["RESET_PASSWORD"]);
  const passwordHash = await hashPassword(password);
  return db.$transaction(async (tx) => {
    const { id, user } = await usableToken(tx, token, ["RESET_PASSWORD"]);
    await useToken(tx, id);
    const now = new Date();
    await tx.user.update({ where: { id: user.id }, data: { passwordHash, emailVerifiedAt: user.emailVerifiedAt ?? now } });
    const sessions = await tx.session.updateMany({ where: { userId: user.id, revokedAt: null }, data: { revokedAt: now } });
    const apiTokens = await tx.apiToken.updateMany({ where: { userId: user.id, revokedAt: null }, data: { revokedAt: now } });
    await tx.emailToken.deleteMany({ where: { userId: user.id, purpose: "RESET_PASSWORD", usedAt: null } });
    return { endedSessions: sessions.count, revokedApiTokens: apiTokens.count };
  });
}

const EmailChange = z.object({ email: Email, password: z.string().min(1, "Enter your password") });

/**
 * Sends a link to the new address; the account's address changes only when it is followed. The
 * password is asked again, counted like a log-in: a stolen access token alone must not be able to
 * move the account's mail (and with it, password resets) to its thief.
 */
export async function changeEmail(db: Db, config: AccountConfig, viewer: Viewer, input: z.input<typeof EmailChange>, client: Client) {
  const { email, password } = parseInput(EmailChange, input);
  const user = await db.user.findUniqueOrThrow({ where: { id: viewer.id }, select: { handle: true, email: true, passwordHash: true } });
  const account = `user:${viewer.id}`;
  await client.rateLimits.logInAttempt(account, client.ip);
  if (!(await verifyPassword(user.passwordHash, password))) throw ValidationError.of("password", "Wrong password");
  await client.rateLimits.logInSucceeded(account, client.ip);
  if (email === user.email) throw ValidationError.of("email", "This is already your address");
  await client.rateLimits.addressChange(account, email, client.ip);
  // The same answer for an address another account has, and no mail: whether an address has an
  // account is not told here, as requestPasswordReset does not tell it.
  if (await db.user.findUnique({ where: { email }, select: { id: true } })) return true;
  const ttl = config.mail.verificationTtlSeconds;
  await db.$transaction(async (tx) => {
    const token = await issueToken(tx, viewer.id, "CHANGE_EMAIL", email, ttl);
    await queueMail(tx, email, changeEmailMail(user.handle, link(config, "verify-email", token), ttl));
  });
  wakeOutbox(db);
  return true;
}

/** The periodic clean-up: links past their time or used, and sent messages after a week (dead ones stay for a look). */
export async function removeExpiredEmailData(db: Db) {
  const day = 86_400_000;
  const tokens = await db.emailToken.deleteMany({ where: { OR: [{ expiresAt: { lt: new Date() } }, { usedAt: { lt: new Date(Date.now() - day) } }] } });
  const messages = await db.outboxMessage.deleteMany({ where: { status: "SENT", sentAt: { lt: new Date(Date.now() - 7 * day) } } });
  return { tokens: tokens.count, messages: messages.count };
}
