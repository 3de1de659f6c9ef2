import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnChild, waitUntil } from "./servers.js";

const STARTS = 3;
const FIRST_START_TIMEOUT_MS = 180_000;

export interface EmbeddedStart {
  /** `node dist/server.js` on an existing PGlite folder: spawn to the first answered request, each start in ms. */
  compiledMs: number[];
  /** What Chirp itself logs as startupMs for those starts (after its modules are loaded, until it listens). */
  compiledReportedMs: (number | null)[];
  /** `npm start` (builds with esbuild, then runs dist/server.js), the same way. */
  npmStartMs: number[];
}

/**
 * Chirp on its embedded database, as `npm start` runs it (no DATABASE_URL, development mode): a
 * first start creates the PGlite folder with the demo data, then each measured start runs on that
 * existing folder, from spawning the process to the first answered request that reads the database.
 */
export async function measureEmbeddedStart(log: (m: string) => void): Promise<EmbeddedStart> {
  const dataDir = mkdtempSync(join(tmpdir(), "chirp-bench-embedded-"));
  try {
    log("embedded start: creating a PGlite folder with the demo data…");
    await startOnce(["node", "dist/server.js"], dataDir, FIRST_START_TIMEOUT_MS);
    const compiled = [];
    const npmStartMs: number[] = [];
    for (let i = 0; i < STARTS; i++) compiled.push(await startOnce(["node", "dist/server.js"], dataDir));
    for (let i = 0; i < STARTS; i++) npmStartMs.push((await startOnce(["npm", "start"], dataDir)).ms);
    return { compiledMs: compiled.map((s) => s.ms), compiledReportedMs: compiled.map((s) => s.reportedMs), npmStartMs };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function startOnce([command, ...args]: string[], dataDir: string, timeoutMs = 60_000): Promise<{ ms: number; reportedMs: number | null }> {
  const port = await freePort();
  // LOG_LEVEL=info for Chirp's "ready" line, which carries its own startupMs.
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info" };
  const started = performance.now();
  const child = spawnChild(command === "node" ? process.execPath : command!, args, env);
  try {
    await waitUntil(
      child,
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: '{ user(handle: "alice") { handle } }' }),
          signal: AbortSignal.timeout(10_000),
        });
        const body = (await res.json()) as { data?: { user?: { handle?: string } } };
        return body.data?.user?.handle === "alice";
      },
      timeoutMs,
    );
    const ms = performance.now() - started;
    const reported = /"startupMs":(\d+)/.exec(child.output());
    return { ms, reportedMs: reported ? Number(reported[1]) : null };
  } finally {
    await child.stop();
  }
}
