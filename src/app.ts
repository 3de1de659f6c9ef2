import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { useDisableIntrospection } from "@graphql-yoga/plugin-disable-introspection";
import type { Tracer } from "@opentelemetry/api";
import type { PrismaClient } from "@prisma/client";
import { execute } from "graphql";
import { type Plugin, createYoga } from "graphql-yoga";
import { createFetch } from "@whatwg-node/fetch";
import type { Config } from "./config.js";
import { type Context, createContext } from "./context.js";
import type { PoolCounts } from "./db.js";
import { ErrorReporter } from "./error-reporter.js";
import { useConnectionArgs } from "./graphql/connection-args.js";
import { maskError, useErrorCodes } from "./graphql/errors.js";
import { useGraphiQL } from "./graphql/graphiql.js";
import { useRequestLog } from "./graphql/request-log.js";
import { ResponseCache } from "./graphql/response-cache.js";
import { corsOptions, useResponseHeaders } from "./http/headers.js";
import { formDataLimits } from "./http/multipart.js";
import { useRequestPolicy } from "./http/request-policy.js";
import type { Logger } from "./logger.js";
import { useAuthentication } from "./modules/auth/auth.plugin.js";
import type { SessionRow } from "./modules/auth/auth.service.js";
import { useMediaFiles } from "./modules/media/media.http.js";
import { boundedImageProcessor } from "./modules/media/media.images.js";
import { type MediaStorage, createStorage } from "./modules/media/media.storage.js";
import { Metrics } from "./observability/metrics.js";
import { useTracing } from "./observability/tracing.js";
import { RateLimits } from "./rate-limits.js";
import { createEventBus } from "./realtime/bus.js";
import { type LiveConnection, Realtime } from "./realtime/live.js";
import { useCredentialEndNotice, useSingleConnectionSSE } from "./realtime/sse.js";
import { useReadiness } from "./readiness.js";
import { useRest } from "./rest/rest.plugin.js";
import { schema } from "./schema.js";
import type { SqlReader } from "./sql/reader.js";
import { KeptReads, type TableVersions } from "./sql/table-versions.js";

export interface AppDeps {
  db: PrismaClient;
  reader: SqlReader;
  config: Config;
  logger: Logger;
  /** Aborted when the server begins to shut down: /ready answers 503 from then on. */
  shutdown?: AbortSignal;
  /** Where media files go; by default the driver config.media names. */
  storage?: MediaStorage;
  /** Live updates; an in-process bus when not given (src/server.ts gives one, Redis when REDIS_URL is set). */
  realtime?: Realtime;
  /** Logs unexpected errors, each kind once per interval; src/server.ts shares it with the WebSocket server. */
  reporter?: ErrorReporter;
  /** PostgreSQL's pool, for the metrics' pool gauges (none on PGlite). */
  pool?: PoolCounts;
  /** Spans go here when tracing is on (src/observability/tracing.ts); none otherwise, at no cost. */
  tracer?: Tracer;
  /**
   * The table versions of the database `db` and `reader` belong to (Database.versions): without
   * them no write can be seen, and the response cache stays off.
   */
  versions?: TableVersions;
}

/** Sessions kept at most (a few MB): past it, the least recently used are read again. */
const SESSIONS_KEPT = 10_000;

/** What the Node adapter passes with each request that Chirp reads: the socket's address. */
export interface ServerContext {
  req?: { socket?: { remoteAddress?: string } };
  /** Set for an operation that came over a WebSocket (src/realtime/websocket.ts). */
  connection?: LiveConnection;
}

/** The Yoga instance: an HTTP handler (`app.fetch`, or a Node request listener) serving /graphql. */
export function createApp({
  db,
  reader,
  config,
  logger,
  shutdown,
  storage = createStorage(config.media.storage),
  realtime = new Realtime(createEventBus({ redisUrl: undefined, channelPrefix: "" }, logger), config.realtime, logger),
  reporter = new ErrorReporter(logger),
  pool,
  tracer,
  versions,
}: AppDeps) {
  const responseCache = config.responseCache.enabled && versions ? new ResponseCache(config.responseCache, versions, realtime.bus, logger) : undefined;
  const metrics = config.metrics.enabled ? new Metrics({ settings: config.metrics, db, realtime, pool, responseCache }) : undefined;
  const countRefusal = metrics ? (limit: string) => metrics.rateLimited.inc({ limit }) : undefined;
  // The live limits are the Realtime's (src/server.ts shares it with the WebSocket server); their refusals count here too.
  if (countRefusal) realtime.onRefusal = countRefusal;
  const rateLimits = new RateLimits(config.rateLimits, countRefusal);
  const sessions = versions && config.sessionCacheMs > 0 ? new KeptReads<SessionRow>(versions, { ttlMs: config.sessionCacheMs, maxEntries: SESSIONS_KEPT }) : undefined;
  const processImage = boundedImageProcessor(config.media.concurrency);
  const uploads = { maxFileBytes: config.media.maxBytes, maxFiles: config.media.maxFiles };
  return createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    // useRequestPolicy bounds every body Yoga parses (by its Content-Length, or while a chunked one
    // streams in; multipart by busboy's limits): Yoga's own bound pipes each body through a TransformStream.
    maxRequestBodySize: false,
    // Yoga's own: 200 whenever the process runs (liveness); /ready also asks the database.
    healthCheckEndpoint: "/health",
    // Yoga's own GraphiQL page inlines its scripts; ours serves them as files, under a strict CSP.
    graphiql: false,
    // Yoga logs every error that maskError maps, the client's mistakes too; useRequestLog and
    // useErrorCodes log what Chirp wants logged, with the request's id (as every line in its scope).
    logging: false,
    cors: corsOptions(config.corsOrigins),
    // Requests whose multipart bodies busboy bounds while they stream in: a file past the limit ends the read.
    fetchAPI: createFetch({ formDataLimits: formDataLimits(uploads, config.requestBodyLimit) }),
    context: ({ request, req, connection }) => createContext({ db, reader, sessions, config, rateLimits, storage, processImage, realtime }, request, req?.socket, connection),
    maskedErrors: { isDev: false, maskError },
    plugins: [
      useRequestLog(logger, config.trustProxy),
      ...(tracer ? [useTracing(tracer, config.trustProxy)] : []),
      ...(metrics ? metrics.plugins() : []),
      useResponseHeaders(),
      useReadiness(db, shutdown),
      { onDispose: () => reporter.flush() },
      useRequestPolicy({ bodyLimit: config.requestBodyLimit, uploads }),
      useMediaFiles(db, storage),
      useSingleConnectionSSE({ endpoint: "/graphql", bodyLimit: config.requestBodyLimit, db, reader, config, realtime }),
      ...(config.graphiql ? [useGraphiQL("/graphql")] : []),
      useRest({ bodyLimit: config.requestBodyLimit, reporter, production: config.env === "production", document: config.introspection, reference: config.graphiql }),
      ...(config.introspection ? [] : [useDisableIntrospection()]),
      // Before the page-size check (a function of what the key holds, passed when the answer was kept)
      // and authentication (which does nothing without an Authorization header, the only case it keeps):
      // a hit stops execution, so the onExecute hooks after it do not run.
      ...(responseCache ? [responseCache.plugin()] : []),
      useConnectionArgs(),
      useAuthentication(),
      useCredentialEndNotice(),
      useErrorCodes(reporter, { production: config.env === "production" }),
      useGraphQLJsExecute(),
      EnvelopArmorPlugin({
        maxDepth: { n: 12 },
        // Armor's cost grows 1.5× per level whatever the page sizes, and refused a two-level thread;
        // useConnectionArgs bounds what a query can fetch by multiplying its page sizes instead.
        costLimit: { enabled: false },
        maxAliases: { n: 30 },
        maxDirectives: { n: 20 },
        maxTokens: { n: 2_000 },
        blockFieldSuggestion: { enabled: config.env === "production" },
      }),
    ],
  });
}

export type App = ReturnType<typeof createApp>;

/**
 * The @graphql-tools executor Yoga ships writes a selection's keys in the order their promises
 * settle, so `{ a b }` could answer `{ b, a }`; the spec says selection order, as graphql-js does.
 */
function useGraphQLJsExecute(): Plugin {
  return { onExecute: ({ setExecuteFn }) => setExecuteFn(execute) };
}
