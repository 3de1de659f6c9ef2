import { type ApolloCache, ApolloClient, ApolloLink, CombinedGraphQLErrors, InMemoryCache } from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";
import { ErrorLink } from "@apollo/client/link/error";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { relayStylePagination } from "@apollo/client/utilities";
import UploadHttpLink from "apollo-upload-client/UploadHttpLink.mjs";
import { OperationTypeNode } from "graphql";
import { createClient } from "graphql-ws";
import { type Observable, from, of, switchMap } from "rxjs";
import type { CreatePostMutation } from "./gql/graphql.js";
import possibleTypes from "./gql/possible-types.js";
import { HomeTimeline, RefreshSession } from "./operations.js";

/** The pair logIn / refreshSession return. Keep it where your app keeps secrets (memory, secure storage). */
export interface Session {
  accessToken: string;
  refreshToken: string;
}

export interface SessionStore {
  get(): Session | null;
  set(session: Session | null): void;
}

export function memorySessionStore(initial: Session | null = null): SessionStore {
  let session = initial;
  return { get: () => session, set: (next) => void (session = next) };
}

export interface ChirpApolloOptions {
  /** Chirp's GraphQL endpoint, e.g. http://localhost:4000/graphql. */
  url: string;
  session: SessionStore;
  /** Called when refreshing fails (the session ended or was revoked): send the user to log in. */
  onSessionEnded?: () => void;
  /** For Node: a WebSocket implementation (`ws`); browsers have their own. */
  webSocketImpl?: unknown;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

const bearer = (session: Session | null) => (session ? `Bearer ${session.accessToken}` : undefined);

/**
 * Apollo Client for Chirp: queries and mutations over HTTP (multipart when the variables hold a
 * File), subscriptions over graphql-ws, the access token on both, one shared refresh when it expires.
 */
export function createChirpApollo({ url, session, onSessionEnded, webSocketImpl, fetch }: ChirpApolloOptions) {
  // Operations that fail with the same stale token wait for one refresh; its result is whether to retry.
  let refreshing: { staleToken: string; done: Promise<boolean> } | null = null;
  function refresh(staleToken: string): Promise<boolean> {
    const current = session.get();
    if (!current) return Promise.resolve(false);
    // Someone refreshed since this operation was sent: retry with the new token.
    if (current.accessToken !== staleToken) return Promise.resolve(true);
    if (refreshing?.staleToken === staleToken) return refreshing.done;
    const done = client
      .mutate({ mutation: RefreshSession, variables: { refreshToken: current.refreshToken }, fetchPolicy: "no-cache", context: { isRefresh: true } })
      .then(
        ({ data }) => {
          const result = data?.refreshSession;
          if (result?.__typename === "AuthPayload") {
            session.set({ accessToken: result.accessToken, refreshToken: result.refreshToken });
            return true;
          }
          // Logged out, revoked, suspended or a reused refresh token: only logging in again helps.
          session.set(null);
          onSessionEnded?.();
          return false;
        },
        // Offline or a server error: keep the session, the operation fails with its own error.
        () => false,
      )
      .finally(() => (refreshing = null));
    refreshing = { staleToken, done };
    return done;
  }

  const auth = new SetContextLink(({ headers }) => ({ headers: { ...headers, authorization: bearer(session.get()) } }));

  // On UNAUTHENTICATED, refresh once and send the operation again (through `auth`, with the new token).
  const retryAfterRefresh = new ErrorLink(({ error, operation, forward, result }) => {
    const context = operation.getContext();
    if (context.isRefresh || context.retriedAfterRefresh) return;
    if (!CombinedGraphQLErrors.is(error) || !error.errors.some((e) => e.extensions?.code === "UNAUTHENTICATED")) return;
    const staleToken = String(context.headers?.authorization ?? "").replace(/^Bearer /, "");
    if (!staleToken) return;
    operation.setContext({ retriedAfterRefresh: true });
    return from(refresh(staleToken)).pipe(
      switchMap((retry): Observable<ApolloLink.Result> => (retry ? forward(operation) : of(result ?? { errors: error.errors }))),
    );
  });

  const http = new UploadHttpLink({
    uri: url,
    fetch,
    // Chirp takes a multipart body only with a CSRF-prevention header (a cross-site form cannot add one).
    headers: { "apollo-require-preflight": "true" },
  });

  // Chirp refuses mutations over a WebSocket: only subscriptions go there.
  let lastClose: number | undefined;
  const ws = new GraphQLWsLink(
    createClient({
      url: url.replace(/^http/, "ws"),
      webSocketImpl,
      // Read on every (re)connection. Chirp closes with 4403 when the token expires; graphql-ws reconnects,
      // so refresh first and the subscriptions resume with the new token.
      connectionParams: async () => {
        const stale = session.get()?.accessToken;
        if (lastClose === 4403 && stale) await refresh(stale);
        lastClose = undefined;
        return { authorization: bearer(session.get()) };
      },
      on: { closed: (event) => void (lastClose = (event as CloseEvent).code) },
    }),
  );

  const link = ApolloLink.split(
    ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
    ws,
    ApolloLink.from([retryAfterRefresh, auth, http]),
  );

  const cache = new InMemoryCache({
    possibleTypes: possibleTypes.possibleTypes,
    typePolicies: {
      Query: {
        fields: {
          // One list whatever `first` and `after` say: homeTimeline has no other arguments (keyArgs false).
          homeTimeline: relayStylePagination(),
        },
      },
    },
  });

  const client = new ApolloClient({ link, cache });
  return client;
}

/**
 * `update` for CreatePost: the new post goes to the top of the cached home timeline, which Chirp
 * orders newest first, so the list shows it without a refetch.
 */
export function prependToHomeTimeline(cache: ApolloCache, { data }: { data?: CreatePostMutation | null }) {
  const post = data?.createPost;
  if (post?.__typename !== "Post") return;
  // With keyArgs false every `first` reads the one merged list; written without `after`, it replaces it whole.
  cache.updateQuery({ query: HomeTimeline, variables: { first: 1 } }, (cached) => {
    if (!cached || cached.homeTimeline.edges.some((edge) => edge.node.id === post.id)) return cached;
    // Chirp's cursors are opaque and this edge's is never paged from: fetchMore pages from pageInfo.endCursor.
    const edge = { __typename: "PostEdge" as const, cursor: "", node: post };
    return { homeTimeline: { ...cached.homeTimeline, edges: [edge, ...cached.homeTimeline.edges] } };
  });
}
