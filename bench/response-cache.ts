import { loadavg } from "node:os";
import { prepareDatabase } from "./data.js";
import { SCENARIOS, type BenchRequest } from "./scenarios.js";
import { type RunningServer, cpuMs, killChildrenOnExit, prepareBuilds, startServer } from "./servers.js";

// `npm run bench:cache [-- --rounds 5 --requests 400]`: what the response cache costs and saves per
// anonymous read, in CPU ms of Chirp's process (from /proc), on the benchmark's database
// (BENCH_DATABASE_URL, prepared as `npm run bench` prepares it). Three servers from one build:
// RESPONSE_CACHE=off; every read a miss (RESPONSE_CACHE_TTL_MS=1: looked up, executed, collected,
// kept, expired by the next); and the default, every read after the first a hit. Each round runs
// them in a rotated order, CONCURRENCY requests at a time.

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg("rounds", 5);
const REQUESTS = arg("requests", 400);
const CONCURRENCY = 8;
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/chirp_bench";
const MODES = { off: "RESPONSE_CACHE=off", miss: "RESPONSE_CACHE_TTL_MS=1", hit: "" } as const;
type Mode = keyof typeof MODES;

killChildrenOnExit();
const log = (message: string) => console.error(`[bench:cache] ${message}`);
prepareBuilds({ build: !process.argv.includes("--no-build"), log });
const picks = await prepareDatabase(DATABASE_URL, { reset: false, log });
const servers = {} as Record<Mode, RunningServer>;
for (const mode of Object.keys(MODES) as Mode[]) {
  process.env.BENCH_CHIRP_ENV = MODES[mode];
  servers[mode] = await startServer("chirp", DATABASE_URL);
}

/** CPU ms per request of `REQUESTS` sends of `request` to `server`, and whether every answer was the expected one. */
async function measure(server: RunningServer, request: BenchRequest, expected: string) {
  const cpu = cpuMs(server.pid);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < REQUESTS) {
        const response = await fetch(server.baseUrl + request.path, { method: "POST", headers: request.headers, body: request.body });
        const text = await response.text();
        if (text !== expected) throw new Error(`${request.path}: an answer differs from the first one`);
      }
    }),
  );
  return (cpuMs(server.pid) - cpu) / REQUESTS;
}

const spread = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} (${sorted[0]!.toFixed(2)}–${sorted.at(-1)!.toFixed(2)})`;
};

try {
  console.log(`${ROUNDS} rounds of ${REQUESTS} requests per scenario and server, ${CONCURRENCY} at a time; load average ${loadavg()[0]!.toFixed(2)}`);
  console.log("\n| scenario | off: CPU ms/req | every read a miss | hits | miss − off | hit / off |\n| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const name of ["thread-anon", "profile-anon"]) {
    const scenario = SCENARIOS.find((s) => s.name === name)!;
    const [request] = scenario.requests({ server: "chirp", picks, chirpToken: "" });
    const expected = await (await fetch(servers.off.baseUrl + request!.path, { method: "POST", headers: request!.headers, body: request!.body })).text();
    const figures: Record<Mode, number[]> = { off: [], miss: [], hit: [] };
    const modes = Object.keys(MODES) as Mode[];
    for (const mode of modes) await measure(servers[mode], request!, expected);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < modes.length; i++) {
        const mode = modes[(round + i) % modes.length]!;
        figures[mode].push(await measure(servers[mode], request!, expected));
      }
    }
    const missCost = figures.miss.map((m, i) => m - figures.off[i]!);
    const hitShare = figures.hit.map((h, i) => h / figures.off[i]!);
    console.log(`| ${name} | ${spread(figures.off)} | ${spread(figures.miss)} | ${spread(figures.hit)} | ${spread(missCost)} | ${spread(hitShare)} |`);
  }
  console.log(`\nMedian (lowest–highest) over the rounds; the differences are per round. Load average at the end ${loadavg()[0]!.toFixed(2)}.`);
} finally {
  for (const server of Object.values(servers)) await server.stop();
}
