import { createHash, randomBytes } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { v7 as uuidv7 } from "uuid";
import { KEY_PARSERS } from "../../graphql/ids.js";

// OWASP's argon2id recommendation: 19 MiB of memory, 2 iterations, 1 degree of parallelism.
const ARGON2 = { algorithm: 2 /* Algorithm.Argon2id: a const enum, not importable under isolatedModules */, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (password: string) => hash(password, ARGON2);
export const verifyPassword = (passwordHash: string, password: string) => verify(passwordHash, password).catch(() => false);

/** A hash of a real password, checked against when the account does not exist so both paths cost the same. */
let decoyHash: Promise<string> | undefined;
export const decoyPasswordHash = () => (decoyHash ??= hashPassword(randomBytes(16).toString("hex")));

export const REFRESH_TOKEN_PREFIX = "chirp_rt_";
export const API_TOKEN_PREFIX = "chirp_pat_";

/** An opaque secret; only its SHA-256 is stored. */
export function newSecret(prefix: string) {
  const secret = prefix + randomBytes(32).toString("base64url");
  return { secret, hash: sha256(secret) };
}

/** Session ids are UUIDv7: they sort by creation, so lists of sessions page by id like every other list. */
export const newSessionId = () => uuidv7();

export const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

export interface JwtSettings {
  secret: Uint8Array;
  issuer: string;
  audience: string;
  accessTtl: number;
}

const ALGORITHM = "HS256";

// jose imports a raw secret into WebCrypto on every call; every request verifies a token, so the key is imported once.
const keys = new WeakMap<Uint8Array, Promise<CryptoKey>>();
function hmacKey(secret: Uint8Array) {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new Uint8Array(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(secret, key);
  }
  return key;
}

export async function signAccessToken(jwt: JwtSettings, userId: number, sessionId: string) {
  const expiresAt = new Date(Date.now() + jwt.accessTtl * 1000);
  const token = await new SignJWT({ sid: sessionId })
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setSubject(String(userId))
    .setIssuer(jwt.issuer)
    .setAudience(jwt.audience)
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(await hmacKey(jwt.secret));
  return { token, expiresAt };
}

const EXPIRED = { reason: "The access token has expired; refresh the session." };
// RFC 6750's b64token: what any bearer token of ours is made of.
const TOKEN_SYNTAX = /^[A-Za-z0-9._~+/-]+=*$/;
const NOT_A_TOKEN = {
  reason: 'The Authorization header holds no access token: after "Bearer " put the accessToken that logIn returned, without quotes or brackets.',
};

/**
 * Access tokens already verified, per settings and by their text, with their expiry. A signature
 * that was valid stays valid, so a token seen again is only checked for expiry: jose verifies through
 * WebCrypto at about 0.2 ms of CPU, a fifth of an authenticated request's fixed cost. The session
 * itself is still read on every request, so revocation stays immediate. Oldest entries go first.
 */
const verifiedTokens = new WeakMap<JwtSettings, Map<string, VerifiedToken>>();
const VERIFIED_TOKENS_KEPT = 10_000;

interface VerifiedToken {
  sessionId: string;
  userId: number;
  expiresAt: number;
}

/** Returns the session and user of a valid access token, or a reason it is not valid. */
export async function verifyAccessToken(jwt: JwtSettings, token: string): Promise<Omit<VerifiedToken, "expiresAt"> | { reason: string }> {
  let verified = verifiedTokens.get(jwt);
  if (!verified) verifiedTokens.set(jwt, (verified = new Map()));
  const known = verified.get(token);
  if (known) {
    if (known.expiresAt > Date.now()) return known;
    verified.delete(token);
    return EXPIRED;
  }
  try {
    const { payload } = await jwtVerify(token, await hmacKey(jwt.secret), {
      algorithms: [ALGORITHM],
      issuer: jwt.issuer,
      audience: jwt.audience,
      requiredClaims: ["sub", "sid", "exp"],
    });
    const userId = KEY_PARSERS.int(payload.sub!);
    if (typeof payload.sid !== "string" || KEY_PARSERS.uuid(payload.sid) === null || userId === null) {
      return { reason: "The access token is malformed." };
    }
    if (verified.size >= VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value!);
    const entry = { sessionId: payload.sid, userId, expiresAt: payload.exp! * 1000 };
    verified.set(token, entry);
    return entry;
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return EXPIRED;
    // A placeholder (GraphiQL's "Bearer <accessToken>") or a token pasted with its quotes: say what to send.
    if (!TOKEN_SYNTAX.test(token)) return NOT_A_TOKEN;
    return { reason: "The access token is invalid." };
  }
}
