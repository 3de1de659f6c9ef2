import { Writable } from "node:stream";
import { GraphQLError } from "graphql";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ErrorReporter } from "../src/error-reporter.js";
import { createLogger } from "../src/logger.js";

let lines: Record<string, unknown>[];
let reporter: ErrorReporter;
beforeEach(() => {
  vi.useFakeTimers();
  lines = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  reporter = new ErrorReporter(createLogger("info", stream), 10_000);
});
afterEach(() => vi.useRealTimers());

const refused = () => Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED", syscall: "connect" });

describe("ErrorReporter", () => {
  it("logs the first error of a kind with its stack, counts the rest, and logs the count when the interval ends", () => {
    for (let i = 0; i < 100; i++) reporter.report(refused(), "database unavailable");
    expect(lines).toEqual([expect.objectContaining({ level: 50, msg: "database unavailable", kind: "Error ECONNREFUSED", err: expect.objectContaining({ stack: expect.stringMatching(/^Error: connect ECONNREFUSED/) }) })]);
    vi.advanceTimersByTime(10_000);
    expect(lines[1]).toEqual(expect.objectContaining({ msg: "database unavailable: 99 more of this kind not logged", kind: "Error ECONNREFUSED", suppressed: 99 }));
    reporter.report(refused(), "database unavailable");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toHaveProperty("err");
  });

  it("tells kinds apart by class and codes, and errors without a code by their message", () => {
    reporter.report(refused(), "database unavailable");
    reporter.report(new GraphQLError("wrapped", { originalError: refused() }), "database unavailable");
    reporter.report(new TypeError("Cannot read properties of undefined (reading 'id')"), "unexpected error");
    reporter.report(new TypeError("Cannot read properties of undefined (reading 'id')"), "unexpected error");
    reporter.report(new Error("Connection terminated unexpectedly"), "database unavailable");
    reporter.report(new Error("something else"), "unexpected error");
    expect(lines.map((l) => l.kind)).toEqual([
      "Error ECONNREFUSED",
      "TypeError: Cannot read properties of undefined (reading 'id')",
      "Error: Connection terminated unexpectedly",
      "Error: something else",
    ]);
  });

  it("logs what it counted so far when flushed, and knows which errors it had", () => {
    const first = refused();
    reporter.report(first, "database unavailable");
    reporter.report(refused(), "database unavailable");
    reporter.flush();
    expect(lines.map((l) => l.suppressed)).toEqual([undefined, 1]);
    expect(reporter.has(first)).toBe(true);
    expect(reporter.has(refused())).toBe(false);
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(2);
  });
});
