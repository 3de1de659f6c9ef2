import { RequestCache } from "@pothos/plugin-scope-auth";
import { type DocumentNode, type ExecutionArgs, type GraphQLSchema, Kind, type SelectionSetNode, getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Context } from "../../context.js";
import { ForbiddenError } from "../../errors.js";
import { authenticate } from "./auth.service.js";
import type { Viewer } from "./viewer.js";

/**
 * Field extension of the mutations that sign in (logIn, signUp, refreshSession). An operation made
 * of nothing else is anonymous whatever its Authorization header holds: a client that attaches a
 * stale access token to every request can still get a fresh one. So is introspection (`__schema`,
 * `__type`), which answers the same to everyone: GraphiQL keeps its headers, and would lose its
 * docs once the token in them expires.
 */
export const SIGNS_IN = { signsIn: true } as const;

/**
 * Resolves the request's credentials to `ctx.viewer` once the operation is known, before it runs;
 * an unusable credential fails the whole request (UNAUTHENTICATED, or FORBIDDEN for a suspended
 * account) unless the operation only signs in or only introspects.
 */
export function useAuthentication(): Plugin<Context> {
  const credentialFree = new WeakMap<DocumentNode, Map<string | null | undefined, boolean>>();
  const needsNoCredentials = (schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined) => {
    let byName = credentialFree.get(document);
    if (!byName) credentialFree.set(document, (byName = new Map()));
    let free = byName.get(operationName);
    if (free === undefined) byName.set(operationName, (free = signsInOrIntrospects(schema, document, operationName)));
    return free;
  };
  const authenticateOperation = async ({ args, extendContext }: { args: ExecutionArgs; extendContext: (extension: Partial<Context>) => void }) => {
    const ctx = args.contextValue as Context;
    const header = ctx.request.headers.get("authorization");
    if (!header || needsNoCredentials(args.schema, args.document, args.operationName)) return;
    const viewer = await authenticate(ctx.db, ctx.reader, ctx.config.jwt, header, ctx.sessions);
    // A token without READ writes and reads what its mutations return, nothing else.
    if (!viewer.canRead && getOperationAST(args.document, args.operationName)?.operation !== "mutation") {
      throw new ForbiddenError("This API token has no READ scope: it can only run mutations.");
    }
    extendContext({ viewer });
  };
  // Subscriptions (over SSE or a WebSocket) authenticate as queries do; src/realtime re-checks per event.
  return { onExecute: authenticateOperation, onSubscribe: authenticateOperation };
}

/** The rest of a request that signed in runs as the user it signed in (`logIn { viewer { email } }`). */
export function signedIn(ctx: Context, viewer: Viewer) {
  ctx.viewer = viewer;
  // Scope-auth computes the request's scopes once; they were the anonymous caller's.
  RequestCache.clearForContext(ctx);
}

/** Whether the operation's root fields all sign in, or all introspect; `__typename` alone is neither. */
function signsInOrIntrospects(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined) {
  const operation = getOperationAST(document, operationName);
  const rootType = operation && schema.getRootType(operation.operation);
  if (!operation || !rootType) return false;
  const fields = rootType.getFields();
  const names: string[] = [];
  const collect = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        names.push(selection.name.value);
        continue;
      }
      const fragment =
        selection.kind === Kind.INLINE_FRAGMENT
          ? selection
          : document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
      if (fragment && "selectionSet" in fragment) collect(fragment.selectionSet);
    }
  };
  collect(operation.selectionSet);
  const others = names.filter((name) => name !== "__typename");
  if (others.length === 0) return false;
  return others.every((name) => fields[name]?.extensions.signsIn === true) || others.every((name) => name === "__schema" || name === "__type");
}
