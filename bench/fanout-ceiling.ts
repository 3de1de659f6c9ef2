// The fan-out scenario's ceiling: node:http and `ws`, speaking just enough graphql-transport-ws for
// graphql-ws's client (connection_init, subscribe, complete, ping), so the benchmark's subscribers
// are the same clients for Chirp and for it. A post is one SQL statement (insert, the author's post
// count, the author's handle and followers), then one frame written to each follower's open
// subscriptions. No GraphQL, no per-subscriber check: what a fan-out costs with nothing else in the
// way. The viewer is trusted: the subject of the access token in connection_init (not verified), and
// the X-Viewer-Id header of `POST /post`. Compiled to plain JS by the runner, like ceiling.ts.
// Environment: DATABASE_URL, PORT, HOST (127.0.0.1), DATABASE_POOL_SIZE (10).
import { createServer } from "node:http";
import pg from "pg";
import { type WebSocket, WebSocketServer } from "ws";

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error("DATABASE_URL is required");
const pool = new pg.Pool({ connectionString, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) });

const INSERT = {
  name: "fanout_ceiling_post",
  text: `WITH p AS (INSERT INTO posts (author_id, body) VALUES ($1, $2) RETURNING id, author_id, body, created_at),
              counted AS (UPDATE users SET post_count = post_count + 1 WHERE id = $1)
         SELECT p.id, json_build_object('homeTimelineUpdated', json_build_object(
                  'id', encode(convert_to('Post:' || p.id, 'UTF8'), 'base64'), 'body', p.body,
                  'createdAt', to_char(p.created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                  'author', json_build_object('handle', u.handle, 'displayName', u.display_name)))::text AS data,
                (SELECT coalesce(array_agg(f.follower_id), '{}') FROM follows f WHERE f.followee_id = p.author_id) AS followers
         FROM p JOIN users u ON u.id = p.author_id`,
};

/** The open subscriptions of each viewer: their socket and graphql-ws operation id. */
const subscriptions = new Map<number, Map<WebSocket, Set<string>>>();

/** The user id of a bearer token's subject, trusted as the other ceiling trusts X-Viewer-Id. */
function viewerOf(authorization: unknown): number | null {
  const token = typeof authorization === "string" ? authorization.replace(/^Bearer\s+/i, "") : "";
  try {
    const sub = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")).sub;
    return Number.isInteger(Number(sub)) ? Number(sub) : null;
  } catch {
    return null;
  }
}

const server = createServer((req, res) => {
  const viewer = Number(req.headers["x-viewer-id"]);
  if (req.method !== "POST" || req.url !== "/post" || !Number.isInteger(viewer)) {
    res.writeHead(404).end();
    return;
  }
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => (body += chunk));
  req.on("end", async () => {
    try {
      const text = String(JSON.parse(body).body);
      const { rows } = await pool.query<{ id: number; data: string; followers: number[] }>({ ...INSERT, values: [viewer, text] });
      const { id, data, followers } = rows[0]!;
      for (const follower of followers) {
        for (const [socket, ids] of subscriptions.get(follower) ?? []) {
          for (const op of ids) socket.send(`{"id":${JSON.stringify(op)},"type":"next","payload":{"data":${data}}}`);
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end(`{"data":{"createPost":{"__typename":"Post","id":"${Buffer.from(`Post:${id}`).toString("base64")}"}}}`);
    } catch (error) {
      res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ errors: [{ message: String(error) }] }));
    }
  });
});

const wss = new WebSocketServer({ server, path: "/graphql" });
wss.on("connection", (socket) => {
  let viewer: number | null = null;
  const mine = new Set<string>();
  socket.on("message", (raw) => {
    let message: { type?: string; id?: string; payload?: Record<string, unknown> };
    try {
      message = JSON.parse(String(raw));
    } catch {
      return socket.close(4400, "Invalid message");
    }
    if (message.type === "connection_init") {
      viewer = viewerOf(message.payload?.authorization);
      if (viewer === null) return socket.close(4403, "Forbidden");
      socket.send('{"type":"connection_ack"}');
    } else if (message.type === "subscribe" && viewer !== null && typeof message.id === "string") {
      mine.add(message.id);
      const byViewer = subscriptions.get(viewer) ?? new Map<WebSocket, Set<string>>();
      subscriptions.set(viewer, byViewer.set(socket, mine));
    } else if (message.type === "complete" && typeof message.id === "string") {
      mine.delete(message.id);
    } else if (message.type === "ping") {
      socket.send('{"type":"pong"}');
    }
  });
  socket.on("close", () => {
    if (viewer !== null) subscriptions.get(viewer)?.delete(socket);
  });
});

server.listen(Number(process.env.PORT ?? 3001), process.env.HOST ?? "127.0.0.1", () => console.log("fan-out ceiling ready"));
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    for (const socket of wss.clients) socket.terminate();
    server.close();
    void pool.end().finally(() => process.exit(0));
  });
}
