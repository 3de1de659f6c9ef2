import { PothosValidationError } from "@pothos/core";
import { type ExecutionResult, GraphQLError } from "graphql";
import { type Plugin, mapAsyncIterator } from "graphql-yoga";
import { isDatabaseUnavailable } from "../db-errors.js";
import type { ErrorReporter } from "../error-reporter.js";
import { DomainError, ERROR_CODES, type ErrorCode, RateLimitedError } from "../errors.js";
import { noteErrorCode } from "../observability/scope.js";

const withCode = (code: ErrorCode, message: string) => new GraphQLError(message, { extensions: { code } });

export const unauthenticated = (message: string) => withCode("UNAUTHENTICATED", message);
export const forbidden = (message: string) => withCode("FORBIDDEN", message);
export const badUserInput = (message: string) => withCode("BAD_USER_INPUT", message);

const KNOWN_CODES = new Set<string>(ERROR_CODES);

/** What a client is told to wait when the database is unreachable: a restart or failover takes seconds. */
const RETRY_AFTER_SECONDS = 5;

/** Errors behind the answers made of them that Chirp logs, with their request's id, when the answer is sent. */
const toReport = new WeakMap<GraphQLError, { error: unknown; message: string }>();

/**
 * Yoga's maskError: expected failures keep their message and get their stable code; anything else
 * becomes "Unexpected error." (INTERNAL_SERVER_ERROR) with nothing of the original, in every mode.
 */
export function maskError(error: unknown): GraphQLError {
  const known = expectedError(error);
  if (known) return known;
  // graphql-js and armor report a malformed request (no path, no code); useErrorCodes gives it its code.
  if (error instanceof GraphQLError && error.path === undefined && error.extensions.code === undefined) return error;
  return masked(error);
}

function masked(error: unknown): GraphQLError {
  const graphqlError = error instanceof GraphQLError ? error : undefined;
  const replacement = new GraphQLError("Unexpected error.", {
    nodes: graphqlError?.nodes,
    path: graphqlError?.path,
    // `unexpected` (not sent) makes Yoga answer 500 when nothing could run.
    extensions: { code: "INTERNAL_SERVER_ERROR", unexpected: true },
  });
  toReport.set(replacement, { error: graphqlError?.originalError ?? error, message: "unexpected error" });
  return replacement;
}

function expectedError(error: unknown): GraphQLError | null {
  const graphqlError = error instanceof GraphQLError ? error : null;
  const original = graphqlError?.originalError ?? error;
  const located = (message: string, extensions: Record<string, unknown>) =>
    new GraphQLError(message, { nodes: graphqlError?.nodes, path: graphqlError?.path, extensions: { ...graphqlError?.extensions, ...extensions } });
  if (original instanceof RateLimitedError) {
    return located(original.message, {
      code: original.code,
      retryAfterSeconds: original.retryAfterSeconds,
      http: { status: 429, headers: { "Retry-After": String(original.retryAfterSeconds) } },
    });
  }
  if (isDatabaseUnavailable(original)) {
    const unavailable = located("The service is unavailable for a moment; try again shortly.", {
      code: "SERVICE_UNAVAILABLE",
      retryAfterSeconds: RETRY_AFTER_SECONDS,
      http: { status: 503, headers: { "Retry-After": String(RETRY_AFTER_SECONDS) } },
    });
    toReport.set(unavailable, { error: original, message: "database unavailable" });
    return unavailable;
  }
  if (original instanceof DomainError) return located(original.message, { code: original.code });
  // Pothos rejects malformed cursors, IDs and page sizes with this class: all of them are the caller's input.
  if (original instanceof PothosValidationError) return located(original.message, { code: "BAD_USER_INPUT" });
  // graphql-js coerces a field's arguments as it runs the field: a null variable for a non-null argument
  // with a default (`trendingHashtags(first: $first)`, $first null) fails there, the caller's input.
  if (graphqlError && original instanceof GraphQLError && /^Argument "\w+" of non-null type "[^"]+" must not be null\.$/.test(original.message)) {
    return located(original.message, { code: "BAD_USER_INPUT" });
  }
  // Errors we raise ourselves (badUserInput, unauthenticated, …) carry a code; a GraphQLError without one is a bug.
  if (original instanceof GraphQLError && typeof original.extensions.code === "string") {
    return graphqlError && graphqlError !== original ? located(original.message, original.extensions) : original;
  }
  return null;
}

/** graphql-js writes its request errors without a code; these are the caller's. */
const REQUEST_ERRORS: [RegExp, ErrorCode][] = [
  [/^Variable "\$/, "BAD_USER_INPUT"],
  [/^(Must provide (an operation|operation name)|Unknown operation named)/, "OPERATION_RESOLUTION_FAILURE"],
  // graphql-js 16 leaves a missing root type to execution.
  [/^Schema is not configured to execute \w+ operation/, "GRAPHQL_VALIDATION_FAILED"],
];

/** graphql-armor writes its limits as "Syntax Error: …" though none is one. */
const ARMOR_LIMIT = /^Syntax Error: ((?:Query depth|Aliases|Directives|Token) limit .*)$/;

/** As Yoga marks its parse and validation errors: 400, or 200 to a client that accepts only application/json. */
const SPEC_400 = { spec: true, status: 400 };

/**
 * Every error of an answer leaves with a code from ERROR_CODES. graphql-js reports a malformed
 * request without one (REQUEST_ERRORS), and its messages of bad variables print the value the client
 * sent, which error reporters in front-ends then keep: those values are cut out (and, in
 * production, the suggestions of names that map the schema). Anything else without a known code is
 * a bug: masked and logged. The errors behind the answer are logged here (with the request's id, as
 * every line logged in its scope) through `reporter`, which logs each kind once per interval.
 */
export function useErrorCodes(reporter: ErrorReporter, options: { production: boolean }): Plugin {
  const process = resultNormaliser(reporter, options);
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result)) setResult(result.map(process));
      // A subscription over SSE: each of its results.
      else if (Symbol.asyncIterator in result) setResult(mapAsyncIterator(result, process));
      else setResult(process(result));
    },
  };
}

/** What useErrorCodes does to each result, for transports Yoga's result processing does not see (WebSockets). */
export function resultNormaliser(reporter: ErrorReporter, { production }: { production: boolean }) {
  const normalise = (error: GraphQLError): GraphQLError => {
    let result = error;
    const code = error.extensions?.code;
    const armor = ARMOR_LIMIT.exec(error.message);
    if (armor) {
      result = new GraphQLError(armor[1]!, { nodes: error.nodes, extensions: { code: /^Token/.test(armor[1]!) ? "GRAPHQL_PARSE_FAILED" : "GRAPHQL_VALIDATION_FAILED", http: SPEC_400 } });
    } else if (typeof code !== "string") {
      const known = REQUEST_ERRORS.find(([pattern]) => pattern.test(error.message));
      if (!known) result = masked(error);
      else if (known[1] === "BAD_USER_INPUT") result = recoded(error, known[1], withoutValue(error, production));
      else result = recoded(error, known[1], error.message, known[1] === "GRAPHQL_VALIDATION_FAILED" ? SPEC_400 : undefined);
    } else if (!KNOWN_CODES.has(code)) {
      result = masked(error);
    } else if (code === "BAD_REQUEST" && (error.extensions.http as { spec?: boolean } | undefined)?.spec) {
      // A request with no query at all is not a GraphQL result to legacy clients either: 400 for everyone.
      result = recoded(error, code, error.message, { status: 400 });
    }
    const report = toReport.get(result);
    if (report) reporter.report(report.error, report.message);
    noteErrorCode(String(result.extensions.code));
    return result;
  };
  return (result: ExecutionResult): ExecutionResult => (result.errors?.length ? { ...result, errors: result.errors.map(normalise) } : result);
}

const recoded = (error: GraphQLError, code: ErrorCode, message: string, http?: object) =>
  new GraphQLError(message, { nodes: error.nodes, path: error.path, extensions: { ...error.extensions, code, ...(http ? { http } : {}) } });

/**
 * `Variable "$input" got invalid value { password: 7 } at "input.password"; String cannot represent
 * a non string value: 7` without the values: `Variable "$input" got invalid value at
 * "input.password"; String cannot represent a non string value`.
 */
function withoutValue(error: GraphQLError, production: boolean) {
  const reason = error.originalError?.message;
  const name = /^Variable "\$[^"]+"/.exec(error.message)![0];
  let message: string;
  if (reason !== undefined && error.message.endsWith(`; ${reason}`)) {
    const head = error.message.slice(0, -(reason.length + 2));
    const at = / at "[^"]*"$/.exec(head)?.[0] ?? "";
    message = `${name} got invalid value${at}; ${reason.replace(/(cannot represent (?:a )?non[- ][\w-]+ value): [\s\S]*$/, "$1")}`;
  } else {
    // "of required type … was not provided", "of non-null type … must not be null": no value in them.
    message = /got invalid value/.test(error.message) ? `${name} got an invalid value.` : error.message;
  }
  return production ? message.replace(/ Did you mean [\s\S]*$/, "") : message;
}
