import { pino } from "pino";

export type Logger = pino.Logger;

/** JSON lines on stdout, or on `destination` (tests read what was logged). */
export const createLogger = (level: string, destination?: pino.DestinationStream) =>
  pino({ level, base: undefined, redact: ["req.headers.authorization"] }, destination);
