import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { print } from "graphql";
import { sofaDocument } from "../src/rest/openapi.js";
import { restView } from "../src/rest/view.js";
import { schema } from "../src/schema.js";
import { cpuMs, freePort, killChildrenOnExit, spawnChild, waitUntil } from "./servers.js";

// `npm run bench:rest [-- --rounds 5 --requests 500]`: what a REST read costs against the same
// GraphQL query. Chirp runs in its own process on PostgreSQL (REST_BENCH_DATABASE_URL, the demo data
// loaded afresh), so that its CPU time is Chirp's alone (the embedded database would count in it);
// each round sends the same reads as GET /api/… and as POST /graphql with the very document the
// route runs (same selection, same variables), in turn, and reads the server's CPU time from /proc.

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg("rounds", 5);
const REQUESTS = arg("requests", 500);
const DATABASE_URL = process.env.REST_BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/chirp_rest_bench";
const CONCURRENCY = 8;

killChildrenOnExit();
const dataDir = mkdtempSync(join(tmpdir(), "chirp-bench-rest-"));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = { ...(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)) as Record<string, string>), DATABASE_URL };
for (const script of [["scripts/migrate.ts"], ["prisma/seed.ts", "--reset"]]) {
  const run = spawnSync("node", ["--import", "tsx", ...script], { env, stdio: ["ignore", "ignore", "inherit"] });
  if (run.status !== 0) throw new Error(`${script[0]} failed`);
}
const child = spawnChild("node", ["--import", "tsx", "src/server.ts"], { ...env, PORT: String(port), HOST: "127.0.0.1", DATA_DIR: dataDir, LOG_LEVEL: "warn", NODE_ENV: "development" });

const view = restView(schema);
/** The GraphQL document a route runs, printed. */
const graphqlOf = (route: string) => print(view.prepare(sofaDocument(view, view.routes.get(route)!, [])).document);

interface Read {
  name: string;
  rest: () => Promise<Response>;
  graphql: () => Promise<Response>;
}

/** CPU ms per request and requests per second of `REQUESTS` calls, CONCURRENCY at a time. */
async function measure(send: () => Promise<Response>) {
  const cpu = cpuMs(child.pid);
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < REQUESTS) {
        const response = await send();
        if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
        await response.arrayBuffer();
      }
    }),
  );
  return { cpuMs: (cpuMs(child.pid) - cpu) / REQUESTS, perSecond: REQUESTS / ((performance.now() - start) / 1000) };
}

const spread = (values: number[], digits: number) => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)} (median ${[...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!.toFixed(digits)})`;

try {
  await waitUntil(child, async () => (await fetch(`${base}/ready`)).ok, 180_000);
  const login = await fetch(`${base}/api/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ login: "alice", password: "chirp-demo-password" }) });
  const { accessToken } = (await login.json()) as { accessToken: string };
  const auth = { authorization: `Bearer ${accessToken}` };
  const home = (await (await fetch(`${base}/api/timeline/home?first=1`, { headers: auth })).json()) as { edges: { node: { id: string } }[] };
  const postId = home.edges[0]!.node.id;
  const gql = (route: string, variables: object) => {
    const body = JSON.stringify({ query: graphqlOf(route), variables });
    return () => fetch(`${base}/graphql`, { method: "POST", headers: { ...auth, "content-type": "application/json", accept: "application/graphql-response+json" }, body });
  };
  const reads: Read[] = [
    { name: "GET /api/users/{handle}", rest: () => fetch(`${base}/api/users/bob`, { headers: auth }), graphql: gql("getUser", { handle: "bob" }) },
    { name: "GET /api/posts/{id}", rest: () => fetch(`${base}/api/posts/${postId}`, { headers: auth }), graphql: gql("getPost", { id: postId }) },
    { name: "GET /api/timeline/home?first=5", rest: () => fetch(`${base}/api/timeline/home?first=5`, { headers: auth }), graphql: gql("getHomeTimeline", { first: 5 }) },
  ];
  console.log(`${ROUNDS} rounds of ${REQUESTS} requests per read and API, ${CONCURRENCY} at a time; load average ${loadavg()[0]!.toFixed(2)}`);
  for (const read of reads) {
    // The answers must be the same data, or the comparison means nothing.
    const restBody = await (await read.rest()).json();
    const graphqlBody = (await (await read.graphql()).json()) as { data: Record<string, unknown> };
    if (JSON.stringify(restBody) !== JSON.stringify(Object.values(graphqlBody.data)[0])) throw new Error(`${read.name}: REST and GraphQL answers differ`);
    await measure(read.rest);
    await measure(read.graphql);
    const rest: number[] = [];
    const graphql: number[] = [];
    const restRate: number[] = [];
    const graphqlRate: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so that neither always runs on a warmer process.
      const order = round % 2 === 0 ? (["rest", "graphql"] as const) : (["graphql", "rest"] as const);
      for (const api of order) {
        const result = await measure(read[api]);
        (api === "rest" ? rest : graphql).push(result.cpuMs);
        (api === "rest" ? restRate : graphqlRate).push(result.perSecond);
      }
    }
    const overhead = rest.map((r, i) => r - graphql[i]!);
    console.log(`${read.name}: REST ${spread(rest, 3)} CPU ms/request, ${spread(restRate, 0)} req/s; GraphQL ${spread(graphql, 3)} CPU ms/request, ${spread(graphqlRate, 0)} req/s; REST − GraphQL per round ${spread(overhead, 3)} ms`);
  }
  console.log(`load average at the end ${loadavg()[0]!.toFixed(2)}`);
} finally {
  await child.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
