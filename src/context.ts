import type { PrismaClient } from "@prisma/client";
import proxyaddr from "proxy-addr";
import type { Config } from "./config.js";
import type { KeptSessions } from "./modules/auth/auth.service.js";
import type { Viewer } from "./modules/auth/viewer.js";
import type { ImageProcessor } from "./modules/media/media.images.js";
import type { MediaStorage } from "./modules/media/media.storage.js";
import type { RateLimits } from "./rate-limits.js";
import type { EventBus } from "./realtime/bus.js";
import type { LiveConnection, Realtime } from "./realtime/live.js";
import { readerBackedClient } from "./sql/pothos-client.js";
import type { SqlReader } from "./sql/reader.js";

export interface Context {
  db: PrismaClient;
  /** The sessions of access tokens kept between requests (auth.service's KeptSessions); none when SESSION_CACHE_MS is 0. */
  sessions: KeptSessions | undefined;
  /** What Pothos' prisma plugin reads with: ctx.db, its lone lookups through the SQL reader (src/sql/pothos-client.ts). */
  pothosDb: PrismaClient;
  reader: SqlReader;
  config: Config;
  rateLimits: RateLimits;
  storage: MediaStorage;
  processImage: ImageProcessor;
  /** Set by the authentication plugin before execution, from the request's credentials; null when anonymous. */
  viewer: Viewer | null;
  request: Request;
  userAgent: string | null;
  /** The client's address, for rate limits ("local" when the request did not come over a socket). */
  clientIp: string;
  /** Where writes announce what changed (src/realtime/bus.ts), once committed. */
  pubsub: EventBus;
  /** Live updates of this instance: subscriptions' streams and limits. */
  realtime: Realtime;
  /** The WebSocket or graphql-sse single-connection stream an operation came over; null otherwise (distinct SSE streams included). */
  connection: LiveConnection | null;
}

export interface ContextDeps {
  db: PrismaClient;
  sessions: KeptSessions | undefined;
  reader: SqlReader;
  config: Config;
  rateLimits: RateLimits;
  storage: MediaStorage;
  processImage: ImageProcessor;
  realtime: Realtime;
}

export function createContext(deps: ContextDeps, request: Request, socket?: { remoteAddress?: string }, connection?: LiveConnection): Context {
  return {
    ...deps,
    pothosDb: readerBackedClient(deps.db, deps.reader),
    pubsub: deps.realtime.bus,
    connection: connection ?? null,
    viewer: null,
    request,
    userAgent: request.headers.get("user-agent"),
    clientIp: clientIp(request, socket, deps.config.trustProxy),
  };
}

/** The client's address as Express takes it: the nearest X-Forwarded-For entry not written by a trusted proxy. */
export function clientIp(request: Request, socket: { remoteAddress?: string } | undefined, trust: Config["trustProxy"]) {
  if (!socket?.remoteAddress) return "local";
  const forwarded = request.headers.get("x-forwarded-for");
  if (!forwarded) return socket.remoteAddress;
  const req = { headers: { "x-forwarded-for": forwarded }, socket };
  return proxyaddr(req as unknown as Parameters<typeof proxyaddr>[0], trust);
}
