import { RequestCache } from "@pothos/plugin-scope-auth";
import { type DocumentNode, type GraphQLSchema, Kind, type SelectionSetNode, getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Context } from "../../context.js";
import { authenticate } from "./auth.service.js";
import type { Viewer } from "./viewer.js";

/**
 * Field extension of the mutations that sign in (logIn, signUp, refreshSession). An operation made
 * of nothing else is anonymous whatever its Authorization header holds: a client that attaches a
 * stale access token to every request can still get a fresh one.
 */
export const SIGNS_IN = { signsIn: true } as const;

/**
 * Resolves the request's credentials to `ctx.viewer` once the operation is known, before it runs;
 * an unusable credential fails the whole request (UNAUTHENTICATED, or FORBIDDEN for a suspended
 * account) unless the operation only signs in.
 */
export function useAuthentication(): Plugin<Context> {
  const signInOnly = new WeakMap<DocumentNode, Map<string | null | undefined, boolean>>();
  const onlySignsIn = (schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined) => {
    let byName = signInOnly.get(document);
    if (!byName) signInOnly.set(document, (byName = new Map()));
    let only = byName.get(operationName);
    if (only === undefined) byName.set(operationName, (only = rootFieldsSignIn(schema, document, operationName)));
    return only;
  };
  return {
    async onExecute({ args, extendContext }) {
      const ctx = args.contextValue as Context;
      const header = ctx.request.headers.get("authorization");
      if (!header || onlySignsIn(args.schema, args.document, args.operationName)) return;
      extendContext({ viewer: await authenticate(ctx.db, ctx.reader, ctx.config.jwt, header) });
    },
  };
}

/** The rest of a request that signed in runs as the user it signed in (`logIn { viewer { email } }`). */
export function signedIn(ctx: Context, viewer: Viewer) {
  ctx.viewer = viewer;
  // Scope-auth computes the request's scopes once; they were the anonymous caller's.
  RequestCache.clearForContext(ctx);
}

function rootFieldsSignIn(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined) {
  const operation = getOperationAST(document, operationName);
  const rootType = operation && schema.getRootType(operation.operation);
  if (!operation || !rootType) return false;
  const fields = rootType.getFields();
  const all = (selectionSet: SelectionSetNode): boolean =>
    selectionSet.selections.every((selection) => {
      if (selection.kind === Kind.FIELD) return selection.name.value === "__typename" || fields[selection.name.value]?.extensions.signsIn === true;
      const fragment =
        selection.kind === Kind.INLINE_FRAGMENT
          ? selection
          : document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
      return fragment !== undefined && "selectionSet" in fragment && all(fragment.selectionSet);
    });
  return all(operation.selectionSet);
}
