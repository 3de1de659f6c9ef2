import { beforeAll, describe, expect, it } from "vitest";
import { GRAPHIQL_CSP } from "../../src/graphql/graphiql.js";
import { graphql } from "../gql/index.js";
import { type TestApi, testApi } from "../support/api.js";

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

  it("answers a variable of the wrong type with BAD_USER_INPUT", async () => {
    const result = await api.execute(
      graphql(`query HttpUserByHandle($handle: String!) { user(handle: $handle) { handle } }`),
      { handle: { not: "a string" } as unknown as string },
    );
    expect(result.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
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
