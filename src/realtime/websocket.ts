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
import type { Logger } from "../logger.js";
import { CLOSE, type LiveConnection, type Realtime, accessTokenExpiry } from "./live.js";

interface Envelope {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

/**
 * WebSocket on the API's path, with the graphql-transport-ws protocol (graphql-ws). Each operation
 * runs through `app.getEnveloped`, so every Yoga plugin runs as over HTTP: authentication (from
 * connection_init's `authorization`), the page-size and depth checks, masking. Browsers cannot set
 * headers on a WebSocket, hence the payload; the upgrade request's own headers (the address behind a
 * proxy, the user agent) still count.
 */
export function attachWebSockets(server: Server, app: App, realtime: Realtime, config: Config, logger: Logger, reporter: ErrorReporter) {
  const settings = realtime.settings;
  const endpoint = app.graphqlEndpoint;
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.requestBodyLimit });
  // Yoga's result processing, which gives every error its code over HTTP, does not see a WebSocket.
  const normalise = resultNormaliser(reporter, logger, { production: config.env === "production" });
  const requests = new WeakMap<object, Map<string, Request>>();
  const requestOf = (extra: object, id: string) => requests.get(extra)?.get(id) ?? new Request("http://chirp/graphql");

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (new URL(req.url ?? "/", "http://chirp").pathname !== endpoint) return refuse(404, "Not Found");
    if (realtime.closing) return refuse(503, "Service Unavailable");
    const ip = clientIp(upgradeRequest(req, null), req.socket, config.trustProxy);
    if (!realtime.openConnection(ip)) return refuse(429, "Too Many Requests");
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.once("close", () => realtime.closeConnection(ip));
      wss.emit("connection", ws, req);
    });
  });

  useServer<Record<string, unknown> | undefined, { authorization?: string; untrack?: () => void; expiry?: NodeJS.Timeout }>(
    {
      connectionInitWaitTimeout: 10_000,
      onConnect: (ctx) => {
        const payload = ctx.connectionParams ?? {};
        const authorization = payload.authorization ?? payload.Authorization;
        if (authorization !== undefined && typeof authorization !== "string") return false;
        const { socket } = ctx.extra;
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
      onSubscribe: async (ctx, id, payload) => {
        if (Object.keys(ctx.subscriptions).length > settings.subscriptionsPerConnection) {
          return [new GraphQLError(`At most ${settings.subscriptionsPerConnection} subscriptions per connection.`, { extensions: { code: "RATE_LIMITED" } })];
        }
        const { socket, request: req } = ctx.extra;
        const connection: LiveConnection = { close: (code, reason) => socket.close(code, reason) };
        const request = upgradeRequest(req, ctx.extra.authorization ?? null);
        if (!requests.has(ctx.extra)) requests.set(ctx.extra, new Map());
        requests.get(ctx.extra)!.set(id, request);
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
        const rootValue: Envelope = { execute: enveloped.execute, subscribe: enveloped.subscribe };
        return {
          schema: enveloped.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue,
        };
      },
      onNext: (ctx, id, _payload, _args, result) => {
        // ws queues what the client does not read; beyond the bound the client is too slow to keep.
        if (ctx.extra.socket.bufferedAmount > settings.maxBufferedBytes) {
          logger.info("closed a slow live-update WebSocket");
          ctx.extra.socket.close(CLOSE.slowConsumer, "Slow consumer");
        }
        return normalise(result, requestOf(ctx.extra, id)) as FormattedExecutionResult;
      },
      onError: (ctx, id, _payload, errors) => normalise({ errors }, requestOf(ctx.extra, id)).errors!.map((error) => error.toJSON()),
      onComplete: (ctx, id) => void requests.get(ctx.extra)?.delete(id),
      // Over HTTP Yoga masks what an operation throws (a refused credential, a fault); here, the same.
      execute: (args) => guarded(() => (args.rootValue as Envelope).execute(args)) as ReturnType<typeof execute>,
      subscribe: (args) => guarded(() => (args.rootValue as Envelope).subscribe(args)) as ReturnType<typeof subscribe>,
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
