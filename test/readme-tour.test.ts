import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ServerProcess, killServers, startServer } from "./support/server-process.js";

// The README's tour, run as a newcomer runs it: against a server started as `npm start` starts it
// (embedded database, demo data), its shell blocks in one bash session in order, each script
// block saved under the name its first line gives. A `text` block after a shell block is the output
// the README promises: each of its lines must appear, in order (… stands for anything).

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TOUR_HEADING = "## A 5-minute tour";

interface Block {
  lang: string;
  code: string;
}

function tourBlocks(readme: string): Block[] {
  const start = readme.indexOf(`\n${TOUR_HEADING}\n`);
  if (start < 0) throw new Error(`README.md has no "${TOUR_HEADING}" section`);
  const end = readme.indexOf("\n## ", start + TOUR_HEADING.length + 2);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, code: m[2]! }));
}

/** The lines a `text` block shows, as patterns in which … matches anything. */
const expectedLines = (text: string) =>
  text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => new RegExp(line.trim().split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")));

let server: ServerProcess;
let dir: string;
const blocks = tourBlocks(readFileSync(join(ROOT, "README.md"), "utf8"));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "chirp-tour-"));
  // The tour is run from a checkout of Chirp: its packages are the ones the reader installed.
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  server = await startServer(join(dir, "data"), { DEMO_DATA: "true" });
}, 120_000);

afterAll(() => {
  killServers();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it("has shell steps, a script and the output each step promises", () => {
  expect(blocks.filter((b) => b.lang === "sh").length).toBeGreaterThanOrEqual(3);
  expect(blocks.filter((b) => b.lang === "js" || b.lang === "ts").length).toBeGreaterThanOrEqual(1);
  expect(blocks.filter((b) => b.lang === "text").length).toBeGreaterThanOrEqual(3);
});

// The tour's shell steps use curl, as a reader's terminal does; a machine without it skips only this test, saying why.
const curl = spawnSync("curl", ["--version"]).status === 0;

it.skipIf(!curl)("runs every step of the README's tour against a server started as npm start starts it (needs curl)", () => {
  const address = `127.0.0.1:${server.port}`;
  const localhost = (code: string) => code.replaceAll("localhost:4000", address);
  const script: string[] = ["set -euo pipefail"];
  const promises: { step: number; lines: RegExp[] }[] = [];
  let step = 0;
  for (const [index, block] of blocks.entries()) {
    if (block.lang === "js" || block.lang === "ts") {
      const name = /^\/\/ (\S+\.[mc]?[jt]s)\n/.exec(block.code)?.[1];
      if (!name) throw new Error(`Script block ${index} does not start with "// <file name>"`);
      writeFileSync(join(dir, name), localhost(block.code));
    } else if (block.lang === "sh") {
      step += 1;
      script.push(`echo "::step ${step}"`, localhost(block.code));
    } else if (block.lang === "text" && blocks[index - 1]?.lang === "sh") {
      promises.push({ step, lines: expectedLines(block.code) });
    }
  }
  const run = spawnSync("bash", ["-c", script.join("\n")], { cwd: dir, encoding: "utf8", timeout: 90_000, env: { ...process.env, NO_COLOR: "1" } });
  const output = run.stdout;
  expect(run.status, `the tour failed:\n${output}\n${run.stderr}`).toBe(0);

  const steps = output.split(/^::step (\d+)\n/m);
  for (const { step: n, lines } of promises) {
    const printed = (steps[steps.indexOf(String(n)) + 1] ?? "").split("\n");
    let at = 0;
    for (const line of lines) {
      const found = printed.findIndex((candidate, i) => i >= at && line.test(candidate));
      expect(found, `step ${n} of the tour should print a line matching ${line}; it printed:\n${printed.join("\n")}`).toBeGreaterThanOrEqual(0);
      at = found + 1;
    }
  }
}, 120_000);
