import { beforeAll, describe, expect, it } from "vitest";
import { GRAPHIQL_CSP } from "../../src/graphql/graphiql.js";
import { graphql } from "../gql/index.js";
import { type TestApi, testApi, testConfig } from "../support/api.js";

let api: TestApi;
beforeAll(async () => {
  api = await testApi();
});

const getHtml = (path: string) => api.app.fetch(`http://chirp.test${path}`, { headers: { accept: "text/html" } });

describe("GraphiQL", () => {
  it("is served at /graphql under a strict Content-Security-Policy, with no inline script and nothing from another origin", async () => {
    const response = await getHtml("/graphql");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("content-security-policy")).toBe(GRAPHIQL_CSP);
    expect(GRAPHIQL_CSP).toContain("script-src 'self';");
    const html = await response.text();
    expect(html.length).toBeLessThan(2_000);
    expect(html).not.toMatch(/<script>/);
    expect(html).not.toMatch(/(src|href)="https?:/);
    const assets = [...html.matchAll(/(?:src|href)="(\/graphiql\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toHaveLength(3);
    for (const path of assets) {
      const asset = await api.app.fetch(`http://chirp.test${path}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(asset.headers.get("content-type")).toMatch(/^(text\/javascript; charset=utf-8|text\/css; charset=utf-8|image\/x-icon)$/);
    }
    const script = await (await api.app.fetch(`http://chirp.test${assets.find((a) => a.endsWith(".js"))}`)).text();
    expect(script).toContain("mutation LogIn");
    expect(script).toContain('"defaultEditorToolsVisibility":"headers"');
  });

  it("answers an unknown asset with 404 and redirects / to /graphql", async () => {
    expect((await api.app.fetch("http://chirp.test/graphiql/nope.js")).status).toBe(404);
    const root = await api.app.fetch("http://chirp.test/", { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("http://chirp.test/graphql");
  });
});

describe("errors over HTTP", () => {
  it("rejects a syntax error and an unknown field with a 400 and a message, never a stack trace", async () => {
    // Clients that speak the GraphQL-over-HTTP media type (Apollo Client, urql) get real status codes.
    const headers = { accept: "application/graphql-response+json" };
    const syntax = await api.execute("{ viewer { ", undefined, { headers });
    expect(syntax.status).toBe(400);
    expect(syntax.errors?.[0]?.message).toMatch(/^Syntax Error/);
    const unknown = await api.execute("{ viewer { nope } }", undefined, { headers });
    expect(unknown.status).toBe(400);
    expect(unknown.errors?.[0]?.message).toMatch(/Cannot query field "nope" on type "User"/);
    expect(JSON.stringify([syntax, unknown])).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it("limits query depth and aliases through graphql-armor", async () => {
    const deep = `{ viewer { followers(first: 1) { edges { node { followers(first: 1) { edges { node { followers(first: 1) { edges { node { followers(first: 1) { edges { node { handle } } } } } } } } } } } } } }`;
    const result = await api.execute(deep);
    expect(result.errors?.[0]?.message).toMatch(/Query depth limit of 12 exceeded/);
    const aliases = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: viewer { handle }`).join(" ")} }`;
    expect((await api.execute(aliases)).errors?.[0]?.message).toMatch(/Aliases limit of 30 exceeded/);
  });

  it("answers a variable of the wrong type with BAD_USER_INPUT, without repeating the value", async () => {
    const result = await api.execute(
      graphql(`query HttpUserByHandle($handle: String!) { user(handle: $handle) { handle } }`),
      { handle: { not: "a string" } as unknown as string },
    );
    expect(result.errors).toEqual([
      { message: 'Variable "$handle" got invalid value; String cannot represent a non string value', locations: [{ line: 1, column: 24 }], extensions: { code: "BAD_USER_INPUT" } },
    ]);
    // Front-ends send such messages to their error reporters: a password sent as a number stays out of them.
    const logIn = await api.execute("mutation L($i: LogInInput!) { logIn(input: $i) { __typename } }", { i: { login: "someone", password: 1234567890 } });
    expect(logIn.errors?.[0]?.message).toBe('Variable "$i" got invalid value at "i.password"; String cannot represent a non string value');
  });

  it("names no schema field in variable errors in production", async () => {
    const production = await testApi({ ...testConfig, env: "production" });
    const document = "mutation S($i: SignUpInput!) { signUp(input: $i) { __typename } }";
    const variables = { i: { handle: "a", email: "b", password: "c", displayNam: "x" } };
    expect((await production.execute(document, variables)).errors?.[0]?.message).toBe('Variable "$i" got invalid value; Field "displayNam" is not defined by type "SignUpInput".');
    expect((await api.execute(document, variables)).errors?.[0]?.message).toMatch(/Did you mean "displayName"\?$/);
  });
});

describe("how much one request may ask for", () => {
  const thread = (outer: number, inner: number) =>
    `{ post(id: "${Buffer.from("Post:1").toString("base64")}") { replies(first: ${outer}) { edges { node { author { handle } likeCount replies(first: ${inner}) { edges { node { body author { handle } likeCount } } } } } } } }`;

  it("accepts a thread two levels deep with ordinary pages", async () => {
    const result = await api.execute(thread(10, 10));
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ post: null });
  });

  it("refuses nested pages whose product is too large, before running any SQL", async () => {
    const { errors, data, statements } = await api.executeCounted(thread(100, 100));
    expect(errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(errors?.[0]?.message).toBe("This query could return 10100 items; at most 5000 per request. Ask for smaller or fewer nested pages.");
    expect(data).toBeUndefined();
    expect(statements).toEqual([]);
  });

  it("counts pages spread through fragments too", async () => {
    const query = `query { post(id: "${Buffer.from("Post:1").toString("base64")}") { ...Outer } }
      fragment Outer on Post { replies(first: 100) { edges { node { ...Inner } } } }
      fragment Inner on Post { replies(first: 60) { edges { node { id } } } }`;
    expect((await api.execute(query)).errors?.[0]?.message).toMatch(/^This query could return 6100 items/);
  });

  it("refuses more than 100 ids in nodes(ids:)", async () => {
    const ids = Array.from({ length: 101 }, (_, i) => Buffer.from(`Post:${i + 1}`).toString("base64"));
    const result = await api.execute("query Many($ids: [ID!]!) { nodes(ids: $ids) { id } }", { ids });
    expect(result.errors?.[0]?.message).toBe("Ask for at most 100 ids at a time, got 101.");
    expect(result.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });
});

describe("response shape", () => {
  it("writes fields in the order the query selects them, however fast each resolves", async () => {
    const author = await api.signUp({ handle: "order_check" });
    for (let i = 0; i < 3; i++) {
      await api.execute(`mutation { createPost(input: { body: "post ${i}" }) { __typename } }`, {}, { as: author });
    }
    const query = `{ userTimeline(handle: "order_check", first: 3) { edges { node { likers(first: 2) { edges { cursor } } body author { handle } } } } user(handle: "order_check") { handle } __typename viewer { handle } }`;
    for (let i = 0; i < 5; i++) {
      const { data, errors } = await api.execute(query, {}, { as: author });
      expect(errors).toBeUndefined();
      expect(Object.keys(data as object)).toEqual(["userTimeline", "user", "__typename", "viewer"]);
    }
  });
});

const post = (body: string, headers: Record<string, string> = {}) =>
  api.app.fetch("http://chirp.test/graphql", { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

describe("request bodies", () => {
  it("refuses a body over REQUEST_BODY_LIMIT with 413, by its Content-Length, before reading it", async () => {
    const big = JSON.stringify({ query: "{ __typename }", variables: { pad: "x".repeat(200_000) } });
    const response = await post(big);
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ errors: [{ message: "The request body is larger than 102400 bytes.", extensions: { code: "BAD_REQUEST" } }] });
  });

  it("refuses a chunked body (no Content-Length) as soon as it passes the limit", async () => {
    let sent = 0;
    const chunk = new TextEncoder().encode(`{"query":"{ __typename }","variables":{"pad":"${"x".repeat(16_000)}`);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // An endless body: the server must stop reading it.
        sent += chunk.byteLength;
        if (sent > 10_000_000) controller.close();
        else controller.enqueue(sent === chunk.byteLength ? chunk : new TextEncoder().encode("x".repeat(16_000)));
      },
    });
    const response = await api.app.fetch("http://chirp.test/graphql", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(sent).toBeLessThan(1_000_000);
  });

  it("accepts a body just under the limit", async () => {
    const body = JSON.stringify({ query: "{ __typename }", variables: { pad: "x".repeat(100_000) } });
    const response = await post(body);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: "Query" } });
  });

  it("answers invalid JSON and a JSON body that is not an object with 400 BAD_REQUEST", async () => {
    for (const body of ["{ not json", "null", "42", '"query"']) {
      const response = await post(body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe("BAD_REQUEST");
    }
  });
});

describe("what a browser can send cross-site without asking", () => {
  const logOut = "mutation { logOut }";

  it("refuses form-encoded and text/plain bodies, which need no preflight, with 415", async () => {
    for (const [type, body] of [
      ["application/x-www-form-urlencoded", `query=${encodeURIComponent(logOut)}`],
      ["text/plain", JSON.stringify({ query: logOut })],
      ["text/plain;charset=UTF-8", JSON.stringify({ query: logOut })],
    ]) {
      const response = await api.app.fetch("http://chirp.test/graphql", { method: "POST", headers: { "content-type": type! }, body });
      expect(response.status, type).toBe(415);
      expect(await response.json()).toEqual({ errors: [{ message: "Send the request body as application/json.", extensions: { code: "BAD_REQUEST" } }] });
    }
  });

  it("refuses multipart/form-data without a CSRF-prevention header, and takes it with one", async () => {
    // Serialised as a browser or undici sends it: with its boundary and a Content-Length.
    const form = async (headers: Record<string, string> = {}) => {
      const data = new FormData();
      data.set("operations", JSON.stringify({ query: "{ __typename }" }));
      data.set("map", "{}");
      const encoded = new Request("http://chirp.test/", { method: "POST", body: data });
      const body = new Uint8Array(await encoded.arrayBuffer());
      return api.app.fetch("http://chirp.test/graphql", {
        method: "POST",
        body,
        headers: { "content-type": encoded.headers.get("content-type")!, "content-length": String(body.byteLength), ...headers },
      });
    };
    const plain = await form();
    expect(plain.status).toBe(403);
    expect(((await plain.json()) as { errors: { message: string; extensions: unknown }[] }).errors[0]).toEqual({
      message: "A multipart request needs the x-graphql-yoga-csrf header (any value), so that a cross-site form cannot send one.",
      extensions: { code: "BAD_REQUEST" },
    });
    const user = await api.signUp();
    for (const header of ["x-graphql-yoga-csrf", "apollo-require-preflight"]) {
      const marked = await form({ [header]: "1", authorization: `Bearer ${user.token}` });
      expect(marked.status, header).toBe(200);
      expect(await marked.json()).toEqual({ data: { __typename: "Query" } });
    }
  });

  it("refuses a mutation over GET", async () => {
    const response = await api.app.fetch(`http://chirp.test/graphql?query=${encodeURIComponent(logOut)}`, { headers: { accept: "application/json" } });
    expect(response.status).toBe(405);
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe("BAD_REQUEST");
  });
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    api.app.fetch("http://chirp.test/graphql", {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });

  it("allows localhost origins on any port in development, without credentials, for two hours", async () => {
    for (const origin of ["http://localhost:5173", "http://127.0.0.1:3000", "http://localhost"]) {
      const response = await preflight(origin);
      expect(response.status).toBe(204);
      expect(response.headers.get("access-control-allow-origin")).toBe(origin);
      expect(response.headers.get("access-control-allow-credentials")).toBeNull();
      expect(response.headers.get("access-control-allow-methods")).toBe("GET, POST, PUT, PATCH, DELETE");
      expect(response.headers.get("access-control-allow-headers")).toContain("authorization");
      expect(response.headers.get("access-control-max-age")).toBe("7200");
      expect(response.headers.get("vary")).toMatch(/Origin/);
    }
    const actual = await post(JSON.stringify({ query: "{ __typename }" }), { origin: "http://localhost:5173" });
    expect(actual.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(actual.headers.get("access-control-expose-headers")).toBe("retry-after, x-request-id");
  });

  it("gives any other origin no CORS headers at all, which browsers take as a refusal", async () => {
    for (const origin of ["https://evil.example", "http://localhost.evil.example", "null"]) {
      const response = await preflight(origin);
      for (const header of ["access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-methods", "access-control-allow-headers"]) {
        expect(response.headers.get(header), `${origin} ${header}`).toBeNull();
      }
      const actual = await post(JSON.stringify({ query: "{ __typename }" }), { origin });
      expect(actual.headers.get("access-control-allow-origin")).toBeNull();
    }
  });

  it("allows exactly CORS_ORIGINS when set, and none in production unless set", async () => {
    const listed = await testApi({ ...testConfig, corsOrigins: ["https://app.example.com"] });
    const ask = (app: TestApi, origin: string) =>
      app.app.fetch("http://chirp.test/graphql", { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } });
    expect((await ask(listed, "https://app.example.com")).headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect((await ask(listed, "http://localhost:5173")).headers.get("access-control-allow-origin")).toBeNull();
    const production = await testApi({ ...testConfig, corsOrigins: [] });
    expect((await ask(production, "https://app.example.com")).headers.get("access-control-allow-origin")).toBeNull();
    const any = await testApi({ ...testConfig, corsOrigins: "*" });
    expect((await ask(any, "https://anywhere.example")).headers.get("access-control-allow-origin")).toBe("https://anywhere.example");
    expect((await ask(any, "https://anywhere.example")).headers.get("access-control-allow-credentials")).toBeNull();
  });
});

describe("response headers", () => {
  it("marks every API answer no-store and nosniff, and gives it a request id", async () => {
    const user = await api.signUp({ handle: "headers_user" });
    const responses = [
      await post(JSON.stringify({ query: "{ __typename }" })),
      await post(JSON.stringify({ query: "mutation($r: String!) { refreshSession(input: { refreshToken: $r }) { __typename } }", variables: { r: user.refreshToken } })),
      await post("{ broken"),
      await api.app.fetch("http://chirp.test/graphql?query=%7B__typename%7D", { headers: { accept: "application/json" } }),
    ];
    for (const response of responses) {
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it("marks event-stream answers no-store too (Yoga says no-cache)", async () => {
    const response = await post(JSON.stringify({ query: "{ __typename }" }), { accept: "text/event-stream" });
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(response.headers.get("cache-control")).toBe("no-store");
    await response.text();
  });

  it("keeps a request id the trusted proxy in front set, and no other", async () => {
    const behindProxy = await testApi({ ...testConfig, trustProxy: (address) => address === "10.0.0.1" });
    const send = async (requestId: string, from: string) =>
      (await behindProxy.app.fetch("http://chirp.test/graphql", { method: "POST", headers: { "content-type": "application/json", "x-request-id": requestId }, body: '{"query":"{ __typename }"}' }, { req: { socket: { remoteAddress: from } } })).headers.get("x-request-id");
    expect(await send("lb-7f3a9c", "10.0.0.1")).toBe("lb-7f3a9c");
    expect(await send("two words\u00e9", "10.0.0.1")).toMatch(/^[0-9a-f-]{36}$/);
    // A client cannot make its lines share another request's id.
    expect(await send("lb-7f3a9c", "203.0.113.9")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("lets GraphiQL's immutable assets keep their own caching", async () => {
    const html = await (await getHtml("/graphql")).text();
    const asset = /src="(\/graphiql\/[^"]+\.js)"/.exec(html)![1]!;
    const response = await api.app.fetch(`http://chirp.test${asset}`);
    expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("production defaults", () => {
  it("serves neither GraphiQL nor introspection unless turned on", async () => {
    const closed = await testApi({ ...testConfig, env: "production", graphiql: false, introspection: false });
    const page = await closed.app.fetch("http://chirp.test/graphql", { headers: { accept: "text/html" } });
    expect(await page.text()).not.toContain("<html");
    const introspection = await closed.execute("{ __schema { queryType { name } } }");
    expect(introspection.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(introspection.errors?.[0]?.message).toMatch(/introspection/i);
    // Suggestions of field names would map the schema too.
    const typo = await closed.execute("{ viewr { handle } }");
    expect(typo.errors?.[0]?.message).not.toMatch(/Did you mean/);

    const open = await testApi({ ...testConfig, env: "production", graphiql: true, introspection: true });
    expect((await open.app.fetch("http://chirp.test/graphql", { headers: { accept: "text/html" } })).headers.get("content-security-policy")).toBe(GRAPHIQL_CSP);
    expect((await open.execute("{ __schema { queryType { name } } }")).data).toEqual({ __schema: { queryType: { name: "Query" } } });
  });
});
