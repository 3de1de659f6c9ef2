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
