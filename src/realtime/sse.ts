import { randomUUID } from "node:crypto";
import { useGraphQLSSE } from "@graphql-yoga/plugin-graphql-sse";
import type { PrismaClient } from "@prisma/client";
import { type ExecutionResult, GraphQLError } from "graphql";
import { isAsyncIterable, mapAsyncIterator, type Plugin } from "graphql-yoga";
import type { ServerContext } from "../app.js";
import type { Config } from "../config.js";
import { clientIp } from "../context.js";
import { AuthenticationError, DomainError, RateLimitedError } from "../errors.js";
import { unauthenticated } from "../graphql/errors.js";
import { authenticate } from "../modules/auth/auth.service.js";
import type { SqlReader } from "../sql/reader.js";
import { CLOSE, type LiveConnection, type Realtime } from "./live.js";

// graphql-sse's single-connection mode names its stream with this header or query parameter.
const TOKEN_HEADER = "x-graphql-event-stream-token";
const TOKEN_PARAMETER = "token";
// graphql-sse opens a stream for exactly this Accept header, whatever the method.
const EVENT_STREAM = "text/event-stream";

const STATUS = { UNAUTHENTICATED: 401, FORBIDDEN: 403, RATE_LIMITED: 429 } as Record<string, number>;

export interface SingleConnectionDeps {
  endpoint: string;
  bodyLimit: number;
  db: PrismaClient;
  reader: SqlReader;
  config: Pick<Config, "jwt" | "trustProxy">;
  realtime: Realtime;
}

/** A stream a PUT reserved: counted from the PUT as a connection of its address and a stream of its user. */
interface Reservation {
  token: string;
  userId: number;
  ip: string;
  opened: boolean;
  released: boolean;
  expiry: NodeJS.Timeout;
  /** What the subscriptions on the stream see as their connection (so they are not counted as connections again). */
  connection: LiveConnection;
  /** Ends the open GET response (its graphql-sse stream, with its operations). */
  end?: () => void;
  untrack?: () => void;
}

type OnRequest = NonNullable<Plugin<object, ServerContext>["onRequest"]>;
type RequestPayload = Parameters<OnRequest>[0];

/**
 * The graphql-sse protocol's single-connection mode on the API's own path: a PUT reserves a stream,
 * a GET with its token opens it, POSTs with the token run operations on it, a DELETE stops one.
 * Everything else (plain POST and GET, and Yoga's own SSE, "distinct connections") stays Yoga's.
 * Each operation runs through every Yoga plugin (graphql-sse's onSubscribe uses getEnveloped), with
 * the Authorization header of its own POST.
 *
 * graphql-sse keeps a reservation until a GET opens it and then closes, so here a PUT needs a valid
 * credential, counts against REALTIME_CONNECTIONS_PER_IP (as the connection it will be, until that
 * closes) and against REALTIME_SUBSCRIPTIONS_PER_USER (a stream serves at least one subscription),
 * and is released if no GET opens it within REALTIME_SSE_RESERVATION_TIMEOUT. Tokens are made here:
 * any other token is refused (404), so a client cannot pick one.
 */
export function useSingleConnectionSSE({ endpoint, bodyLimit, db, reader, config, realtime }: SingleConnectionDeps): Plugin<object, ServerContext> {
  const reservations = new Map<string, Reservation>();
  const streamsByUser = new Map<number, number>();
  const chosen = new WeakMap<Request, string>();
  const plugin = useGraphQLSSE({ endpoint, authenticate: (req) => chosen.get(req.raw) ?? tokenOf(req.raw) });
  const onRequest = plugin.onRequest as OnRequest;
  let fetchAPI: RequestPayload["fetchAPI"];

  const release = (reservation: Reservation) => {
    if (reservation.released) return;
    reservation.released = true;
    clearTimeout(reservation.expiry);
    reservation.untrack?.();
    reservations.delete(reservation.token);
    realtime.closeConnection(reservation.ip, "graphql-sse");
    const left = (streamsByUser.get(reservation.userId) ?? 1) - 1;
    if (left > 0) streamsByUser.set(reservation.userId, left);
    else streamsByUser.delete(reservation.userId);
    realtime.sseStreams--;
  };

  // graphql-sse forgets a stream only when its response ends: open the unopened one as a GET would, and abort that GET.
  const expire = async (reservation: Reservation) => {
    if (reservation.opened) return;
    reservations.delete(reservation.token);
    const abort = new AbortController();
    const request = new fetchAPI.Request(`http://chirp${endpoint}?${TOKEN_PARAMETER}=${reservation.token}`, { headers: { accept: EVENT_STREAM }, signal: abort.signal });
    await onRequest({ request, serverContext: {}, endResponse: () => abort.abort() } as unknown as RequestPayload);
    release(reservation);
  };

  const refuse = (payload: RequestPayload, error: DomainError) => {
    const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
    if (error instanceof RateLimitedError) headers["retry-after"] = String(error.retryAfterSeconds);
    const body = JSON.stringify({ errors: [{ message: error.message, extensions: { code: error.code } }] });
    payload.endResponse(new payload.fetchAPI.Response(body, { status: STATUS[error.code] ?? 400, headers }));
  };

  const reserve = async (payload: RequestPayload) => {
    const { request, serverContext } = payload;
    const header = request.headers.get("authorization");
    let userId: number;
    try {
      if (!header) throw new AuthenticationError("A live-update stream needs a credential: send the Authorization header with the PUT.");
      userId = (await authenticate(db, reader, config.jwt, header)).id;
    } catch (error) {
      if (error instanceof DomainError) return refuse(payload, error);
      throw error;
    }
    const streams = streamsByUser.get(userId) ?? 0;
    if (realtime.closing) return refuse(payload, new RateLimitedError("The server is shutting down; connect again.", 1));
    if (streams >= realtime.settings.subscriptionsPerUser) {
      realtime.onRefusal("live-streams-per-user");
      return refuse(payload, new RateLimitedError(`At most ${realtime.settings.subscriptionsPerUser} live-update streams per user.`, 60));
    }
    const ip = clientIp(request, serverContext.req?.socket, config.trustProxy);
    if (!realtime.openConnection(ip, "graphql-sse")) return refuse(payload, new RateLimitedError(`At most ${realtime.settings.connectionsPerIp} live connections per address.`, 60));
    streamsByUser.set(userId, streams + 1);
    realtime.sseStreams++;
    const token = randomUUID();
    const reservation: Reservation = {
      token,
      userId,
      ip,
      opened: false,
      released: false,
      expiry: setTimeout(() => void expire(reservation), realtime.settings.sseReservationTimeoutMs).unref(),
      // A slow consumer ends the whole stream, as it closes a WebSocket; an ended credential ends its own operation only.
      connection: { transport: "graphql-sse", close: (code) => code === CLOSE.slowConsumer && reservation.end?.() },
    };
    reservations.set(token, reservation);
    chosen.set(request, token);
    return onRequest({
      ...payload,
      endResponse: (response) => {
        if (response.status !== 201) release(reservation);
        payload.endResponse(response);
      },
    });
  };

  const open = (payload: RequestPayload, reservation: Reservation) => {
    reservation.opened = true;
    clearTimeout(reservation.expiry);
    return onRequest({
      ...payload,
      endResponse: (response) => {
        if (response.status !== 200 || !response.body) {
          release(reservation);
          return payload.endResponse(response);
        }
        const reader = response.body.getReader();
        const ended = () => release(reservation);
        payload.request.signal.addEventListener("abort", ended);
        const body = new payload.fetchAPI.ReadableStream<Uint8Array>({
          async pull(controller) {
            const { done, value } = await reader.read();
            if (value) controller.enqueue(value);
            if (done) {
              ended();
              controller.close();
            }
          },
          cancel: (reason) => {
            ended();
            return reader.cancel(reason);
          },
        });
        reservation.end = () => void reader.cancel();
        // At shutdown the stream ends with the others (its operations completed), before the drain.
        reservation.untrack = realtime.track(() => reservation.end?.());
        payload.endResponse(new payload.fetchAPI.Response(body, { status: response.status, headers: response.headers }));
      },
    });
  };

  return {
    onYogaInit(init) {
      fetchAPI = init.yoga.fetchAPI;
      plugin.onYogaInit?.(init as never);
    },
    onRequest(payload) {
      const { request, endResponse, fetchAPI } = payload;
      const url = new URL(request.url);
      const token = tokenOf(request);
      const singleConnection = request.method === "PUT" || request.method === "DELETE" || token !== null;
      if (!singleConnection || url.pathname !== endpoint) return;
      // graphql-sse reads the body whole: bound it by its declared length first.
      const length = Number(request.headers.get("content-length") ?? (request.method === "POST" ? Number.NaN : 0));
      if (!(length <= bodyLimit)) return endResponse(new fetchAPI.Response(null, { status: 413 }));
      const streamRequest = request.headers.get("accept") === EVENT_STREAM;
      if (request.method === "PUT" && !streamRequest) return reserve(payload);
      const reservation = token === null ? undefined : reservations.get(token);
      if (!reservation) {
        return endResponse(new fetchAPI.Response(JSON.stringify({ errors: [{ message: "Stream not found" }] }), { status: 404, headers: { "content-type": "application/json; charset=utf-8" } }));
      }
      if (streamRequest && !reservation.opened) return open(payload, reservation);
      return onRequest({ ...payload, serverContext: { ...payload.serverContext, connection: reservation.connection } });
    },
  };
}

function tokenOf(request: Request): string | null {
  return request.headers.get(TOKEN_HEADER) ?? new URL(request.url).searchParams.get(TOKEN_PARAMETER);
}

/**
 * A subscription whose credential expired or whose session ended (src/realtime/live.ts ends it with an
 * AuthenticationError) sends one last result, `errors: [{ extensions: { code: "UNAUTHENTICATED" } }]`,
 * and completes: over SSE a bare completion would look like a normal end (a WebSocket closes with 4403 too).
 */
export function useCredentialEndNotice(): Plugin {
  return {
    onSubscribe: () => ({
      onSubscribeResult: ({ result, setResult }) => {
        if (!isAsyncIterable(result)) return;
        setResult(
          mapAsyncIterator(
            result,
            (value: ExecutionResult) => value,
            (error: unknown) => {
              // The executor hands on what the source threw wrapped in a GraphQLError.
              const original = error instanceof GraphQLError ? error.originalError : error;
              if (original instanceof AuthenticationError) return { errors: [unauthenticated(original.message)] };
              throw error;
            },
          ),
        );
      },
    }),
  };
}
