import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { buildOperationNodeForField } from "@graphql-tools/utils";
import {
  type DocumentNode,
  type FieldNode,
  type GraphQLOutputType,
  type OperationTypeNode,
  type SelectionSetNode,
  Kind,
  getNullableType,
  isEnumType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
} from "graphql";
import { OpenAPI, createSofa, mapToPrimitive } from "sofa-api";
import { ERROR_CODES } from "../errors.js";
import { CUSTOM_SCALARS, DEFAULT_PAGE, REST_DEPTH, type CompiledRoute, type RestView } from "./view.js";

type Schema = Record<string, unknown>;
type Operation = {
  operationId?: string;
  summary?: string;
  description?: string;
  parameters?: { name: string; in: string; description?: string }[];
  requestBody?: { content: Record<string, { schema: Schema }>; required?: boolean };
  responses: Record<string, unknown>;
  security?: unknown;
};

/** SOFA's document of a route, built as its router builds it (same function, same options). */
export function sofaDocument(view: RestView, route: CompiledRoute, models: string[]): DocumentNode {
  const operation = buildOperationNodeForField({ schema: view.schema, kind: route.kind as OperationTypeNode, field: route.name, models, ignore: [], circularReferenceDepth: REST_DEPTH });
  return { kind: Kind.DOCUMENT, definitions: [operation] };
}

const errorSchema = {
  type: "object",
  required: ["code", "message"],
  additionalProperties: false,
  properties: {
    code: { type: "string", enum: [...ERROR_CODES], description: "The code of Chirp's GraphQL errors (README, Error codes)." },
    message: { type: "string" },
    fieldErrors: { type: "array", items: { $ref: "#/components/schemas/FieldError" }, description: "With a 422: which input fields are wrong and why." },
    retryAfterSeconds: { type: "integer", description: "With a 429 or 503: as the Retry-After header." },
  },
};

const retryAfter = { "Retry-After": { description: "Seconds to wait before trying again.", schema: { type: "integer" } } };
const errorResponse = (description: string, headers?: object) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});
const ERROR_RESPONSES = {
  "400": errorResponse("BAD_USER_INPUT: a parameter is malformed (an ID, a cursor, a page size), or BAD_REQUEST: the body is not a JSON object."),
  "401": errorResponse("UNAUTHENTICATED: no credentials where they are needed, or ones that do not work (expired: refresh with POST /api/sessions/refresh).", {
    "WWW-Authenticate": { schema: { type: "string" } },
  }),
  "403": errorResponse("FORBIDDEN: the viewer may not do this (a token without the scope, someone else's thing, a suspended account)."),
  "404": errorResponse("NOT_FOUND: the resource does not exist, or is not the viewer's to see."),
  "405": errorResponse("BAD_REQUEST: the path has no route with this method (the Allow header lists those it has).", { Allow: { schema: { type: "string" } } }),
  "411": errorResponse("BAD_REQUEST: a body without a Content-Length."),
  "413": errorResponse("BAD_REQUEST: the body is larger than REQUEST_BODY_LIMIT."),
  "415": errorResponse("BAD_REQUEST: the body is not application/json."),
  "422": errorResponse("BAD_USER_INPUT: the input was refused; fieldErrors says which fields and why."),
  "429": errorResponse("RATE_LIMITED: too many attempts; wait Retry-After seconds.", retryAfter),
  "500": errorResponse("INTERNAL_SERVER_ERROR: a fault in Chirp; report the X-Request-Id."),
  "503": errorResponse("SERVICE_UNAVAILABLE: the database does not answer; retry after Retry-After seconds.", retryAfter),
};

/**
 * The OpenAPI 3 document of the REST API: SOFA's generator (parameters, bodies, descriptions from
 * the GraphQL fields), then what SOFA cannot know. Each success response is the JSON Schema of the
 * route's own selection, so it lists exactly the fields the route answers with (the components SOFA
 * writes list every field of a type, connections included, which no route selects); error
 * responses, the bearer scheme, operation ids and the default page sizes are added.
 */
export function openApiDocument(view: RestView) {
  // src/rest/ and dist/rest/ are both two folders below package.json.
  const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  const models = createSofa({ schema: view.schema, basePath: "/api" }).models;
  const generator = OpenAPI({
    schema: view.schema,
    info: {
      title: "Chirp REST API",
      version,
      description: [
        "The REST form of Chirp's GraphQL API (`/graphql`), generated from the same schema by SOFA; the same authentication, limits and error codes apply.",
        "Authenticate with `Authorization: Bearer <accessToken>` (from `POST /api/sessions`) or a personal API token (`chirp_pat_…`, created with `POST /api/me/api-tokens`).",
        `Lists are pages of a connection: \`?first=\` (1–100, ${DEFAULT_PAGE} by default) and \`?after=<pageInfo.endCursor>\`; \`last\` / \`before\` page backwards.`,
        "Errors answer with their HTTP status and a JSON body `{ code, message }` (`fieldErrors` for a 422, `retryAfterSeconds` with a 429 or 503).",
      ].join("\n\n"),
    },
    servers: [{ url: "/api" }],
    customScalars: CUSTOM_SCALARS,
  });
  const documents = new Map([...view.routes.values()].map((route) => [route, sofaDocument(view, route, models)]));
  for (const [route, routeDocument] of documents) {
    generator.addRoute({ document: routeDocument, path: route.path, method: route.method, tags: [route.tag], description: "" });
  }
  const document = generator.get() as unknown as {
    openapi: string;
    paths: Record<string, Record<string, Operation>>;
    components: Record<string, unknown>;
    tags: unknown[];
    security?: unknown;
  };
  const answers = answerSchemas();
  for (const route of view.routes.values()) {
    const path = route.path.replace(/:(\w+)/g, "{$1}");
    const operation = document.paths[path]![route.method.toLowerCase()]!;
    operation.operationId = route.name;
    operation.summary = `${route.method} /api${path}`;
    operation.description = [route.nested?.description ?? route.root.description, `Runs the GraphQL field \`${route.field}\`${route.on ? ` (a ${route.on})` : ""}.`]
      .filter(Boolean)
      .join("\n\n");
    if (route.page) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.name === route.page) parameter.description = `Page size, 1–100; ${DEFAULT_PAGE} when neither first nor last is given.`;
      }
    }
    const body = operation.requestBody?.content["application/json"]?.schema as { properties?: object } | undefined;
    if (operation.requestBody && Object.keys(body?.properties ?? {}).length === 0) delete operation.requestBody;
    else if (operation.requestBody) operation.requestBody.required = true;
    const status = String(route.status ?? 200);
    const selection = (documents.get(route)!.definitions[0] as { selectionSet: SelectionSetNode }).selectionSet.selections[0] as FieldNode;
    const field = (route.kind === "query" ? view.schema.getQueryType() : view.schema.getMutationType())!.getFields()[route.name]!;
    operation.responses = {
      [status]: { description: route.status === 201 ? "Created." : "OK.", content: { "application/json": { schema: answers.schemaOf(field.type, selection.selectionSet) } } },
      ...errorResponses(route, Boolean(operation.requestBody)),
    };
  }
  const { tree: paths, schemas } = answers.components(document.paths);
  document.paths = paths as typeof document.paths;
  document.openapi = "3.1.0";
  document.tags = [...new Set([...view.routes.values()].map((r) => r.tag))].map((name) => ({ name }));
  document.components = {
    schemas: {
      ...schemas,
      Error: errorSchema,
      FieldError: { type: "object", required: ["field", "message"], additionalProperties: false, properties: { field: { type: "string" }, message: { type: "string" } } },
    },
    responses: ERROR_RESPONSES,
    securitySchemes: {
      bearer: {
        type: "http",
        scheme: "bearer",
        description: "An access token (POST /api/sessions; 15 minutes, then POST /api/sessions/refresh) or a personal API token chirp_pat_… with READ and/or WRITE scope.",
      },
    },
  };
  // Every route takes a credential; those that do not need one answer anonymous callers too.
  document.security = [{ bearer: [] }, {}];
  return document;
}

function errorResponses(route: CompiledRoute, hasBody: boolean) {
  const statuses = ["400", "401", "403"];
  if (route.path.includes(":") || route.errorTypes.has("NotFoundError") || route.kind === "query") statuses.push("404");
  if (hasBody) statuses.push("411", "413", "415");
  if (route.validation) statuses.push("422");
  statuses.push("429", "500", "503");
  return Object.fromEntries(statuses.map((s) => [s, { $ref: `#/components/responses/${s}` }]));
}

/**
 * JSON Schemas of what selections answer: exactly the selected fields, null where GraphQL allows
 * it. Each distinct object shape becomes one component, named after its type: the largest shape of
 * a type takes the type's name (Post), smaller ones the type's name and Nested (a post's repostOf).
 */
function answerSchemas() {
  const shapes = new Map<string, { typeName: string; schema: Schema; size: number }>();
  const ref = (key: string) => `#/components/schemas/${key}`;
  const schemaOf = (type: GraphQLOutputType, selectionSet: SelectionSetNode | undefined): Schema => {
    const nullable = !isNonNullType(type);
    const inner = getNullableType(type);
    const orNull = (schema: Schema) => (!nullable ? schema : "$ref" in schema ? { anyOf: [schema, { type: "null" }] } : { ...schema, type: [schema.type, "null"] });
    if (isListType(inner)) return orNull({ type: "array", items: schemaOf(inner.ofType, selectionSet) });
    if (isEnumType(inner)) return orNull({ type: "string", enum: [...inner.getValues().map((v) => v.name), ...(nullable ? [null] : [])] });
    if (isScalarType(inner)) return orNull({ ...(mapToPrimitive(inner.name) ?? CUSTOM_SCALARS[inner.name as keyof typeof CUSTOM_SCALARS]) });
    if (!isObjectType(inner)) throw new Error(`REST view: no JSON Schema for ${String(inner)}`);
    const fields = inner.getFields();
    const properties: Record<string, Schema> = {};
    const required: string[] = [];
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind !== Kind.FIELD) throw new Error(`REST view: a fragment in the selection of ${inner.name}`);
      const field = fields[selection.name.value]!;
      const key = selection.alias?.value ?? selection.name.value;
      const schema = schemaOf(field.type, selection.selectionSet);
      properties[key] = field.description ? ("$ref" in schema ? { allOf: [schema], description: field.description } : { ...schema, description: field.description }) : schema;
      if (isNonNullType(field.type)) required.push(key);
    }
    const schema = { type: "object", properties, ...(required.length ? { required } : {}), additionalProperties: false };
    const text = JSON.stringify(schema);
    const key = `${inner.name}:${createHash("sha256").update(text).digest("hex").slice(0, 12)}`;
    shapes.set(key, { typeName: inner.name, schema, size: text.length });
    return orNull({ $ref: ref(key) });
  };
  /** The components, and every $ref of `tree` rewritten to their names. */
  const components = (tree: unknown) => {
    const names = new Map<string, string>();
    const byType = new Map<string, [string, { size: number }][]>();
    for (const entry of shapes) byType.set(entry[1].typeName, [...(byType.get(entry[1].typeName) ?? []), entry]);
    for (const [typeName, entries] of byType) {
      entries.sort(([, a], [, b]) => b.size - a.size);
      entries.forEach(([key], i) => names.set(ref(key), i === 0 ? typeName : `${typeName}Nested${i > 1 ? i : ""}`));
    }
    const rename = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(rename);
      if (node === null || typeof node !== "object") return node;
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === "$ref" && names.has(v as string) ? ref(names.get(v as string)!) : rename(v)]));
    };
    const schemas = Object.fromEntries([...shapes.entries()].map(([key, shape]) => [names.get(ref(key))!, rename(shape.schema)]));
    return { tree: rename(tree), schemas };
  };
  return { schemaOf, components };
}
