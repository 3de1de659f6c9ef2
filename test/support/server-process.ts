import { type ChildProcess, spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface ServerProcess {
  port: number;
  /** Every line it printed so far. */
  output(): string;
  /** Resolves when a line it prints matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

const running = new Set<ChildProcess>();

/** Kills every server a test file started and left running (a failed assertion mid-test). */
export function killServers() {
  for (const child of running) child.kill("SIGKILL");
}

/** `src/server.ts` in a process of its own on a free port, on the embedded database in `dataDir`. */
export async function startServer(dataDir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, DEMO_DATA: "false", LOG_LEVEL: "info", ...env };
  // The suite's PostgreSQL is not this server's: it keeps its posts in dataDir, across restarts.
  delete childEnv.DATABASE_URL;
  const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], { cwd: ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let output = "";
  const waiters = new Set<() => void>();
  const keep = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    for (const check of waiters) check();
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const waitFor = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`the server printed nothing matching ${pattern} in ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const check = () => {
        if (!pattern.test(output)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
      void exited.then(() => check());
    });
  // A hang detector, not a timing claim: a loaded 2-core machine took ~30 s to start tsx and the imports.
  await waitFor(/Chirp is ready/, 90_000);
  const port = Number(/"port":(\d+)/.exec(output)?.[1]);
  return { port, output: () => output, waitFor, exited, kill: (signal) => child.kill(signal) };
}

export interface Answer {
  status?: number;
  connection?: string;
  body?: string;
  /** The socket error instead of an answer (ECONNRESET, …). */
  error?: string;
}

/**
 * A POST /graphql on a keep-alive connection of its own. `hold` sends all but the last byte of the
 * body and returns a function that sends it, so the request is in progress for as long as the test likes.
 */
export function postGraphQL(port: number, operation: { query: string; variables?: unknown }, options: { token?: string; hold?: boolean } = {}) {
  const body = Buffer.from(JSON.stringify(operation));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const headers: Record<string, string | number> = { "content-type": "application/json", "content-length": body.length };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let written!: () => void;
  let release = () => {};
  const sent = new Promise<void>((resolve) => (written = resolve));
  const answer = new Promise<Answer>((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/graphql", method: "POST", agent, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode, connection: res.headers.connection, body: text }));
      res.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    if (options.hold) req.write(body.subarray(0, -1), () => written());
    else req.end(body, () => written());
    release = () => req.end(body.subarray(-1));
  });
  void answer.finally(() => agent.destroy());
  return { answer, sent, release: () => release() };
}
