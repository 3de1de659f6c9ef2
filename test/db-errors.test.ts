import { Prisma } from "@prisma/client";
import { GraphQLError } from "graphql";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable } from "../src/db-errors.js";
import { NotFoundError } from "../src/errors.js";

const pgError = (message: string, code: string) => Object.assign(new pg.DatabaseError(message, 0, "error"), { code, severity: "FATAL" });
const prismaError = (message: string, code: string, meta?: Record<string, unknown>) =>
  new Prisma.PrismaClientKnownRequestError(message, { code, clientVersion: Prisma.prismaVersion.client, meta });
const adapterError = (cause: Record<string, unknown>) => Object.assign(new Error(String(cause.kind)), { name: "DriverAdapterError", cause });

// The shapes test/outage.test.ts meets on a private cluster that it stops and starts.
describe("isDatabaseUnavailable", () => {
  it.each([
    ["pg: connection refused", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED", errno: -111, syscall: "connect" })],
    ["pg: pg_ctl stop -m fast under a query", pgError("terminating connection due to administrator command", "57P01")],
    ["pg: pg_ctl stop -m immediate under a query", new Error("Connection terminated unexpectedly")],
    ["pg: a connect that timed out", new Error("Connection terminated due to connection timeout", { cause: new Error("Connection terminated unexpectedly") })],
    ["pg: no connection free in time", new Error("timeout exceeded when trying to connect")],
    ["pg: still starting up", pgError("the database system is starting up", "57P03")],
    ["pg: connection exception class 08", pgError("connection failure", "08006")],
    [
      "Prisma: can't reach the server",
      prismaError("Can't reach database server at 127.0.0.1:5432", "P1001", { driverAdapterError: adapterError({ kind: "DatabaseNotReachable", host: "127.0.0.1", port: 5432 }) }),
    ],
    [
      "Prisma: a raw query cut by a fast shutdown",
      prismaError("Raw query failed. Code: `57P01`.", "P2010", { driverAdapterError: adapterError({ kind: "postgres", code: "57P01", originalCode: "57P01" }) }),
    ],
    ["Prisma adapter: a model query cut by a fast shutdown", adapterError({ kind: "postgres", code: "57P01", originalCode: "57P01" })],
    ["Prisma: a transaction that timed out behind a busy row", prismaError("Transaction already closed: A commit cannot be executed on an expired transaction.", "P2028")],
    ["Prisma adapter: a deadlock", adapterError({ kind: "postgres", code: "40P01", originalCode: "40P01" })],
    ["pg: a serialization failure", pgError("could not serialize access due to concurrent update", "40001")],
    ["inside a GraphQLError", new GraphQLError("wrapped", { originalError: new Error("Connection terminated unexpectedly") })],
  ])("recognises %s", (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ["a unique violation through Prisma", prismaError("Unique constraint failed", "P2002", { driverAdapterError: adapterError({ kind: "UniqueConstraintViolation" }) })],
    ["a unique violation from pg", pgError('duplicate key value violates unique constraint "users_handle_key"', "23505")],
    ["a cancelled statement (statement_timeout)", pgError("canceling statement due to statement timeout", "57014")],
    ["a bug", new TypeError("Cannot read properties of undefined (reading 'id')")],
    ["a domain error", new NotFoundError("Post")],
    ["not an error", "Connection terminated unexpectedly"],
  ])("does not take %s for an outage", (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
