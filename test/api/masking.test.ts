import { beforeAll, describe, expect, it } from "vitest";
import { type TestApi, type TestUser, testApi, testConfig } from "../support/api.js";
import { faultyReader } from "../support/faults.js";
import { logLines } from "../support/logs.js";

// A fault in Chirp itself (here: the SQL reader's runner throws a programming error) reaches the
// client as "Unexpected error." and nothing else, in development too; the log has the whole error.

let api: TestApi;
let user: TestUser;
beforeAll(async () => {
  user = await (await testApi()).signUp({ handle: "masked_user" });
  api = await testApi({ ...testConfig, env: "development" }, { reader: faultyReader() });
});

describe("an unexpected error", () => {
  it("is masked in development too: no message, stack or original error goes out", async () => {
    const result = await api.execute("{ user(handle: \"masked_user\") { handle } }");
    expect(result).toEqual({
      status: 200,
      data: { user: null },
      errors: [{ message: "Unexpected error.", locations: [{ line: 1, column: 3 }], path: ["user"], extensions: { code: "INTERNAL_SERVER_ERROR" } }],
    });
  });

  it("answers 500 when nothing could run (authentication failed on it)", async () => {
    const result = await api.execute("{ viewer { handle } }", {}, { as: user });
    expect(result.status).toBe(500);
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toEqual([{ message: "Unexpected error.", extensions: { code: "INTERNAL_SERVER_ERROR" } }]);
  });

  it("is logged at error with its stack and the request's id", async () => {
    // A fresh app: its reporter logs the first error of a kind, and counts the rest for a while.
    const fresh = await testApi({ ...testConfig, env: "development" }, { reader: faultyReader() });
    const before = logLines.length;
    const response = await fresh.app.fetch("http://chirp.test/graphql", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ user(handle: \"masked_user\") { handle } }" }),
    });
    const reqId = response.headers.get("x-request-id");
    const lines = logLines.slice(before).map((line) => JSON.parse(line) as { level: number; msg: string; reqId: string; err?: { stack: string } });
    const error = lines.find((line) => line.level === 50);
    expect(error).toMatchObject({ msg: "unexpected error", reqId, kind: expect.stringContaining("TypeError") });
    expect(error!.err!.stack).toContain("secret-path.ts:42");
    expect(lines.find((line) => line.msg === "request")).toMatchObject({ level: 30, reqId, codes: ["INTERNAL_SERVER_ERROR"] });
  });
});
