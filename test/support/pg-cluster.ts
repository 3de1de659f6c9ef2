import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A PostgreSQL cluster of a test's own, on a free port, that the test may stop and start. */
export interface PrivateCluster {
  url: string;
  port: number;
  /** `fast` disconnects clients and shuts down cleanly; `immediate` is a crash as far as clients see. */
  stop(mode?: "fast" | "immediate"): void;
  start(): void;
  /** Stops the cluster and removes its files. */
  destroy(): void;
}

const POSTGRES_ROOT = "/usr/lib/postgresql";

function binDir(): string | null {
  if (!existsSync(POSTGRES_ROOT)) return null;
  const versions = readdirSync(POSTGRES_ROOT).filter((v) => existsSync(join(POSTGRES_ROOT, v, "bin", "pg_ctl")));
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  return newest ? join(POSTGRES_ROOT, newest, "bin") : null;
}

function postgresUid(): number | null {
  try {
    return Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  } catch {
    return null;
  }
}

/** Why this machine cannot run a private cluster (initdb and pg_ctl, run as user postgres by root), or null. */
export function privateClusterUnavailable(): string | null {
  if (!binDir()) return `no PostgreSQL server binaries under ${POSTGRES_ROOT}`;
  if (process.getuid?.() !== 0) return "not root, so initdb cannot run as user postgres";
  if (postgresUid() === null) return "no user postgres";
  return null;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** initdb in a temporary folder and start it on a free port of 127.0.0.1 (trust authentication, no fsync). */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const bin = binDir()!;
  const dir = mkdtempSync(join(tmpdir(), "chirp-pg-"));
  chownSync(dir, postgresUid()!, -1);
  const data = join(dir, "data");
  const port = await freePort();
  const asPostgres = (command: string, args: string[]) =>
    execFileSync("runuser", ["-u", "postgres", "--", join(bin, command), ...args], { stdio: "pipe", timeout: 60_000 });
  asPostgres("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  let running = false;
  // Both idempotent, so a test can bring the cluster back whether or not it got that far.
  const start = () => {
    if (!running) asPostgres("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-o", options, "-w", "start"]);
    running = true;
  };
  const stop = (mode: "fast" | "immediate" = "fast") => {
    if (running) asPostgres("pg_ctl", ["-D", data, "-m", mode, "-w", "stop"]);
    running = false;
  };
  start();
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    start,
    destroy: () => {
      try {
        stop("immediate");
      } catch {
        // Not running.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
