import { Prisma } from "@prisma/client";
import { type DestinationStream, pino } from "pino";

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

/** JSON lines on stdout, or on `destination` (tests read what was logged). */
export const createLogger = (level: string, destination?: DestinationStream) =>
  pino({ level, base: undefined, redact: { paths: REDACT, censor: "[redacted]" }, serializers: { err: serializeError } }, destination);

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
