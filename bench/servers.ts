import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import type { ServerName } from "./scenarios.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PEERS = join(ROOT, "bench/peers");
const CEILING_JS = join(ROOT, "node_modules/.cache/chirp-bench/ceiling.mjs");
const POOL_SIZE = 10;
const READY_TIMEOUT_MS = 90_000;

type Log = (message: string) => void;

// ── Child processes: every one is killed when the runner exits, however it exits ─────────────────

const children = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Each child leads a process group of its own (detached), so `npm start` takes its node along.
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Makes the runner kill every child it started when it exits, on an error or a signal too. */
export function killChildrenOnExit() {
  process.on("exit", () => {
    for (const child of children) killGroup(child, "SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: stopping the servers`);
      process.exit(130);
    });
  }
}

export interface Child {
  pid: number;
  /** The last lines it printed. */
  output(): string;
  /** Resolves when it has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after 5 s; resolves to true when it had to be killed. */
  stop(): Promise<boolean>;
}

export function spawnChild(command: string, args: string[], env: Record<string, string>): Child {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  if (child.pid === undefined) throw new Error(`Could not start ${command}`);
  children.add(child);
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-20_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  void exited.then(() => children.delete(child));
  return {
    pid: child.pid,
    output: () => output,
    exited,
    stop: async () => {
      let forced = false;
      killGroup(child, "SIGTERM");
      const timer = setTimeout(() => {
        forced = true;
        killGroup(child, "SIGKILL");
      }, 5_000);
      await exited;
      clearTimeout(timer);
      return forced;
    },
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("No free port");
  return address.port;
}

/** Polls with `probe` until it answers true, the child dies or the time is up; returns the milliseconds waited. */
export async function waitUntil(child: Child, probe: () => Promise<boolean>, timeoutMs = READY_TIMEOUT_MS, intervalMs = 10): Promise<number> {
  const started = performance.now();
  let dead = false;
  void child.exited.then(() => (dead = true));
  while (performance.now() - started < timeoutMs) {
    if (dead) throw new Error(`The server exited before it was ready:\n${child.output()}`);
    if (await probe().catch(() => false)) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`The server was not ready after ${timeoutMs / 1000} s:\n${child.output()}`);
}

// ── Builds ──────────────────────────────────────────────────────────────────────────────────────

/** Chirp compiled to dist/, PostGraphile and autocannon installed, the ceiling compiled to plain JS. */
export function prepareBuilds(options: { build: boolean; log: Log }) {
  if (options.build || !existsSync(join(ROOT, "dist/server.js"))) {
    options.log("building Chirp (npm run build)…");
    execFileSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "inherit" });
  }
  ensurePeers(options.log);
  compileBenchScript("ceiling.ts");
}

/** Compiles bench/<file> to plain JS beside node_modules (imports resolve from there); returns its path. */
export function compileBenchScript(file: string): string {
  const source = readFileSync(join(ROOT, "bench", file), "utf8");
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: file,
  });
  const out = join(CEILING_JS, "..", file.replace(/\.ts$/, ".mjs"));
  mkdirSync(join(out, ".."), { recursive: true });
  writeFileSync(out, outputText);
  return out;
}

/** bench/peers has its own lockfile; installed on first use. */
function ensurePeers(log: Log) {
  if (existsSync(join(PEERS, "node_modules"))) return;
  log("installing the peer packages (npm ci --prefix bench/peers)…");
  execFileSync("npm", ["ci", "--prefix", PEERS, "--no-audit", "--no-fund"], { cwd: ROOT, stdio: "inherit" });
}

// ── The servers under test ──────────────────────────────────────────────────────────────────────

export interface RunningServer extends Child {
  name: ServerName;
  baseUrl: string;
}

const baseEnv = () => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" });

/** BENCH_CHIRP_ENV="METRICS_TOKEN=… OTEL_EXPORTER_OTLP_ENDPOINT=…": Chirp's settings to measure (space-separated KEY=VALUE). */
const chirpEnv = (): Record<string, string> =>
  Object.fromEntries((process.env.BENCH_CHIRP_ENV ?? "").split(/\s+/).filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]));
const JWT_SECRET = randomBytes(32).toString("hex");
const ACCESS_TOKEN_TTL = 86_400;
/** How Chirp, as started here, signs and checks access tokens (its default issuer and audience): tokens signed with it are real ones. */
export const chirpJwt = () => ({ secret: new TextEncoder().encode(JWT_SECRET), issuer: "chirp", audience: "chirp-api", accessTtl: ACCESS_TOKEN_TTL });
// Production refuses to start without them (issue 10); the benchmark sends no mail.
const MAIL_ENV = { SMTP_URL: "smtp://127.0.0.1:9", MAIL_FROM: "Chirp <bench@localhost>", APP_URL: "http://localhost:3000" };

/**
 * The Node options `npm start` runs Chirp with (package.json's start script), so that the benchmark
 * measures Chirp as it is meant to run.
 */
function chirpNodeOptions(): string[] {
  const start = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts.start ?? "";
  const command = /(?:^|&&\s*)node((?:\s+--[\w-]+(?:=\S+)?)*)\s+dist\/server\.js/.exec(start);
  if (!command) throw new Error(`package.json's start script does not run node … dist/server.js: ${start}`);
  return command[1]!.trim().split(/\s+/).filter(Boolean);
}

/** Starts one server as a single Node process with NODE_ENV=production and a pool of 10, and waits until it answers. */
export async function startServer(name: ServerName, databaseUrl: string, extraEnv: Record<string, string> = {}): Promise<RunningServer> {
  const port = await freePort();
  const env: Record<string, string> = {
    ...baseEnv(),
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: String(POOL_SIZE),
    ...extraEnv,
  };
  const node = process.execPath;
  const child =
    name === "chirp"
      ? spawnChild(node, [...chirpNodeOptions(), "dist/server.js"], { ...env, JWT_SECRET, ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL), LOG_LEVEL: "warn", ...MAIL_ENV, ...chirpEnv() })
      : name === "postgraphile"
        ? spawnChild(node, ["-r", join(PEERS, "polyfill.cjs"), join(PEERS, "postgraphile.mjs")], env)
        : spawnChild(node, [CEILING_JS], env);
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(child, async () => {
      const path = name === "ceiling" ? "/" : "/graphql";
      const res = await fetch(`${baseUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"query":"{ __typename }"}', signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      return name === "ceiling" ? res.status === 404 : res.ok;
    });
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { ...child, name, baseUrl };
}

// ── What a process used, from /proc ─────────────────────────────────────────────────────────────

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU time of the whole process (all threads), in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** The peak resident set (VmHWM) in MB. */
export function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Restarts the peak-RSS count from the current RSS (Linux clear_refs 5); false when not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}
