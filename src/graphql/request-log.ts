import { randomUUID } from "node:crypto";
import { getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { TrustProxy } from "../config.js";
import type { Context } from "../context.js";
import type { Logger } from "../logger.js";
import { RequestScope, currentScope, inScope } from "../observability/scope.js";

/** A request id a trusted proxy in front may have set (nginx's $request_id, a load balancer's trace id). */
const FORWARDED_ID = /^[\w.:-]{1,64}$/;

/** The request's id: the X-Request-Id a trusted proxy sent with it, or a new one. */
export function requestId(headers: { get(name: string): string | null }, peer: string | undefined, trustProxy: TrustProxy) {
  const forwarded = peer && trustProxy(peer, 0) ? headers.get("x-request-id") : null;
  return forwarded && FORWARDED_ID.test(forwarded) ? forwarded : randomUUID();
}

/**
 * Gives every request a scope (src/observability/scope.ts) with an id (the X-Request-Id a trusted
 * proxy sent with it, or a new one), returned as X-Request-Id and carried by every log line logged
 * while the request runs, and logs one line when it is answered: method, path, status, duration,
 * operation name, the viewer, the client's address, the error codes (typed results' included), its
 * SQL statements and, for an anonymous query, whether the response cache answered it. Never the query string, variables or error messages: those are the client's
 * input and can hold passwords and tokens. Answers with errors log at info; the rest at debug.
 * Chirp's own faults are logged on their own, at error.
 */
export function useRequestLog(logger: Logger, trustProxy: TrustProxy): Plugin<Context, { req?: { socket?: { remoteAddress?: string } } }> {
  const noteOperation = ({ args }: { args: { contextValue: Context; document: Parameters<typeof getOperationAST>[0]; operationName?: string | null } }) => {
    const scope = currentScope();
    if (!scope) return;
    const operation = getOperationAST(args.document, args.operationName);
    scope.operation = operation?.name?.value;
    scope.operationType = operation?.operation;
    scope.ip = args.contextValue.clientIp;
    return () => void (scope.userId = args.contextValue.viewer?.id);
  };
  // Requests answered with an event stream, finished when it ends.
  const streams = new WeakSet<RequestScope>();
  // Yoga's own /health answers before this plugin's onRequest: its id is made with the answer.
  const identify = (scope: RequestScope, request: Request, serverContext: { req?: { socket?: { remoteAddress?: string } } }) => {
    if (!scope.id) scope.id = requestId(request.headers, serverContext.req?.socket?.remoteAddress, trustProxy);
  };
  return {
    instrumentation: {
      // The scope spans the whole request: every hook, the execution, the answer; it is finished (logged,
      // counted, its span ended) once every plugin has seen the answer, or when an event stream ends.
      request: (_payload, wrapped) => {
        const scope = new RequestScope("");
        const finish = () => void (streams.has(scope) || scope.finish());
        return inScope(scope, () => {
          const handled = wrapped();
          return handled
            ? handled.then(finish, (error: unknown) => {
                finish();
                throw error;
              })
            : finish();
        });
      },
    },
    onRequest({ request, serverContext }) {
      identify(currentScope()!, request, serverContext);
    },
    onExecute(payload) {
      const done = noteOperation(payload);
      return done && { onExecuteDone: done };
    },
    onSubscribe(payload) {
      const done = noteOperation(payload);
      return done && { onSubscribeResult: done };
    },
    onResponse({ request, response, serverContext, setResponse, fetchAPI }) {
      const scope = currentScope();
      if (!scope) return;
      identify(scope, request, serverContext);
      response.headers.set("x-request-id", scope.id);
      const fields = { method: request.method, path: new URL(request.url).pathname, status: response.status };
      scope.onFinish(() => logAnswer(logger, scope, fields, response.status >= 400));
      // An event stream is read after this returns, out of the request's scope: its reads are put back in it.
      if (response.body && response.headers.get("content-type")?.startsWith("text/event-stream")) {
        streams.add(scope);
        setResponse(new fetchAPI.Response(withinScope(scope, response.body, fetchAPI), response));
      }
    },
  };
}

/**
 * The one line of an answered request or WebSocket operation: at info when it failed or carries error
 * codes, at debug otherwise.
 */
export function logAnswer(logger: Logger, scope: RequestScope, fields: Record<string, unknown>, failed: boolean) {
  const level = failed || scope.codes.size > 0 ? "info" : "debug";
  if (!logger.isLevelEnabled(level)) return;
  logger[level](
    {
      ...fields,
      ms: Math.round((performance.now() - scope.startedAt) * 10) / 10,
      operation: scope.operation?.slice(0, 100),
      userId: scope.userId,
      ip: scope.ip,
      codes: scope.codes.size > 0 ? [...scope.codes.keys()] : undefined,
      sql: scope.statements,
      dbMs: Math.round(scope.dbMs * 10) / 10,
      cache: scope.cache,
    },
    fields.transport ? "operation" : "request",
  );
}

function withinScope(scope: RequestScope, body: ReadableStream<Uint8Array>, fetchAPI: { ReadableStream: typeof ReadableStream }) {
  const reader = body.getReader();
  return new fetchAPI.ReadableStream<Uint8Array>({
    pull: (controller) =>
      inScope(scope, async () => {
        try {
          const { done, value } = await reader.read();
          if (value) controller.enqueue(value);
          if (!done) return;
          controller.close();
        } catch (error) {
          controller.error(error);
        }
        scope.finish();
      }),
    cancel: (reason) => {
      scope.finish();
      return reader.cancel(reason);
    },
  });
}
