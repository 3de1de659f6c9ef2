import { randomUUID } from "node:crypto";
import { getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { TrustProxy } from "../config.js";
import type { Context } from "../context.js";
import type { Logger } from "../logger.js";

interface RequestLog {
  id: string;
  /** Made when first asked for: most requests log nothing above the configured level. */
  log: () => Logger;
  startedAt: number;
  operation?: string;
  userId?: number;
  ip?: string;
  codes: Set<string>;
}

const requests = new WeakMap<Request, RequestLog>();

/** A request id a trusted proxy in front may have set (nginx's $request_id, a load balancer's trace id). */
const FORWARDED_ID = /^[\w.:-]{1,64}$/;

/** The logger of a request, whose lines carry its id; the server's own for a request this plugin did not see. */
export const requestLogger = (request: Request, fallback: Logger) => requests.get(request)?.log() ?? fallback;

/** Records an error code the response carries, for the request's log line. */
export const noteErrorCode = (request: Request, code: string) => requests.get(request)?.codes.add(code);

/**
 * Gives every request an id (the X-Request-Id a trusted proxy sent with it, or a new one), returned
 * as X-Request-Id and carried by every log line of the request, and logs one line when it is
 * answered: method, path, status, duration, operation name, the viewer, the client's address and
 * the error codes, typed results' included. Never the query string, variables or error messages:
 * those are the client's input and can hold passwords and tokens. Answers with errors log at info;
 * the rest at debug. Chirp's own faults are logged on their own, at error.
 */
export function useRequestLog(logger: Logger, trustProxy: TrustProxy): Plugin<Context, { req?: { socket?: { remoteAddress?: string } } }> {
  return {
    onRequest({ request, serverContext }) {
      const peer = serverContext.req?.socket?.remoteAddress;
      const forwarded = peer && trustProxy(peer, 0) ? request.headers.get("x-request-id") : null;
      const id = forwarded && FORWARDED_ID.test(forwarded) ? forwarded : randomUUID();
      let child: Logger | undefined;
      requests.set(request, { id, log: () => (child ??= logger.child({ reqId: id })), startedAt: performance.now(), codes: new Set() });
    },
    onExecute({ args }) {
      const entry = requests.get(args.contextValue.request);
      if (!entry) return;
      entry.operation = getOperationAST(args.document, args.operationName)?.name?.value;
      entry.ip = args.contextValue.clientIp;
      return { onExecuteDone: () => void (entry.userId = args.contextValue.viewer?.id) };
    },
    onResponse({ request, response }) {
      const entry = requests.get(request);
      if (!entry) return;
      response.headers.set("x-request-id", entry.id);
      const level = response.status >= 400 || entry.codes.size > 0 ? "info" : "debug";
      if (!logger.isLevelEnabled(level)) return;
      entry.log()[level](
        {
          method: request.method,
          path: new URL(request.url).pathname,
          status: response.status,
          ms: Math.round((performance.now() - entry.startedAt) * 10) / 10,
          operation: entry.operation?.slice(0, 100),
          userId: entry.userId,
          ip: entry.ip,
          codes: entry.codes.size > 0 ? [...entry.codes] : undefined,
        },
        "request",
      );
    },
  };
}
