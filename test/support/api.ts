import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import type { Tracer } from "@opentelemetry/api";
import { type GraphQLFormattedError, print } from "graphql";
import { expect } from "vitest";
import { createApp } from "../../src/app.js";
import { type Config, loadConfig } from "../../src/config.js";
import type { SqlReader } from "../../src/sql/reader.js";
import type { MediaStorage } from "../../src/modules/media/media.storage.js";
import { graphql } from "../gql/index.js";
import { sqlLog, workerDatabase } from "./database.js";
import { recordSecrets, secrets, testLogger } from "./logs.js";

/** The environment of testConfig, for tests that load variants of it. */
export const testEnv = (): Record<string, string> => ({
  NODE_ENV: "test",
  JWT_SECRET: "test-secret-that-is-at-least-32-chars!",
  LOG_LEVEL: "silent",
  // Every test request comes from the same "address"; test/api/rate-limits.test.ts sets its own limits.
  SIGNUPS_PER_IP: "1000000",
  LOGIN_FAILURES_PER_IP: "1000000",
  LOGIN_FAILURES_PER_ACCOUNT: "1000000",
  LOGIN_FAILURES_PER_ACCOUNT_AND_IP: "1000000",
});

export const testConfig = loadConfig(testEnv());

/** Who sends a request: a signed-up test user, a raw Authorization token, or nobody. */
export type As = TestUser | { token: string } | null | undefined;

export interface TestUser {
  /** The global (Relay) ID. */
  id: string;
  dbId: number;
  handle: string;
  email: string;
  password: string;
  token: string;
  refreshToken: string;
}

export interface Result<R> {
  status: number;
  /** The response's headers (not enumerable). */
  headers?: Headers;
  data?: R | null;
  errors?: GraphQLFormattedError[];
}

const SignUpDocument = graphql(`
  mutation TestSignUp($input: SignUpInput!) {
    signUp(input: $input) {
      __typename
      ... on AuthPayload { accessToken refreshToken viewer { id } }
      ... on Error { message }
    }
  }
`);

export const DEFAULT_PASSWORD = "correct horse battery";

/**
 * The app and its database for one test file; call in the file's top level or a beforeAll.
 * `reader` replaces the SQL reader, to make Chirp itself fail (a fault, not a database stand-in);
 * `tracer` turns tracing on (test/api/tracing.test.ts collects the spans in memory).
 */
export async function testApi(config: Config = testConfig, { reader, storage, tracer }: { reader?: SqlReader; storage?: MediaStorage; tracer?: Tracer } = {}) {
  const { db } = await workerDatabase();
  const app = createApp({ db: db.prisma, reader: reader ?? db.reader, config, logger: testLogger(), storage, pool: db.pool, tracer, versions: db.versions });
  let handles = 0;

  async function execute<R, V>(
    document: TypedDocumentNode<R, V> | string,
    variables?: V,
    options: { as?: As; headers?: Record<string, string>; ip?: string } = {},
  ): Promise<Result<R>> {
    const headers: Record<string, string> = { "content-type": "application/json", ...options.headers };
    if (options.as) headers.authorization = `Bearer ${options.as.token}`;
    recordSecrets({ token: headers.authorization?.replace(/^\S+\s*/, "") });
    recordSecrets(variables);
    const init = { method: "POST", headers, body: JSON.stringify({ query: typeof document === "string" ? document : print(document), variables }) };
    // Yoga hands the server context to the context factory as a Node request would: the socket's address.
    const response = await app.fetch("http://chirp.test/graphql", init, { req: { socket: { remoteAddress: options.ip ?? "127.0.0.1" } } });
    const body = (await response.json()) as Omit<Result<R>, "status">;
    recordSecrets(body.data);
    // Not enumerable, so that results still compare with toEqual({ status, data }).
    return Object.defineProperty({ status: response.status, ...body }, "headers", { value: response.headers, enumerable: false });
  }

  /** Runs the operation and returns its result with the SQL statements it sent. */
  async function executeCounted<R, V>(document: TypedDocumentNode<R, V> | string, variables?: V, options?: { as?: As }) {
    const start = sqlLog.length;
    const result = await execute(document, variables, options);
    return Object.defineProperty({ ...result, statements: sqlLog.slice(start) }, "headers", { value: result.headers, enumerable: false }) as typeof result & { statements: string[] };
  }

  /** Signs a user up through the API; `role: "ADMIN"` and `suspended` are set in the database afterwards. */
  async function signUp(overrides: { handle?: string; email?: string; password?: string; role?: "ADMIN"; suspended?: boolean } = {}): Promise<TestUser> {
    const handle = overrides.handle ?? `user_${process.env.VITEST_POOL_ID ?? 0}_${++handles}`;
    const email = overrides.email ?? `${handle.toLowerCase()}@example.com`;
    const password = overrides.password ?? DEFAULT_PASSWORD;
    const result = await execute(SignUpDocument, { input: { handle, email, password } });
    const payload = result.data?.signUp;
    if (payload?.__typename !== "AuthPayload") throw new Error(`signUp failed: ${JSON.stringify(result)}`);
    const dbId = Number(Buffer.from(payload.viewer.id, "base64").toString().split(":")[1]);
    if (overrides.role || overrides.suspended) {
      await db.prisma.user.update({
        where: { id: dbId },
        data: { role: overrides.role ?? "USER", suspendedAt: overrides.suspended ? new Date() : null },
      });
    }
    return { id: payload.viewer.id, dbId, handle, email, password, token: payload.accessToken, refreshToken: payload.refreshToken };
  }

  return { app, db: db.prisma, execute, executeCounted, signUp };
}

export type TestApi = Awaited<ReturnType<typeof testApi>>;

export const globalId = (typename: string, id: number | string) => Buffer.from(`${typename}:${id}`).toString("base64");

/** The one top-level error of a result, as `{ message, code }`; never the masked "Unexpected error.". */
export function topLevelError(result: Result<unknown>) {
  expect(result.errors, JSON.stringify(result)).toHaveLength(1);
  const [error] = result.errors!;
  expect(error!.message).not.toBe("Unexpected error.");
  return { message: error!.message, code: error!.extensions?.code };
}
