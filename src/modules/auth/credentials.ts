import { createHash, randomBytes } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";

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

export const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

export interface JwtSettings {
  secret: Uint8Array;
  issuer: string;
  audience: string;
  accessTtl: number;
}

const ALGORITHM = "HS256";

export async function signAccessToken(jwt: JwtSettings, userId: number, sessionId: string) {
  const expiresAt = new Date(Date.now() + jwt.accessTtl * 1000);
  const token = await new SignJWT({ sid: sessionId })
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setSubject(String(userId))
    .setIssuer(jwt.issuer)
    .setAudience(jwt.audience)
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(jwt.secret);
  return { token, expiresAt };
}

/** Returns the session id of a valid access token, or a reason it is not valid. */
export async function verifyAccessToken(jwt: JwtSettings, token: string): Promise<{ sessionId: string } | { reason: string }> {
  try {
    const { payload } = await jwtVerify(token, jwt.secret, {
      algorithms: [ALGORITHM],
      issuer: jwt.issuer,
      audience: jwt.audience,
      requiredClaims: ["sub", "sid", "exp"],
    });
    if (typeof payload.sid !== "string") return { reason: "The access token is malformed." };
    return { sessionId: payload.sid };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return { reason: "The access token has expired; refresh the session." };
    return { reason: "The access token is invalid." };
  }
}
