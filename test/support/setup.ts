import { afterAll, beforeAll, expect } from "vitest";
import { workerDatabase } from "./database.js";
import { leakedSecrets, logLines, secrets } from "./logs.js";

beforeAll(async () => {
  const { reset } = await workerDatabase();
  await reset();
  logLines.length = 0;
  secrets.clear();
});

// Nothing a client sent or received as a credential reaches the log, whatever the file's tests did.
afterAll(() => {
  expect(leakedSecrets(), "secrets in the log").toEqual([]);
});
