import { createHash } from "node:crypto";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import { type Plugin, shouldRenderGraphiQL } from "graphql-yoga";

const defaultQuery = /* GraphQL */ `# Welcome to Chirp. A first session, as alice of
# the demo data (npm start loads it):
#  1. Run LogIn: press ▶ and pick LogIn.
#  2. Put its result's accessToken in place of
#     <accessToken> in the Headers tab below.
#  3. Run HomeTimeline: the posts of alice and of
#     the people she follows.
#  4. Run LiveTimeline: it stays open and shows
#     their new posts as they come. To see one,
#     post as bob from a second GraphiQL window
#     (another tab here would stop this one).
# The book icon at the top left opens the docs.

mutation LogIn {
  logIn(input: { login: "alice", password: "chirp-demo-password" }) {
    __typename
    ... on AuthPayload { accessToken refreshToken viewer { handle } }
    ... on Error { message }
  }
}

query HomeTimeline {
  homeTimeline(first: 10) {
    edges {
      node {
        id
        body
        createdAt
        author { handle displayName }
        likeCount replyCount repostCount viewerHasLiked
        repostOf { body author { handle } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}

subscription LiveTimeline {
  homeTimelineUpdated {
    id body createdAt
    author { handle displayName }
  }
}
`;

// GraphiQL reads its headers as JSON with comments. LogIn and the schema's introspection work
// whatever the header holds, so the placeholder can stay until there is a token to put there.
const defaultHeaders = `// Run LogIn, then put the accessToken of its
// result in place of the placeholder below.
// It lasts 15 minutes; then run LogIn again.
{ "Authorization": "Bearer <accessToken>" }
`;

const GRAPHIQL_ASSETS = "/graphiql/";

/**
 * No inline script, no CDN: the bundle is served from our own origin. Monaco adds <style> elements
 * at run time and starts its workers from blob: URLs, hence those two allowances.
 */
export const GRAPHIQL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  body: string | Uint8Array<ArrayBuffer>;
  type: string;
}

interface Page {
  html: string;
  assets: Map<string, Asset>;
}

/**
 * Yoga's GraphiQL page inlines an 8 MB script, a stylesheet and a 100 kB icon: move them into
 * cacheable, content-hashed files.
 */
function buildPage(): Page {
  const assets = new Map<string, Asset>();
  const asset = (body: string | Uint8Array<ArrayBuffer>, ext: string, type: string) => {
    const name = `graphiql.${createHash("sha256").update(body).digest("hex").slice(0, 16)}.${ext}`;
    assets.set(name, { body, type });
    return GRAPHIQL_ASSETS + name;
  };
  const extract = (source: string, tag: "script" | "style", ext: "js" | "css", type: string, link: (href: string) => string) =>
    source.replace(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`), (_match, body: string) => link(asset(body, ext, type)));
  let html = renderGraphiQL({
    title: "Chirp GraphiQL",
    defaultQuery,
    defaultHeaders,
    defaultEditorToolsVisibility: "headers",
    shouldPersistHeaders: true,
  });
  html = html.replace(/href="data:image\/x-icon;base64,([^"]+)"/, (_match, icon: string) => `href="${asset(Uint8Array.from(Buffer.from(icon, "base64")), "ico", "image/x-icon")}"`);
  html = extract(html, "style", "css", "text/css; charset=utf-8", (href) => `<link rel="stylesheet" href="${href}" />`);
  html = extract(html, "script", "js", "text/javascript; charset=utf-8", (src) => `<script src="${src}"></script>`);
  return { html, assets };
}

let page: Page | undefined;

/** Serves GraphiQL at the GraphQL endpoint (GET, Accept: text/html) with its assets, under a strict CSP. */
export function useGraphiQL(endpoint: string): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname === "/") {
        endResponse(fetchAPI.Response.redirect(new URL(endpoint, url).toString(), 302));
      } else if (url.pathname === endpoint && shouldRenderGraphiQL(request)) {
        page ??= buildPage();
        endResponse(
          new fetchAPI.Response(page.html, {
            headers: {
              "content-type": "text/html; charset=utf-8",
              "content-security-policy": GRAPHIQL_CSP,
              "x-content-type-options": "nosniff",
              "referrer-policy": "no-referrer",
              "cache-control": "no-cache",
            },
          }),
        );
      } else if (url.pathname.startsWith(GRAPHIQL_ASSETS) && request.method === "GET") {
        page ??= buildPage();
        const asset = page.assets.get(url.pathname.slice(GRAPHIQL_ASSETS.length));
        endResponse(
          asset
            ? new fetchAPI.Response(asset.body, {
                headers: {
                  "content-type": asset.type,
                  "x-content-type-options": "nosniff",
                  "cache-control": "public, max-age=31536000, immutable",
                },
              })
            : new fetchAPI.Response("Not found", { status: 404 }),
        );
      }
    },
  };
}
