import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { type MultipartLimits, parseMultipart } from "./multipart.js";

/**
 * The headers that mark a multipart request as sent by a program, not a cross-site form: a browser
 * adds neither without a CORS preflight. The first is Yoga's CSRF-prevention header, the second
 * Apollo's (apollo-upload-client sends it).
 */
export const CSRF_HEADERS = ["x-graphql-yoga-csrf", "apollo-require-preflight"] as const;

const badRequest = (message: string, status: number) =>
  new GraphQLError(message, { extensions: { code: "BAD_REQUEST", http: { status } } });

/**
 * What a POST to the API may be: JSON, or multipart (uploads) with a CSRF-prevention header.
 * Form-encoded and text/plain bodies are refused, since a browser sends them cross-site without
 * asking. Bodies are bounded before they are parsed, while they stream in.
 */
export function useRequestPolicy({ bodyLimit, uploads }: { bodyLimit: number; uploads: MultipartLimits }): Plugin {
  // The files at their largest, plus the operation and map fields.
  const multipartLimit = uploads.maxFiles * uploads.maxFileBytes + 2 * bodyLimit;
  return {
    onRequestParse({ request, setRequestParser }) {
      if (request.method === "GET") return setRequestParser(parseGet);
      if (request.method !== "POST") return;
      const type = request.headers.get("content-type")?.split(/[;,]/)[0]?.trim().toLowerCase() ?? "";
      const length = request.headers.get("content-length");
      const limit = type === "multipart/form-data" ? multipartLimit : bodyLimit;
      if (length !== null && Number(length) > limit) throw tooLarge(limit);
      if (type === "application/json" || type === "application/graphql+json") {
        setRequestParser((req) => parseJson(req, bodyLimit));
      } else if (type === "multipart/form-data") {
        if (!CSRF_HEADERS.some((header) => request.headers.has(header))) {
          throw badRequest(`A multipart request needs the ${CSRF_HEADERS[0]} header (any value), so that a cross-site form cannot send one.`, 403);
        }
        // Only uploads are multipart, and only a logged-in user uploads: refused before the body is read.
        if (!request.headers.has("authorization")) {
          throw new GraphQLError("Log in to upload: a multipart request needs an Authorization header.", { extensions: { code: "UNAUTHENTICATED", http: { status: 401 } } });
        }
        // Yoga reads a multipart body whole: without a length it could not be bounded first.
        if (length === null) throw badRequest("A multipart request needs a Content-Length.", 411);
        setRequestParser((req) => parseMultipart(req, uploads));
      } else {
        throw badRequest("Send the request body as application/json.", 415);
      }
    },
  };
}

const tooLarge = (limit: number) => badRequest(`The request body is larger than ${limit} bytes.`, 413);

/** As Yoga reads a GET, but JSON that does not parse is the caller's mistake (Yoga's would be a 500). */
function parseGet(request: Request) {
  const params = new URL(request.url).searchParams;
  const json = (name: "variables" | "extensions") => {
    const text = params.get(name);
    if (!text) return undefined;
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw badRequest(`The ${name} parameter is not valid JSON.`, 400);
    }
  };
  return { query: params.get("query") || undefined, operationName: params.get("operationName") || undefined, variables: json("variables"), extensions: json("extensions") };
}

async function parseJson(request: Request, limit: number) {
  // With a Content-Length (checked against the limit already) the body cannot be longer: read it whole.
  const text = request.headers.has("content-length") ? await request.text() : await readText(request, limit);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest("The request body is not valid JSON.", 400);
  }
  if (body === null || typeof body !== "object") throw badRequest("The request body must be a JSON object.", 400);
  return body as Record<string, unknown>;
}

/** The body as text, refused as soon as it passes `limit` bytes (a chunked body has no length to check first). */
async function readText(request: Request, limit: number) {
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
