// npm run bench -- [--duration 4] [--rounds 5] [--connections 32] [--only timeline,profile] …
// Chirp against PostGraphile and a hand-written-SQL ceiling on one large PostgreSQL data set. See bench/README.md.
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { BENCH_SIZE, prepareDatabase, restoreLikePost } from "./data.js";
import { type EmbeddedStart, measureEmbeddedStart } from "./embedded.js";
import { BenchStop } from "./errors.js";
import { FANOUT_SERVERS, type FanoutResults, runFanout } from "./fanout.js";
import type { Picks } from "./fixtures.js";
import { type LoadResult, runLoad } from "./load.js";
import { type BenchResults, CLAIM_ROUNDS, type FixedRun, type Round, type SaturationRun, ratioSpreads, summarise, writeResults, markdown } from "./report.js";
import { SCENARIOS, SERVERS, type Scenario, type ServerName, type Target } from "./scenarios.js";
import { type RunningServer, ROOT, cpuMs, killChildrenOnExit, peakRssMb, prepareBuilds, resetPeakRss, startServer } from "./servers.js";
import { type AnswerCheck, type Verification, answerCheck, targetFor, verify } from "./verify.js";

/**
 * A full run's defaults: 5 rounds, the fewest the report takes for a claim, of 4 s runs after 1 s of
 * warm-up. With the ten scenarios a round is 52 runs and 6 server starts, about 5 minutes.
 */
const DEFAULTS = { duration: "4", rounds: String(CLAIM_ROUNDS), warmup: "1" };
/** Besides the timed load: each server start (with its log-in), and each run's answer check and autocannon's start and stop (measured on the loaded 2-core machine). */
const START_SECONDS = 6;
const RUN_OVERHEAD_SECONDS = 0.2;

const USAGE = `npm run bench -- [options]
  --duration S       seconds per timed run (${DEFAULTS.duration})
  --rounds N         rounds, each in a rotated server order (${DEFAULTS.rounds}; fewer than ${CLAIM_ROUNDS} make no claim)
  --connections N    autocannon connections for the saturation runs (32)
  --warmup S         seconds of unmeasured load before each run (${DEFAULTS.warmup})
  --only LIST        scenarios, comma-separated: ${SCENARIOS.map((s) => s.name).join(",")},fanout
  --servers LIST     servers, comma-separated: ${SERVERS.join(",")}
  --keep-going       time what passes the data check instead of stopping at the first failure
  --reset            drop and reload the bench database
  --no-build         use the existing dist/ instead of running npm run build
  --no-embedded      skip the embedded-start measurement
Environment: BENCH_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/chirp_bench),
  BENCH_CHIRP_ENV (Chirp's extra settings, space-separated KEY=VALUE: METRICS_TOKEN=…, OTEL_EXPORTER_OTLP_ENDPOINT=…)`;

/** The latency runs go at this share of PostGraphile's saturated rate in the same round. */
const FIXED_RATE_SHARE = 0.5;

interface Options {
  seconds: number;
  rounds: number;
  connections: number;
  warmupSeconds: number;
  scenarios: Scenario[];
  /** The subscription fan-out (bench/fanout.ts): Chirp and its ceiling only. */
  fanout: boolean;
  servers: ServerName[];
  keepGoing: boolean;
  reset: boolean;
  build: boolean;
  embedded: boolean;
  databaseUrl: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: "string", default: DEFAULTS.duration },
      rounds: { type: "string", default: DEFAULTS.rounds },
      connections: { type: "string", default: "32" },
      warmup: { type: "string", default: DEFAULTS.warmup },
      only: { type: "string" },
      servers: { type: "string" },
      "keep-going": { type: "boolean", default: false },
      reset: { type: "boolean", default: false },
      "no-build": { type: "boolean", default: false },
      "no-embedded": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (name: string, value: string, min = 1) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) throw new BenchStop(`--${name} must be a number ≥ ${min}, not "${value}"`);
    return n;
  };
  const list = <T extends string>(name: string, value: string | undefined, known: readonly T[]): T[] => {
    if (value === undefined) return [...known];
    const picked = value.split(",").map((s) => s.trim()).filter(Boolean);
    const unknown = picked.filter((p) => !known.includes(p as T));
    if (unknown.length > 0 || picked.length === 0) throw new BenchStop(`--${name}: unknown ${unknown.join(", ") || "(empty)"}; choose from ${known.join(", ")}`);
    return known.filter((k) => picked.includes(k));
  };
  const scenarioNames: string[] = list("only", values.only, [...SCENARIOS.map((s) => s.name), "fanout"]);
  return {
    seconds: positive("duration", values.duration),
    rounds: Math.round(positive("rounds", values.rounds)),
    connections: Math.round(positive("connections", values.connections)),
    warmupSeconds: positive("warmup", values.warmup, 0),
    scenarios: SCENARIOS.filter((s) => scenarioNames.includes(s.name)),
    fanout: scenarioNames.includes("fanout"),
    servers: list("servers", values.servers, SERVERS),
    keepGoing: values["keep-going"],
    reset: values.reset,
    build: !values["no-build"],
    embedded: !values["no-embedded"],
    databaseUrl: process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/chirp_bench",
  };
}

/** The rounds' length: every saturation run, every fixed-rate run (scenarios PostGraphile times) and each server start. */
function estimateSeconds(options: Options) {
  const runs = (name: ServerName) => options.scenarios.filter((s) => !s.servers || s.servers.includes(name));
  const saturation = options.servers.reduce((n, name) => n + runs(name).length, 0);
  const peer = options.servers.includes("postgraphile") ? new Set(runs("postgraphile").map((s) => s.name)) : new Set<string>();
  const fixed = options.servers.reduce((n, name) => n + runs(name).filter((s) => peer.has(s.name)).length, 0);
  const starts = options.servers.length * (peer.size > 0 ? 2 : 1);
  // The fan-out: a saturation and a fixed-rate session per server, each starting it and connecting 1,000 followers (~10 s).
  const fanout = options.fanout ? 2 * FANOUT_SERVERS.filter((s) => options.servers.includes(s)).length * (options.seconds + options.warmupSeconds + 10) : 0;
  return options.rounds * ((saturation + fixed) * (options.seconds + options.warmupSeconds + RUN_OVERHEAD_SECONDS) + starts * START_SECONDS + fanout);
}

const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
const failedCount = (r: LoadResult) => r.errors + r.non2xx + r.mismatches;
const problems = (load: LoadResult, check: AnswerCheck) =>
  (check.reordered > 0 ? `, ${check.reordered} answers with fields out of order` : "") +
  (failedCount(load) > 0 ? `, ${failedCount(load)} FAILED (errors ${load.errors}, non-2xx ${load.non2xx}, wrong ${load.mismatches})` : "") +
  (check.wrong.length > 0 ? `\n    wrong answers, e.g.: ${check.wrong.join("\n    ")}` : "");

/** Runs `each` for every scenario the server passed, with the server started fresh and stopped after. */
async function withServer(name: ServerName, options: Options, picks: Picks, verification: Verification, each: (server: RunningServer, target: Target, scenario: Scenario) => Promise<void>) {
  const server = await startServer(name, options.databaseUrl);
  try {
    const target = await targetFor(server, picks);
    for (const scenario of options.scenarios) {
      if (verification.failures[scenario.name]?.[name] || (scenario.servers && !scenario.servers.includes(name))) continue;
      // The peers like without notifications: each server starts the like scenario from the generated state.
      if (scenario.mutates) await restoreLikePost(options.databaseUrl, picks);
      await each(server, target, scenario);
    }
  } finally {
    if (await server.stop()) log(`${name} did not exit within 5 s of SIGTERM and was killed`);
    const output = server.output().split("\n").filter((line) => line.trim() && !/ready/i.test(line));
    if (output.length > 0) log(`${name} printed:\n${output.slice(-10).join("\n").slice(0, 3000)}`);
  }
}

async function runRound(round: number, options: Options, picks: Picks, verification: Verification): Promise<Round> {
  const shift = (round - 1) % options.servers.length;
  const order = [...options.servers.slice(shift), ...options.servers.slice(0, shift)];
  const result: Round = { round, order, saturation: {}, fixed: {} };
  log(`round ${round}/${options.rounds}: saturation, ${order.join(" → ")}`);
  for (const name of order) {
    const runs: Record<string, SaturationRun> = (result.saturation[name] = {});
    await withServer(name, options, picks, verification, async (server, target, scenario) => {
      const requests = scenario.requests(target);
      const check = await answerCheck(server, target, scenario, verification.reference[scenario.name]);
      if (options.warmupSeconds > 0) await runLoad({ baseUrl: server.baseUrl, requests, connections: options.connections, seconds: options.warmupSeconds });
      const peakFromHere = resetPeakRss(server.pid);
      const cpuBefore = cpuMs(server.pid);
      const load = await runLoad({ baseUrl: server.baseUrl, requests, connections: options.connections, seconds: options.seconds, verify: check.verify });
      const run: SaturationRun = {
        rps: load.rps,
        p50Ms: load.p50Ms,
        p99Ms: load.p99Ms,
        requests: load.requests,
        failed: failedCount(load),
        reordered: check.reordered,
        cpuMsPerRequest: (cpuMs(server.pid) - cpuBefore) / Math.max(1, load.requests),
        peakRssMb: peakRssMb(server.pid),
      };
      runs[scenario.name] = run;
      const rss = `${run.peakRssMb.toFixed(0)} MB peak RSS${peakFromHere ? "" : " (since start)"}`;
      log(`  ${name} ${scenario.name}: ${run.rps.toFixed(0)} req/s, p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, ${run.cpuMsPerRequest.toFixed(2)} CPU ms/req, ${rss}${problems(load, check)}`);
    });
  }
  const peer = result.saturation.postgraphile;
  if (!peer) {
    log(`round ${round}: no fixed-rate runs (they go at a share of PostGraphile's rate, and PostGraphile is not in --servers)`);
    return result;
  }
  log(`round ${round}/${options.rounds}: fixed rate (${FIXED_RATE_SHARE * 100}% of PostGraphile's), ${order.join(" → ")}`);
  for (const name of order) {
    const runs: Record<string, FixedRun> = (result.fixed[name] = {});
    await withServer(name, options, picks, verification, async (server, target, scenario) => {
      const peerRps = peer[scenario.name]?.rps;
      if (!peerRps) return;
      const rate = Math.max(1, peerRps * FIXED_RATE_SHARE);
      const requests = scenario.requests(target);
      const check = await answerCheck(server, target, scenario, verification.reference[scenario.name]);
      if (options.warmupSeconds > 0) await runLoad({ baseUrl: server.baseUrl, requests, connections: options.connections, seconds: options.warmupSeconds, rate });
      const cpuBefore = cpuMs(server.pid);
      const load = await runLoad({ baseUrl: server.baseUrl, requests, connections: options.connections, seconds: options.seconds, rate, verify: check.verify });
      const cpuMsPerRequest = (cpuMs(server.pid) - cpuBefore) / Math.max(1, load.requests);
      // A run that completed no request has no latency and no CPU per request (the report leaves its round out of the ratios, and says so).
      const answered = load.requests > 0;
      runs[scenario.name] = { rate, rps: load.rps, p50Ms: load.p50Ms, p99Ms: load.p99Ms, failed: failedCount(load), reordered: check.reordered, ...(answered ? { cpuMsPerRequest } : {}) };
      const behind = load.rps < 0.95 * rate ? ` (kept up with ${load.rps.toFixed(0)} req/s)` : "";
      const figures = answered ? `p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms, ${cpuMsPerRequest.toFixed(2)} CPU ms/req` : "NO REQUEST COMPLETED";
      log(`  ${name} ${scenario.name} @ ${rate.toFixed(0)} req/s${behind}: ${figures}${problems(load, check)}`);
    });
  }
  return result;
}

async function main() {
  const options = parseOptions();
  killChildrenOnExit();
  const startedAt = new Date().toISOString();
  const loadAverageBefore = loadavg();
  log(`${options.servers.join(", ")} × ${[...options.scenarios.map((s) => s.name), ...(options.fanout ? ["fanout"] : [])].join(", ")}; ${options.rounds} round(s) of about ${Math.ceil(estimateSeconds(options) / options.rounds / 60)} min, ${Math.ceil(estimateSeconds(options) / 60)} min in all (plus about 2 min to prepare and verify)`);
  if (options.rounds < CLAIM_ROUNDS) log(`fewer than ${CLAIM_ROUNDS} rounds: the report's figures are not a claim`);

  const picks = await prepareDatabase(options.databaseUrl, { reset: options.reset, log });
  log(`viewer ${picks.viewer.handle} (follows ${picks.viewer.following}, blocked ${picks.viewer.blocked}, muted ${picks.viewer.muted}), profile ${picks.profile.handle}, thread post ${picks.thread.id}, like post ${picks.likePostId}, conversation ${picks.conversation.id}`);
  prepareBuilds({ build: options.build, log });

  let embeddedStart: EmbeddedStart | null = null;
  if (options.embedded) {
    embeddedStart = await measureEmbeddedStart(log);
    const ms = (list: (number | null)[]) => list.map((n) => (n === null ? "?" : n.toFixed(0))).join(", ");
    log(`embedded start to the first answer: node dist/server.js ${ms(embeddedStart.compiledMs)} ms (Chirp's own startupMs ${ms(embeddedStart.compiledReportedMs)}); npm start ${ms(embeddedStart.npmStartMs)} ms`);
  }

  const requestScenarios = options.scenarios.length > 0;
  const verification = requestScenarios
    ? await verify(options.servers, options.scenarios, { databaseUrl: options.databaseUrl, picks, keepGoing: options.keepGoing, log })
    : { reference: {}, statementsPerRequest: {}, sql: {}, sqlSampleRequests: {}, failures: {} };

  const rounds: Round[] = [];
  try {
    for (let round = 1; requestScenarios && round <= options.rounds; round++) rounds.push(await runRound(round, options, picks, verification));
  } finally {
    await restoreLikePost(options.databaseUrl, picks);
  }
  const fanoutServers = FANOUT_SERVERS.filter((s) => options.servers.includes(s));
  let fanout: FanoutResults | null = null;
  if (options.fanout && fanoutServers.length > 0) {
    fanout = await runFanout({ databaseUrl: options.databaseUrl, seconds: options.seconds, warmupSeconds: options.warmupSeconds, rounds: options.rounds, servers: fanoutServers, picks, log });
  }

  const results: BenchResults = {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", node: process.version, loadAverageBefore, loadAverageAfter: loadavg() },
    options: {
      seconds: options.seconds,
      rounds: options.rounds,
      connections: options.connections,
      warmupSeconds: options.warmupSeconds,
      fixedRateShare: FIXED_RATE_SHARE,
      servers: options.servers,
      scenarios: options.scenarios.map((s) => s.name),
    },
    data: { size: BENCH_SIZE, picks },
    scenarioTitles: Object.fromEntries(options.scenarios.map((s) => [s.name, s.title])),
    embeddedStart,
    verification,
    rounds,
    summary: summarise(rounds, verification),
    fanout,
    ratios: ratioSpreads(rounds, options.scenarios.map((s) => s.name)),
  };
  const paths = writeResults(results, `${ROOT}bench/results`);
  console.log(`\n${markdown(results)}`);
  log(`wrote ${paths.md}, ${paths.json} and ${paths.svg}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof BenchStop ? error.message : error);
    process.exit(1);
  },
);
