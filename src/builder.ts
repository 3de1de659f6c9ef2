import SchemaBuilder from "@pothos/core";
import ErrorsPlugin from "@pothos/plugin-errors";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import { GraphQLError, Kind } from "graphql";
import type { Context } from "./context.js";
import { ValidationError } from "./errors.js";
import PrismaTypes, { getDatamodel } from "./generated/pothos-prisma-types.js";
import { badUserInput, forbidden, unauthenticated } from "./graphql/errors.js";
import { decodeGlobalId } from "./graphql/ids.js";
import InputChecksPlugin from "./graphql/input-checks.js";

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { loggedIn: boolean; writer: boolean; admin: boolean };
  Scalars: { DateTime: { Input: Date; Output: Date }; ID: { Input: string; Output: string | number } };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
  DefaultInputFieldRequiredness: true;
}>({
  // Scope auth first: its errors are top-level (UNAUTHENTICATED / FORBIDDEN), not typed results.
  // Input checks last: their argument mapper runs before plugin-relay's, which decodes the IDs they checked.
  plugins: [ScopeAuthPlugin, ErrorsPlugin, PrismaPlugin, RelayPlugin, InputChecksPlugin],
  defaultFieldNullability: false,
  defaultInputFieldRequiredness: true,
  scopeAuth: {
    // A suspended account never gets this far: authentication refuses its credentials.
    authScopes: (ctx) => ({
      loggedIn: ctx.viewer !== null,
      writer: ctx.viewer?.canWrite === true,
      // Every admin power is a write: an admin's read-only API token has none of them.
      admin: ctx.viewer?.role === "ADMIN" && ctx.viewer.canWrite,
    }),
    unauthorizedError: (_parent, ctx) =>
      ctx.viewer ? forbidden("You are not allowed to do this.") : unauthenticated("You must be logged in to do this."),
  },
  prisma: {
    client: (ctx) => ctx.db,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    maxConnectionSize: 100,
    defaultConnectionSize: 20,
    onUnusedQuery: process.env.NODE_ENV === "production" ? null : "warn",
  },
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
    decodeGlobalID: (globalID) => {
      const decoded = decodeGlobalId(globalID);
      if (!decoded) throw badUserInput("Not a valid ID.");
      return decoded;
    },
  },
  errors: {
    defaultTypes: [ValidationError],
    directResult: true,
    // A bad argument (InputChecksPlugin) is a typed ValidationError of a mutation, not a top-level error.
    unsafelyHandleInputErrors: true,
    defaultUnionOptions: {
      name: ({ fieldName }) => `${fieldName[0]!.toUpperCase()}${fieldName.slice(1)}Result`,
    },
    defaultResultOptions: {
      name: ({ fieldName }) => `${fieldName[0]!.toUpperCase()}${fieldName.slice(1)}Success`,
    },
  },
});

builder.queryType({});
builder.mutationType({});

builder.scalarType("DateTime", {
  description: "A point in time, as an ISO 8601 string in UTC (2026-01-31T12:00:00.000Z).",
  serialize: (value) => value.toISOString(),
  parseValue: (value) => parseDateTime(value),
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : null),
});

function parseDateTime(value: unknown): Date {
  const date = typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value) ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) {
    throw new GraphQLError("DateTime must be an ISO 8601 string such as 2026-01-31T12:00:00Z", {
      extensions: { code: "BAD_USER_INPUT" },
    });
  }
  return date;
}
