import { Prisma } from "@prisma/client";
import { type DestinationStream, pino } from "pino";
import { currentScope } from "./observability/scope.js";

export type Logger = pino.Logger;

/**
 * Nothing a client sends is logged on purpose (request lines carry codes, never messages or
 * variables); these paths are a second net for credentials that reach a log object by mistake.
 */
const REDACT = [
  "headers.authorization",
  "req.headers.authorization",
  "*.password",
  "*.refreshToken",
  "*.accessToken",
  "*.token",
  "*.secret",
  "variables",
  "*.variables",
];

const NO_REQUEST = Object.freeze({});

/** Every line logged while a request (or a WebSocket operation) runs carries its id, wherever in the code it is logged. */
const requestId = () => {
  const scope = currentScope();
  return scope ? { reqId: scope.id } : NO_REQUEST;
};

/** As pino's own (the line's fields over the mixin's), without an object to fill for a line outside any request. */
const mergeRequestId = (fields: object, mixin: object) => (mixin === NO_REQUEST ? fields : Object.assign(mixin, fields));

/** JSON lines on stdout, or on `destination` (tests read what was logged). */
export const createLogger = (level: string, destination?: DestinationStream) =>
  pino(
    { level, base: undefined, mixin: requestId, mixinMergeStrategy: mergeRequestId, redact: { paths: REDACT, censor: "[redacted]" }, serializers: { err: serializeError } },
    destination,
  );

/**
 * pino's error serializer, minus what can carry a client's data: Prisma's validation errors print
 * the arguments of the failed call (emails, hashes), so only their first line is kept.
 */
function serializeError(error: unknown) {
  const serialized = pino.stdSerializers.err(error as Error);
  if (error instanceof Prisma.PrismaClientValidationError) {
    const message = error.message.trim().split("\n")[0] ?? "";
    return { type: serialized.type, message: `${message} (arguments not logged)` };
  }
  return serialized;
}
