import { type RequestListener, type Server, createServer } from "node:http";

export interface HttpServerOptions {
  /** The request's headers must arrive within this; then a 408 and the connection is closed. */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this. */
  requestTimeoutMs: number;
}

// Node checks the two timeouts this often (its default, 30 s, would let a 10 s timeout run to 40 s).
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** The Node HTTP server for a request listener (the Yoga app), with request timeouts. */
export function createHttpServer(listener: RequestListener, options: HttpServerOptions): Server {
  return createServer(
    { headersTimeout: options.headersTimeoutMs, requestTimeout: options.requestTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
    listener,
  );
}
