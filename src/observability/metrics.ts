import { createHash, timingSafeEqual } from "node:crypto";
import { createHistogram, usePrometheus } from "@graphql-yoga/plugin-prometheus";
import type { PrismaClient } from "@prisma/client";
import { type DocumentNode, getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { MetricsSettings } from "../config.js";
import type { PoolCounts } from "../db.js";
import type { ResponseCache } from "../graphql/response-cache.js";
import { LIVE_TRANSPORTS, type Realtime } from "../realtime/live.js";
import { currentScope } from "./scope.js";

export const METRICS_PATH = "/metrics";

/** Under a scrape's usual timeout (10 s) by far: a slow database leaves the outbox gauges out rather than holding the scrape. */
const OUTBOX_TIMEOUT_MS = 1_000;

/**
 * Operation names come from clients, and every distinct label value is a series Prometheus keeps:
 * a label is the name of the operation a parsed document runs (never the operationName a client
 * sent), the first `max` names seen, then `other`. A client can still fill the set with names of
 * its own before the real ones are seen; the `other` series then shows it, and a restart resets it.
 */
export class OperationLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  of(name: string | undefined): string {
    if (name === undefined) return "anonymous";
    if (this.seen.has(name)) return name;
    if (this.seen.size >= this.max || name.length > 100) return "other";
    this.seen.add(name);
    return name;
  }

  /** The labels of the operation `document` runs (its `operationName` picks one among several). */
  ofDocument(document: DocumentNode | undefined, operationName: unknown) {
    const operation = document && getOperationAST(document, typeof operationName === "string" ? operationName : undefined);
    return operation ? { operationName: this.of(operation.name?.value), operationType: operation.operation } : { operationName: "unknown", operationType: "unknown" };
  }
}

export interface MetricsDeps {
  settings: MetricsSettings;
  db: PrismaClient;
  realtime: Realtime;
  /** PostgreSQL's pool; on PGlite there is none, and no pool gauges either. */
  pool: PoolCounts | undefined;
  /** The response cache, when it is on: its lookups and size. */
  responseCache?: ResponseCache | undefined;
}

/** The Prometheus registry of one app and what counts into it. */
export class Metrics {
  readonly registry = new Registry();
  readonly operations: OperationLabels;
  readonly rateLimited: Counter<"limit">;
  private readonly errors: Counter<"code">;
  private readonly statements: Histogram<"operationName" | "operationType">;
  private readonly dbSeconds: Histogram<"operationName" | "operationType">;

  constructor(private readonly deps: MetricsDeps) {
    const registers = [this.registry];
    const { realtime, pool, db, responseCache } = deps;
    this.operations = new OperationLabels(deps.settings.maxOperations);
    this.errors = new Counter({ name: "chirp_graphql_errors_total", help: "Errors answered, by extensions.code, typed results' codes included", labelNames: ["code"], registers });
    this.rateLimited = new Counter({ name: "chirp_rate_limited_total", help: "Requests refused by a rate limit, by limit", labelNames: ["limit"], registers });
    const labelNames = ["operationName", "operationType"] as const;
    this.statements = new Histogram({
      name: "chirp_operation_sql_statements",
      help: "SQL statements per GraphQL operation (Prisma's and the SQL reader's, BEGIN and COMMIT included)",
      labelNames,
      buckets: [0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100],
      registers,
    });
    this.dbSeconds = new Histogram({
      name: "chirp_operation_db_seconds",
      help: "Time a GraphQL operation spent in SQL statements",
      labelNames,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    new Gauge({
      name: "chirp_live_subscriptions",
      help: "Open live subscriptions, by transport",
      labelNames: ["transport"],
      registers,
      collect() {
        for (const transport of LIVE_TRANSPORTS) this.set({ transport }, realtime.subscriptions[transport]);
      },
    });
    new Gauge({
      name: "chirp_live_connections",
      help: "Open live connections (WebSockets, SSE streams), by transport",
      labelNames: ["transport"],
      registers,
      collect() {
        for (const transport of LIVE_TRANSPORTS) this.set({ transport }, realtime.connections[transport]);
      },
    });
    if (pool) {
      const gauge = (name: string, help: string, read: () => number) =>
        new Gauge({ name, help, registers, collect() { this.set(read()); } });
      gauge("chirp_db_pool_connections", "Connections of the PostgreSQL pool, idle or in use", () => pool.totalCount);
      gauge("chirp_db_pool_idle_connections", "Idle connections of the PostgreSQL pool", () => pool.idleCount);
      gauge("chirp_db_pool_waiting", "Queries waiting for a connection of the PostgreSQL pool", () => pool.waitingCount);
    }
    if (responseCache) {
      const lookups = new Counter({ name: "chirp_response_cache_lookups_total", help: "Anonymous queries looked up in the response cache, by result (hit, miss)", labelNames: ["result"], registers });
      responseCache.onLookup = (result) => lookups.inc({ result });
      new Gauge({ name: "chirp_response_cache_entries", help: "Answers the response cache holds", registers, collect() { this.set(responseCache.size); } });
      new Gauge({ name: "chirp_response_cache_bytes", help: "Characters of JSON (keys included) the response cache holds", registers, collect() { this.set(responseCache.bytes); } });
    }
    new Gauge({
      name: "chirp_outbox_messages",
      help: "Mails in the outbox not sent yet (pending) or given up (dead), counted when scraped",
      labelNames: ["status"],
      registers,
      async collect() {
        this.reset();
        const counts = await outboxCounts(db);
        // A count that did not come in time is left out, not reported stale.
        if (!counts) return;
        this.set({ status: "pending" }, counts.pending);
        this.set({ status: "dead" }, counts.dead);
      },
    });
  }

  /** The Yoga plugins: the operation's figures into this registry, and /metrics. */
  plugins(): Plugin[] {
    const { settings } = this.deps;
    const operations = this.operations;
    const labels = (params: { document?: DocumentNode }, context: { params?: { operationName?: unknown } } | undefined) =>
      operations.ofDocument(params.document, context?.params?.operationName);
    const phase = <P extends string>(name: `graphql_envelop_phase_${P}`, help: string, observed: P) =>
      createHistogram({ registry: this.registry, histogram: { name, help, labelNames: ["operationName", "operationType"] }, fillLabelsFn: labels, phases: [observed] });
    const finishOperation = (scope: NonNullable<ReturnType<typeof currentScope>>) => {
      const operation = scope.operationType ? { operationName: operations.of(scope.operation), operationType: scope.operationType } : { operationName: "unknown", operationType: "unknown" };
      this.statements.observe(operation, scope.statements);
      this.dbSeconds.observe(operation, scope.dbMs / 1000);
    };
    const phases = settings.phases;
    return [
      usePrometheus({
        registry: this.registry,
        // Served below, behind METRICS_TOKEN.
        endpoint: false,
        metrics: {
          // The plugin's own labels include the request's whole URL (its query string too) and the operationName the client sent.
          graphql_yoga_http_duration: createHistogram({
            registry: this.registry,
            histogram: { name: "graphql_yoga_http_duration", help: "Time spent on HTTP requests that carried a GraphQL operation", labelNames: ["operationName", "operationType", "method", "statusCode"] },
            fillLabelsFn: (params, { request, response }: { request: Request; response: Response }) => ({
              operationName: params.operationType ? operations.of(params.operationName) : "unknown",
              operationType: params.operationType ?? "unknown",
              method: request.method,
              statusCode: response.status,
            }),
          }),
          graphql_envelop_phase_parse: phases && phase("graphql_envelop_phase_parse", 'Time spent on running GraphQL "parse" function', "parse"),
          graphql_envelop_phase_validate: phases && phase("graphql_envelop_phase_validate", 'Time spent on running GraphQL "validate" function', "validate"),
          graphql_envelop_phase_context: phases && phase("graphql_envelop_phase_context", "Time spent on building the GraphQL context", "context"),
          graphql_envelop_phase_execute: phases && phase("graphql_envelop_phase_execute", 'Time spent on running the GraphQL "execute" function', "execute"),
          graphql_envelop_phase_subscribe: phases && phase("graphql_envelop_phase_subscribe", 'Time spent on running the GraphQL "subscribe" function', "subscribe"),
          // Errors are counted by code (chirp_graphql_errors_total): this one's label is the error's path, which aliases make endless.
          graphql_envelop_error_result: false,
          graphql_envelop_request: false,
          graphql_envelop_request_duration: false,
          // A summary keeps a sliding window of quantiles per series; the deprecated-field count walks every document with a TypeInfo.
          graphql_envelop_request_time_summary: false,
          graphql_envelop_deprecated_field: false,
          graphql_envelop_schema_change: false,
          graphql_envelop_execute_resolver: false,
        },
      }),
      {
        // Each GraphQL operation, over HTTP or a WebSocket (both envelop in the operation's scope).
        onEnveloped: () => {
          const scope = currentScope();
          if (!scope || scope.countErrorCode) return;
          scope.countErrorCode = (code) => this.errors.inc({ code });
          scope.onFinish(() => finishOperation(scope));
        },
        onRequest: ({ url, request, fetchAPI, endResponse }) => {
          if (url.pathname !== METRICS_PATH) return;
          const answer = (status: number, body: string, headers: Record<string, string> = {}) =>
            endResponse(new fetchAPI.Response(body, { status, headers: { "content-type": "application/json; charset=utf-8", ...headers } }));
          if (request.method !== "GET") return answer(405, JSON.stringify({ errors: [{ message: "Use GET.", extensions: { code: "BAD_REQUEST" } }] }), { allow: "GET" });
          if (settings.token !== undefined && !bearerMatches(request.headers.get("authorization"), settings.token)) {
            return answer(401, JSON.stringify({ errors: [{ message: "Send Authorization: Bearer <METRICS_TOKEN>.", extensions: { code: "UNAUTHENTICATED" } }] }), { "www-authenticate": 'Bearer realm="metrics"' });
          }
          return this.registry.metrics().then((text) => answer(200, text, { "content-type": this.registry.contentType }));
        },
      },
    ];
  }
}

/** Compares the token in constant time (both sides hashed first, so their lengths tell nothing either). */
function bearerMatches(header: string | null, token: string) {
  const given = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "")?.[1] ?? "";
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0;
}

/** Pending and dead mails, from the (status, run_at) index; null when the database does not answer within OUTBOX_TIMEOUT_MS. */
async function outboxCounts(db: PrismaClient): Promise<{ pending: number; dead: number } | null> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), OUTBOX_TIMEOUT_MS)));
  const counted = db.$queryRaw<{ status: string; count: number }[]>`
    SELECT status::text AS status, count(*)::int AS count FROM outbox_messages WHERE status IN ('PENDING', 'DEAD') GROUP BY status`.then(
    (rows) => ({ pending: rows.find((r) => r.status === "PENDING")?.count ?? 0, dead: rows.find((r) => r.status === "DEAD")?.count ?? 0 }),
    () => null,
  );
  try {
    return await Promise.race([counted, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
