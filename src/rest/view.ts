import { MapperKind, mapSchema } from "@graphql-tools/utils";
import {
  type ArgumentNode,
  type DocumentNode,
  type FieldNode,
  type GraphQLArgumentConfig,
  type GraphQLField,
  type GraphQLFieldConfig,
  type GraphQLFieldConfigMap,
  GraphQLNonNull,
  GraphQLObjectType,
  type GraphQLOutputType,
  GraphQLScalarType,
  GraphQLSchema,
  type GraphQLType,
  GraphQLList,
  type GraphQLNamedType,
  Kind,
  type ObjectTypeDefinitionNode,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
  getNamedType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isSpecifiedScalarType,
  isUnionType,
  parse,
  printType,
} from "graphql";
import { isPrivateTo } from "../modules/auth/viewer.js";
import { REST_ROUTES, type RestRoute } from "./routes.js";

/** SOFA's depthLimit (its circular-reference depth): a type nests once in itself, a post with the post it reposts or replies to. */
export const REST_DEPTH = 1;
/** A list route's page when the client names neither `first` nor `last`. */
export const DEFAULT_PAGE = 20;
/** JSON Schema of Chirp's own scalars, for parameters and answers. */
export const CUSTOM_SCALARS = { DateTime: { type: "string", format: "date-time" } } as const;

/** A route as the view compiled it. */
export interface CompiledRoute extends RestRoute {
  name: string;
  kind: "query" | "mutation";
  root: GraphQLField<unknown, unknown>;
  nested?: GraphQLField<unknown, unknown>;
  /** A mutation whose one `input` argument the route takes apart into its fields. */
  flattensInput: boolean;
  /** The error members of a mutation's result union, and whether ValidationError is one. */
  errorTypes: Set<string>;
  validation: boolean;
}

/** What a route's answer is: the value to send, or an error to answer with. */
export type Outcome = { value: unknown } | { error: { code: string; message: string; fieldErrors?: unknown } };

/**
 * The REST view of the schema: what SOFA builds its routes, selections and OpenAPI document from.
 * Its root fields are the routes (named by REST_ROUTES' keys); its types are Chirp's, cut down so
 * that the selection SOFA makes of every field is bounded and answers without errors:
 *  - a nested field with an argument that has no default is left out: every connection (which needs
 *    `first` or `last`) and filter, so a new list is left out by construction; lists have their routes;
 *  - a nested argument with a default is dropped, so its default applies (`avatarUrl` is SMALL);
 *  - fields private to their user (`authScopes: isPrivateTo`) are left out, except from `Me`, the type
 *    of the routes that answer the viewer;
 *  - custom scalars parse nothing: SOFA coerces path and query values with `serialize`, and the value
 *    is checked where the operation runs, against Chirp's own schema.
 * SOFA's documents run against Chirp's schema, not this one: `prepare` rewrites them (see there).
 */
export function restView(schema: GraphQLSchema) {
  const cut = mapSchema(schema, {
    [MapperKind.SUBSCRIPTION]: () => null,
    [MapperKind.SCALAR_TYPE]: (type) =>
      isSpecifiedScalarType(type) ? type : new GraphQLScalarType({ name: type.name, description: type.description, serialize: (value) => value }),
    [MapperKind.COMPOSITE_FIELD]: (config, _fieldName, typeName) => {
      if (typeName === "Query" || typeName === "Mutation") return config;
      return restField(config);
    },
  });
  const typeOf = <T extends GraphQLType>(type: T): T => {
    if (isNonNullType(type)) return new GraphQLNonNull(typeOf(type.ofType)) as unknown as T;
    if (isListType(type)) return new GraphQLList(typeOf(type.ofType)) as unknown as T;
    return cut.getType((type as GraphQLNamedType).name) as T;
  };
  const user = cut.getType("User") as GraphQLObjectType;
  const originalUser = schema.getType("User") as GraphQLObjectType;
  const me = new GraphQLObjectType({
    name: "Me",
    description: "The viewer: a User with the fields only they see.",
    fields: () => {
      const fields: GraphQLFieldConfigMap<unknown, unknown> = { ...user.toConfig().fields };
      for (const [name, field] of Object.entries(originalUser.toConfig().fields)) {
        const kept = name in fields ? null : restField(field, { privateToo: true });
        if (kept) fields[name] = { ...kept, type: typeOf(kept.type) };
      }
      return fields;
    },
  });

  const routes = new Map<string, CompiledRoute>();
  const roots = { query: {} as GraphQLFieldConfigMap<unknown, unknown>, mutation: {} as GraphQLFieldConfigMap<unknown, unknown> };
  for (const [name, route] of Object.entries(REST_ROUTES) as [string, RestRoute][]) {
    const compiled = compileRoute(schema, name, route);
    routes.set(name, compiled);
    roots[compiled.kind][name] = routeField(schema, compiled, typeOf, me);
  }
  const view = new GraphQLSchema({ query: rootType("Query", roots.query), mutation: rootType("Mutation", roots.mutation) });
  return { schema: view, routes, prepare: preparer(routes) };
}

export type RestView = ReturnType<typeof restView>;

/**
 * A root type with its AST: SOFA reads each argument's description from the AST of the root type,
 * and prints and parses the whole type for every argument of every route when it has none (a second at start).
 */
function rootType(name: string, fields: GraphQLFieldConfigMap<unknown, unknown>) {
  const astNode = parse(printType(new GraphQLObjectType({ name, fields }))).definitions[0] as ObjectTypeDefinitionNode;
  return new GraphQLObjectType({ name, fields, astNode });
}

/** A nested field as the REST view has it, or null when it has no place there. */
function restField(config: GraphQLFieldConfig<unknown, unknown>, { privateToo = false } = {}): GraphQLFieldConfig<unknown, unknown> | null {
  const args = Object.values(config.args ?? {});
  if (args.some((arg) => arg.defaultValue === undefined)) return null;
  if (!privateToo && (config.extensions?.pothosOptions as { authScopes?: unknown } | undefined)?.authScopes === isPrivateTo) return null;
  return args.length > 0 ? { ...config, args: {} } : config;
}

function compileRoute(schema: GraphQLSchema, name: string, route: RestRoute): CompiledRoute {
  const [rootName, nestedName] = route.field.split(".") as [string, string | undefined];
  const queryField = schema.getQueryType()!.getFields()[rootName];
  const root = queryField ?? schema.getMutationType()!.getFields()[rootName];
  if (!root) throw new Error(`REST route ${name}: no root field ${rootName}`);
  let nested: GraphQLField<unknown, unknown> | undefined;
  if (nestedName) {
    const parent = getNamedType(route.on ? schema.getType(route.on)! : root.type);
    nested = isObjectType(parent) ? parent.getFields()[nestedName] : undefined;
    if (!nested) throw new Error(`REST route ${name}: no field ${nestedName} on ${parent.name}`);
    const clash = nested.args.find((arg) => root.args.some((a) => a.name === arg.name));
    if (clash) throw new Error(`REST route ${name}: argument ${clash.name} of both ${rootName} and ${nestedName}`);
  }
  const result = getNamedType(root.type);
  const errorTypes = new Set(isUnionType(result) ? result.getTypes().filter((t) => t.getInterfaces().some((i) => i.name === "Error")).map((t) => t.name) : []);
  const input = root.args.length === 1 && root.args[0]!.name === "input" ? root.args[0]!.type : undefined;
  return {
    ...route,
    name,
    kind: queryField ? "query" : "mutation",
    root,
    nested,
    flattensInput: !queryField && input !== undefined && isInputObjectType(getNamedType(input)),
    errorTypes,
    validation: errorTypes.has("ValidationError"),
  };
}

/** The route's root field in the REST view: its arguments as the client passes them, its answer as a 2xx carries it. */
function routeField(chirp: GraphQLSchema, route: CompiledRoute, typeOf: <T extends GraphQLType>(type: T) => T, me: GraphQLObjectType): GraphQLFieldConfig<unknown, unknown> {
  const args: Record<string, GraphQLArgumentConfig> = {};
  const addArgs = (field: GraphQLField<unknown, unknown>) => {
    for (const arg of field.args) args[arg.name] = { type: typeOf(arg.type), description: arg.description, defaultValue: arg.defaultValue };
  };
  if (route.flattensInput) {
    const input = getNamedType(route.root.args[0]!.type);
    if (!isInputObjectType(input)) throw new Error(`REST route ${route.name}: input is not an input object`);
    for (const field of Object.values(input.getFields())) args[field.name] = { type: typeOf(field.type), description: field.description, defaultValue: field.defaultValue };
  } else {
    addArgs(route.root);
  }
  if (route.nested) addArgs(route.nested);
  let type: GraphQLOutputType = (route.nested ?? route.root).type;
  const named = getNamedType(type);
  if (isUnionType(named)) {
    const success = named.getTypes().filter((t) => !route.errorTypes.has(t.name));
    if (success.length !== 1) throw new Error(`REST route ${route.name}: ${named.name} has ${success.length} results that are not errors`);
    type = success[0]!;
  } else if (route.on) {
    type = route.nested ? type : (chirp.getType(route.on) as GraphQLObjectType);
  }
  let restType: GraphQLOutputType = route.viewer && getNamedType(type).name === "User" ? me : typeOf(isNonNullType(type) ? type.ofType : type);
  restType = new GraphQLNonNull(restType);
  const description = route.nested?.description ?? route.root.description;
  return { type: restType, args, description: description ?? undefined };
}

/** A SOFA document as Chirp runs it, and what the route makes of its result. */
export interface Prepared {
  route: CompiledRoute;
  document: DocumentNode;
  outcome: (data: Record<string, unknown> | null | undefined) => Outcome;
}

const name = (value: string) => ({ kind: Kind.NAME, value }) as const;
const field = (fieldName: string, options: { alias?: string; args?: readonly ArgumentNode[]; selections?: readonly SelectionNode[] } = {}): FieldNode => ({
  kind: Kind.FIELD,
  name: name(fieldName),
  alias: options.alias ? name(options.alias) : undefined,
  arguments: options.args ?? [],
  selectionSet: options.selections ? { kind: Kind.SELECTION_SET, selections: options.selections } : undefined,
});
const on = (typeName: string, selections: readonly SelectionNode[]): SelectionNode => ({
  kind: Kind.INLINE_FRAGMENT,
  typeCondition: { kind: Kind.NAMED_TYPE, name: name(typeName) },
  selectionSet: { kind: Kind.SELECTION_SET, selections },
});
const TYPENAME = field("__typename");

/**
 * SOFA's document of a route (`getUser(handle: $handle) { … }` against the REST view) rewritten as
 * Chirp's schema has it, under the route's name as an alias, so that SOFA finds the result where it looks:
 *   getUser: user(handle: $handle) { … }
 *   listFollowers: user(handle: $handle) { followers(first: $first, after: $after) { … } }
 *   getConversation: node(id: $id) { __typename ... on Conversation { … } }
 *   likePost: likePost(input: { postId: $postId }) { __typename ... on Post { … } ... on Error { message code } }
 * The variables are SOFA's, unchanged. Each document is rewritten once (SOFA builds one per route).
 */
function preparer(routes: Map<string, CompiledRoute>) {
  const cache = new WeakMap<DocumentNode, Prepared>();
  return (document: DocumentNode): Prepared => {
    let prepared = cache.get(document);
    if (!prepared) cache.set(document, (prepared = prepare(document, routes)));
    return prepared;
  };
}

function prepare(document: DocumentNode, routes: Map<string, CompiledRoute>): Prepared {
  const operation = document.definitions[0] as OperationDefinitionNode;
  const top = operation.selectionSet.selections[0] as FieldNode;
  const route = routes.get(top.name.value);
  if (!route) throw new Error(`No REST route ${top.name.value}`);
  const selections = top.selectionSet?.selections;
  const args = top.arguments ?? [];
  let rootField: FieldNode;
  if (route.kind === "mutation") {
    const input: ArgumentNode[] = route.flattensInput
      ? [{ kind: Kind.ARGUMENT, name: name("input"), value: { kind: Kind.OBJECT, fields: args.map((a) => ({ kind: Kind.OBJECT_FIELD, name: a.name, value: a.value })) } }]
      : [...args];
    const result = getNamedType(route.root.type);
    const success = isUnionType(result) ? result.getTypes().find((t) => !route.errorTypes.has(t.name))! : undefined;
    const errors = route.errorTypes.size > 0 ? [on("Error", [field("message"), field("code")])] : [];
    if (route.validation) errors.push(on("ValidationError", [field("fieldErrors", { selections: [field("field"), field("message")] })]));
    rootField = field(route.root.name, {
      alias: route.name,
      args: input,
      selections: success ? [TYPENAME, on(success.name, selections ?? []), ...errors] : selections,
    });
  } else {
    const rootArgNames = new Set(route.root.args.map((a) => a.name));
    const inner = route.nested ? [field(route.nested.name, { args: args.filter((a) => !rootArgNames.has(a.name.value)), selections })] : (selections ?? []);
    rootField = field(route.root.name, {
      alias: route.name,
      args: route.nested ? args.filter((a) => rootArgNames.has(a.name.value)) : args,
      selections: route.on ? [TYPENAME, on(route.on, inner)] : inner,
    });
  }
  const rewritten: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [{ ...operation, selectionSet: { kind: Kind.SELECTION_SET, selections: [rootField] } satisfies SelectionSetNode }],
  };
  return { route, document: rewritten, outcome: (data) => outcome(route, data?.[route.name]) };
}

const notFound = (route: CompiledRoute) =>
  route.whenNull === "UNAUTHENTICATED"
    ? { error: { code: "UNAUTHENTICATED", message: "You must be logged in to do this." } }
    : { error: { code: "NOT_FOUND", message: "Not found." } };

function outcome(route: CompiledRoute, value: unknown): Outcome {
  if (value === null || value === undefined) return notFound(route);
  if (typeof value !== "object" || Array.isArray(value)) return { value };
  const { __typename: typename, ...rest } = value as Record<string, unknown>;
  if (route.errorTypes.has(typename as string)) {
    const { code, message, fieldErrors } = rest as { code: string; message: string; fieldErrors?: unknown };
    return { error: fieldErrors ? { code, message, fieldErrors } : { code, message } };
  }
  if (route.on && typename !== route.on) return notFound(route);
  if (!route.nested) return { value: typename === undefined ? value : rest };
  const inner = rest[route.nested.name];
  return inner === null || inner === undefined ? notFound(route) : { value: inner };
}
