import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { GRAPHIQL_CSP } from "../graphql/graphiql.js";

export const REFERENCE_PATH = "/api/docs";
const ASSETS = `${REFERENCE_PATH}/`;

interface Asset {
  body: string | Uint8Array<ArrayBuffer>;
  type: string;
}

// Swagger UI's own settings: the document from this origin, "Try it out" open, no call to
// validator.swagger.io (its badge is an image from another origin, which the CSP refuses).
const INIT = `window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  tryItOutEnabled: true,
  displayOperationId: true,
  validatorUrl: null,
});
`;

function buildPage() {
  const require = createRequire(import.meta.url);
  const file = (name: string) => readFileSync(require.resolve(`swagger-ui-dist/${name}`), "utf8").replace(/\n\/[/*]# sourceMappingURL=\S+(?: \*\/)?\s*$/, "\n");
  const assets = new Map<string, Asset>();
  const asset = (body: string | Uint8Array<ArrayBuffer>, base: string, ext: string, type: string) => {
    const name = `${base}.${createHash("sha256").update(body).digest("hex").slice(0, 16)}.${ext}`;
    assets.set(name, { body, type });
    return ASSETS + name;
  };
  const js = "text/javascript; charset=utf-8";
  const css = asset(file("swagger-ui.css"), "swagger-ui", "css", "text/css; charset=utf-8");
  const bundle = asset(file("swagger-ui-bundle.js"), "swagger-ui-bundle", "js", js);
  const init = asset(INIT, "init", "js", js);
  const icon = asset(Uint8Array.from(readFileSync(require.resolve("swagger-ui-dist/favicon-32x32.png"))), "favicon", "png", "image/png");
  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Chirp REST API</title>
    <link rel="icon" type="image/png" href="${icon}" />
    <link rel="stylesheet" href="${css}" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${bundle}"></script>
    <script src="${init}"></script>
  </body>
</html>
`;
  return { html, assets };
}

let page: ReturnType<typeof buildPage> | undefined;

/**
 * The reference page of the REST API (Swagger UI, from swagger-ui-dist), as GraphiQL is served: no
 * CDN, no inline script, content-hashed immutable assets from this origin, under GraphiQL's CSP.
 * Answers GET /api (a redirect), /api/docs and its assets; false for anything else.
 */
export function serveReference(request: Request, path: string, respond: (response: Response) => void, fetchAPI: { Response: typeof Response }): boolean {
  const { Response } = fetchAPI;
  if (request.method !== "GET") return false;
  if (path === "/api" || path === `${REFERENCE_PATH}/`) {
    respond(Response.redirect(new URL(REFERENCE_PATH, request.url).toString(), 302));
    return true;
  }
  if (path === REFERENCE_PATH) {
    page ??= buildPage();
    respond(
      new Response(page.html, {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "content-security-policy": GRAPHIQL_CSP,
          "referrer-policy": "no-referrer",
          "cache-control": "no-cache",
        },
      }),
    );
    return true;
  }
  if (!path.startsWith(ASSETS)) return false;
  page ??= buildPage();
  const asset = page.assets.get(path.slice(ASSETS.length));
  respond(
    asset
      ? new Response(asset.body, { headers: { "content-type": asset.type, "cache-control": "public, max-age=31536000, immutable" } })
      : new Response(JSON.stringify({ code: "NOT_FOUND", message: "No such file." }), { status: 404, headers: { "content-type": "application/json; charset=utf-8" } }),
  );
  return true;
}
