/**
 * Whether an error means the database cannot be reached or lost the connection (it is down,
 * restarting, refusing or not answering), or is too busy to finish the work now (a transaction
 * timed out or hit a deadlock), as opposed to a bug or a bad query: the client may retry. Such errors arrive
 * from node-postgres directly (the SQL reader), through Prisma's driver adapter, or wrapped in a
 * GraphQLError; the embedded PGlite runs in this process and has no such failure.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return errorChain(error).some(isConnectionFailure);
}

// The socket could not connect, or the connection broke.
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
// SQLSTATE, besides class 08 (connection exception): shut down by an administrator (pg_ctl stop -m fast), after a crash, still starting up or shutting down; too many connections;
// and the transient conflicts a retry resolves: a deadlock, a serialization failure.
const SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300", "40P01", "40001"]);
// Prisma: can't reach the server, it timed out, operations timed out, the server closed the connection;
// a transaction that did not start or finish in time (too busy: queued behind locks or connections).
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2028"]);
// @prisma/adapter-pg's names for socket errors and SQLSTATE 53300.
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
// node-postgres raises these with no code: a connection that died (pg_ctl stop -m immediate), a connect that timed out, a broken client.
const PG_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
];

function isConnectionFailure(error: Record<string, unknown>): boolean {
  const code = typeof error.code === "string" ? error.code : undefined;
  if (code && (SOCKET_CODES.has(code) || PRISMA_CODES.has(code))) return true;
  // A pg DatabaseError has the SQLSTATE as `code`; the adapter's cause keeps it as `originalCode` (and `code`).
  const sqlState = typeof error.originalCode === "string" ? error.originalCode : code;
  if (sqlState?.length === 5 && (sqlState.startsWith("08") || SQLSTATES.has(sqlState))) return true;
  if (typeof error.errorCode === "string" && PRISMA_CODES.has(error.errorCode)) return true;
  if (typeof error.kind === "string" && ADAPTER_KINDS.has(error.kind)) return true;
  return !code && typeof error.message === "string" && PG_MESSAGES.some((pattern) => pattern.test(error.message as string));
}

/** The error and what it wraps: `cause`, a GraphQLError's `originalError`, Prisma's `meta.driverAdapterError`. */
export function errorChain(error: unknown): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  let next: unknown[] = [error];
  // A few levels cover every wrapping seen; the bound guards against a cycle.
  for (let depth = 0; depth < 5 && next.length > 0; depth++) {
    const current = next.filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null && !found.includes(e as Record<string, unknown>));
    found.push(...current);
    next = current.flatMap((e) => [e.cause, e.originalError, (e.meta as Record<string, unknown> | undefined)?.driverAdapterError]);
  }
  return found;
}

/**
 * Whether an error is a unique-index violation: Prisma's P2002, or, inside an interactive
 * transaction, the driver adapter's own error (UniqueConstraintViolation, SQLSTATE 23505).
 */
export function isUniqueViolation(error: unknown): boolean {
  return errorChain(error).some((e) => e.code === "P2002" || e.kind === "UniqueConstraintViolation" || e.originalCode === "23505" || e.code === "23505");
}
