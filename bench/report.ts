import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DemoSize } from "../src/demo.js";
import type { EmbeddedStart } from "./embedded.js";
import { type FanoutResults, fanoutMarkdown } from "./fanout.js";
import type { Picks } from "./fixtures.js";
import type { ServerName } from "./scenarios.js";
import type { Verification } from "./verify.js";

/** One saturation run of one server on one scenario. */
export interface SaturationRun {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Connection errors, non-2xx answers and wrong answers. */
  failed: number;
  /** Right answers whose JSON fields came in another order than the selection's. */
  reordered: number;
  cpuMsPerRequest: number;
  peakRssMb: number;
}

/** One fixed-rate run: latency at half of PostGraphile's saturated rate. */
export interface FixedRun {
  rate: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  reordered: number;
  /** The server's CPU time over the run's completed requests, as in the saturation run (absent in results from before issue 12). */
  cpuMsPerRequest?: number;
}

export interface Round {
  round: number;
  order: ServerName[];
  saturation: Partial<Record<ServerName, Record<string, SaturationRun>>>;
  fixed: Partial<Record<ServerName, Record<string, FixedRun>>>;
}

/** The medians over the rounds (peak RSS: the maximum), per server and scenario. */
export interface Summary {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  fixedRate: number | null;
  /** What the server kept up with at that rate. */
  fixedRps: number | null;
  fixedP50Ms: number | null;
  fixedP99Ms: number | null;
  statementsPerRequest: number | null;
  cpuMsPerRequest: number;
  /** CPU ms per request at the fixed rate, where contention moves it least. */
  fixedCpuMsPerRequest: number | null;
  peakRssMb: number;
  /** The median of the rounds' peak RSS (peakRssMb is their maximum). */
  medianPeakRssMb: number;
  /** How many rounds timed this pair. */
  rounds: number;
  failed: number;
  reordered: number;
}

/** A figure over the rounds: the median and the range of its per-round values. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  perRound: number[];
  /** Rounds that timed the pair: more than perRound holds when a run completed no request (it has no latency or CPU per request). */
  rounds: number;
}

/** Chirp's ratios to the others, each taken within a round (whose servers ran one after another), per scenario. */
export interface Ratios {
  rpsVsPostgraphile: Spread | null;
  rpsVsCeiling: Spread | null;
  fixedP99VsPostgraphile: Spread | null;
  cpuVsPostgraphile: Spread | null;
  fixedCpuVsPostgraphile: Spread | null;
  /** Not a ratio: Chirp's peak RSS per round, in MB. */
  chirpPeakRssMb: Spread | null;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; node: string; loadAverageBefore: number[]; loadAverageAfter: number[] };
  options: { seconds: number; rounds: number; connections: number; warmupSeconds: number; fixedRateShare: number; servers: ServerName[]; scenarios: string[] };
  data: { size: DemoSize; picks: Picks };
  scenarioTitles: Record<string, string>;
  embeddedStart: EmbeddedStart | null;
  verification: Verification;
  rounds: Round[];
  summary: Partial<Record<ServerName, Record<string, Summary>>>;
  /** The subscription fan-out scenario, when it ran (bench/fanout.ts). */
  fanout?: FanoutResults | null;
  /** Per scenario (absent in results from before issue 12). */
  ratios?: Record<string, Ratios>;
}

/** The fewest rounds whose figures the report calls a claim (issue 12). */
export const CLAIM_ROUNDS = 5;

const LABEL: Record<ServerName, string> = { chirp: "Chirp", postgraphile: "PostGraphile", ceiling: "ceiling" };
const COLOR: Record<ServerName, string> = { chirp: "#1d9bf0", postgraphile: "#8e44ad", ceiling: "#7f8c8d" };

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Medians over the rounds for every server and scenario that ran. */
export function summarise(rounds: Round[], verification: Verification): BenchResults["summary"] {
  const summary: BenchResults["summary"] = {};
  const pairs = new Set(rounds.flatMap((r) => Object.entries(r.saturation).flatMap(([server, runs]) => Object.keys(runs).map((s) => `${server}/${s}`))));
  for (const pair of pairs) {
    const [server, scenario] = pair.split("/") as [ServerName, string];
    const sat = rounds.map((r) => r.saturation[server]?.[scenario]).filter((x): x is SaturationRun => x !== undefined);
    const fixed = rounds.map((r) => r.fixed[server]?.[scenario]).filter((x): x is FixedRun => x !== undefined);
    const m = <T>(runs: T[], pick: (run: T) => number) => median(runs.map(pick));
    // Latency and CPU per request come from the fixed-rate runs that completed requests.
    const answered = fixed.filter((r) => r.rps > 0);
    (summary[server] ??= {})[scenario] = {
      rps: m(sat, (r) => r.rps),
      p50Ms: m(sat, (r) => r.p50Ms),
      p99Ms: m(sat, (r) => r.p99Ms),
      fixedRate: fixed.length ? m(fixed, (r) => r.rate) : null,
      fixedRps: fixed.length ? m(fixed, (r) => r.rps) : null,
      fixedP50Ms: answered.length ? m(answered, (r) => r.p50Ms) : null,
      fixedP99Ms: answered.length ? m(answered, (r) => r.p99Ms) : null,
      statementsPerRequest: verification.statementsPerRequest[server]?.[scenario] ?? null,
      cpuMsPerRequest: m(sat, (r) => r.cpuMsPerRequest),
      fixedCpuMsPerRequest: answered.some((r) => r.cpuMsPerRequest !== undefined) ? m(answered.filter((r) => r.cpuMsPerRequest !== undefined), (r) => r.cpuMsPerRequest!) : null,
      peakRssMb: Math.max(...sat.map((r) => r.peakRssMb)),
      medianPeakRssMb: m(sat, (r) => r.peakRssMb),
      rounds: sat.length,
      failed: [...sat, ...fixed].reduce((n, r) => n + r.failed, 0),
      reordered: [...sat, ...fixed].reduce((n, r) => n + r.reordered, 0),
    };
  }
  return summary;
}

function spread(values: (number | null)[]): Spread | null {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return finite.length > 0 ? { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), perRound: finite, rounds: values.length } : null;
}

/** Chirp's ratios to PostGraphile and the ceiling, round by round, and its peak RSS, per scenario. */
export function ratioSpreads(rounds: Round[], scenarios: string[]): Record<string, Ratios> {
  // A round counts when both servers ran the scenario; its ratio is null when one of them completed no request.
  const perRound = (scenario: string, other: ServerName, pick: (round: Round, server: ServerName) => number | null | undefined) =>
    spread(
      rounds.flatMap((round) => {
        const [c, o] = [pick(round, "chirp"), pick(round, other)];
        if (c === undefined || o === undefined) return [];
        return [c !== null && o ? c / o : null];
      }),
    );
  return Object.fromEntries(
    scenarios.map((scenario) => {
      const sat = (key: "rps" | "cpuMsPerRequest") => (round: Round, server: ServerName) => {
        const run = round.saturation[server]?.[scenario];
        return run && (key === "rps" || run.requests > 0 ? run[key] : null);
      };
      const fixed = (key: "p99Ms" | "cpuMsPerRequest") => (round: Round, server: ServerName) => {
        const run = round.fixed[server]?.[scenario];
        return run && (run.rps > 0 ? (run[key] ?? null) : null);
      };
      const ratios: Ratios = {
        rpsVsPostgraphile: perRound(scenario, "postgraphile", sat("rps")),
        rpsVsCeiling: perRound(scenario, "ceiling", sat("rps")),
        fixedP99VsPostgraphile: perRound(scenario, "postgraphile", fixed("p99Ms")),
        cpuVsPostgraphile: perRound(scenario, "postgraphile", sat("cpuMsPerRequest")),
        fixedCpuVsPostgraphile: perRound(scenario, "postgraphile", fixed("cpuMsPerRequest")),
        chirpPeakRssMb: spread(rounds.flatMap((round) => round.saturation.chirp?.[scenario]?.peakRssMb ?? [])),
      };
      return [scenario, ratios];
    }),
  );
}

const num = (value: number | null | undefined, digits = 0) =>
  value === null || value === undefined || Number.isNaN(value) ? "–" : value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}×` : "–");
/** "1.31× (1.02–1.40)": the median of the per-round ratios and their range. */
const spreadText = (s: Spread | null | undefined, unit = "×", digits = 2) => {
  if (!s) return "–";
  const range = s.perRound.length > 1 ? ` (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})` : "";
  const missing = s.perRound.length < s.rounds ? ` [${s.perRound.length} of ${s.rounds} rounds: a run completed no request]` : "";
  return `${s.median.toFixed(digits)}${unit}${range}${missing}`;
};

export function markdown(results: BenchResults): string {
  const { options, data, summary, verification, machine } = results;
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  push(
    `# Chirp benchmark — ${results.startedAt}`,
    "",
    `- Machine: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}. Load average before / after: ${machine.loadAverageBefore.map((l) => l.toFixed(2)).join(", ")} / ${machine.loadAverageAfter.map((l) => l.toFixed(2)).join(", ")} (anything else running on the machine skews the figures).`,
    `- Data: ${data.size.users.toLocaleString("en-US")} users, ${data.size.posts.toLocaleString("en-US")} posts, ${data.size.likes.toLocaleString("en-US")} likes, ${data.size.follows.toLocaleString("en-US")} follows (seed ${data.size.seed}). Viewer ${data.picks.viewer.handle} (id ${data.picks.viewer.id}) follows ${data.picks.viewer.following}, has blocked ${data.picks.viewer.blocked} and muted ${data.picks.viewer.muted} users; profile ${data.picks.profile.handle}; thread post ${data.picks.thread.id} (${data.picks.thread.replies} replies, ${data.picks.thread.secondLevel} replies to them); like/unlike post ${data.picks.likePostId}${data.picks.conversation ? `; conversation ${data.picks.conversation.id} (${data.picks.conversation.members.length} members, ${data.picks.conversation.messages} messages)` : ""}.`,
    `- Load: autocannon, ${options.connections} connections, ${options.seconds} s per run after ${options.warmupSeconds} s of warm-up, ${options.rounds} round(s) in rotating server order; latency also at a fixed rate of ${options.fixedRateShare * 100}% of PostGraphile's saturated rate in the same round. Every server: one Node process, pool of 10, NODE_ENV=production. Figures are medians over the rounds; peak RSS is the maximum.`,
    `- Rounds: ${results.rounds.length}.${results.rounds.length < CLAIM_ROUNDS ? ` **Fewer than ${CLAIM_ROUNDS} rounds: not a claim.**` : ""}`,
    "",
    "## Results",
    "",
    "| scenario | server | req/s | p50 ms | p99 ms | fixed rate | p50 ms @ fixed | p99 ms @ fixed | SQL / req | CPU ms / req | CPU ms / req @ fixed | peak RSS MB |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const scenario of options.scenarios) {
    for (const server of options.servers) {
      const s = summary[server]?.[scenario];
      const why = verification.failures[scenario]?.[server];
      if (!s) {
        push(`| ${scenario} | ${LABEL[server]} | ${why ? "failed the data check" : "–"} | | | | | | ${num(verification.statementsPerRequest[server]?.[scenario], 1)} | | | |`);
        continue;
      }
      const flag = s.failed > 0 ? ` (${s.failed} failed)` : "";
      const behind = s.fixedRate !== null && s.fixedRps !== null && s.fixedRps < 0.95 * s.fixedRate ? ` (kept up with ${num(s.fixedRps)})` : "";
      push(
        `| ${scenario} | ${LABEL[server]} | ${num(s.rps)}${flag} | ${num(s.p50Ms, 1)} | ${num(s.p99Ms, 1)} | ${num(s.fixedRate)}${behind} | ${num(s.fixedP50Ms, 1)} | ${num(s.fixedP99Ms, 1)} | ${num(s.statementsPerRequest, 1)} | ${num(s.cpuMsPerRequest, 2)} | ${num(s.fixedCpuMsPerRequest, 2)} | ${num(s.peakRssMb)} |`,
      );
    }
  }
  const reordered = options.servers.flatMap((server) => {
    const n = Object.values(summary[server] ?? {}).reduce((sum, s) => sum + s.reordered, 0);
    return n > 0 ? [`- ${LABEL[server]}: ${n.toLocaleString("en-US")} answers held the right data with the JSON fields in another order than the query's (GraphQL requires the selection's order).`] : [];
  });
  if (reordered.length > 0) push("", ...reordered);
  push("", ...againstTheOthers(results));
  push("", ...issue12Targets(results), "", ...targets(results));
  if (results.fanout) push("", ...fanoutMarkdown(results.fanout));
  const failures = Object.entries(verification.failures).flatMap(([scenario, byServer]) => Object.entries(byServer).map(([server, why]) => `- ${scenario}, ${LABEL[server as ServerName]}: ${why.split("\n").join("\n  ")}`));
  if (failures.length > 0) push("", "## Failed data checks (not timed)", "", ...failures);
  push("", "## Scenarios", "", ...options.scenarios.map((s) => `- **${s}**: ${results.scenarioTitles[s] ?? s}`));
  push("", "## The SQL Chirp sends (one request each, from the verification pass)", "");
  for (const [scenario, statements] of Object.entries(verification.sql.chirp ?? {})) {
    const sample = verification.sqlSampleRequests[scenario] ?? 1;
    push(`<details><summary>${scenario}: ${statements.length} statements${sample > 1 ? ` for ${sample} requests` : ""}</summary>`, "", "```sql", ...statements.map((s) => `${s.replace(/\s+/g, " ").trim().slice(0, 600)};`), "```", "</details>", "");
  }
  return `${lines.join("\n")}\n`;
}

/** The ratios of a run, from the JSON, or worked out again for results written before issue 12. */
const ratiosOf = (results: BenchResults) => results.ratios ?? ratioSpreads(results.rounds, results.options.scenarios);

/** Chirp's ratios to the others: the median of the per-round ratios, and their range. */
function againstTheOthers(results: BenchResults): string[] {
  const ratios = ratiosOf(results);
  const rows = [
    "## Chirp against the others",
    "",
    `Each ratio is taken within a round (its servers ran one after another, under the same conditions): the median over the ${results.rounds.length} round(s), and in brackets the lowest and highest round. CPU is the server's CPU ms per request, under saturation and at the fixed rate.`,
    "",
    "| scenario | Chirp / PostGraphile req/s | Chirp / ceiling req/s | p99 @ fixed: Chirp / PostGraphile | CPU ms / req: Chirp / PostGraphile | CPU ms / req @ fixed: Chirp / PostGraphile |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const scenario of results.options.scenarios) {
    const r = ratios[scenario];
    rows.push(`| ${scenario} | ${spreadText(r?.rpsVsPostgraphile)} | ${spreadText(r?.rpsVsCeiling)} | ${spreadText(r?.fixedP99VsPostgraphile)} | ${spreadText(r?.cpuVsPostgraphile)} | ${spreadText(r?.fixedCpuVsPostgraphile)} |`);
  }
  return rows;
}

/** Issue 12's targets, per scenario, judged on the medians with the spread beside them. */
function issue12Targets(results: BenchResults): string[] {
  const ratios = ratiosOf(results);
  const n = results.rounds.length;
  const rows = [
    "## Targets (issue 12)",
    "",
    n < CLAIM_ROUNDS
      ? `**${n} round(s): fewer than ${CLAIM_ROUNDS} rounds: not a claim.** The marks below say where this run stands, nothing more.`
      : `${n} rounds. Each target is judged on the median; the range over the rounds is in brackets.`,
    "CPU is judged at the fixed rate (the steadier figure: contention moves it least), the saturated ratio beside it. Peak RSS is Chirp's under saturation, median of the rounds (highest in brackets). – : the scenario has no such peer.",
    "",
    "| scenario | ≥ 1.25 × PostGraphile req/s | ≥ 0.4 × ceiling req/s | p99 @ fixed ≤ PostGraphile's | CPU ms / req @ fixed < PostGraphile's | peak RSS < 250 MB |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  let met = 0;
  let judged = 0;
  const mark = (value: Spread | null | undefined, pass: (median: number) => boolean, text = spreadText(value)) => {
    if (!value) return "–";
    judged++;
    // A round whose run completed no request has no figure to pass with.
    if (pass(value.median) && value.perRound.length === value.rounds) {
      met++;
      return `${text} yes`;
    }
    return `${text} **no**`;
  };
  for (const scenario of results.options.scenarios) {
    const r = ratios[scenario];
    if (!r || (!r.rpsVsPostgraphile && !r.rpsVsCeiling && !r.chirpPeakRssMb)) continue;
    const rss = r.chirpPeakRssMb;
    rows.push(
      `| ${scenario} | ${mark(r.rpsVsPostgraphile, (m) => m >= 1.25)} | ${mark(r.rpsVsCeiling, (m) => m >= 0.4)} | ${mark(r.fixedP99VsPostgraphile, (m) => m <= 1)} | ${mark(
        r.fixedCpuVsPostgraphile,
        (m) => m < 1,
        `${spreadText(r.fixedCpuVsPostgraphile)}; saturated ${spreadText(r.cpuVsPostgraphile)}`,
      )} | ${mark(rss, (m) => m < 250, rss ? `${num(rss.median)} MB${rss.perRound.length > 1 ? ` (${num(rss.max)})` : ""}` : "–")} |`,
    );
  }
  rows.push("", `Met: ${met} of ${judged}${n < CLAIM_ROUNDS ? ` (${n} round(s): not a claim)` : ""}.`);
  return rows;
}

/** The earlier issues' targets that issue 12 does not restate, measured in this run. */
function targets(results: BenchResults): string[] {
  const { embeddedStart, verification } = results;
  const rows: string[] = ["## Earlier targets (issues 3 and 8; issue 12 restates their ratios and RSS above)", "", "| target | measured | met |", "| --- | --- | :---: |"];
  const mark = (ok: boolean | null) => (ok === null ? "–" : ok ? "yes" : "**no**");
  const statements = Object.entries(verification.statementsPerRequest.chirp ?? {});
  if (statements.length > 0) {
    const worst = Math.max(...statements.map(([, n]) => n));
    rows.push(`| Chirp: ≤ 3 SQL statements per request, every scenario | ${statements.map(([s, n]) => `${s} ${num(n, 1)}`).join(", ")} | ${mark(worst <= 3)} |`);
  }
  const chirpFailures = Object.entries(verification.failures).filter(([, byServer]) => byServer.chirp).map(([s]) => s);
  if (chirpFailures.length > 0) rows.push(`| Chirp answers every scenario | failed: ${chirpFailures.join(", ")} | **no** |`);
  if (embeddedStart) {
    const compiled = median(embeddedStart.compiledMs);
    const npm = median(embeddedStart.npmStartMs);
    const reported = embeddedStart.compiledReportedMs.filter((n): n is number => n !== null);
    const own = reported.length > 0 ? ` (of which Chirp logs ${num(median(reported))} ms from its first line to listening)` : "";
    rows.push(`| embedded start to the first answered request < 3 s (median of ${embeddedStart.compiledMs.length}) | node dist/server.js ${num(compiled)} ms${own}; npm start ${num(npm)} ms | ${mark(npm < 3000)} |`);
  }
  return rows;
}

/** Requests per second per scenario and server, as grouped bars. */
export function svgChart(results: BenchResults): string {
  const { options, summary } = results;
  const groupWidth = 36 * options.servers.length + 40;
  const left = 70;
  const top = 40;
  const height = 260;
  const width = Math.max(left + groupWidth * options.scenarios.length + 20, left + 130 * options.servers.length + 220, 560);
  const max = Math.max(1, ...options.servers.flatMap((s) => options.scenarios.map((sc) => summary[s]?.[sc]?.rps ?? 0)));
  const step = 10 ** Math.floor(Math.log10(max));
  const scaleMax = Math.ceil(max / step) * step;
  const y = (v: number) => Math.round((top + height - (v / scaleMax) * height) * 10) / 10;
  const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${top + height + 70}" font-family="sans-serif" font-size="11">`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">Requests per second (median of ${results.rounds.length} round(s)${results.rounds.length < CLAIM_ROUNDS ? ", not a claim" : ""}, ${options.connections} connections)</text>`,
  ];
  for (let v = 0; v <= scaleMax; v += scaleMax / 5) {
    parts.push(`<line x1="${left}" x2="${width - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v)}</text>`);
  }
  options.scenarios.forEach((scenario, i) => {
    const x0 = left + i * groupWidth + 20;
    options.servers.forEach((server, j) => {
      const rps = summary[server]?.[scenario]?.rps;
      const x = x0 + j * 36;
      if (rps === undefined) {
        parts.push(`<text x="${x + 15}" y="${y(0) - 4}" text-anchor="middle" fill="#c0392b">✗</text>`);
        return;
      }
      parts.push(
        `<rect x="${x}" y="${y(rps)}" width="30" height="${y(0) - y(rps)}" fill="${COLOR[server]}"><title>${LABEL[server]} ${escape(scenario)}: ${Math.round(rps)} req/s</title></rect>`,
        `<text x="${x + 15}" y="${y(rps) - 4}" text-anchor="middle" font-size="9">${Math.round(rps)}</text>`,
      );
    });
    parts.push(`<text x="${x0 + (36 * options.servers.length) / 2}" y="${top + height + 18}" text-anchor="middle">${escape(scenario)}</text>`);
  });
  options.servers.forEach((server, j) => {
    const x = left + j * 130;
    parts.push(`<rect x="${x}" y="${top + height + 40}" width="12" height="12" fill="${COLOR[server]}"/>`, `<text x="${x + 18}" y="${top + height + 50}">${LABEL[server]}</text>`);
  });
  if (options.servers.some((server) => options.scenarios.some((scenario) => summary[server]?.[scenario] === undefined))) {
    parts.push(`<text x="${left + options.servers.length * 130}" y="${top + height + 50}" fill="#c0392b">✗ not timed (failed the data check)</text>`);
  }
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/** Writes <stamp>.md, .json and .svg into bench/results and returns the Markdown path. */
export function writeResults(results: BenchResults, dir: string): { md: string; json: string; svg: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, "-");
  const paths = { md: join(dir, `${stamp}.md`), json: join(dir, `${stamp}.json`), svg: join(dir, `${stamp}.svg`) };
  writeFileSync(paths.md, `${markdown(results)}\n![requests per second](${stamp}.svg)\n`);
  writeFileSync(paths.json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(paths.svg, svgChart(results));
  return paths;
}
