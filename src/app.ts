import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { PothosValidationError } from "@pothos/core";
import type { IncomingMessage } from "node:http";
import type { PrismaClient } from "@prisma/client";
import type { SqlReader } from "./sql/reader.js";
import { type ExecutionResult, GraphQLError, execute } from "graphql";
import { type Plugin, createYoga, maskError as yogaMaskError } from "graphql-yoga";
import type { Config } from "./config.js";
import { type Context, createContext } from "./context.js";
import { isDatabaseUnavailable } from "./db-errors.js";
import { ErrorReporter } from "./error-reporter.js";
import { DomainError, RateLimitedError } from "./errors.js";
import { useConnectionArgs } from "./graphql/connection-args.js";
import { useGraphiQL } from "./graphql/graphiql.js";
import type { Logger } from "./logger.js";
import { RateLimits } from "./modules/auth/rate-limits.js";
import { useReadiness } from "./readiness.js";
import { schema } from "./schema.js";

export interface AppDeps {
  db: PrismaClient;
  reader: SqlReader;
  config: Config;
  logger: Logger;
  /** Aborted when the server begins to shut down: /ready answers 503 from then on. */
  shutdown?: AbortSignal;
}

/** The Yoga instance: an HTTP handler (`app.fetch`, or a Node request listener) serving /graphql. */
export function createApp({ db, reader, config, logger, shutdown }: AppDeps) {
  const rateLimits = new RateLimits(config.rateLimits);
  const reporter = new ErrorReporter(logger);
  return createYoga<{ req?: IncomingMessage }, Context>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    // Yoga's own: 200 whenever the process runs (liveness); /ready also asks the database.
    healthCheckEndpoint: "/health",
    // Yoga's own GraphiQL page inlines its scripts; ours serves them as files, under a strict CSP.
    graphiql: false,
    context: ({ request, req }) => createContext({ db, reader, config, rateLimits }, request, req?.socket),
    logging: {
      debug: (...args) => logger.debug(args),
      info: (...args) => logger.info(args),
      warn: (...args) => logger.warn(args),
      // Yoga logs every error maskError replaced; those the reporter had are logged (or counted) already.
      error: (...args) => {
        if (!reporter.has(args[0])) logger.error(args);
      },
    },
    maskedErrors: {
      maskError: (error, message, isDev) => {
        const known = expectedError(error);
        if (known?.extensions.code === "SERVICE_UNAVAILABLE") reporter.report(error, "database unavailable");
        if (known) return known;
        reporter.report(error, "unexpected error");
        return yogaMaskError(error, message, isDev);
      },
    },
    plugins: [
      useReadiness(db, shutdown),
      { onDispose: () => reporter.flush() },
      useGraphiQL("/graphql"),
      useConnectionArgs(),
      useRequestErrorCode(),
      useGraphQLJsExecute(),
      EnvelopArmorPlugin({
        maxDepth: { n: 12 },
        // Armor's cost grows 1.5× per level whatever the page sizes, and refused a two-level thread;
        // useConnectionArgs bounds what a query can fetch by multiplying its page sizes instead.
        costLimit: { enabled: false },
        maxAliases: { n: 30 },
        maxDirectives: { n: 20 },
        maxTokens: { n: 2_000 },
        blockFieldSuggestion: { enabled: config.env === "production" },
      }),
    ],
  });
}

export type App = ReturnType<typeof createApp>;

/**
 * The @graphql-tools executor Yoga ships writes a selection's keys in the order their promises
 * settle, so `{ a b }` could answer `{ b, a }`; the spec says selection order, as graphql-js does.
 */
function useGraphQLJsExecute(): Plugin {
  return { onExecute: ({ setExecuteFn }) => setExecuteFn(execute) };
}

/**
 * graphql-js reports a malformed request (syntax, validation, variable values) with no code; every
 * other error here has one, or is masked as INTERNAL_SERVER_ERROR. Those are the caller's input.
 */
function useRequestErrorCode(): Plugin {
  const withCode = (result: ExecutionResult) =>
    result.errors?.some((e) => !e.extensions?.code)
      ? {
          ...result,
          errors: result.errors.map((e) =>
            e.extensions?.code ? e : new GraphQLError(e.message, { nodes: e.nodes, path: e.path, extensions: { ...e.extensions, code: "BAD_USER_INPUT" } }),
          ),
        }
      : result;
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result)) setResult(result.map(withCode));
      else if (!(Symbol.asyncIterator in result)) setResult(withCode(result));
    },
  };
}

/** What a client is told to wait when the database is unreachable: a restart or failover takes seconds. */
const RETRY_AFTER_SECONDS = 5;

/** Expected failures keep their message and get a stable `extensions.code`; anything else is masked. */
function expectedError(error: unknown): GraphQLError | null {
  const graphqlError = error instanceof GraphQLError ? error : null;
  const original = graphqlError?.originalError ?? error;
  const withCode = (code: string, message: string) =>
    new GraphQLError(message, {
      nodes: graphqlError?.nodes,
      path: graphqlError?.path,
      extensions: { ...graphqlError?.extensions, code },
    });
  if (original instanceof RateLimitedError) {
    return new GraphQLError(original.message, {
      path: graphqlError?.path,
      extensions: { code: original.code, retryAfterSeconds: original.retryAfterSeconds, http: { status: 429 } },
    });
  }
  if (isDatabaseUnavailable(original)) {
    return new GraphQLError("The service is unavailable for a moment; try again shortly.", {
      path: graphqlError?.path,
      extensions: {
        code: "SERVICE_UNAVAILABLE",
        retryAfterSeconds: RETRY_AFTER_SECONDS,
        http: { status: 503, headers: { "Retry-After": String(RETRY_AFTER_SECONDS) } },
      },
    });
  }
  if (original instanceof DomainError) return withCode(original.code, original.message);
  // Pothos rejects malformed cursors, IDs and page sizes with this class: all of them are the caller's input.
  if (original instanceof PothosValidationError) return withCode("BAD_USER_INPUT", original.message);
  // Errors we raise ourselves (badUserInput, unauthenticated, …) carry a code; a GraphQLError without one is a bug.
  if (original instanceof GraphQLError && typeof original.extensions.code === "string") {
    return graphqlError && graphqlError !== original ? withCode(original.extensions.code, original.message) : original;
  }
  return null;
}
