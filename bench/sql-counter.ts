import { type Server, type Socket, connect, createServer } from "node:net";

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/**
 * A TCP proxy in front of PostgreSQL that counts the SQL statements its clients send: every simple
 * query ('Q') and every Execute ('E') of the extended protocol, whatever the driver or pipelining.
 * It also keeps the text of each counted statement. Used in the verification pass only.
 */
export interface SqlCounter {
  /** The database URL, pointed at the proxy. */
  url: string;
  /** Statements counted since the last reset. */
  readonly count: number;
  /** Their SQL text, in the order they were sent. */
  readonly statements: readonly string[];
  reset(): void;
  close(): Promise<void>;
}

export async function startSqlCounter(databaseUrl: string): Promise<SqlCounter> {
  const target = new URL(databaseUrl);
  const statements: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.pipe(client);
    const parser = new FrontendParser(
      (data) => upstream.write(data),
      (reply) => client.write(reply),
      (sql) => statements.push(sql),
    );
    client.on("data", (chunk: Buffer) => parser.push(chunk));
    client.on("end", () => upstream.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("The SQL counter has no TCP address");
  const url = new URL(databaseUrl);
  url.hostname = "127.0.0.1";
  url.port = String(address.port);
  return {
    url: url.toString(),
    get count() {
      return statements.length;
    },
    get statements() {
      return statements;
    },
    reset: () => void statements.splice(0),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Reads the frontend side of one connection. The startup phase has untyped messages (length, code);
 * SSL and GSS encryption requests are answered 'N' here, so the rest stays readable. After the
 * StartupMessage every message is a type byte and a length that counts itself.
 */
class FrontendParser {
  private buffer: Buffer = Buffer.alloc(0);
  private started = false;
  /** Prepared statement name → SQL, portal → statement name (the unnamed ones are ""). */
  private readonly prepared = new Map<string, string>();
  private readonly portals = new Map<string, string>();

  constructor(
    private readonly forward: (data: Buffer) => void,
    private readonly reply: (data: Buffer) => void,
    private readonly onStatement: (sql: string) => void,
  ) {}

  push(chunk: Buffer) {
    if (this.started) this.forward(chunk);
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const message = this.started ? this.nextTyped() : this.nextStartup();
      if (!message) return;
    }
  }

  private nextStartup(): boolean {
    if (this.buffer.length < 8) return false;
    const length = this.buffer.readInt32BE(0);
    if (this.buffer.length < length) return false;
    const message = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    const code = message.readInt32BE(4);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      this.reply(Buffer.from("N"));
      return true;
    }
    this.forward(message);
    this.started = true;
    // Whatever followed the StartupMessage in the same chunk was typed traffic: send it on as well.
    if (this.buffer.length > 0) this.forward(this.buffer);
    return true;
  }

  private nextTyped(): boolean {
    if (this.buffer.length < 5) return false;
    const type = String.fromCharCode(this.buffer[0]!);
    const length = this.buffer.readInt32BE(1);
    if (this.buffer.length < 1 + length) return false;
    const body = this.buffer.subarray(5, 1 + length);
    this.buffer = this.buffer.subarray(1 + length);
    this.read(type, body);
    return true;
  }

  private read(type: string, body: Buffer) {
    const strings = () => {
      const parts: string[] = [];
      let start = 0;
      for (let i = 0; i < body.length && parts.length < 2; i++) {
        if (body[i] === 0) {
          parts.push(body.toString("utf8", start, i));
          start = i + 1;
        }
      }
      return parts;
    };
    if (type === "Q") {
      this.onStatement(strings()[0] ?? "");
    } else if (type === "P") {
      const [name = "", sql = ""] = strings();
      this.prepared.set(name, sql);
    } else if (type === "B") {
      const [portal = "", statement = ""] = strings();
      this.portals.set(portal, statement);
    } else if (type === "E") {
      const [portal = ""] = strings();
      this.onStatement(this.prepared.get(this.portals.get(portal) ?? "") ?? "(unknown prepared statement)");
    }
  }
}
