import { createRequire } from "node:module";
import type { BenchRequest } from "./scenarios.js";

// autocannon lives in bench/peers (with PostGraphile), not in Chirp's own dependencies.
const requirePeer = createRequire(new URL("./peers/package.json", import.meta.url));

/** The part of autocannon's programmatic API the benchmark uses. */
interface Histogram {
  average: number;
  p50: number;
  p99: number;
  total: number;
}
interface AutocannonResult {
  requests: Histogram;
  latency: Histogram;
  duration: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
}
interface AutocannonInstance {
  stop(): void;
}
type Autocannon = (
  options: {
    url: string;
    connections: number;
    duration: number;
    overallRate?: number;
    timeout: number;
    method: BenchRequest["method"];
    requests: BenchRequest[];
    verifyBody?: (body: string) => boolean;
  },
  done: (error: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

let autocannon: Autocannon | undefined;

export interface LoadOptions {
  baseUrl: string;
  /** Sent in turn by every connection. */
  requests: BenchRequest[];
  connections: number;
  seconds: number;
  /** Requests per second across all connections; unset for as fast as the server answers. */
  rate?: number;
  /** False for a response that is wrong (counted as a mismatch). */
  verify?: (body: string) => boolean;
}

export interface LoadResult {
  /** Completed requests. */
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Connection errors and timeouts, non-2xx answers, and answers that failed `verify`. */
  errors: number;
  non2xx: number;
  mismatches: number;
}

/** One autocannon run, never longer than its duration plus a grace period. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  autocannon ??= requirePeer("autocannon") as Autocannon;
  const run = autocannon;
  return new Promise((resolve, reject) => {
    const instance = run(
      {
        url: options.baseUrl,
        connections: options.connections,
        duration: options.seconds,
        ...(options.rate ? { overallRate: Math.max(1, Math.round(options.rate)) } : {}),
        timeout: 10,
        // Each request carries its own method; the top-level one is only autocannon's default.
        method: options.requests[0]?.method ?? "POST",
        requests: options.requests.map(({ body, ...r }) => (r.method === "GET" ? r : { ...r, body })),
        ...(options.verify ? { verifyBody: options.verify } : {}),
      },
      (error, result) => {
        clearTimeout(guard);
        if (error) return reject(error);
        resolve({
          requests: result.requests.total,
          seconds: result.duration,
          rps: result.requests.total / result.duration,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          errors: result.errors + result.timeouts,
          non2xx: result.non2xx,
          mismatches: result.mismatches,
        });
      },
    );
    const guard = setTimeout(() => instance.stop(), (options.seconds + 30) * 1000);
  });
}
