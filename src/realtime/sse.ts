import { useGraphQLSSE } from "@graphql-yoga/plugin-graphql-sse";
import type { Plugin } from "graphql-yoga";

// graphql-sse's single-connection mode names its stream with this header or query parameter.
const TOKEN_HEADER = "x-graphql-event-stream-token";
const TOKEN_PARAMETER = "token";

/**
 * The graphql-sse protocol's single-connection mode on the API's own path: a PUT reserves a stream,
 * a GET with its token opens it, POSTs with the token run operations on it, a DELETE stops one.
 * Everything else (plain POST and GET, and Yoga's own SSE, "distinct connections") stays Yoga's.
 * Each operation runs through every Yoga plugin (graphql-sse's onSubscribe uses getEnveloped), with
 * the Authorization header of its own POST.
 */
export function useSingleConnectionSSE(endpoint: string, bodyLimit: number): Plugin {
  const plugin = useGraphQLSSE({ endpoint });
  return {
    onYogaInit: plugin.onYogaInit,
    onRequest(payload) {
      const { request, endResponse, fetchAPI } = payload;
      const url = new URL(request.url);
      const singleConnection = request.method === "PUT" || request.method === "DELETE" || request.headers.has(TOKEN_HEADER) || url.searchParams.has(TOKEN_PARAMETER);
      if (!singleConnection || url.pathname !== endpoint) return;
      // graphql-sse reads the body whole: bound it by its declared length first.
      const length = Number(request.headers.get("content-length") ?? (request.method === "POST" ? Number.NaN : 0));
      if (!(length <= bodyLimit)) return endResponse(new fetchAPI.Response(null, { status: 413 }));
      return plugin.onRequest?.(payload);
    },
  };
}
