import { Writable } from "node:stream";
import { createLogger } from "../../src/logger.js";

/**
 * Every line the apps of a test file log, at debug level: setup.ts checks after each file that no
 * secret the file's requests carried (passwords, tokens, emails) appears in any of them.
 */
export const logLines: string[] = [];

/** Secrets the requests of the current file sent or received. */
export const secrets = new Set<string>();

export const testLogger = () =>
  createLogger(
    "debug",
    new Writable({
      write(chunk, _encoding, done) {
        logLines.push(...String(chunk).split("\n").filter(Boolean));
        done();
      },
    }),
  );

const SECRET_KEYS = /^(password|email|refreshToken|accessToken|token|secret)$/;

/** Records the values of secret-looking keys, anywhere in a request's variables or a response's data. */
export function recordSecrets(value: unknown) {
  if (Array.isArray(value)) {
    for (const item of value) recordSecrets(item);
  } else if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      const secret = SECRET_KEYS.test(key) || (key === "login" && String(item).includes("@"));
      if (secret && typeof item === "string" && item.length >= 6) secrets.add(item);
      else recordSecrets(item);
    }
  }
}

/** The log lines that contain a recorded secret (with the secret), for a readable failure. */
export const leakedSecrets = () =>
  logLines.flatMap((line) => [...secrets].filter((secret) => line.includes(secret) || line.includes(JSON.stringify(secret).slice(1, -1))).map((secret) => ({ secret, line })));
