import { isDeepStrictEqual } from "node:util";
import { DEMO_PASSWORD } from "../src/demo.js";
import { restoreLikePost } from "./data.js";
import { BenchStop } from "./errors.js";
import type { Picks } from "./fixtures.js";
import { type BenchRequest, type Scenario, type ServerName, type Target, chirpLogIn } from "./scenarios.js";
import { type RunningServer, startServer } from "./servers.js";
import { startSqlCounter } from "./sql-counter.js";

/** Requests per scenario sent through the SQL counter. */
const COUNTED_REQUESTS = 20;

export interface Verification {
  /** The data every server returned, per scenario, in the common shape. */
  reference: Record<string, unknown>;
  /** SQL statements per request, per server and scenario. */
  statementsPerRequest: Record<string, Record<string, number>>;
  /** The statements one request sent (for the like pair: one like and one unlike), per server and scenario. */
  sql: Record<string, Record<string, string[]>>;
  /** How many requests each scenario's `sql` sample holds (2 for the like/unlike pair). */
  sqlSampleRequests: Record<string, number>;
  /** Per scenario, the servers that failed it (an error, or data the others do not return) and why. */
  failures: Record<string, Record<string, string>>;
}

/** Sends one request and returns the parsed JSON and the raw body. */
async function send(baseUrl: string, request: BenchRequest): Promise<{ json: unknown; text: string; status: number }> {
  const res = await fetch(`${baseUrl}${request.path}`, {
    method: request.method,
    headers: request.headers,
    body: request.method === "GET" ? undefined : request.body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  try {
    return { json: JSON.parse(text) as unknown, text, status: res.status };
  } catch {
    throw new Error(`${request.path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 300)}`);
  }
}

export async function targetFor(server: RunningServer, picks: Picks): Promise<Target> {
  const chirpToken = server.name === "chirp" ? await chirpLogIn(server.baseUrl, picks.viewer.handle, DEMO_PASSWORD) : "";
  return { server: server.name, picks, chirpToken };
}

/** What one server answers to a scenario, in the common shape (for the like pair: like, then unlike). */
async function answer(server: RunningServer, target: Target, scenario: Scenario): Promise<unknown> {
  const results = [];
  for (const request of scenario.requests(target)) {
    const { json } = await send(server.baseUrl, request);
    results.push(scenario.normalise(server.name, json));
  }
  return scenario.mutates ? results : results[0];
}

/**
 * The pass before any timing: each server in turn runs behind the SQL counter, answers every
 * scenario, and then answers it 20 more times while the statements are counted. The data most
 * servers agree on is the reference; a server that fails a scenario or returns other data throws,
 * with the diff, unless `keepGoing` (then the failures are returned and that pair is not timed).
 */
export async function verify(
  servers: readonly ServerName[],
  scenarios: readonly Scenario[],
  options: { databaseUrl: string; picks: Picks; keepGoing: boolean; log: (m: string) => void },
): Promise<Verification> {
  const answers: Record<string, Map<ServerName, unknown>> = Object.fromEntries(scenarios.map((s) => [s.name, new Map()]));
  const failures: Verification["failures"] = Object.fromEntries(scenarios.map((s) => [s.name, {}]));
  const statementsPerRequest: Verification["statementsPerRequest"] = {};
  const sql: Verification["sql"] = {};
  const sqlSampleRequests: Verification["sqlSampleRequests"] = {};
  for (const name of servers) {
    const counter = await startSqlCounter(options.databaseUrl);
    const server = await startServer(name, counter.url);
    try {
      const target = await targetFor(server, options.picks);
      statementsPerRequest[name] = {};
      sql[name] = {};
      for (const scenario of scenarios) {
        if (scenario.servers && !scenario.servers.includes(name)) continue;
        if (scenario.mutates) await restoreLikePost(options.databaseUrl, options.picks);
        try {
          answers[scenario.name]!.set(name, await answer(server, target, scenario));
        } catch (error) {
          failures[scenario.name]![name] = (error as Error).message;
          continue;
        }
        const requests = scenario.requests(target);
        sqlSampleRequests[scenario.name] = requests.length;
        counter.reset();
        for (let i = 0; i < COUNTED_REQUESTS; i++) {
          await send(server.baseUrl, requests[i % requests.length]!);
          if (i === requests.length - 1) sql[name][scenario.name] = [...counter.statements];
        }
        statementsPerRequest[name][scenario.name] = counter.count / COUNTED_REQUESTS;
      }
      const counts = Object.entries(statementsPerRequest[name]).map(([scenario, n]) => `${scenario} ${n}`);
      options.log(`${name}: SQL statements per request: ${counts.join(", ")}`);
    } finally {
      await server.stop();
      await counter.close();
    }
  }
  await restoreLikePost(options.databaseUrl, options.picks);

  const reference: Record<string, unknown> = {};
  for (const scenario of scenarios) {
    const answered = [...answers[scenario.name]!];
    const agreeing = (value: unknown) => answered.filter(([, other]) => isDeepStrictEqual(value, other)).length;
    const best = answered.reduce<[ServerName, unknown] | undefined>((top, entry) => (!top || agreeing(entry[1]) > agreeing(top[1]) ? entry : top), undefined);
    if (!best) continue;
    reference[scenario.name] = best[1];
    for (const [name, value] of answered) {
      if (!isDeepStrictEqual(value, best[1])) failures[scenario.name]![name] = `returns other data than ${best[0]}:\n${diff(best[1], value, best[0], name).join("\n")}`;
    }
  }
  const problems = Object.entries(failures).flatMap(([scenario, byServer]) => Object.entries(byServer).map(([name, why]) => `${scenario}: ${name} ${why}`));
  if (problems.length > 0) {
    const message = `The servers do not return the same data:\n\n${problems.join("\n\n")}`;
    if (!options.keepGoing) throw new BenchStop(`${message}\n\n(--keep-going times the rest and reports these as failed.)`);
    options.log(`${message}\n\n--keep-going: these are not timed.`);
  } else {
    options.log(`data check passed: ${servers.join(", ")} return the same data for ${scenarios.map((s) => s.name).join(", ")}`);
  }
  return { reference, statementsPerRequest, sql, sqlSampleRequests, failures };
}

/** The paths where two JSON values differ (at most 20). */
function diff(a: unknown, b: unknown, nameA: string, nameB: string, path = "$", out: string[] = []): string[] {
  if (out.length >= 20) return out;
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
  if (isObject(a) && isObject(b) && Array.isArray(a) === Array.isArray(b)) {
    if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) out.push(`  ${path}: ${a.length} items in ${nameA}, ${b.length} in ${nameB}`);
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) diff(a[key], b[key], nameA, nameB, Array.isArray(a) ? `${path}[${key}]` : `${path}.${key}`, out);
  } else if (!isDeepStrictEqual(a, b)) {
    out.push(`  ${path}: ${nameA} ${JSON.stringify(a)} ≠ ${nameB} ${JSON.stringify(b)}`);
  }
  return out;
}

export interface AnswerCheck {
  verify(body: string): boolean;
  /** Answers with the right data whose fields came in another order than the first answer's. */
  reordered: number;
  /** A few wrong answers, for the log. */
  wrong: string[];
}

/**
 * A check that every answer under load is right. A read must be byte-for-byte the answer checked
 * against the reference just before, or else hold the same data once normalised (then it counts as
 * reordered); a like or unlike must carry no error.
 */
export async function answerCheck(server: RunningServer, target: Target, scenario: Scenario, reference: unknown): Promise<AnswerCheck> {
  const [first] = scenario.requests(target);
  const { json, text } = await send(server.baseUrl, first!);
  const check: AnswerCheck = { verify: () => true, reordered: 0, wrong: [] };
  const wrong = (body: string) => {
    if (check.wrong.length < 3) check.wrong.push(body.slice(0, 500));
    return false;
  };
  if (scenario.mutates) {
    scenario.normalise(server.name, json);
    check.verify = (body) => !body.includes('"errors"') || wrong(body);
    return check;
  }
  if (!isDeepStrictEqual(scenario.normalise(server.name, json), reference)) throw new Error(`${server.name} answers ${scenario.name} differently from the verification pass`);
  check.verify = (body) => {
    if (body === text) return true;
    try {
      if (!isDeepStrictEqual(scenario.normalise(server.name, JSON.parse(body)), reference)) return wrong(body);
    } catch {
      return wrong(body);
    }
    check.reordered++;
    return true;
  };
  return check;
}
