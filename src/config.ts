import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import proxyaddr from "proxy-addr";
import { z } from "zod";
import type { RateLimitSettings } from "./rate-limits.js";

const boolean = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
/** A switch that also reads as on/off. */
const onOff = z.enum(["on", "off", "true", "false", "1", "0"]).transform((v) => v === "on" || v === "true" || v === "1");

/** Which hops of X-Forwarded-For to believe: `hop` counts from the socket's peer (0) towards the client. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * TRUST_PROXY as Express reads it (proxy-addr), except `true`: the number of proxies in front of
 * Chirp, or their addresses and subnets. Trusting every hop would let a client write its own address.
 */
const trustProxy = z
  .string()
  .trim()
  .transform((value, ctx): TrustProxy => {
    if (value === "" || value === "false" || value === "0") return () => false;
    if (/^\d+$/.test(value)) {
      const hops = Number(value);
      return (_address, hop) => hop < hops;
    }
    if (value === "true" || value === "1") {
      ctx.addIssue({ code: "custom", message: "true would trust every X-Forwarded-For entry, which clients write: give the number of proxies in front of Chirp (e.g. 1) or their addresses" });
      return z.NEVER;
    }
    try {
      return proxyaddr.compile(value.split(",").map((entry) => entry.trim()));
    } catch (error) {
      ctx.addIssue({ code: "custom", message: `${(error as Error).message}; give a number of proxies or a list of addresses, subnets (10.0.0.0/8) or loopback, linklocal, uniquelocal` });
      return z.NEVER;
    }
  });

/** Browser origins allowed to call the API (CORS); `*` allows any. */
const corsOrigins = z
  .string()
  .trim()
  .transform((value, ctx) => {
    if (value === "*") return "*" as const;
    const origins = value.split(",").map((entry) => entry.trim()).filter(Boolean);
    for (const origin of origins) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(origin);
      } catch {}
      if (!parsed || parsed.origin !== origin) ctx.addIssue({ code: "custom", message: `${JSON.stringify(origin)} is not an origin such as https://app.example.com` });
    }
    return origins;
  });

const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  HOST: z.string().min(1).default("0.0.0.0"),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// URL")
    .optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  DATABASE_CONNECT_TIMEOUT: z.coerce.number().int().min(1).default(5),
  DATABASE_TRANSACTION_TIMEOUT: z.coerce.number().int().min(1).max(300).default(15),
  DATA_DIR: z.string().min(1).default(".data"),
  DEMO_DATA: boolean.optional(),
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  JWT_ISSUER: z.string().min(1).default("chirp"),
  JWT_AUDIENCE: z.string().min(1).default("chirp-api"),
  ACCESS_TOKEN_TTL: z.coerce.number().int().min(60).max(86_400).default(900),
  REFRESH_TOKEN_TTL: z.coerce.number().int().min(3_600).default(30 * 86_400),
  REFRESH_TOKEN_REUSE_INTERVAL: z.coerce.number().int().min(0).max(300).default(30),
  TRUST_PROXY: trustProxy.prefault("false"),
  CORS_ORIGINS: corsOrigins.optional(),
  REQUEST_BODY_LIMIT: z.coerce.number().int().min(1_024).max(50_000_000).default(102_400),
  GRAPHIQL: boolean.optional(),
  INTROSPECTION: boolean.optional(),
  LOGIN_FAILURES_PER_ACCOUNT_AND_IP: z.coerce.number().int().min(1).default(5),
  LOGIN_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).default(50),
  LOGIN_FAILURES_PER_IP: z.coerce.number().int().min(1).default(100),
  SIGNUPS_PER_IP: z.coerce.number().int().min(1).default(20),
  RATE_LIMIT_WINDOW: z.coerce.number().int().min(1).default(900),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  REQUEST_TIMEOUT: z.coerce.number().int().min(1).default(30),
  HEADERS_TIMEOUT: z.coerce.number().int().min(1).default(10),
  SHUTDOWN_TIMEOUT: z.coerce.number().int().min(1).default(10),
  SMTP_URL: z.string().regex(/^smtps?:\/\//, "must be an smtp:// or smtps:// URL").optional(),
  MAIL_FROM: z.string().trim().min(3).optional(),
  APP_URL: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).optional(),
  EMAIL_VERIFICATION_TTL: z.coerce.number().int().min(60).default(86_400),
  PASSWORD_RESET_TTL: z.coerce.number().int().min(60).default(3_600),
  MAILS_PER_ADDRESS: z.coerce.number().int().min(1).default(5),
  PASSWORD_RESETS_PER_IP: z.coerce.number().int().min(1).default(20),
  OUTBOX_POLL_MS: z.coerce.number().int().min(10).default(5_000),
  OUTBOX_LEASE_MS: z.coerce.number().int().min(100).default(60_000),
  OUTBOX_RETRY_BASE_MS: z.coerce.number().int().min(1).default(10_000),
  OUTBOX_RETRY_MAX_MS: z.coerce.number().int().min(1).default(3_600_000),
  OUTBOX_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(12),
  UPLOAD_MAX_BYTES: z.coerce.number().int().min(1_024).max(100_000_000).default(5_000_000),
  UPLOAD_MAX_FILES: z.coerce.number().int().min(1).max(20).default(4),
  UPLOAD_CONCURRENCY: z.coerce.number().int().min(1).max(64).optional(),
  MEDIA_STORAGE: z.enum(["disk", "s3"]).default("disk"),
  S3_BUCKET: z.string().min(1).optional(),
  S3_REGION: z.string().min(1).default("us-east-1"),
  S3_ENDPOINT: z.url().optional(),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: boolean.optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL").optional(),
  REALTIME_CHANNEL_PREFIX: z.string().min(1).default("chirp:"),
  REALTIME_SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().min(1).default(20),
  REALTIME_SUBSCRIPTIONS_PER_USER: z.coerce.number().int().min(1).default(50),
  REALTIME_CONNECTIONS_PER_IP: z.coerce.number().int().min(1).default(100),
  REALTIME_KEEPALIVE: z.coerce.number().int().min(1).max(300).default(12),
  REALTIME_AUTH_RECHECK: z.coerce.number().int().min(1).default(60),
  REALTIME_MAX_QUEUED_EVENTS: z.coerce.number().int().min(1).default(100),
  REALTIME_MAX_BUFFERED_BYTES: z.coerce.number().int().min(1_024).default(1_048_576),
  REALTIME_SSE_RESERVATION_TIMEOUT: z.coerce.number().int().min(1).max(60).default(5),
  RESPONSE_CACHE: onOff.optional(),
  RESPONSE_CACHE_TTL_MS: z.coerce.number().int().min(1).max(3_600_000).default(30_000),
  RESPONSE_CACHE_MAX_ENTRIES: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  RESPONSE_CACHE_MAX_BYTES: z.coerce.number().int().min(1_024).max(4_294_967_296).default(33_554_432),
  SESSION_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  METRICS: boolean.optional(),
  METRICS_TOKEN: z.string().trim().min(32, "must be at least 32 characters").regex(/^\S+$/, "must not contain spaces").optional(),
  METRICS_MAX_OPERATIONS: z.coerce.number().int().min(1).max(10_000).default(200),
  METRICS_PHASES: boolean.optional(),
  // The OpenTelemetry SDK reads these (and the other OTEL_* variables) itself; they are checked here so a typo stops the start.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).optional(),
  OTEL_SDK_DISABLED: boolean.optional(),
});

export type Config = {
  env: "development" | "production" | "test";
  host: string;
  port: number;
  /** A real PostgreSQL when set; the embedded PGlite database otherwise. */
  databaseUrl: string | undefined;
  databasePoolSize: number;
  /** How long a query waits for a connection to PostgreSQL before it fails. */
  databaseConnectTimeoutMs: number;
  /** How long a write's transaction may take, lock waits included, before it is rolled back (SERVICE_UNAVAILABLE). */
  databaseTransactionTimeoutMs: number;
  /** Where PGlite keeps its files; undefined keeps the embedded database in memory. */
  dataDir: string | undefined;
  demoData: boolean;
  jwt: {
    secret: Uint8Array;
    issuer: string;
    audience: string;
    accessTtl: number;
    refreshTtl: number;
    /** A used refresh token presented again within this many seconds gets a new pair instead of revoking the session. */
    refreshReuseSeconds: number;
  };
  /** Which X-Forwarded-For hops to believe when taking the client's address. */
  trustProxy: TrustProxy;
  /** Browser origins allowed by CORS: a list, `*`, or (development default) localhost on any port. */
  corsOrigins: string[] | "*" | "localhost";
  /** The largest request body accepted, in bytes. */
  requestBodyLimit: number;
  graphiql: boolean;
  introspection: boolean;
  rateLimits: RateLimitSettings;
  logLevel: string;
  /** A request's headers, and all of it, must arrive within these; a slower client is answered 408 and disconnected. */
  http: { headersTimeoutMs: number; requestTimeoutMs: number };
  /** How long in-flight requests get to finish after SIGTERM before their connections are cut. */
  shutdownTimeoutMs: number;
  mail: MailConfig;
  outbox: OutboxSettings;
  media: MediaConfig;
  realtime: RealtimeSettings;
  responseCache: ResponseCacheSettings;
  /** How long the session behind an access token is kept between requests at most, while no table it was read from changes; 0: read every time. */
  sessionCacheMs: number;
  metrics: MetricsSettings;
  /** OpenTelemetry traces, exported over OTLP/HTTP where the OTEL_* variables say. */
  tracing: { enabled: boolean };
};

/** Answers to anonymous queries, kept until a table they read changes (src/graphql/response-cache.ts). */
export interface ResponseCacheSettings {
  enabled: boolean;
  /** The longest an answer is kept: the bound on what the database does not tell (other instances' writes when an event is lost, the clock). */
  ttlMs: number;
  maxEntries: number;
  /** The answers' JSON text, in characters, summed over the entries (their keys included). */
  maxBytes: number;
}

/** /metrics for Prometheus (src/observability/metrics.ts). */
export interface MetricsSettings {
  enabled: boolean;
  /** When set, a scrape must send `Authorization: Bearer <token>`. */
  token: string | undefined;
  /** Distinct operation names that get a label of their own; later ones are `other`. */
  maxOperations: number;
  /** The Prometheus plugin's parse, validate, context and execute histograms. */
  phases: boolean;
}

export interface MailConfig {
  /** Where mail goes; undefined (outside production) writes each message as an .eml file into `fileDir`. */
  smtpUrl: string | undefined;
  fileDir: string;
  from: string;
  /** The frontend that opens the links of the mails (verify-email, reset-password pages). */
  appUrl: string;
  verificationTtlSeconds: number;
  resetTtlSeconds: number;
}

export interface OutboxSettings {
  /** How often a worker looks for messages other instances wrote (its own wake it at once). */
  pollMs: number;
  /** How long a claimed message is its worker's before another may claim it again. */
  leaseMs: number;
  /** The first retry's delay; each further retry doubles it, up to `retryMaxMs`, with jitter. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Claims after which a message that still failed is dead (logged, never sent). */
  maxAttempts: number;
}

export interface MediaConfig {
  /** The largest file of an upload, and how many files one request may carry. */
  maxBytes: number;
  maxFiles: number;
  /** How many images are decoded at once; the others wait their turn. */
  concurrency: number;
  storage: { driver: "disk"; dir: string } | { driver: "s3"; bucket: string; region: string; endpoint?: string; forcePathStyle: boolean; credentials?: { accessKeyId: string; secretAccessKey: string } };
}

/** Live updates (src/realtime): the event bus and the limits of subscriptions. */
export interface RealtimeSettings {
  /** Redis carries events between instances when set; otherwise they stay in this process. */
  redisUrl: string | undefined;
  /** Put before every Redis channel name, so deployments (or test runs) sharing a Redis do not mix. */
  channelPrefix: string;
  subscriptionsPerConnection: number;
  /** Live subscriptions of one user on this instance, over every connection. */
  subscriptionsPerUser: number;
  /** Open WebSockets and SSE streams from one client address. */
  connectionsPerIp: number;
  /** How often a WebSocket is pinged (graphql-ws ping); Yoga and graphql-sse send an SSE comment every 12 s. */
  keepAliveMs: number;
  /** How often an idle subscription checks that its credential still works (revoked, suspended, expired). */
  authRecheckMs: number;
  /** Events a subscriber may leave unread before it is dropped as a slow consumer. */
  maxQueuedEvents: number;
  /** Bytes a WebSocket may leave unsent before it is closed as a slow consumer. */
  maxBufferedBytes: number;
  /** How long a graphql-sse reservation (a PUT) waits for the GET that opens it before it is released. */
  sseReservationTimeoutMs: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses the environment once; every problem is listed in one message. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === "production";
  if (production && e.DEMO_DATA) {
    throw new ConfigError("Invalid configuration:\n  DEMO_DATA: demo data (with a published admin password) is never loaded when NODE_ENV=production");
  }
  // Node's HTTP server refuses a headers timeout longer than the request timeout.
  if (e.HEADERS_TIMEOUT > e.REQUEST_TIMEOUT) throw new ConfigError("Invalid configuration:\n  HEADERS_TIMEOUT: must not exceed REQUEST_TIMEOUT");
  // Production mail must leave the machine, and its links must reach the real frontend.
  const missing = production ? (["JWT_SECRET", "SMTP_URL", "MAIL_FROM", "APP_URL"] as const).filter((name) => !e[name]) : [];
  if (missing.length > 0) throw new ConfigError(`Invalid configuration:\n${missing.map((name) => `  ${name}: required when NODE_ENV=production`).join("\n")}`);
  if (e.MEDIA_STORAGE === "s3" && !e.S3_BUCKET) throw new ConfigError("Invalid configuration:\n  S3_BUCKET: required when MEDIA_STORAGE=s3");
  // In production the metrics (operation names, error rates, pool figures) are for the operators only.
  if (production && e.METRICS && !e.METRICS_TOKEN) throw new ConfigError("Invalid configuration:\n  METRICS: needs METRICS_TOKEN when NODE_ENV=production");
  if (!e.S3_ACCESS_KEY_ID !== !e.S3_SECRET_ACCESS_KEY) throw new ConfigError("Invalid configuration:\n  S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: give both or neither (the SDK's default credentials)");
  const dataDir = resolve(e.DATA_DIR);
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    databaseConnectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT * 1000,
    databaseTransactionTimeoutMs: e.DATABASE_TRANSACTION_TIMEOUT * 1000,
    dataDir: e.DATABASE_URL ? undefined : join(dataDir, "pglite"),
    demoData: e.DEMO_DATA ?? !production,
    jwt: {
      secret: new TextEncoder().encode(e.JWT_SECRET ?? developmentSecret(dataDir)),
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      accessTtl: e.ACCESS_TOKEN_TTL,
      refreshTtl: e.REFRESH_TOKEN_TTL,
      refreshReuseSeconds: e.REFRESH_TOKEN_REUSE_INTERVAL,
    },
    trustProxy: e.TRUST_PROXY,
    corsOrigins: e.CORS_ORIGINS ?? (production ? [] : "localhost"),
    requestBodyLimit: e.REQUEST_BODY_LIMIT,
    graphiql: e.GRAPHIQL ?? !production,
    introspection: e.INTROSPECTION ?? !production,
    rateLimits: {
      loginFailuresPerAccountAndIp: e.LOGIN_FAILURES_PER_ACCOUNT_AND_IP,
      loginFailuresPerAccount: e.LOGIN_FAILURES_PER_ACCOUNT,
      loginFailuresPerIp: e.LOGIN_FAILURES_PER_IP,
      signUpsPerIp: e.SIGNUPS_PER_IP,
      mailsPerAddress: e.MAILS_PER_ADDRESS,
      passwordResetsPerIp: e.PASSWORD_RESETS_PER_IP,
      windowSeconds: e.RATE_LIMIT_WINDOW,
    },
    logLevel: e.LOG_LEVEL,
    http: { headersTimeoutMs: e.HEADERS_TIMEOUT * 1000, requestTimeoutMs: e.REQUEST_TIMEOUT * 1000 },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT * 1000,
    mail: {
      smtpUrl: e.SMTP_URL,
      fileDir: join(dataDir, "mail"),
      from: e.MAIL_FROM ?? "Chirp <no-reply@localhost>",
      appUrl: (e.APP_URL ?? "http://localhost:3000").replace(/\/+$/, ""),
      verificationTtlSeconds: e.EMAIL_VERIFICATION_TTL,
      resetTtlSeconds: e.PASSWORD_RESET_TTL,
    },
    outbox: {
      pollMs: e.OUTBOX_POLL_MS,
      leaseMs: e.OUTBOX_LEASE_MS,
      retryBaseMs: e.OUTBOX_RETRY_BASE_MS,
      retryMaxMs: e.OUTBOX_RETRY_MAX_MS,
      maxAttempts: e.OUTBOX_MAX_ATTEMPTS,
    },
    media: {
      maxBytes: e.UPLOAD_MAX_BYTES,
      maxFiles: e.UPLOAD_MAX_FILES,
      // One core stays with the event loop (and PGlite, which runs on it).
      concurrency: e.UPLOAD_CONCURRENCY ?? Math.max(1, availableParallelism() - 1),
      storage:
        e.MEDIA_STORAGE === "s3"
          ? {
              driver: "s3",
              bucket: e.S3_BUCKET!,
              region: e.S3_REGION,
              endpoint: e.S3_ENDPOINT,
              forcePathStyle: e.S3_FORCE_PATH_STYLE ?? e.S3_ENDPOINT !== undefined,
              credentials: e.S3_ACCESS_KEY_ID ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY! } : undefined,
            }
          : { driver: "disk", dir: join(dataDir, "media") },
    },
    realtime: {
      redisUrl: e.REDIS_URL,
      channelPrefix: e.REALTIME_CHANNEL_PREFIX,
      subscriptionsPerConnection: e.REALTIME_SUBSCRIPTIONS_PER_CONNECTION,
      subscriptionsPerUser: e.REALTIME_SUBSCRIPTIONS_PER_USER,
      connectionsPerIp: e.REALTIME_CONNECTIONS_PER_IP,
      keepAliveMs: e.REALTIME_KEEPALIVE * 1000,
      authRecheckMs: e.REALTIME_AUTH_RECHECK * 1000,
      maxQueuedEvents: e.REALTIME_MAX_QUEUED_EVENTS,
      maxBufferedBytes: e.REALTIME_MAX_BUFFERED_BYTES,
      sseReservationTimeoutMs: e.REALTIME_SSE_RESERVATION_TIMEOUT * 1000,
    },
    responseCache: {
      enabled: e.RESPONSE_CACHE ?? true,
      ttlMs: e.RESPONSE_CACHE_TTL_MS,
      maxEntries: e.RESPONSE_CACHE_MAX_ENTRIES,
      maxBytes: e.RESPONSE_CACHE_MAX_BYTES,
    },
    sessionCacheMs: e.SESSION_CACHE_MS,
    metrics: {
      enabled: e.METRICS ?? (!production || e.METRICS_TOKEN !== undefined),
      token: e.METRICS_TOKEN,
      maxOperations: e.METRICS_MAX_OPERATIONS,
      phases: e.METRICS_PHASES ?? false,
    },
    tracing: { enabled: !e.OTEL_SDK_DISABLED && (e.OTEL_EXPORTER_OTLP_ENDPOINT ?? e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) !== undefined },
  };
}

/** Outside production a missing secret is generated once and kept in the data folder. */
function developmentSecret(dataDir: string): string {
  const file = join(dataDir, "jwt-secret");
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    const secret = randomBytes(48).toString("base64url");
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    return secret;
  }
}
