import type { PrismaClient, Role } from "@prisma/client";
import type { Config } from "./config.js";
import { authenticate } from "./modules/auth/auth.service.js";
import type { RateLimits } from "./modules/auth/rate-limits.js";
import type { SqlReader } from "./sql/reader.js";

/** Who is making the request, resolved once from the Authorization header. */
export interface Viewer {
  id: number;
  role: Role;
  suspended: boolean;
  /** False for a personal API token without the WRITE scope. */
  canWrite: boolean;
  /** The signed-in session, when the request carries an access token (not an API token). */
  sessionId: string | null;
}

export interface Context {
  db: PrismaClient;
  reader: SqlReader;
  config: Config;
  rateLimits: RateLimits;
  viewer: Viewer | null;
  userAgent: string | null;
  /** The client's address, for rate limits ("local" when the request did not come over a socket). */
  clientIp: string;
}

export interface ContextDeps {
  db: PrismaClient;
  reader: SqlReader;
  config: Config;
  rateLimits: RateLimits;
}

export async function createContext(deps: ContextDeps, request: Request, socket?: { remoteAddress?: string }): Promise<Context> {
  const viewer = await authenticate(deps.db, deps.reader, deps.config.jwt, request.headers.get("authorization"));
  return {
    ...deps,
    viewer,
    userAgent: request.headers.get("user-agent"),
    clientIp: clientIp(request, socket, deps.config.trustProxy),
  };
}

function clientIp(request: Request, socket: { remoteAddress?: string } | undefined, trustProxy: boolean) {
  const forwarded = trustProxy ? request.headers.get("x-forwarded-for")?.split(",")[0]?.trim() : undefined;
  return forwarded || socket?.remoteAddress || "local";
}
