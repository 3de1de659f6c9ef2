import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

const dataDir = mkdtempSync(join(tmpdir(), "chirp-config-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("configuration", () => {
  it("has defaults that run the embedded database with nothing set", () => {
    const config = loadConfig({ DATA_DIR: dataDir });
    expect(config).toMatchObject({ env: "development", port: 4000, host: "0.0.0.0", databaseUrl: undefined, dataDir: join(dataDir, "pglite"), demoData: true });
  });

  it("names every bad variable in one message", () => {
    const load = () => loadConfig({ PORT: "http", DATABASE_URL: "mysql://x", JWT_SECRET: "short", DEMO_DATA: "maybe", DATA_DIR: dataDir });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/PORT: .*\n.*DATABASE_URL: must be a postgresql:\/\/ URL\n.*DEMO_DATA: .*\n.*JWT_SECRET: must be at least 32 characters/s);
  });

  it("refuses TRUST_PROXY=true, which would let clients write their own address, and bad proxy addresses", () => {
    expect(() => loadConfig({ TRUST_PROXY: "true", DATA_DIR: dataDir })).toThrow(/TRUST_PROXY: true would trust every X-Forwarded-For entry/);
    expect(() => loadConfig({ TRUST_PROXY: "10.0.0.0/99", DATA_DIR: dataDir })).toThrow(/TRUST_PROXY: .*give a number of proxies or a list/);
    const hops = loadConfig({ TRUST_PROXY: "2", DATA_DIR: dataDir }).trustProxy;
    expect([hops("10.0.0.1", 0), hops("10.0.0.2", 1), hops("203.0.113.9", 2)]).toEqual([true, true, false]);
    const subnets = loadConfig({ TRUST_PROXY: "loopback, 10.0.0.0/8", DATA_DIR: dataDir }).trustProxy;
    expect([subnets("127.0.0.1", 0), subnets("10.1.2.3", 1), subnets("203.0.113.9", 0)]).toEqual([true, true, false]);
    expect(loadConfig({ DATA_DIR: dataDir }).trustProxy("127.0.0.1", 0)).toBe(false);
  });

  it("stores media on disk in DATA_DIR by default, or in an S3 bucket that must be named, with both keys or neither", () => {
    expect(loadConfig({ DATA_DIR: dataDir }).media).toMatchObject({ maxBytes: 5_000_000, maxFiles: 4, storage: { driver: "disk", dir: join(dataDir, "media") } });
    expect(loadConfig({ DATA_DIR: dataDir, MEDIA_STORAGE: "s3", S3_BUCKET: "pics", S3_ENDPOINT: "http://127.0.0.1:9000" }).media.storage).toEqual({
      driver: "s3", bucket: "pics", region: "us-east-1", endpoint: "http://127.0.0.1:9000", forcePathStyle: true, credentials: undefined,
    });
    expect(() => loadConfig({ DATA_DIR: dataDir, MEDIA_STORAGE: "s3" })).toThrow(/S3_BUCKET: required when MEDIA_STORAGE=s3/);
    expect(() => loadConfig({ DATA_DIR: dataDir, S3_ACCESS_KEY_ID: "key" })).toThrow(/give both or neither/);
    expect(() => loadConfig({ DATA_DIR: dataDir, UPLOAD_MAX_FILES: "0", MEDIA_STORAGE: "ftp" })).toThrow(/UPLOAD_MAX_FILES: .*\n.*MEDIA_STORAGE: /s);
  });

  it("takes CORS origins as a list of origins or *, and refuses anything else", () => {
    expect(loadConfig({ CORS_ORIGINS: "https://app.example.com, http://localhost:5173", DATA_DIR: dataDir }).corsOrigins).toEqual([
      "https://app.example.com",
      "http://localhost:5173",
    ]);
    expect(loadConfig({ CORS_ORIGINS: "*", DATA_DIR: dataDir }).corsOrigins).toBe("*");
    expect(() => loadConfig({ CORS_ORIGINS: "https://app.example.com/path", DATA_DIR: dataDir })).toThrow(/CORS_ORIGINS: "https:\/\/app.example.com\/path" is not an origin/);
    expect(loadConfig({ DATA_DIR: dataDir }).corsOrigins).toBe("localhost");
  });

  it("keeps production closed by default: no demo data, GraphiQL, introspection or CORS origin unless asked", () => {
    const production = {
      NODE_ENV: "production",
      JWT_SECRET: "a-production-secret-of-32-characters!",
      DATA_DIR: dataDir,
      SMTP_URL: "smtp://mail.example.com:587",
      MAIL_FROM: "Chirp <no-reply@example.com>",
      APP_URL: "https://app.example.com",
    };
    expect(loadConfig(production)).toMatchObject({ demoData: false, graphiql: false, introspection: false, corsOrigins: [] });
    expect(loadConfig({ ...production, GRAPHIQL: "true", INTROSPECTION: "true" })).toMatchObject({ graphiql: true, introspection: true });
    expect(() => loadConfig({ ...production, DEMO_DATA: "true" })).toThrow(/DEMO_DATA: demo data .* is never loaded when NODE_ENV=production/);
    expect(loadConfig({ DATA_DIR: dataDir })).toMatchObject({ demoData: true, graphiql: true, introspection: true });
  });

  it("bounds how long a client may take to send its request, in seconds", () => {
    expect(loadConfig({ DATA_DIR: dataDir }).http).toEqual({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 });
    expect(() => loadConfig({ REQUEST_TIMEOUT: "0", HEADERS_TIMEOUT: "soon", DATA_DIR: dataDir })).toThrow(/REQUEST_TIMEOUT: .*\n.*HEADERS_TIMEOUT: /s);
    expect(() => loadConfig({ REQUEST_TIMEOUT: "5", HEADERS_TIMEOUT: "6", DATA_DIR: dataDir })).toThrow("HEADERS_TIMEOUT: must not exceed REQUEST_TIMEOUT");
  });

  it("gives in-flight requests SHUTDOWN_TIMEOUT seconds after SIGTERM", () => {
    expect(loadConfig({ DATA_DIR: dataDir }).shutdownTimeoutMs).toBe(10_000);
    expect(loadConfig({ SHUTDOWN_TIMEOUT: "30", DATA_DIR: dataDir }).shutdownTimeoutMs).toBe(30_000);
    expect(() => loadConfig({ SHUTDOWN_TIMEOUT: "soon", DATA_DIR: dataDir })).toThrow(/SHUTDOWN_TIMEOUT: /);
  });

  it("waits DATABASE_CONNECT_TIMEOUT seconds for a connection to PostgreSQL", () => {
    expect(loadConfig({ DATA_DIR: dataDir }).databaseConnectTimeoutMs).toBe(5_000);
    expect(() => loadConfig({ DATABASE_CONNECT_TIMEOUT: "-1", DATA_DIR: dataDir })).toThrow(/DATABASE_CONNECT_TIMEOUT: /);
  });

  it("requires SMTP_URL, MAIL_FROM and APP_URL in production, listed with JWT_SECRET in one message; elsewhere mail goes to .eml files", () => {
    expect(() => loadConfig({ NODE_ENV: "production", DATA_DIR: dataDir })).toThrow(
      "  JWT_SECRET: required when NODE_ENV=production\n  SMTP_URL: required when NODE_ENV=production\n  MAIL_FROM: required when NODE_ENV=production\n  APP_URL: required when NODE_ENV=production",
    );
    expect(() => loadConfig({ SMTP_URL: "http://mail.example.com" })).toThrow("SMTP_URL: must be an smtp:// or smtps:// URL");
    expect(loadConfig({ DATA_DIR: dataDir }).mail).toMatchObject({ smtpUrl: undefined, fileDir: join(dataDir, "mail"), appUrl: "http://localhost:3000" });
  });

  it("requires JWT_SECRET in production", () => {
    expect(() => loadConfig({ NODE_ENV: "production", DATA_DIR: dataDir })).toThrow("JWT_SECRET: required when NODE_ENV=production");
  });

  it("generates a development secret once, readable only by its owner, and reuses it", () => {
    const first = loadConfig({ DATA_DIR: dataDir }).jwt.secret;
    const file = join(dataDir, "jwt-secret");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8").trim().length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({ DATA_DIR: dataDir }).jwt.secret).toEqual(first);
  });
});
