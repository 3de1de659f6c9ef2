import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import type { RateLimitSettings } from "./modules/auth/rate-limits.js";

const boolean = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

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
  DATA_DIR: z.string().min(1).default(".data"),
  DEMO_DATA: boolean.default(true),
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  JWT_ISSUER: z.string().min(1).default("chirp"),
  JWT_AUDIENCE: z.string().min(1).default("chirp-api"),
  ACCESS_TOKEN_TTL: z.coerce.number().int().min(60).max(86_400).default(900),
  REFRESH_TOKEN_TTL: z.coerce.number().int().min(3_600).default(30 * 86_400),
  TRUST_PROXY: boolean.default(false),
  LOGIN_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).default(10),
  LOGIN_FAILURES_PER_IP: z.coerce.number().int().min(1).default(100),
  SIGNUPS_PER_IP: z.coerce.number().int().min(1).default(20),
  RATE_LIMIT_WINDOW: z.coerce.number().int().min(1).default(900),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  REQUEST_TIMEOUT: z.coerce.number().int().min(1).default(30),
  HEADERS_TIMEOUT: z.coerce.number().int().min(1).default(10),
  SHUTDOWN_TIMEOUT: z.coerce.number().int().min(1).default(10),
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
  /** Where PGlite keeps its files; undefined keeps the embedded database in memory. */
  dataDir: string | undefined;
  demoData: boolean;
  jwt: { secret: Uint8Array; issuer: string; audience: string; accessTtl: number; refreshTtl: number };
  /** Take the client address from X-Forwarded-For (behind a reverse proxy). */
  trustProxy: boolean;
  rateLimits: RateLimitSettings;
  logLevel: string;
  /** A request's headers, and all of it, must arrive within these; a slower client is answered 408 and disconnected. */
  http: { headersTimeoutMs: number; requestTimeoutMs: number };
  /** How long in-flight requests get to finish after SIGTERM before their connections are cut. */
  shutdownTimeoutMs: number;
};

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
  // Node's HTTP server refuses a headers timeout longer than the request timeout.
  if (e.HEADERS_TIMEOUT > e.REQUEST_TIMEOUT) throw new ConfigError("Invalid configuration:\n  HEADERS_TIMEOUT: must not exceed REQUEST_TIMEOUT");
  const dataDir = resolve(e.DATA_DIR);
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    databaseConnectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT * 1000,
    dataDir: e.DATABASE_URL ? undefined : join(dataDir, "pglite"),
    demoData: e.DEMO_DATA,
    jwt: {
      secret: new TextEncoder().encode(e.JWT_SECRET ?? developmentSecret(e.NODE_ENV, dataDir)),
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      accessTtl: e.ACCESS_TOKEN_TTL,
      refreshTtl: e.REFRESH_TOKEN_TTL,
    },
    trustProxy: e.TRUST_PROXY,
    rateLimits: {
      loginFailuresPerAccount: e.LOGIN_FAILURES_PER_ACCOUNT,
      loginFailuresPerIp: e.LOGIN_FAILURES_PER_IP,
      signUpsPerIp: e.SIGNUPS_PER_IP,
      windowSeconds: e.RATE_LIMIT_WINDOW,
    },
    logLevel: e.LOG_LEVEL,
    http: { headersTimeoutMs: e.HEADERS_TIMEOUT * 1000, requestTimeoutMs: e.REQUEST_TIMEOUT * 1000 },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT * 1000,
  };
}

/** Outside production a missing secret is generated once and kept in the data folder. */
function developmentSecret(env: Config["env"], dataDir: string): string {
  if (env === "production") {
    throw new ConfigError("Invalid configuration:\n  JWT_SECRET: required when NODE_ENV=production");
  }
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
