import { type RequestListener, type Server, type ServerResponse, createServer } from "node:http";
import { Server as NetServer, type Socket } from "node:net";

export interface HttpServerOptions {
  /** The request's headers must arrive within this; then a 408 and the connection is closed. */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this. */
  requestTimeoutMs: number;
}

export interface HttpServer {
  server: Server;
  /**
   * Stops accepting connections, answers every request already sent with `Connection: close`, closes
   * connections that have no request in progress, and resolves when none is left; at `deadlineMs` it
   * cuts the rest and resolves with how many it cut.
   */
  drain(deadlineMs: number): Promise<{ cut: number }>;
}

// Node checks the two timeouts this often (its default, 30 s, would let a 10 s timeout run to 40 s).
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

interface Connection {
  /** Responses to requests received on it that have not closed yet. */
  responses: Set<ServerResponse>;
  /** bytesRead when the last response closed: more since means a next request has begun to arrive. */
  readAtRest: number;
}

/** The Node HTTP server for a request listener (the Yoga app), with request timeouts and a graceful drain. */
export function createHttpServer(listener: RequestListener, options: HttpServerOptions): HttpServer {
  const connections = new Map<Socket, Connection>();
  // Requests still being handled: a client that hung up leaves its connection closed, not its work done.
  let handling = 0;
  let allHandled: (() => void) | undefined;
  const handled = () => {
    if (--handling === 0) allHandled?.();
  };
  let draining = false;

  const server = createServer(
    { headersTimeout: options.headersTimeoutMs, requestTimeout: options.requestTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
    (req, res) => {
      const socket = req.socket;
      const connection = connections.get(socket)!;
      connection.responses.add(res);
      if (draining) res.setHeader("connection", "close");
      res.once("close", () => {
        connection.responses.delete(res);
        connection.readAtRest = socket.bytesRead;
        // A response whose headers went out before the drain promised keep-alive: end its connection once it is sent.
        if (draining) socket.destroySoon();
      });
      const result = (listener as (...args: Parameters<RequestListener>) => unknown)(req, res) as PromiseLike<unknown> | undefined;
      if (typeof result?.then === "function") {
        handling++;
        result.then(handled, handled);
      }
    },
  );
  let acceptedWhileDraining = 0;
  server.on("connection", (socket: Socket) => {
    if (draining) acceptedWhileDraining++;
    connections.set(socket, { responses: new Set(), readAtRest: 0 });
    socket.once("close", () => connections.delete(socket));
  });

  const closeConnectionsAtRest = () => {
    for (const [socket, { responses, readAtRest }] of connections) {
      if (responses.size === 0 && socket.bytesRead === readAtRest) socket.destroySoon();
    }
  };

  return {
    server,
    drain: (deadlineMs) =>
      new Promise((resolve) => {
        draining = true;
        // Responses still being computed close their connection when sent; later requests get the header as they arrive.
        for (const { responses } of connections.values()) {
          for (const response of responses) if (!response.headersSent) response.setHeader("connection", "close");
        }
        let cut = 0;
        let listening = true;
        const stopListening = () => {
          if (!listening) return;
          listening = false;
          // http.Server#close would also destroy each keep-alive connection between two requests, even one whose
          // next request already sits unread in its buffer, and stop the request timeouts; net.Server's only stops accepting.
          NetServer.prototype.close.call(server, () => {
            // Then the work of requests whose clients went away, so it does not meet a closed database.
            const done = () => {
              clearTimeout(deadline);
              resolve({ cut });
            };
            if (handling === 0) done();
            else allHandled = done;
          });
        };
        const deadline = setTimeout(() => {
          cut = connections.size;
          stopListening();
          for (const socket of connections.keys()) socket.destroy();
          resolve({ cut });
        }, deadlineMs);
        // libuv accepts one connection per turn of the event loop (libuv#3696), and closing the listening
        // socket resets those still in its backlog, requests and all: keep it until a whole turn accepts none.
        let seen = -1;
        const closeWhenBacklogEmpty = () => {
          if (!listening) return;
          if (acceptedWhileDraining !== seen) {
            seen = acceptedWhileDraining;
            setImmediate(closeWhenBacklogEmpty);
            return;
          }
          stopListening();
          // One more turn reads what the last connections accepted had sent; those still quiet have nothing in progress.
          setImmediate(closeConnectionsAtRest);
        };
        setImmediate(closeWhenBacklogEmpty);
      }),
  };
}
