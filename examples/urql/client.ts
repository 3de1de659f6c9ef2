import { Client, type Operation, fetchExchange, subscriptionExchange } from "@urql/core";
import { authExchange } from "@urql/exchange-auth";
import { type Cache, type KeyingConfig, cacheExchange } from "@urql/exchange-graphcache";
import { relayPagination } from "@urql/exchange-graphcache/extras";
import { createClient as createSseClient } from "graphql-sse";
import type { CreatePostMutation, HomeTimelineQueryVariables } from "./gql/graphql.js";
import schema from "./gql/urql-schema.js";
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

export interface ChirpUrqlOptions {
  /** Chirp's GraphQL endpoint, e.g. http://localhost:4000/graphql. */
  url: string;
  session: SessionStore;
  /** Called when refreshing fails (the session ended or was revoked): send the user to log in. */
  onSessionEnded?: () => void;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

const bearer = (session: Session | null): Record<string, string> => (session ? { authorization: `Bearer ${session.accessToken}` } : {});
const sentToken = (operation: Operation) => {
  const options = typeof operation.context.fetchOptions === "function" ? operation.context.fetchOptions() : operation.context.fetchOptions;
  return (options?.headers as Record<string, string> | undefined)?.authorization?.replace(/^Bearer /, "");
};

// Types without an id (connections, edges, payloads, errors) are kept inside their parent, not normalized.
const keys: KeyingConfig = Object.fromEntries(
  schema.__schema.types
    .filter((type) => type.kind === "OBJECT" && !type.name.startsWith("__") && !type.fields.some((field) => field.name === "id"))
    .map((type) => [type.name, () => null]),
);

/**
 * urql for Chirp: graphcache (schema-aware, relay pagination, updaters), the access token on every
 * request with one shared refresh when it expires, subscriptions over graphql-sse, uploads as
 * multipart through fetchExchange.
 */
export function createChirpUrql({ url, session, onSessionEnded, fetch }: ChirpUrqlOptions) {
  const sse = createSseClient({ url, headers: () => bearer(session.get()), fetchFn: fetch });

  return new Client({
    url,
    fetch,
    // Chirp takes a multipart body (an upload) only with a CSRF-prevention header.
    fetchOptions: { headers: { "x-graphql-yoga-csrf": "1" } },
    exchanges: [
      cacheExchange({
        schema,
        keys,
        resolvers: { Query: { homeTimeline: relayPagination() } },
        updates: { Mutation: { createPost: prependToHomeTimeline } },
      }),
      authExchange(async (utils) => {
        // The token the last failed operation was sent with: a failure that arrives after a refresh retries without another.
        let failedWith: string | undefined;
        return {
          addAuthToOperation: (operation) => utils.appendHeaders(operation, bearer(session.get())),
          didAuthError(error, operation) {
            failedWith = sentToken(operation);
            return error.graphQLErrors.some((e) => e.extensions?.code === "UNAUTHENTICATED");
          },
          async refreshAuth() {
            const current = session.get();
            if (!current || current.accessToken !== failedWith) return;
            const { data, error } = await utils.mutate(RefreshSession, { refreshToken: current.refreshToken });
            const result = data?.refreshSession;
            if (result?.__typename === "AuthPayload") {
              session.set({ accessToken: result.accessToken, refreshToken: result.refreshToken });
              return;
            }
            // Logged out, revoked, suspended or a reused refresh token: only logging in again helps.
            // (Offline or a server error keeps the session.)
            if (result) {
              session.set(null);
              onSessionEnded?.();
            }
            // The operations waiting for the refresh get this error rather than running as nobody.
            throw error ?? new Error(result?.message);
          },
        };
      }),
      // Subscriptions only; Chirp ends a stream with UNAUTHENTICATED when its token expires, which authExchange refreshes and resubscribes.
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: sse.subscribe({ ...request, query: request.query ?? "" }, sink) }),
        }),
      }),
      fetchExchange,
    ],
  });
}

/**
 * Mutation.createPost: the new post goes to the top of the cached home timeline (its first page).
 * Without an updater graphcache, seeing a Post it did not have, invalidates every cached Post list.
 */
function prependToHomeTimeline(result: CreatePostMutation, _args: unknown, cache: Cache) {
  const post = result.createPost;
  if (post.__typename !== "Post") return;
  for (const field of cache.inspectFields("Query")) {
    if (field.fieldName !== "homeTimeline" || field.arguments?.after || field.arguments?.before) continue;
    const page = cache.resolve("Query", field.fieldKey) as string | null;
    if (!page) continue;
    // A read through relayPagination gives every page merged: the first page keeps its own edges and pageInfo.
    const own = (cache.resolve(page, "edges") as string[]).length;
    const ownPageInfo = cache.resolve(page, "pageInfo") as string;
    const endCursor = cache.resolve(ownPageInfo, "endCursor") as string | null;
    const hasNextPage = cache.resolve(ownPageInfo, "hasNextPage") as boolean;
    cache.updateQuery({ query: HomeTimeline, variables: field.arguments as HomeTimelineQueryVariables }, (data) => {
      if (!data || data.homeTimeline.edges.some((edge) => edge.node.id === post.id)) return data;
      const { edges, pageInfo } = data.homeTimeline;
      const newEdges = [{ __typename: "PostEdge" as const, node: post }, ...edges.slice(0, own)];
      return { ...data, homeTimeline: { ...data.homeTimeline, edges: newEdges, pageInfo: { ...pageInfo, endCursor, hasNextPage } } };
    });
  }
}
