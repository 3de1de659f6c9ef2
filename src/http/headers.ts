import type { CORSOptions, Plugin } from "graphql-yoga";
import type { Config } from "../config.js";
import { CSRF_HEADERS } from "./request-policy.js";

const LOCALHOST = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/;

/**
 * CORS for a bearer-token API: browsers at the allowed origins may call it, and no credentials
 * (cookies) are ever allowed, so no origin can ride on a user's browser. Other origins get no CORS
 * headers at all, which browsers take as a refusal.
 */
export function corsOptions(allowed: Config["corsOrigins"]) {
  const allows = (origin: string) =>
    allowed === "*" ? true : allowed === "localhost" ? LOCALHOST.test(origin) : allowed.includes(origin);
  return (request: Request): CORSOptions => {
    const origin = request.headers.get("origin");
    if (!origin || !allows(origin)) return false;
    return {
      origin: [origin],
      credentials: false,
      // PUT, PATCH and DELETE are the REST API's (/api).
      methods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
      allowedHeaders: ["authorization", "content-type", "accept", "x-request-id", ...CSRF_HEADERS],
      exposedHeaders: ["retry-after", "x-request-id"],
      // Chromium caps this at two hours.
      maxAge: 7_200,
    };
  };
}

/** The media types of GraphQL answers, which carry tokens and private data. */
const ANSWER = /^(application\/(graphql-response\+)?json|text\/event-stream|multipart\/mixed)\b/;

/**
 * Every response is `nosniff`; no GraphQL answer is stored by any cache (Yoga marks its event
 * streams `no-cache` only), and nothing else is either unless it says so (GraphiQL's assets do).
 */
export function useResponseHeaders(): Plugin {
  return {
    onResponse({ response }) {
      response.headers.set("x-content-type-options", "nosniff");
      if (ANSWER.test(response.headers.get("content-type") ?? "")) response.headers.set("cache-control", "no-store");
      // CORS headers depend on the Origin; the whatwg-node CORS plugin says so only for some answers.
      if (!/\borigin\b/i.test(response.headers.get("vary") ?? "")) response.headers.append("vary", "Origin");
      if (!response.headers.has("cache-control")) response.headers.set("cache-control", "no-store");
    },
  };
}
