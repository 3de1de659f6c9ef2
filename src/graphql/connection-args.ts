import { parsePrismaCursor } from "@pothos/plugin-prisma";
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type GraphQLError,
  type GraphQLNamedType,
  type GraphQLSchema,
  Kind,
  type SelectionSetNode,
  getArgumentValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  isInterfaceType,
  isListType,
  isObjectType,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { badUserInput } from "./errors.js";

const MAX_PAGE_SIZE = 100;
/** The most list items one request may ask for, nested pages multiplied. */
const MAX_ROWS = 5_000;

interface PageArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

/**
 * The first problem with one connection field's arguments, or null. A cursor must be one Pothos
 * wrote; that it holds a key of the list's rows is checked where the page is built (keysetPage).
 */
function checkPageArgs({ first, last, after, before }: PageArgs): GraphQLError | null {
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
    if (typeof value !== "number" && typeof value !== "bigint" && typeof value !== "string") return badUserInput(`\`${name}\` is not a cursor of this list.`);
  }
  return null;
}

type Fragments = Map<string, FragmentDefinitionNode>;

/**
 * Walks the executed operation like the executor will, fragments included, multiplying page sizes
 * down nested lists. Returns the first problem: a bad page argument, or more rows than MAX_ROWS.
 */
function checkOperation(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown>) {
  const operation = getOperationAST(document, operationName);
  const rootType = operation && schema.getRootType(operation.operation);
  if (!operation || !rootType) return null; // graphql-js reports a missing operation itself
  const fragments: Fragments = new Map();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  let rows = 0;
  const walk = (selectionSet: SelectionSetNode, parentType: GraphQLNamedType, multiplier: number): GraphQLError | null => {
    for (const selection of selectionSet.selections) {
      let error: GraphQLError | null = null;
      if (selection.kind === Kind.FIELD) {
        const field = isObjectType(parentType) || isInterfaceType(parentType) ? parentType.getFields()[selection.name.value] : undefined;
        if (!field) continue; // __typename, or a field validation has already rejected
        const type = getNamedType(field.type);
        let size = 1;
        try {
          const args = getArgumentValues(field, selection, variables);
          if (type.name.endsWith("Connection") && field.args.some((a) => a.name === "first")) {
            error = checkPageArgs(args as PageArgs);
            size = (args.first ?? args.last ?? 1) as number;
          } else if (Array.isArray(args.ids)) {
            size = args.ids.length;
            if (size > MAX_PAGE_SIZE) error = badUserInput(`Ask for at most ${MAX_PAGE_SIZE} ids at a time, got ${size}.`);
          } else if (typeof args.first === "number" && isListType(getNullableType(field.type))) {
            // A plain list bounded by `first` (trendingHashtags) multiplies what is nested in it like a page.
            size = args.first;
          }
        } catch {
          continue; // bad variables: graphql-js reports those itself
        }
        if (size > 1) rows += multiplier * size;
        if (!error && rows > MAX_ROWS) {
          error = badUserInput(`This query could return ${rows} items; at most ${MAX_ROWS} per request. Ask for smaller or fewer nested pages.`);
        }
        if (!error && selection.selectionSet) error = walk(selection.selectionSet, type, multiplier * size);
      } else {
        const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments.get(selection.name.value);
        if (!fragment) continue;
        const condition = fragment.typeCondition ? schema.getType(fragment.typeCondition.name.value) : parentType;
        error = walk(fragment.selectionSet, condition ?? parentType, multiplier);
      }
      if (error) return error;
    }
    return null;
  };
  return walk(operation.selectionSet, rootType, 1);
}

/**
 * Every connection must be asked for a bounded page (exactly one of `first` / `last`, 1 to 100) with
 * cursors it issued, and nested pages multiply: replies(first: 100) { replies(first: 100) } asks for
 * 10,000 rows. Checked once per operation before execution: a nested list's page is read as part of
 * its parent's SQL, so a check in its resolver would come after that query.
 */
export function useConnectionArgs(): Plugin {
  const check = ({ args, setResultAndStopExecution }: { args: ExecutionArgs; setResultAndStopExecution: (result: ExecutionResult) => void }) => {
    const variables = (args.variableValues ?? {}) as Record<string, unknown>;
    const error = checkOperation(args.schema, args.document, args.operationName, variables);
    if (error) setResultAndStopExecution({ errors: [error] });
  };
  // Subscriptions too: their documents select pages of what each event brings.
  return { onExecute: check, onSubscribe: check };
}
