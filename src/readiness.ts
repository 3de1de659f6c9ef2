import type { PrismaClient } from "@prisma/client";
import type { Plugin } from "graphql-yoga";

/** Under the 1 s a load balancer's probe commonly waits (Kubernetes' default), so it gets a 503 rather than a timeout. */
const READY_TIMEOUT_MS = 800;

/**
 * /ready, for load balancers: 200 when the database answers a trivial query within READY_TIMEOUT_MS,
 * 503 when it does not and once shutdown has begun. Yoga's /health only says the process is alive.
 */
export function useReadiness(db: PrismaClient, shutdown?: AbortSignal): Plugin {
  // Not Yoga's useReadinessCheck: it tests a URLPattern against every request's URL, a few µs each.
  return {
    onRequest({ url, fetchAPI, endResponse }) {
      if (url.pathname !== "/ready") return;
      const answer = (status: number, text: string) =>
        endResponse(new fetchAPI.Response(text, { status, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" } }));
      if (shutdown?.aborted) return answer(503, "shutting down");
      return databaseAnswers(db).then((ok) => (ok ? answer(200, "ready") : answer(503, "database unavailable")));
    },
  };
}

async function databaseAnswers(db: PrismaClient): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
  });
  try {
    return await Promise.race([db.$queryRaw`SELECT 1`.then(() => true, () => false), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
