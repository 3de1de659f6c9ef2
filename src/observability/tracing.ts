import { type Context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type TextMapGetter, type Tracer, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { Plugin } from "graphql-yoga";
import type { TrustProxy } from "../config.js";
import { MEDIA_PATH } from "../modules/media/media.http.js";
import { type RequestScope, currentScope } from "./scope.js";

const propagator = new W3CTraceContextPropagator();
const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

/** The route of a path, for span names: what Chirp serves, not what a client typed. */
function route(path: string) {
  if (path.startsWith(MEDIA_PATH)) return `${MEDIA_PATH}*`;
  return path === "/graphql" || path === "/health" || path === "/ready" || path === "/metrics" ? path : undefined;
}

/** The request's (or operation's) span and where its children go. */
function startRoot(tracer: Tracer, scope: RequestScope, name: string, parent: Context, attributes: Record<string, string>) {
  const root = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  scope.trace = { tracer, root, parent: trace.setSpan(parent, root) };
  scope.onFinish(() => {
    if (scope.operationType) root.setAttributes({ "graphql.operation.type": scope.operationType, "graphql.operation.name": scope.operation?.slice(0, 100) ?? "" });
    root.end();
  });
}

/** A span around one phase, a child of where the scope's children go now. */
function phase<T>(name: string, run: (span: Span | undefined) => T): T {
  const traced = currentScope()?.trace;
  if (!traced) return run(undefined);
  const span = traced.tracer.startSpan(name, { kind: SpanKind.INTERNAL }, traced.parent);
  try {
    return run(span);
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}

/** Execute (or subscribe): its span is the parent of the statements it sends, the session's check included. */
async function execution(name: string, wrapped: () => unknown) {
  const scope = currentScope();
  const traced = scope?.trace;
  if (!scope || !traced) return void (await wrapped());
  const outer = traced.parent;
  const span = traced.tracer.startSpan(name, { kind: SpanKind.INTERNAL }, outer);
  traced.parent = trace.setSpan(outer, span);
  try {
    await wrapped();
  } finally {
    traced.parent = outer;
    if (scope.operationType) span.setAttributes({ "graphql.operation.type": scope.operationType, "graphql.operation.name": scope.operation?.slice(0, 100) ?? "" });
    span.end();
  }
}

/**
 * Spans for each request (its W3C `traceparent` continues a trace when a trusted proxy sent it),
 * its parse, validate and execute (or subscribe) phases, and each SQL statement (scope.ts). A
 * WebSocket operation is a trace of its own. No span per resolver: a timeline page resolves about
 * 500 fields.
 */
export function useTracing(tracer: Tracer, trustProxy: TrustProxy): Plugin<object, { req?: { socket?: { remoteAddress?: string } } }> {
  return {
    onRequest({ request, serverContext, url }) {
      const scope = currentScope();
      if (!scope) return;
      const peer = serverContext.req?.socket?.remoteAddress;
      const parent = peer && trustProxy(peer, 0) ? propagator.extract(ROOT_CONTEXT, request.headers, headerGetter) : ROOT_CONTEXT;
      const path = route(url.pathname);
      const attributes: Record<string, string> = { "http.request.method": request.method, "url.path": url.pathname, "chirp.request_id": scope.id };
      if (path) attributes["http.route"] = path;
      startRoot(tracer, scope, path ? `${request.method} ${path}` : request.method, parent, attributes);
    },
    onResponse({ response }) {
      const root = currentScope()?.trace?.root;
      root?.setAttribute("http.response.status_code", response.status);
      if (response.status >= 500) root?.setStatus({ code: SpanStatusCode.ERROR });
    },
    // A WebSocket operation envelops in its own scope, which no HTTP request started.
    onEnveloped() {
      const scope = currentScope();
      if (scope && !scope.trace) startRoot(tracer, scope, "graphql-ws", ROOT_CONTEXT, { "chirp.request_id": scope.id, "network.protocol.name": "websocket" });
    },
    instrumentation: {
      parse: (_payload, wrapped) => phase("graphql.parse", wrapped),
      validate: (_payload, wrapped) => phase("graphql.validate", wrapped),
      execute: (_payload, wrapped) => execution("graphql.execute", wrapped),
      subscribe: (_payload, wrapped) => execution("graphql.subscribe", wrapped),
    },
  };
}
