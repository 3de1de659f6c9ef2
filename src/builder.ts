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
import TypedErrorCodesPlugin from "./graphql/typed-error-codes.js";

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { loggedIn: boolean; writer: boolean; admin: boolean };
  Scalars: { DateTime: { Input: Date; Output: Date }; ID: { Input: string; Output: string | number }; File: { Input: File; Output: never } };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
  DefaultInputFieldRequiredness: true;
}>({
  // Typed error codes first, to see every typed result. Scope auth before errors: its errors are
  // top-level (UNAUTHENTICATED / FORBIDDEN), not typed results. Input checks last: their argument
  // mapper runs before plugin-relay's, which decodes the IDs they checked.
  plugins: [TypedErrorCodesPlugin, ScopeAuthPlugin, ErrorsPlugin, PrismaPlugin, RelayPlugin, InputChecksPlugin],
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
    client: (ctx) => ctx.pothosDb,
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
      if (!decoded) throw badUserInput("Not a valid ID");
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

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/**
 * A date and time with its offset, each part in range: JavaScript's Date would take 2030-02-31 as
 * March 3rd. Thrown without a code: graphql-js reports it as a bad variable (BAD_USER_INPUT) or,
 * for a literal in the document, a validation error.
 */
function parseDateTime(value: unknown): Date {
  const parts = typeof value === "string" ? ISO_8601.exec(value) : null;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = (parts?.slice(1) ?? []).map((p) => Number(p ?? 0));
  const valid =
    parts !== null &&
    month! >= 1 && month! <= 12 &&
    day! >= 1 && day! <= new Date(Date.UTC(year!, month!, 0)).getUTCDate() &&
    hour! <= 23 && minute! <= 59 && second! <= 59 && offsetHours! <= 23 && offsetMinutes! <= 59;
  if (!valid) throw new GraphQLError("DateTime must be an ISO 8601 date and time with its offset, such as 2026-01-31T12:00:00Z");
  return new Date(value as string);
}
