import { PothosValidationError } from "@pothos/core";
import { type ExecutionResult, GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { DomainError, ERROR_CODES, type ErrorCode, RateLimitedError } from "../errors.js";
import type { Logger } from "../logger.js";
import { noteErrorCode, requestLogger } from "./request-log.js";

const withCode = (code: ErrorCode, message: string) => new GraphQLError(message, { extensions: { code } });

export const unauthenticated = (message: string) => withCode("UNAUTHENTICATED", message);
export const forbidden = (message: string) => withCode("FORBIDDEN", message);
export const badUserInput = (message: string) => withCode("BAD_USER_INPUT", message);

const KNOWN_CODES = new Set<string>(ERROR_CODES);

/** The unexpected errors behind masked ones, logged with their request's id when the answer is sent. */
const unexpected = new WeakMap<GraphQLError, unknown>();

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
  unexpected.set(replacement, graphqlError?.originalError ?? error);
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
  if (original instanceof DomainError) return located(original.message, { code: original.code });
  // Pothos rejects malformed cursors, IDs and page sizes with this class: all of them are the caller's input.
  if (original instanceof PothosValidationError) return located(original.message, { code: "BAD_USER_INPUT" });
  // Errors we raise ourselves (badUserInput, unauthenticated, …) carry a code; a GraphQLError without one is a bug.
  if (original instanceof GraphQLError && typeof original.extensions.code === "string") {
    return graphqlError && graphqlError !== original ? located(original.message, original.extensions) : original;
  }
  return null;
}

/** graphql-armor writes its limits as "Syntax Error: …" though none is one. */
const ARMOR_LIMIT = /^Syntax Error: ((?:Query depth|Aliases|Directives|Token) limit .*)$/;

/**
 * Every error of an answer leaves with a code from ERROR_CODES. graphql-js reports a malformed
 * request without one: variable values are the caller's input (BAD_USER_INPUT), a missing or
 * unknown operation name OPERATION_RESOLUTION_FAILURE (Apollo's code, as Yoga gives it). Anything else without a known code is a bug:
 * masked and logged. The unexpected errors of the answer are logged here, with the request's id.
 */
export function useErrorCodes(logger: Logger): Plugin {
  const normalise = (request: Request) => (error: GraphQLError): GraphQLError => {
    let result = error;
    const code = error.extensions?.code;
    const armor = ARMOR_LIMIT.exec(error.message);
    if (armor) {
      const code = /^Token/.test(armor[1]!) ? "GRAPHQL_PARSE_FAILED" : "GRAPHQL_VALIDATION_FAILED";
      // As Yoga marks parse and validation errors: 400, or 200 to a client accepting only application/json.
      result = new GraphQLError(armor[1]!, { nodes: error.nodes, extensions: { code, http: { spec: true, status: 400 } } });
    } else if (typeof code !== "string") {
      if (/^Variable "\$/.test(error.message)) result = recoded(error, "BAD_USER_INPUT");
      else if (/^(Must provide (an operation|operation name)|Unknown operation named)/.test(error.message)) result = recoded(error, "OPERATION_RESOLUTION_FAILURE");
      else result = masked(error);
    } else if (!KNOWN_CODES.has(code)) {
      result = masked(error);
    }
    const original = unexpected.get(result);
    if (original !== undefined) requestLogger(request, logger).error({ err: original, path: result.path?.join(".") }, "unexpected error");
    noteErrorCode(request, String(result.extensions.code));
    return result;
  };
  const process = (result: ExecutionResult, request: Request): ExecutionResult =>
    result.errors?.length ? { ...result, errors: result.errors.map(normalise(request)) } : result;
  return {
    onResultProcess({ request, result, setResult }) {
      if (Array.isArray(result)) setResult(result.map((r) => process(r, request)));
      else if (!(Symbol.asyncIterator in result)) setResult(process(result, request));
    },
  };
}

const recoded = (error: GraphQLError, code: ErrorCode) =>
  new GraphQLError(error.message, { nodes: error.nodes, path: error.path, extensions: { ...error.extensions, code } });
