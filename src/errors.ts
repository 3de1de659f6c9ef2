import type { z } from "zod";

/**
 * Every `extensions.code` an answer of Chirp can carry. The README's table of error codes lists
 * exactly these (a test compares them), and an error with any other code leaves as INTERNAL_SERVER_ERROR.
 */
export const ERROR_CODES = [
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_REQUEST",
  "OPERATION_RESOLUTION_FAILURE",
  "BAD_USER_INPUT",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "RATE_LIMITED",
  "SERVICE_UNAVAILABLE",
  "INTERNAL_SERVER_ERROR",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The codes of domain errors: the GraphQL `ErrorCode` enum of typed results. */
export const DOMAIN_ERROR_CODES = ["BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN", "UNAUTHENTICATED", "RATE_LIMITED"] as const satisfies readonly ErrorCode[];

/** An expected failure with a stable code; the schema turns it into a typed result or `extensions.code`. */
export abstract class DomainError extends Error {
  abstract readonly code: (typeof DOMAIN_ERROR_CODES)[number];
}

export interface FieldError {
  /** The input field, e.g. "handle" or "input.body". */
  field: string;
  message: string;
}

export class ValidationError extends DomainError {
  override name = "ValidationError";
  readonly code = "BAD_USER_INPUT";
  constructor(readonly fieldErrors: FieldError[]) {
    super(fieldErrors.map((e) => `${e.field}: ${e.message}`).join("; "));
  }

  static of(field: string, message: string) {
    return new ValidationError([{ field, message }]);
  }

  static fromZod(error: z.ZodError) {
    return new ValidationError(error.issues.map((i) => ({ field: i.path.join(".") || "input", message: i.message })));
  }
}

export class NotFoundError extends DomainError {
  override name = "NotFoundError";
  readonly code = "NOT_FOUND";
  constructor(what: string) {
    super(`${what} not found`);
  }
}

export class ForbiddenError extends DomainError {
  override name = "ForbiddenError";
  readonly code = "FORBIDDEN";
}

export class AuthenticationError extends DomainError {
  override name = "AuthenticationError";
  readonly code = "UNAUTHENTICATED";
}

/** Too many attempts; the client may retry after `retryAfterSeconds`. */
export class RateLimitedError extends DomainError {
  override name = "RateLimitedError";
  readonly code = "RATE_LIMITED";
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** Parses input with a zod schema, turning its issues into one ValidationError. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw ValidationError.fromZod(result.error);
  return result.data;
}
