/**
 * Live updates, measured against real servers (src/server.ts in processes of their own) on one
 * PostgreSQL database: write-to-arrival latency over WebSocket and SSE, the same across two
 * instances through Redis, memory per idle WebSocket subscriber, and what 1,000 subscribers who
 * are not concerned cost a write. `npm run bench:realtime` (BENCH_DATABASE_URL, REDIS_URL to change
 * where; EVENTS to change the 1,000 events per figure).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "graphql-ws";
import pg from "pg";
import WebSocket from "ws";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/chirp_rt_bench";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const EVENTS = Number(process.env.EVENTS ?? 1_000);
const IDLE = 1_000;
const HOME = "subscription BenchHome { homeTimelineUpdated { id body author { handle } } }";
const MESSAGES = "subscription BenchMessages { messageReceived { id body sender { handle } } }";

interface Server {
  port: number;
  pid: number;
  child: ChildProcess;
}

const dataDir = mkdtempSync(join(tmpdir(), "chirp-bench-realtime-"));
const children: ChildProcess[] = [];
process.on("exit", () => children.forEach((c) => c.kill("SIGKILL")));

async function resetDatabase() {
  const admin = new URL(DATABASE_URL);
  const name = admin.pathname.slice(1);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await client.end();
  await run(["--import", "tsx", "scripts/migrate.ts"], { DATABASE_URL });
}

const run = (args: string[], env: Record<string, string>) =>
  new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: "ignore" });
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(" ")} exited ${code}`))));
  });

async function startServer(env: Record<string, string> = {}): Promise<Server> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      // Development: production asks for an SMTP server, and sign-up mail goes to .eml files in DATA_DIR here.
      NODE_ENV: "development",
      DATA_DIR: dataDir,
      DEMO_DATA: "false",
      JWT_SECRET: "bench-secret-that-is-at-least-32-characters",
      DATABASE_URL,
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      SIGNUPS_PER_IP: "1000000",
      REALTIME_CONNECTIONS_PER_IP: "5000",
      REALTIME_SUBSCRIPTIONS_PER_USER: "5000",
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  let output = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", (chunk) => {
      output += chunk;
      const match = /"port":(\d+).*Chirp is ready/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`server exited ${code}: ${output}`)));
  });
  return { port, pid: child.pid!, child };
}

async function gql(server: Server, query: string, variables: Record<string, unknown> = {}, token?: string) {
  const response = await fetch(`http://127.0.0.1:${server.port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data: any; errors?: unknown };
}

let handles = 0;
async function signUp(server: Server) {
  const handle = `bench_${process.pid % 1000}_${++handles}`;
  const { data } = await gql(server, `mutation ($input: SignUpInput!) { signUp(input: $input) { ... on AuthPayload { accessToken viewer { id } } } }`, {
    input: { handle, email: `${handle}@example.com`, password: "correct horse battery" },
  });
  return { token: data.signUp.accessToken as string, id: data.signUp.viewer.id as string };
}

const createPost = (server: Server, token: string, body: string) => gql(server, `mutation ($body: String!) { createPost(input: { body: $body }) { __typename } }`, { body }, token);

/** How subscriptions ended early, by kind: a figure is only worth something if none did. */
const endings = new Map<string, number>();
const note = (kind: string) => endings.set(kind, (endings.get(kind) ?? 0) + 1);

/** A subscriber over graphql-ws; `arrivals` resolves each event's body to its arrival time. */
function wsSubscriber(server: Server, token: string, query = HOME) {
  const client = createClient({ url: `ws://127.0.0.1:${server.port}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, lazy: false, retryAttempts: 0,
    // graphql-ws's default console.errors each close with its whole socket; the sink's error counts it below.
    onNonLazyError: () => {},
  });
  const arrivals = new Map<string, number>();
  const waiters = new Map<string, (t: number) => void>();
  client.subscribe<{ homeTimelineUpdated?: { body: string }; messageReceived?: { body: string } }>({ query }, {
    next: ({ data, errors }) => {
      if (!data) return note(`next with errors ${JSON.stringify(errors)}`);
      const now = performance.now();
      const body = (data.homeTimelineUpdated ?? data.messageReceived)!.body;
      arrivals.set(body, now);
      waiters.get(body)?.(now);
    },
    error: (error) => note(error instanceof Array ? `error ${JSON.stringify(error[0]?.extensions?.code ?? error[0]?.message)}` : `closed ${(error as CloseEvent).code}`),
    complete: () => {},
  });
  const arrival = (body: string) => new Promise<number>((resolve) => (arrivals.has(body) ? resolve(arrivals.get(body)!) : waiters.set(body, resolve)));
  return { client, arrival };
}

/** A subscriber over Yoga's SSE (distinct connections). */
async function sseSubscriber(server: Server, token: string) {
  const waiters = new Map<string, (t: number) => void>();
  const response = await fetch(`http://127.0.0.1:${server.port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: HOME }),
  });
  const reader = response.body!.getReader();
  void (async () => {
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += new TextDecoder().decode(value);
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^data: (.+)$/m.exec(chunk)?.[1];
        if (!data || !chunk.includes("event: next")) continue;
        const body = JSON.parse(data).data.homeTimelineUpdated.body as string;
        waiters.get(body)?.(performance.now());
      }
    }
  })();
  return { arrival: (body: string) => new Promise<number>((resolve) => waiters.set(body, resolve)), close: () => reader.cancel() };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 500));

/** Sequential writes, each timed from sending createPost to the subscriber's arrival. */
async function latencies(writer: Server, token: string, arrival: (body: string) => Promise<number>, label: string, write = (body: string) => createPost(writer, token, body)) {
  const times: number[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const body = `${label} ${i}`;
    const arrived = arrival(body);
    const sent = performance.now();
    await write(body);
    times.push((await arrived) - sent);
  }
  return times;
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const summary = (values: number[]) => `median ${quantile(values, 0.5).toFixed(1)} ms, p99 ${quantile(values, 0.99).toFixed(1)} ms (n=${values.length})`;
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
};

async function writeCost(server: Server, token: string, writes: number) {
  const times: number[] = [];
  const cpuBefore = cpuMs(server.pid);
  for (let i = 0; i < writes; i++) {
    const sent = performance.now();
    await createPost(server, token, `cost ${i}`);
    times.push(performance.now() - sent);
  }
  await settle();
  return { times, cpuPerWrite: (cpuMs(server.pid) - cpuBefore) / writes };
}

await resetDatabase();
const one = await startServer();
const author = await signUp(one);
const follower = await signUp(one);
await gql(one, `mutation ($id: ID!) { follow(input: { userId: $id }) { __typename } }`, { id: author.id }, follower.token);

const ws = wsSubscriber(one, follower.token);
await settle();
console.log(`WebSocket, one instance:   ${summary(await latencies(one, author.token, ws.arrival, "ws"))}`);
ws.client.dispose();

// Direct messages: the author writes to the follower, who listens for messages.
await gql(one, `mutation { updateProfile(input: { messagePolicy: EVERYONE }) { __typename } }`, {}, follower.token);
const started = await gql(one, `mutation ($input: StartConversationInput!) { startConversation(input: $input) { ... on Conversation { id } } }`, { input: { memberIds: [follower.id], body: "hi" } }, author.token);
const conversationId = started.data.startConversation.id as string;
const inbox = wsSubscriber(one, follower.token, MESSAGES);
await settle();
const sendMessage = (body: string) => gql(one, `mutation ($input: SendMessageInput!) { sendMessage(input: $input) { __typename } }`, { input: { conversationId, body } }, author.token);
console.log(`sendMessage, WebSocket:    ${summary(await latencies(one, author.token, inbox.arrival, "dm", sendMessage))}`);
inbox.client.dispose();

const sse = await sseSubscriber(one, follower.token);
await settle();
console.log(`SSE, one instance:         ${summary(await latencies(one, author.token, sse.arrival, "sse"))}`);
await sse.close();

// Two instances on one Redis and one database: the write on one, the subscriber on the other.
one.child.kill("SIGTERM");
await new Promise((resolve) => one.child.once("exit", resolve));
const prefix = `chirp-bench-${process.pid}:`;
const [a, b] = [await startServer({ REDIS_URL, REALTIME_CHANNEL_PREFIX: prefix }), await startServer({ REDIS_URL, REALTIME_CHANNEL_PREFIX: prefix })];
const across = wsSubscriber(b, follower.token);
await settle();
console.log(`WebSocket, across Redis:   ${summary(await latencies(a, author.token, across.arrival, "redis"))}`);
across.client.dispose();

// Memory: the subscriber instance's RSS with no subscriber, then with 1,000 idle WebSockets of one user.
const bystander = await signUp(b);
await settle();
const idleBefore = rssMb(b.pid);
const baseline = await writeCost(a, author.token, 200);
const idle = Array.from({ length: IDLE }, () => wsSubscriber(b, bystander.token));
await new Promise((resolve) => setTimeout(resolve, 3_000));
const idleAfter = rssMb(b.pid);
console.log(`Memory: ${idleBefore.toFixed(0)} MB RSS with none, ${idleAfter.toFixed(0)} MB with ${IDLE} open WebSockets: ${(((idleAfter - idleBefore) * 1024) / IDLE).toFixed(1)} kB each`);

// The same writes on instance a, with 1,000 subscribers on b who do not follow the author: b matches each post once, and sends them nothing.
const cpuB = cpuMs(b.pid);
const loaded = await writeCost(a, author.token, 200);
const cpuBPerWrite = (cpuMs(b.pid) - cpuB) / 200;
console.log(`A write (createPost) on a: ${summary(baseline.times)} with no subscribers; ${summary(loaded.times)} with ${IDLE} on b`);
console.log(`  CPU of b per write with ${IDLE} subscribers it does not concern: ${cpuBPerWrite.toFixed(1)} ms`);
for (const s of idle) s.client.dispose();
console.log(`Subscriptions that ended early: ${endings.size === 0 ? "none" : JSON.stringify([...endings])}`);
for (const server of [a, b]) server.child.kill("SIGTERM");
await Promise.all([a, b].map((s) => new Promise((resolve) => s.child.once("exit", resolve))));
process.exit(0);
