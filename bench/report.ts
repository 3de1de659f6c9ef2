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
  peakRssMb: number;
  failed: number;
  reordered: number;
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
}

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
    (summary[server] ??= {})[scenario] = {
      rps: m(sat, (r) => r.rps),
      p50Ms: m(sat, (r) => r.p50Ms),
      p99Ms: m(sat, (r) => r.p99Ms),
      fixedRate: fixed.length ? m(fixed, (r) => r.rate) : null,
      fixedRps: fixed.length ? m(fixed, (r) => r.rps) : null,
      fixedP50Ms: fixed.length ? m(fixed, (r) => r.p50Ms) : null,
      fixedP99Ms: fixed.length ? m(fixed, (r) => r.p99Ms) : null,
      statementsPerRequest: verification.statementsPerRequest[server]?.[scenario] ?? null,
      cpuMsPerRequest: m(sat, (r) => r.cpuMsPerRequest),
      peakRssMb: Math.max(...sat.map((r) => r.peakRssMb)),
      failed: [...sat, ...fixed].reduce((n, r) => n + r.failed, 0),
      reordered: [...sat, ...fixed].reduce((n, r) => n + r.reordered, 0),
    };
  }
  return summary;
}

const num = (value: number | null | undefined, digits = 0) =>
  value === null || value === undefined || Number.isNaN(value) ? "–" : value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}×` : "–");

export function markdown(results: BenchResults): string {
  const { options, data, summary, verification, machine } = results;
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  push(
    `# Chirp benchmark — ${results.startedAt}`,
    "",
    `- Machine: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}. Load average before / after: ${machine.loadAverageBefore.map((l) => l.toFixed(2)).join(", ")} / ${machine.loadAverageAfter.map((l) => l.toFixed(2)).join(", ")} (anything else running on the machine skews the figures).`,
    `- Data: ${data.size.users.toLocaleString("en-US")} users, ${data.size.posts.toLocaleString("en-US")} posts, ${data.size.likes.toLocaleString("en-US")} likes, ${data.size.follows.toLocaleString("en-US")} follows (seed ${data.size.seed}). Viewer ${data.picks.viewer.handle} (id ${data.picks.viewer.id}) follows ${data.picks.viewer.following}, has blocked ${data.picks.viewer.blocked} and muted ${data.picks.viewer.muted} users; profile ${data.picks.profile.handle}; thread post ${data.picks.thread.id} (${data.picks.thread.replies} replies, ${data.picks.thread.secondLevel} replies to them); like/unlike post ${data.picks.likePostId}.`,
    `- Load: autocannon, ${options.connections} connections, ${options.seconds} s per run after ${options.warmupSeconds} s of warm-up, ${options.rounds} round(s) in rotating server order; latency also at a fixed rate of ${options.fixedRateShare * 100}% of PostGraphile's saturated rate in the same round. Every server: one Node process, pool of 10, NODE_ENV=production. Figures are medians over the rounds; peak RSS is the maximum.`,
    "",
    "## Results",
    "",
    "| scenario | server | req/s | p50 ms | p99 ms | fixed rate | p50 ms @ fixed | p99 ms @ fixed | SQL / req | CPU ms / req | peak RSS MB |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const scenario of options.scenarios) {
    for (const server of options.servers) {
      const s = summary[server]?.[scenario];
      const why = verification.failures[scenario]?.[server];
      if (!s) {
        push(`| ${scenario} | ${LABEL[server]} | ${why ? "failed the data check" : "–"} | | | | | | ${num(verification.statementsPerRequest[server]?.[scenario], 1)} | | |`);
        continue;
      }
      const flag = s.failed > 0 ? ` (${s.failed} failed)` : "";
      const behind = s.fixedRate !== null && s.fixedRps !== null && s.fixedRps < 0.95 * s.fixedRate ? ` (kept up with ${num(s.fixedRps)})` : "";
      push(
        `| ${scenario} | ${LABEL[server]} | ${num(s.rps)}${flag} | ${num(s.p50Ms, 1)} | ${num(s.p99Ms, 1)} | ${num(s.fixedRate)}${behind} | ${num(s.fixedP50Ms, 1)} | ${num(s.fixedP99Ms, 1)} | ${num(s.statementsPerRequest, 1)} | ${num(s.cpuMsPerRequest, 2)} | ${num(s.peakRssMb)} |`,
      );
    }
  }
  const reordered = options.servers.flatMap((server) => {
    const n = Object.values(summary[server] ?? {}).reduce((sum, s) => sum + s.reordered, 0);
    return n > 0 ? [`- ${LABEL[server]}: ${n.toLocaleString("en-US")} answers held the right data with the JSON fields in another order than the query's (GraphQL requires the selection's order).`] : [];
  });
  if (reordered.length > 0) push("", ...reordered);
  push("", "## Chirp against the others", "", "| scenario | Chirp / PostGraphile req/s | Chirp / ceiling req/s | p99 @ fixed: Chirp / PostGraphile |", "| --- | ---: | ---: | ---: |");
  for (const scenario of options.scenarios) {
    const c = summary.chirp?.[scenario];
    const p = summary.postgraphile?.[scenario];
    const l = summary.ceiling?.[scenario];
    push(`| ${scenario} | ${ratio(c?.rps, p?.rps)} | ${ratio(c?.rps, l?.rps)} | ${ratio(c?.fixedP99Ms ?? undefined, p?.fixedP99Ms ?? undefined)} |`);
  }
  push("", "## The spread across rounds", "", "Each round's own ratio (its servers ran one after another, under the same conditions), lowest to highest.", "", "| scenario | Chirp / PostGraphile req/s | Chirp / PostGraphile CPU ms per request | Chirp / ceiling req/s |", "| --- | --- | --- | --- |");
  for (const scenario of options.scenarios) {
    const perRound = (other: ServerName, key: "rps" | "cpuMsPerRequest") =>
      results.rounds
        .map((r) => {
          const c = r.saturation.chirp?.[scenario]?.[key];
          const o = r.saturation[other]?.[scenario]?.[key];
          return c !== undefined && o ? c / o : null;
        })
        .filter((x): x is number => x !== null)
        .sort((a, b) => a - b);
    const list = (xs: number[]) => (xs.length > 0 ? xs.map((x) => `${x.toFixed(2)}×`).join(", ") : "–");
    push(`| ${scenario} | ${list(perRound("postgraphile", "rps"))} | ${list(perRound("postgraphile", "cpuMsPerRequest"))} | ${list(perRound("ceiling", "rps"))} |`);
  }
  push("", ...targets(results));
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

/** The issue's targets, measured in this run. */
function targets(results: BenchResults): string[] {
  const { summary, embeddedStart, verification } = results;
  const rows: string[] = ["## Targets (issues 3 and 8)", "", "| target | measured | met |", "| --- | --- | :---: |"];
  const mark = (ok: boolean | null) => (ok === null ? "–" : ok ? "yes" : "**no**");
  for (const scenario of ["timeline", "profile", "profile-anon"]) {
    const c = summary.chirp?.[scenario];
    const p = summary.postgraphile?.[scenario];
    const l = summary.ceiling?.[scenario];
    if (!c) continue;
    if (p) rows.push(`| ${scenario}: Chirp ≥ 1.25 × PostGraphile req/s | ${ratio(c.rps, p.rps)} | ${mark(c.rps >= 1.25 * p.rps)} |`);
    if (l) rows.push(`| ${scenario}: Chirp ≥ 0.5 × ceiling req/s | ${ratio(c.rps, l.rps)} | ${mark(c.rps >= 0.5 * l.rps)} |`);
    if (p && c.fixedP99Ms !== null && p.fixedP99Ms !== null) {
      rows.push(`| ${scenario}: p99 at the fixed rate ≤ PostGraphile's | ${num(c.fixedP99Ms, 1)} ms vs ${num(p.fixedP99Ms, 1)} ms | ${mark(c.fixedP99Ms <= p.fixedP99Ms)} |`);
    }
  }
  for (const scenario of ["notifications", "search"]) {
    const c = summary.chirp?.[scenario];
    const l = summary.ceiling?.[scenario];
    if (c && l) rows.push(`| ${scenario}: Chirp ≥ 0.3 × ceiling req/s (issue 8) | ${ratio(c.rps, l.rps)} | ${mark(c.rps >= 0.3 * l.rps)} |`);
  }
  const statements = Object.entries(verification.statementsPerRequest.chirp ?? {});
  if (statements.length > 0) {
    const worst = Math.max(...statements.map(([, n]) => n));
    rows.push(`| Chirp: ≤ 3 SQL statements per request, every scenario | ${statements.map(([s, n]) => `${s} ${num(n, 1)}`).join(", ")} | ${mark(worst <= 3)} |`);
  }
  const chirpFailures = Object.entries(verification.failures).filter(([, byServer]) => byServer.chirp).map(([s]) => s);
  if (chirpFailures.length > 0) rows.push(`| Chirp answers every scenario | failed: ${chirpFailures.join(", ")} | **no** |`);
  const rss = Object.values(summary.chirp ?? {}).map((s) => s.peakRssMb);
  if (rss.length > 0) rows.push(`| Chirp: peak RSS under saturation < 300 MB | ${num(Math.max(...rss))} MB | ${mark(Math.max(...rss) < 300)} |`);
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
    `<text x="${left}" y="20" font-size="14" font-weight="bold">Requests per second (median of ${options.rounds} round(s), ${options.connections} connections)</text>`,
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
