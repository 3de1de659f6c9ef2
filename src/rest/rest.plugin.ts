import type { useSofa } from "@graphql-yoga/plugin-sofa";
import { Response } from "@whatwg-node/fetch";
import { type ExecutionArgs, type ExecutionResult, GraphQLError, type GraphQLSchema } from "graphql";
import type { Plugin, YogaServerInstance } from "graphql-yoga";
import type { Context } from "../context.js";
import type { ErrorReporter } from "../error-reporter.js";
import { maskError, resultNormaliser } from "../graphql/errors.js";
import { noteErrorCode } from "../observability/scope.js";
import { serveReference } from "./reference.js";
import { CUSTOM_SCALARS, DEFAULT_PAGE, type Prepared, REST_DEPTH, type RestView, restView } from "./view.js";

export const REST_BASE = "/api";

/** The HTTP status of each error code, as REST answers it; a typed ValidationError is 422 (its fieldErrors). */
const STATUS: Record<string, number> = {
  GRAPHQL_PARSE_FAILED: 400,
  GRAPHQL_VALIDATION_FAILED: 400,
  OPERATION_RESOLUTION_FAILURE: 400,
  BAD_REQUEST: 400,
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_SERVER_ERROR: 500,
};

interface RestOptions {
  bodyLimit: number;
  reporter: ErrorReporter;
  production: boolean;
  /** Serve /api/openapi.json (off with introspection: the document maps the API as introspection does). */
  document: boolean;
  /** Serve the reference page at /api/docs (on with GraphiQL). */
  reference: boolean;
}

const json = (body: unknown, status: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8", ...headers } });

const restError = (status: number, code: string, message: string, headers?: Record<string, string>) => json({ code, message }, status, headers);

/**
 * The REST API under /api: SOFA (@graphql-yoga/plugin-sofa) serves the routes of src/rest/routes.ts,
 * built from the REST view of the schema (src/rest/view.ts) and run through this Yoga's own
 * pipeline — authentication, page-size checks, masking, the request log — against Chirp's schema.
 * This plugin adds what SOFA leaves to the server: bodies bounded and JSON only before SOFA reads
 * them (it reads them whole), the document's selections validated as every GraphQL request is
 * (depth and alias limits), typed error results and null resources answered as HTTP errors with
 * `{ code, message }` bodies, the OpenAPI document and its reference page.
 */
export function useRest({ bodyLimit, reporter, production, ...serve }: RestOptions): Plugin<Context> {
  let view: RestView;
  let chirpSchema: GraphQLSchema;
  let yoga: YogaServerInstance<Record<string, unknown>, Context>;
  let schemaChange: Parameters<NonNullable<Plugin["onSchemaChange"]>>[0];
  let sofa: Promise<ReturnType<typeof useSofa>> | undefined;
  let document: Promise<string> | undefined;
  const normalise = resultNormaliser(reporter, { production });
  const validated = new WeakSet<Prepared>();

  const config: Parameters<typeof useSofa>[0] = {
    basePath: REST_BASE,
    depthLimit: REST_DEPTH,
    customScalars: CUSTOM_SCALARS,
    // Chirp serves its own document (openapi.ts) and reference page, so SOFA's router serves neither.
    openAPI: { endpoint: null } as never,
    swaggerUI: { endpoint: null } as never,
    errorHandler: (errors) => errorResponse(errors as readonly unknown[], reporter),
  };

  /**
   * SOFA, its routes and the REST view are loaded and built at the first request to /api: importing
   * SOFA (and fets under it) and building the routes take about a second, which a start need not wait for.
   */
  async function start() {
    const { useSofa } = await import("@graphql-yoga/plugin-sofa");
    const plugin = useSofa(config);
    // SOFA executes through getEnveloped(…).execute: every route runs Chirp's plugins, on Chirp's schema.
    const getEnveloped = (context: Parameters<typeof yoga.getEnveloped>[0]) => {
      const enveloped = yoga.getEnveloped(context);
      return { ...enveloped, execute: (args: ExecutionArgs) => run(enveloped.execute, enveloped.validate, args) } as typeof enveloped;
    };
    plugin.onYogaInit?.({ yoga: { getEnveloped } as unknown as YogaServerInstance<Record<string, unknown>, Record<string, unknown>> });
    build(plugin, schemaChange);
    return plugin;
  }

  function build(plugin: ReturnType<typeof useSofa>, payload: typeof schemaChange) {
    chirpSchema = payload.schema;
    view = restView(payload.schema);
    document = undefined;
    config.routes = Object.fromEntries(
      [...view.routes.values()].map((route) => [
        `${route.kind === "query" ? "Query" : "Mutation"}.${route.name}`,
        { method: route.method, path: route.path, responseStatus: route.status ?? 200, tags: [route.tag] },
      ]),
    );
    plugin.onSchemaChange?.({ ...payload, schema: view.schema });
  }

  /** Runs a route: SOFA's document as Chirp's schema has it, then the route's reading of the result. */
  async function run(execute: (args: ExecutionArgs) => unknown, validate: (schema: GraphQLSchema, document: ExecutionArgs["document"]) => readonly GraphQLError[], args: ExecutionArgs) {
    const prepared = view.prepare(args.document);
    if (!validated.has(prepared)) {
      // Once per route: its selection passes the rules every GraphQL request does (depth 12, aliases…).
      const errors = validate(chirpSchema, prepared.document);
      if (errors.length > 0) return normalise({ errors: errors.map((e) => new GraphQLError(`REST route ${prepared.route.name}: ${e.message}`)) });
      validated.add(prepared);
    }
    let variables = (args.variableValues ?? {}) as Record<string, unknown>;
    const page = prepared.route.page;
    if (page && variables.first == null && variables.last == null) variables = { ...variables, [page]: DEFAULT_PAGE };
    let result: ExecutionResult;
    try {
      result = (await execute({ ...args, schema: chirpSchema, document: prepared.document, variableValues: variables })) as ExecutionResult;
    } catch (error) {
      // What Yoga's pipeline catches around execution (a credential refused before it): masked as it would be.
      result = { errors: [maskError(error)] };
    }
    result = normalise(result);
    if (result.errors?.length) return result;
    const outcome = prepared.outcome(result.data as Record<string, unknown> | null);
    if ("value" in outcome) return { data: { [prepared.route.name]: outcome.value } };
    noteErrorCode(outcome.error.code);
    const status = outcome.error.fieldErrors ? 422 : (STATUS[outcome.error.code] ?? 400);
    const { code, message, fieldErrors } = outcome.error;
    return { errors: [new GraphQLError(message, { extensions: { code, ...(fieldErrors ? { fieldErrors } : {}), http: { status } } })] };
  }

  return {
    onYogaInit(payload) {
      yoga = payload.yoga as unknown as typeof yoga;
    },
    onSchemaChange(payload) {
      schemaChange = payload;
      sofa = undefined;
      document = undefined;
    },
    onRequest(payload) {
      const path = payload.url.pathname;
      // Synchronous for every other path: a returned promise would cost each GraphQL request a turn.
      if (path === REST_BASE || path.startsWith(`${REST_BASE}/`)) return handle(payload, path);
    },
  };

  async function handle(payload: Parameters<NonNullable<Plugin["onRequest"]>>[0], path: string) {
    const { request, endResponse, fetchAPI } = payload;
    if (serve.reference && serveReference(request, path, endResponse, fetchAPI)) return;
    const router = await (sofa ??= start());
    if (serve.document && path === `${REST_BASE}/openapi.json` && request.method === "GET") {
      document ??= import("./openapi.js").then(({ openApiDocument }) => JSON.stringify(openApiDocument(view)));
      return endResponse(new fetchAPI.Response(await document, { headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-cache" } }));
    }
    const refused = refuseBody(request, bodyLimit);
    if (refused) return endResponse(refused);
    // SOFA's router always has its webhook routes (subscriptions POSTed to a URL the client names): not served.
    if (path === `${REST_BASE}/webhook` || path.startsWith(`${REST_BASE}/webhook/`)) return endResponse(noRoute(request.method, path));
    let answered = false;
    const answer = (response: globalThis.Response) => {
      answered = true;
      endResponse(response);
    };
    await router.onRequest?.({ ...payload, endResponse: answer });
    if (answered) return;
    const allowed = allowedMethods(view, path.slice(REST_BASE.length));
    endResponse(
      allowed.length > 0
        ? restError(405, "BAD_REQUEST", `${request.method} is not a method of ${path}.`, { allow: allowed.join(", ") })
        : noRoute(request.method, path),
    );
  }
}

const noRoute = (method: string, path: string) => restError(404, "NOT_FOUND", `No route ${method} ${path}; the routes are in ${REST_BASE}/openapi.json.`);

/**
 * A body must be JSON with a Content-Length within the limit: SOFA reads a body whole, so one
 * without a length could not be bounded first. Form-encoded and text/plain bodies, which a browser
 * sends cross-site without a preflight, are refused as they are on /graphql.
 */
function refuseBody(request: Request, limit: number) {
  const length = request.headers.get("content-length");
  const chunked = request.headers.has("transfer-encoding");
  if (!chunked && (length === null || length === "0")) return null;
  const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") return restError(415, "BAD_REQUEST", "Send the request body as application/json.");
  if (length === null) return restError(411, "BAD_REQUEST", "A request body needs a Content-Length.");
  if (Number(length) > limit) return restError(413, "BAD_REQUEST", `The request body is larger than ${limit} bytes.`);
  return null;
}

/** The methods of the routes whose path matches, for a 405's Allow header. */
function allowedMethods(view: RestView, path: string) {
  const methods = new Set<string>();
  for (const route of view.routes.values()) {
    const pattern = new RegExp(`^${route.path.replace(/:\w+/g, "[^/]+")}$`);
    if (pattern.test(path)) methods.add(route.method);
  }
  return [...methods];
}

/**
 * SOFA's error handler: the answer to a failed route. The error with the highest status decides it;
 * the body is `{ code, message }` with `fieldErrors` (422) or `retryAfterSeconds` (429, 503).
 * Errors SOFA raises itself (a parameter it cannot read) have no code: BAD_USER_INPUT.
 */
function errorResponse(errors: readonly unknown[], reporter: ErrorReporter) {
  let chosen: { status: number; body: Record<string, unknown>; headers: Record<string, string> } | undefined;
  for (const error of errors) {
    let entry: typeof chosen;
    if (error instanceof GraphQLError) {
      const extensions = error.extensions as { code?: string; http?: { status?: number; headers?: Record<string, string> }; fieldErrors?: unknown; retryAfterSeconds?: number };
      const code = extensions.code ?? "BAD_USER_INPUT";
      const status = extensions.http?.status && extensions.http.status >= 400 ? extensions.http.status : (STATUS[code] ?? 500);
      // SOFA's own messages quote the value it could not read ("Int cannot represent non-integer value: \"x\"").
      const message = extensions.code ? error.message : error.message.replace(/: [\s\S]*$/, "");
      const body: Record<string, unknown> = { code, message };
      if (extensions.fieldErrors) body.fieldErrors = extensions.fieldErrors;
      if (extensions.retryAfterSeconds !== undefined) body.retryAfterSeconds = extensions.retryAfterSeconds;
      const headers: Record<string, string> = { ...extensions.http?.headers };
      if (status === 401) headers["www-authenticate"] = 'Bearer realm="chirp"';
      entry = { status, body, headers };
    } else {
      reporter.report(error, "unexpected error");
      entry = { status: 500, body: { code: "INTERNAL_SERVER_ERROR", message: "Unexpected error." }, headers: {} };
    }
    if (!chosen || entry.status > chosen.status) chosen = entry;
  }
  chosen ??= { status: 500, body: { code: "INTERNAL_SERVER_ERROR", message: "Unexpected error." }, headers: {} };
  return json(chosen.body, chosen.status, chosen.headers) as never;
}
