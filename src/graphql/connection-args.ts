import { parsePrismaCursor } from "@pothos/plugin-prisma";
import {
  type DocumentNode,
  type GraphQLError,
  type GraphQLSchema,
  BREAK,
  Kind,
  TypeInfo,
  getArgumentValues,
  getNamedType,
  visit,
  visitWithTypeInfo,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { badUserInput } from "./errors.js";
import { MAX_INT_ID, UUID } from "./ids.js";

export const MAX_PAGE_SIZE = 100;

interface PageArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

/** What a connection's cursors hold: our ids are int32 keys, except sessions' UUIDs. */
const cursorIsValid = (connection: string, value: unknown) =>
  connection === "SessionConnection"
    ? typeof value === "string" && UUID.test(value)
    : typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= MAX_INT_ID;

/** The first problem with one connection field's arguments, or null. */
export function checkPageArgs(connection: string, { first, last, after, before }: PageArgs): GraphQLError | null {
  if (first == null && last == null) return badUserInput("Pass `first` or `last` to page through a connection.");
  if (first != null && last != null) return badUserInput("Pass either `first` or `last`, not both.");
  if (first != null && before != null) return badUserInput("`first` pages forward from `after`; use `last` with `before`.");
  if (last != null && after != null) return badUserInput("`last` pages backward from `before`; use `first` with `after`.");
  const size = (first ?? last)!;
  if (size < 1 || size > MAX_PAGE_SIZE) {
    return badUserInput(`\`${first != null ? "first" : "last"}\` must be between 1 and ${MAX_PAGE_SIZE}, got ${size}.`);
  }
  for (const [name, cursor] of [["after", after], ["before", before]] as const) {
    if (cursor == null) continue;
    let value: unknown;
    try {
      value = parsePrismaCursor(cursor);
    } catch {
      value = undefined;
    }
    if (!cursorIsValid(connection, value)) return badUserInput(`\`${name}\` is not a cursor of this list.`);
  }
  return null;
}

/** Every connection field of an operation whose page arguments are wrong, found before anything runs. */
function findPageArgError(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown>) {
  const typeInfo = new TypeInfo(schema);
  let error: GraphQLError | null = null;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      // Only the operation being executed (and the fragments, which it may spread).
      [Kind.OPERATION_DEFINITION]: (node) => (operationName && node.name?.value !== operationName ? false : undefined),
      [Kind.FIELD]: (node) => {
        const field = typeInfo.getFieldDef();
        const type = field && getNamedType(field.type);
        if (!field || !type?.name.endsWith("Connection") || !field.args.some((a) => a.name === "first")) return;
        try {
          error = checkPageArgs(type.name, getArgumentValues(field, node, variables) as PageArgs);
        } catch {
          return; // bad variables: graphql-js reports those itself
        }
        if (error) return BREAK;
      },
    }),
  );
  return error;
}

/**
 * Every connection must be asked for a bounded page (exactly one of `first` / `last`, 1 to 100) with
 * cursors it issued. Checked once per operation before execution: a nested list's page is read as
 * part of its parent's SQL, so a check in its resolver would come after that query.
 */
export function useConnectionArgs(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const variables = (args.variableValues ?? {}) as Record<string, unknown>;
      const error = findPageArgError(args.schema, args.document, args.operationName, variables);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
