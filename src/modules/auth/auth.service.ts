import type { PrismaClient, Role, TokenScope } from "@prisma/client";
import { z } from "zod";
import type { Config } from "../../config.js";
import { wakeOutbox } from "../../jobs/outbox.js";
import { recordDevice } from "../account/devices.js";
import { VIEWER_USER_SELECT, type Viewer, toViewer } from "./viewer.js";
import { AuthenticationError, ForbiddenError, NotFoundError, ValidationError, parseInput } from "../../errors.js";
import { createUser, handleKey } from "../users/users.service.js";
import type { SqlReader } from "../../sql/reader.js";
import type { KeptReads } from "../../sql/table-versions.js";
import type { RateLimits } from "../../rate-limits.js";
import {
  API_TOKEN_PREFIX,
  type JwtSettings,
  REFRESH_TOKEN_PREFIX,
  decoyPasswordHash,
  newSecret,
  newSessionId,
  sha256,
  signAccessToken,
  verifyAccessToken,
  verifyPassword,
} from "./credentials.js";

type Db = PrismaClient;
type AuthConfig = Pick<Config, "jwt" | "mail">;

const INVALID_LOGIN = "Wrong handle, email or password.";
const SESSION_ENDED = "The session has ended; log in again.";
const SUSPENDED = "This account is suspended.";
// API token lastUsedAt is a hint, not an audit log: refresh it at most this often.
const LAST_USED_PRECISION_MS = 5 * 60_000;

/**
 * Resolves an Authorization header to a viewer; a present but unusable credential is an error, not
 * anonymity. The one place that applies suspension: every credential of a suspended account, session
 * or API token, is refused here, so a suspended user can do nothing until unsuspended.
 */
export async function authenticate(db: Db, reader: SqlReader, jwt: JwtSettings, header: string, sessions?: KeptSessions): Promise<Viewer> {
  const token = bearerToken(header);
  const credential = token.startsWith(API_TOKEN_PREFIX) ? await apiTokenCredential(db, token) : await accessTokenCredential(db, reader, jwt, token, sessions);
  return viewerOf(credential);
}

/** What authenticate answers for each header, or the error it would throw: for a refused credential, or a fault. */
export type Authenticated = Viewer | AuthenticationError | ForbiddenError;

/**
 * `authenticate` for many headers at once (the subscribers an event wakes), by the same rules and as
 * fresh: one statement for all the sessions, one for all the API tokens (and one to note their use),
 * however many headers. Each answer is in the place of its header.
 */
export async function authenticateMany(db: Db, reader: SqlReader, jwt: JwtSettings, headers: readonly string[]): Promise<Authenticated[]> {
  type Parsed = { kind: "session"; verified: { sessionId: string; userId: number } } | { kind: "apiToken"; hash: string } | { kind: "refused"; error: AuthenticationError };
  const parsed = await Promise.all(
    headers.map(async (header): Promise<Parsed> => {
      try {
        const token = bearerToken(header);
        if (token.startsWith(API_TOKEN_PREFIX)) return { kind: "apiToken", hash: sha256(token) };
        const verified = await verifyAccessToken(jwt, token);
        if ("reason" in verified) throw new AuthenticationError(verified.reason);
        return { kind: "session", verified };
      } catch (error) {
        if (error instanceof AuthenticationError) return { kind: "refused", error };
        throw error;
      }
    }),
  );
  const sessionIds = [...new Set(parsed.flatMap((p) => (p.kind === "session" ? [p.verified.sessionId] : [])))];
  const tokenHashes = [...new Set(parsed.flatMap((p) => (p.kind === "apiToken" ? [p.hash] : [])))];
  const [sessions, apiTokens] = await Promise.all([
    sessionIds.length === 0 ? [] : reader.findMany("Session", { where: { id: { in: sessionIds } }, select: SESSION_SELECT }, (q) => db.session.findMany(q)),
    tokenHashes.length === 0 ? [] : db.apiToken.findMany({ where: { tokenHash: { in: tokenHashes } }, select: API_TOKEN_SELECT }),
  ]);
  const sessionById = new Map(sessions.map((s) => [s.id, s]));
  const apiTokenByHash = new Map(apiTokens.map((t) => [t.tokenHash, t]));
  const now = Date.now();
  const answers = parsed.map((p): Authenticated => {
    if (p.kind === "refused") return p.error;
    try {
      return viewerOf(p.kind === "session" ? sessionCredential(sessionById.get(p.verified.sessionId) ?? null, p.verified) : apiTokenCheck(apiTokenByHash.get(p.hash) ?? null, now).credential);
    } catch (error) {
      if (error instanceof AuthenticationError || error instanceof ForbiddenError) return error;
      throw error;
    }
  });
  const used = apiTokens.filter((t) => usable(t, now) && dueNote(t, now)).map((t) => t.id);
  if (used.length > 0) await db.apiToken.updateMany({ where: { id: { in: used } }, data: { lastUsedAt: new Date(now) } });
  return answers;
}

function bearerToken(header: string) {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new AuthenticationError('The Authorization header must be "Bearer <token>".');
  return match[1]!;
}

function viewerOf({ user, canRead, canWrite, sessionId }: Credential): Viewer {
  if (user.suspendedAt) throw new ForbiddenError(SUSPENDED);
  return toViewer(user, { canRead, canWrite, sessionId });
}

type ViewerUser = Parameters<typeof toViewer>[0] & { suspendedAt: Date | null };

interface Credential {
  user: ViewerUser;
  canRead: boolean;
  canWrite: boolean;
  sessionId: string | null;
}

const SESSION_SELECT = { id: true, revokedAt: true, expiresAt: true, user: { select: VIEWER_USER_SELECT } } as const;

/**
 * Sessions kept between requests while none of the tables they were read from (sessions, users,
 * blocks, mutes) changes: a revocation, a suspension or a new block is an UPDATE or INSERT there,
 * so the next request reads the session again (src/sql/table-versions.ts).
 */
export type KeptSessions = KeptReads<SessionRow>;

// Every request with an access token runs this: one light statement through the SQL reader, none when its session is kept.
async function accessTokenCredential(db: Db, reader: SqlReader, jwt: JwtSettings, token: string, sessions?: KeptSessions): Promise<Credential> {
  const verified = await verifyAccessToken(jwt, token);
  if ("reason" in verified) throw new AuthenticationError(verified.reason);
  const read = () => reader.findFirst("Session", { where: { id: verified.sessionId }, select: SESSION_SELECT }, (q) => db.session.findUnique(q)) as Promise<SessionRow | null>;
  const session = sessions ? await sessions.get(verified.sessionId, read) : await read();
  return sessionCredential(session, verified);
}

export type SessionRow = { id: string; revokedAt: Date | null; expiresAt: Date; user: ViewerUser };

function sessionCredential(session: SessionRow | null, verified: { userId: number }): Credential {
  if (!session || session.revokedAt || session.expiresAt.getTime() <= Date.now()) throw new AuthenticationError(SESSION_ENDED);
  // Only a holder of the signing key could write a token whose subject is not its session's user.
  if (session.user.id !== verified.userId) throw new AuthenticationError("The access token is invalid.");
  return { user: session.user, canRead: true, canWrite: true, sessionId: session.id };
}

const API_TOKEN_SELECT = { id: true, tokenHash: true, scopes: true, revokedAt: true, expiresAt: true, lastUsedAt: true, user: { select: VIEWER_USER_SELECT } } as const;

type ApiTokenRow = { id: number; scopes: TokenScope[]; revokedAt: Date | null; expiresAt: Date | null; lastUsedAt: Date | null; user: ViewerUser };

async function apiTokenCredential(db: Db, token: string): Promise<Credential> {
  const found = await db.apiToken.findUnique({ where: { tokenHash: sha256(token) }, select: API_TOKEN_SELECT });
  const now = Date.now();
  const { credential, noteUse } = apiTokenCheck(found, now);
  if (noteUse) await db.apiToken.update({ where: { id: found!.id }, data: { lastUsedAt: new Date(now) } });
  return credential;
}

/** The credential of an API token, and whether its lastUsedAt is due a refresh. */
function apiTokenCheck(found: ApiTokenRow | null, now: number): { credential: Credential; noteUse: boolean } {
  if (!found || !usable(found, now)) throw new AuthenticationError("The API token is invalid, expired or revoked.");
  return { credential: { user: found.user, canRead: found.scopes.includes("READ"), canWrite: found.scopes.includes("WRITE"), sessionId: null }, noteUse: dueNote(found, now) };
}

const usable = (token: ApiTokenRow, now: number) => !token.revokedAt && !(token.expiresAt && token.expiresAt.getTime() <= now);
const dueNote = (token: ApiTokenRow, now: number) => !token.user.suspendedAt && (!token.lastUsedAt || now - token.lastUsedAt.getTime() > LAST_USED_PRECISION_MS);

export interface AuthResult {
  /** The viewer the new credentials stand for: the rest of the request that signed in runs as them. */
  viewer: Viewer;
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
}

const SignUpInput = z.object({
  handle: z.string(),
  email: z.string(),
  password: z.string(),
  displayName: z.string().optional(),
});

/** Where a sign-up or log-in comes from: recorded on the session, and counted by the rate limits. */
export interface Client {
  userAgent: string | null;
  ip: string;
  rateLimits: RateLimits;
}

export async function signUp(db: Db, config: AuthConfig, input: z.input<typeof SignUpInput>, client: Client) {
  const parsed = parseInput(SignUpInput, input);
  await client.rateLimits.signUp(client.ip);
  const user = await createUser(db, parsed);
  const account = { id: user.id, role: user.role, handle: parsed.handle, email: user.email, blocking: [], blockedBy: [], muting: [] };
  return startSession(db, config, account, client, { notifyNewDevice: false });
}

const LogInInput = z.object({ login: z.string().trim().min(1, "Enter your handle or email"), password: z.string().min(1, "Enter your password") });

/**
 * Every attempt is counted before the password is checked, so concurrent guesses cannot all slip
 * under the limit; a success gives the attempt back. Attempts are counted by the account they name
 * (its id, however it was typed), by the client's address, and by the two together.
 */
export async function logIn(db: Db, config: AuthConfig, input: z.input<typeof LogInInput>, client: Client) {
  const { login, password } = parseInput(LogInInput, input);
  const byEmail = login.includes("@");
  const user = await db.user.findFirst({
    where: byEmail ? { email: login.toLowerCase() } : { handleKey: handleKey(login) },
    select: { ...VIEWER_USER_SELECT, handle: true, email: true, passwordHash: true },
  });
  // An unknown account is limited by what was typed: guessing which accounts exist is guessing too.
  const account = user ? `user:${user.id}` : `unknown:${byEmail ? login.toLowerCase() : handleKey(login)}`;
  await client.rateLimits.logInAttempt(account, client.ip);
  // Verify against a decoy when there is no account, so timing does not tell which handles exist.
  const valid = await verifyPassword(user?.passwordHash ?? (await decoyPasswordHash()), password);
  if (!user || !valid) throw new AuthenticationError(INVALID_LOGIN);
  await client.rateLimits.logInSucceeded(account, client.ip);
  if (user.suspendedAt) throw new ForbiddenError(SUSPENDED);
  return startSession(db, config, user, client, { notifyNewDevice: true });
}

type SessionUser = Parameters<typeof toViewer>[0] & { handle: string; email: string };

/** The session and its device are recorded together, with the new-device mail when there is one (see account/devices.ts). */
async function startSession(db: Db, config: AuthConfig, user: SessionUser, client: Client, { notifyNewDevice }: { notifyNewDevice: boolean }): Promise<AuthResult> {
  const refresh = newSecret(REFRESH_TOKEN_PREFIX);
  const refreshTokenExpiresAt = new Date(Date.now() + config.jwt.refreshTtl * 1000);
  const { session, mailed } = await db.$transaction(async (tx) => {
    const session = await tx.session.create({
      data: {
        id: newSessionId(),
        userId: user.id,
        userAgent: client.userAgent?.slice(0, 500) ?? null,
        expiresAt: refreshTokenExpiresAt,
        refreshTokens: { create: { tokenHash: refresh.hash } },
      },
      select: { id: true },
    });
    return { session, mailed: await recordDevice(tx, config, user, client, notifyNewDevice) };
  });
  if (mailed) wakeOutbox(db);
  const access = await signAccessToken(config.jwt, user.id, session.id);
  return {
    viewer: toViewer(user, { canRead: true, canWrite: true, sessionId: session.id }),
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt,
    refreshToken: refresh.secret,
    refreshTokenExpiresAt,
  };
}

/**
 * Trades a refresh token for a new pair. Each refresh token works once: presenting a used one means
 * it was stolen or replayed, and the whole session (every token of the family) is revoked — unless
 * it was used within the last `refreshReuseSeconds`, which is a client refreshing twice at once
 * (two requests failing together); that one gets a pair of its own.
 */
export async function refreshSession(db: Db, config: AuthConfig, refreshToken: string): Promise<AuthResult> {
  const tokenHash = sha256(refreshToken);
  const found = await db.refreshToken.findUnique({
    where: { tokenHash },
    select: {
      session: { select: { id: true, revokedAt: true, expiresAt: true, user: { select: VIEWER_USER_SELECT } } },
    },
  });
  if (!found) throw new AuthenticationError("The refresh token is invalid.");
  const { session } = found;
  if (session.revokedAt || session.expiresAt.getTime() <= Date.now()) throw new AuthenticationError(SESSION_ENDED);
  // Refused before rotation: the token stays usable if the account is unsuspended.
  if (session.user.suspendedAt) throw new ForbiddenError(SUSPENDED);
  const next = newSecret(REFRESH_TOKEN_PREFIX);
  const rotated = await db.$transaction(async (tx) => {
    // Only one caller can mark the token used; a second, concurrent or later, is a replay.
    const { count } = await tx.refreshToken.updateMany({ where: { tokenHash, usedAt: null }, data: { usedAt: new Date() } });
    if (count === 0) {
      const { usedAt } = await tx.refreshToken.findUniqueOrThrow({ where: { tokenHash }, select: { usedAt: true } });
      if (!usedAt || Date.now() - usedAt.getTime() > config.jwt.refreshReuseSeconds * 1000) return false;
    }
    await tx.refreshToken.create({ data: { tokenHash: next.hash, sessionId: session.id } });
    await tx.session.update({ where: { id: session.id }, data: { lastUsedAt: new Date() } });
    return true;
  });
  if (!rotated) {
    await db.session.update({ where: { id: session.id }, data: { revokedAt: new Date() } });
    throw new AuthenticationError("This refresh token was already used; the session has been revoked. Log in again.");
  }
  const access = await signAccessToken(config.jwt, session.user.id, session.id);
  return {
    viewer: toViewer(session.user, { canRead: true, canWrite: true, sessionId: session.id }),
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt,
    refreshToken: next.secret,
    refreshTokenExpiresAt: session.expiresAt,
  };
}

export async function logOut(db: Db, viewer: Viewer) {
  if (!viewer.sessionId) throw new ForbiddenError("An API token has no session to end; revoke the token instead.");
  await db.session.updateMany({ where: { id: viewer.sessionId, revokedAt: null }, data: { revokedAt: new Date() } });
  return true;
}

/** Ends every session of the viewer (API tokens stay: they are revoked one by one). */
export async function logOutEverywhere(db: Db, viewer: Viewer) {
  const { count } = await db.session.updateMany({ where: { userId: viewer.id, revokedAt: null }, data: { revokedAt: new Date() } });
  return count;
}

const CreateApiTokenInput = z.object({
  name: z.string().trim().min(1, "Give the token a name").max(50, "At most 50 characters"),
  scopes: z
    .array(z.enum(["READ", "WRITE"]))
    .min(1, "Choose at least one scope")
    .transform((s) => [...new Set(s)] as TokenScope[]),
  expiresAt: z
    .date()
    .refine((d) => d.getTime() > Date.now(), "Must be in the future")
    .nullish(),
});

const MAX_API_TOKENS = 50;

export async function createApiToken(db: Db, viewer: Viewer, input: z.input<typeof CreateApiTokenInput>) {
  // Otherwise a token that expires could mint itself a successor that never does.
  if (!viewer.sessionId) throw new ForbiddenError("API tokens are created from a signed-in session, not with another API token.");
  const { name, scopes, expiresAt } = parseInput(CreateApiTokenInput, input);
  const active = await db.apiToken.count({ where: { userId: viewer.id, revokedAt: null } });
  if (active >= MAX_API_TOKENS) throw ValidationError.of("name", `You can have at most ${MAX_API_TOKENS} active tokens; revoke one first.`);
  const { secret, hash } = newSecret(API_TOKEN_PREFIX);
  const apiToken = await db.apiToken.create({
    data: { userId: viewer.id, name, scopes, expiresAt: expiresAt ?? null, tokenHash: hash, prefix: secret.slice(0, API_TOKEN_PREFIX.length + 4) },
  });
  return { apiToken, secret };
}

export async function revokeApiToken<Q extends object>(db: Db, viewer: Viewer, id: number, query: Q) {
  const token = await db.apiToken.findFirst({ where: { id, userId: viewer.id }, select: { id: true, revokedAt: true } });
  if (!token) throw new NotFoundError("API token");
  return db.apiToken.update({ ...query, where: { id }, data: { revokedAt: token.revokedAt ?? new Date() } });
}

export async function revokeSession<Q extends object>(db: Db, viewer: Viewer, id: string, query: Q) {
  const session = await db.session.findFirst({ where: { id, userId: viewer.id }, select: { revokedAt: true } });
  if (!session) throw new NotFoundError("Session");
  return db.session.update({ ...query, where: { id }, data: { revokedAt: session.revokedAt ?? new Date() } });
}
