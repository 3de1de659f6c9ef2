import type { AddressInfo } from "node:net";
import { type Client as SseClient, createClient as createSseClient } from "graphql-sse";
import { type Client as WsClient, createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";
import { createApp } from "../../src/app.js";
import type { Config } from "../../src/config.js";
import { createHttpServer } from "../../src/http-server.js";
import { createEventBus } from "../../src/realtime/bus.js";
import { Realtime } from "../../src/realtime/live.js";
import { attachWebSockets } from "../../src/realtime/websocket.js";
import { ErrorReporter } from "../../src/error-reporter.js";
import { testConfig } from "./api.js";
import { workerDatabase } from "./database.js";
import { testLogger } from "./logs.js";

/** The app on a real listening socket, with its WebSocket server, as src/server.ts runs it. */
export async function listenApi(config: Config = testConfig) {
  const { db } = await workerDatabase();
  const logger = testLogger();
  const realtime = new Realtime(createEventBus(config.realtime, logger), config.realtime, logger);
  const reporter = new ErrorReporter(logger);
  const app = createApp({ db: db.prisma, reader: db.reader, config, logger, realtime, reporter, pool: db.pool, versions: db.versions });
  const { server, drain } = createHttpServer(app, config.http);
  attachWebSockets(server, app, realtime, config, logger, reporter);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/graphql`;
  const clients: { dispose(): void }[] = [];

  /** A graphql-ws client; `init` is connection_init's payload. */
  function ws(init?: Record<string, unknown>, options: { onClose?: (code: number, reason: string) => void } = {}): WsClient {
    const client = createWsClient({
      url: url.replace("http", "ws"),
      webSocketImpl: WebSocket,
      connectionParams: init,
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => {},
      on: { closed: (event) => options.onClose?.((event as CloseEvent).code, String((event as CloseEvent).reason)) },
    });
    clients.push(client);
    return client;
  }

  /** A graphql-sse client in single-connection mode, with the token as its Authorization header. */
  function sse(token: string): SseClient<true> {
    const client = createSseClient({ url, singleConnection: true, headers: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    clients.push(client);
    return client;
  }

  /** A GraphQL request over HTTP to this server (so its writes publish on its bus). */
  async function execute<R = any>(query: string, variables?: Record<string, unknown>, as?: { token: string } | null) {
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/graphql-response+json" };
    if (as) headers.authorization = `Bearer ${as.token}`;
    const response = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    return (await response.json()) as { data?: R; errors?: { message: string; extensions?: { code?: string } }[] };
  }

  let handles = 0;
  /** Signs a user up through this server. */
  async function signUp(prefix = "live") {
    const handle = `${prefix}_${process.env.VITEST_POOL_ID ?? 0}_${port}_${++handles}`;
    const result = await execute(
      `mutation ($input: SignUpInput!) { signUp(input: $input) { __typename ... on AuthPayload { accessToken refreshToken viewer { id } } } }`,
      { input: { handle, email: `${handle}@example.com`, password: "correct horse battery" } },
    );
    const payload = result.data.signUp;
    if (payload.__typename !== "AuthPayload") throw new Error(JSON.stringify(result));
    return { id: payload.viewer.id as string, handle, token: payload.accessToken as string, refreshToken: payload.refreshToken as string };
  }

  async function close() {
    for (const client of clients) client.dispose();
    await realtime.close();
    await drain(1_000);
    await app.dispose();
  }

  return { app, port, url, realtime, ws, sse, execute, signUp, close };
}

export type LiveApi = Awaited<ReturnType<typeof listenApi>>;

/** What a subscription delivered so far, and a way to wait for the next item. */
export interface Received<T> {
  values: T[];
  errors: unknown[];
  done: Promise<void>;
  /** Resolves with the n-th value (1-based) once it has arrived. */
  nth(n: number, timeoutMs?: number): Promise<T>;
  stop(): void;
}

type Sink<T> = { next(value: T): void; error(error: unknown): void; complete(): void };

/** Subscribes with a graphql-ws or graphql-sse client and records what comes. */
export function collect<T = Record<string, unknown>>(
  client: { subscribe(payload: { query: string; variables?: Record<string, unknown> }, sink: Sink<{ data?: unknown; errors?: unknown }>): () => void },
  query: string,
  variables?: Record<string, unknown>,
): Received<T> {
  const values: T[] = [];
  const errors: unknown[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of waiters) waiter();
  };
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const stop = client.subscribe(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) errors.push(...(result.errors as unknown[]));
        if (result.data) values.push(result.data as T);
        notify();
      },
      error: (error) => {
        errors.push(error);
        finish();
        notify();
      },
      complete: () => {
        finish();
        notify();
      },
    },
  );
  const nth = (n: number, timeoutMs = 10_000) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`got ${values.length} of ${n} values in ${timeoutMs} ms: ${JSON.stringify({ values, errors })}`));
      }, timeoutMs);
      const check = () => {
        if (values.length >= n) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(values[n - 1]!);
        }
      };
      waiters.add(check);
      check();
    });
  return { values, errors, done, nth, stop };
}

/** Resolves once the instance has a live stream open for `count` subscriptions (the subscribe step ran). */
export async function untilSubscribed(realtime: Realtime, count: number, timeoutMs = 10_000) {
  const start = Date.now();
  while (realtime.openStreams < count) {
    if (Date.now() - start > timeoutMs) throw new Error(`${realtime.openStreams} of ${count} subscriptions open after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
