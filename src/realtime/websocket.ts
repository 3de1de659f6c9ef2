import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { type ExecutionArgs, type FormattedExecutionResult, GraphQLError, type execute, type subscribe } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import type { App } from "../app.js";
import type { Config } from "../config.js";
import { clientIp } from "../context.js";
import type { ErrorReporter } from "../error-reporter.js";
import { maskError, resultNormaliser } from "../graphql/errors.js";
import { logAnswer, requestId } from "../graphql/request-log.js";
import type { Logger } from "../logger.js";
import { RequestScope, inScope } from "../observability/scope.js";
import { CLOSE, type LiveConnection, type Realtime, accessTokenExpiry } from "./live.js";

interface Envelope {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
  /** The operation's scope: its id, codes and statements, what its log line says. */
  scope: RequestScope;
}

interface Operations {
  /** The connection's id: the upgrade's X-Request-Id from a trusted proxy, or a new one; its operations' ids are `<id>/<n>`. */
  connectionId: string;
  count: number;
  /** The scopes of the operations running on the connection, by graphql-ws operation id. */
  scopes: Map<string, RequestScope>;
}

type Extra = { operations: Operations; authorization?: string; untrack?: () => void; expiry?: NodeJS.Timeout };

/**
 * WebSocket on the API's path, with the graphql-transport-ws protocol (graphql-ws). Each operation
 * runs through `app.getEnveloped`, so every Yoga plugin runs as over HTTP: authentication (from
 * connection_init's `authorization`), the page-size and depth checks, masking. Browsers cannot set
 * headers on a WebSocket, hence the payload; the upgrade request's own headers (the address behind a
 * proxy, the user agent) still count. Each operation runs in a scope of its own (its id, the
 * connection's id and a number), and is logged in one line when it completes, as an HTTP request is.
 */
export function attachWebSockets(server: Server, app: App, realtime: Realtime, config: Config, logger: Logger, reporter: ErrorReporter) {
  const settings = realtime.settings;
  const endpoint = app.graphqlEndpoint;
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.requestBodyLimit });
  // Yoga's result processing, which gives every error its code over HTTP, does not see a WebSocket.
  const normalise = resultNormaliser(reporter, { production: config.env === "production" });
  const connectionIds = new WeakMap<IncomingMessage, string>();
  // The 101 answer names the connection, as every HTTP answer names its request.
  wss.on("headers", (headers, req) => headers.push(`X-Request-Id: ${connectionIds.get(req)}`));

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const upgrade = upgradeRequest(req, null);
    const id = requestId(upgrade.headers, req.socket.remoteAddress, config.trustProxy);
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nX-Request-Id: ${id}\r\nContent-Length: 0\r\n\r\n`);
    };
    if (new URL(req.url ?? "/", "http://chirp").pathname !== endpoint) return refuse(404, "Not Found");
    if (realtime.closing) return refuse(503, "Service Unavailable");
    const ip = clientIp(upgrade, req.socket, config.trustProxy);
    if (!realtime.openConnection(ip, "websocket")) return refuse(429, "Too Many Requests");
    connectionIds.set(req, id);
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.once("close", () => realtime.closeConnection(ip, "websocket"));
      wss.emit("connection", ws, req);
    });
  });

  /** The operation's scope, for a hook graphql-ws calls outside it. */
  const scopeOf = (extra: Partial<Extra>, id: string) => extra.operations!.scopes.get(id)!;
  const finish = (extra: Partial<Extra>, id: string) => {
    const scope = extra.operations!.scopes.get(id);
    extra.operations!.scopes.delete(id);
    scope?.finish();
  };

  useServer<Record<string, unknown> | undefined, Extra>(
    {
      connectionInitWaitTimeout: 10_000,
      onConnect: (ctx) => {
        const payload = ctx.connectionParams ?? {};
        const authorization = payload.authorization ?? payload.Authorization;
        if (authorization !== undefined && typeof authorization !== "string") return false;
        const { socket, request: req } = ctx.extra;
        ctx.extra.operations = { connectionId: connectionIds.get(req) ?? randomUUID(), count: 0, scopes: new Map() };
        ctx.extra.authorization = authorization;
        ctx.extra.untrack = realtime.track((reason) => socket.close(CLOSE[reason], reason === "goingAway" ? "Server shutting down" : reason));
        socket.once("close", () => {
          ctx.extra.untrack?.();
          clearTimeout(ctx.extra.expiry);
        });
        // An idle connection whose token expires ends too; its subscriptions check more on every event.
        const expiresInMs = authorization ? accessTokenExpiry(authorization) - Date.now() : Number.POSITIVE_INFINITY;
        if (expiresInMs < 2 ** 31 - 1) ctx.extra.expiry = setTimeout(() => socket.close(CLOSE.credentialEnded, "Credential ended"), Math.max(0, expiresInMs));
        return true;
      },
      onSubscribe: (ctx, id, payload) => {
        const { socket, request: req } = ctx.extra;
        const operations = ctx.extra.operations!;
        const { connectionId } = operations;
        const scope = new RequestScope(`${connectionId}/${++operations.count}`);
        const request = upgradeRequest(req, ctx.extra.authorization ?? null);
        scope.ip = clientIp(request, req.socket, config.trustProxy);
        scope.onFinish(() => logAnswer(logger, scope, { transport: "websocket", connectionId }, false));
        operations.scopes.set(id, scope);
        return inScope(scope, async () => {
          if (Object.keys(ctx.subscriptions).length > settings.subscriptionsPerConnection) {
            realtime.onRefusal("live-subscriptions-per-connection");
            return [new GraphQLError(`At most ${settings.subscriptionsPerConnection} subscriptions per connection.`, { extensions: { code: "RATE_LIMITED" } })];
          }
          const connection: LiveConnection = { transport: "websocket", close: (code, reason) => socket.close(code, reason) };
          const enveloped = app.getEnveloped({ request, req, connection, params: payload, waitUntil: () => {} } as unknown as Parameters<App["getEnveloped"]>[0]);
          let document;
          try {
            // graphql-armor's limits throw from parse and validate.
            document = enveloped.parse(payload.query);
            const errors = enveloped.validate(enveloped.schema, document);
            if (errors.length > 0) return errors;
          } catch (error) {
            return [error instanceof GraphQLError ? error : maskError(error)];
          }
          // graphql-ws calls execute or subscribe with these arguments: the rootValue carries the enveloped ones.
          const rootValue: Envelope = { execute: enveloped.execute, subscribe: enveloped.subscribe, scope };
          return {
            schema: enveloped.schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue: await enveloped.contextFactory(),
            rootValue,
          };
        });
      },
      onNext: (ctx, id, _payload, _args, result) =>
        inScope(scopeOf(ctx.extra, id), () => {
          // ws queues what the client does not read; beyond the bound the client is too slow to keep.
          if (ctx.extra.socket.bufferedAmount > settings.maxBufferedBytes) {
            logger.info("closed a slow live-update WebSocket");
            ctx.extra.socket.close(CLOSE.slowConsumer, "Slow consumer");
          }
          return normalise(result) as FormattedExecutionResult;
        }),
      // An operation that ends in errors is not completed by graphql-ws: it ends here.
      onError: (ctx, id, _payload, errors) => {
        const formatted = inScope(scopeOf(ctx.extra, id), () => normalise({ errors }).errors!.map((error) => error.toJSON()));
        finish(ctx.extra, id);
        return formatted;
      },
      onComplete: (ctx, id) => finish(ctx.extra, id),
      // Over HTTP Yoga masks what an operation throws (a refused credential, a fault); here, the same.
      execute: (args) => inScope((args.rootValue as Envelope).scope, () => guarded(() => (args.rootValue as Envelope).execute(args))) as ReturnType<typeof execute>,
      subscribe: (args) => inScope((args.rootValue as Envelope).scope, () => guarded(() => (args.rootValue as Envelope).subscribe(args))) as ReturnType<typeof subscribe>,
    },
    wss,
    settings.keepAliveMs,
  );
  return wss;
}

async function guarded(run: () => unknown) {
  try {
    return await run();
  } catch (error) {
    return { errors: [maskError(error)] };
  }
}

/** A Fetch Request standing for an operation over the WebSocket: the upgrade's headers, and the credential of connection_init. */
function upgradeRequest(req: IncomingMessage, authorization: string | null) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === "authorization" || value === undefined) continue;
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  if (authorization) headers.set("authorization", authorization);
  return new Request(new URL(req.url ?? "/", "http://chirp"), { headers });
}
