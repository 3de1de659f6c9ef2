import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/errors.js";
import { encodeGlobalId } from "../../src/graphql/ids.js";
import { type TestApi, type TestUser, testApi, testConfig } from "../support/api.js";
import { faultyReader } from "../support/faults.js";

// The README's table of error codes is the contract clients code against: it lists exactly the
// codes the server can answer with (useErrorCodes turns any other into INTERNAL_SERVER_ERROR), and
// each code is produced here through HTTP with the status the table gives.

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The rows of the README's "Error codes" table: code → the statuses of its second column. */
function documented() {
  const start = README.indexOf("### Error codes");
  const section = README.slice(start, README.indexOf("\n## ", start));
  const rows = [...section.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \|/gm)];
  return new Map(rows.map(([, code, status]) => [code!, [...status!.matchAll(/\d{3}/g)].map((m) => Number(m[0]))]));
}

let api: TestApi;
let faulty: TestApi;
let user: TestUser;
let readOnly: { token: string };
beforeAll(async () => {
  api = await testApi({ ...testConfig, rateLimits: { ...testConfig.rateLimits, signUpsPerIp: 1 } });
  user = await api.signUp({ handle: "codes_user" });
  const minted = await api.execute(`mutation { createApiToken(input: { name: "r", scopes: [READ] }) { ... on CreatedApiToken { secret } } }`, {}, { as: user });
  readOnly = { token: (minted.data as { createApiToken: { secret: string } }).createApiToken.secret };
  faulty = await testApi(testConfig, { reader: faultyReader() });
});

interface Answer {
  status: number;
  codes: string[];
}

const ACCEPT = "application/graphql-response+json, application/json;q=0.9";

async function answer(response: Response): Promise<Answer> {
  const body = (await response.json()) as { data?: Record<string, { code?: string } | null>; errors?: { extensions?: { code?: string } }[] };
  const typed = Object.values(body.data ?? {}).flatMap((value) => (value?.code ? [value.code] : []));
  return { status: response.status, codes: [...(body.errors ?? []).map((e) => e.extensions!.code!), ...typed] };
}

const post = async (body: unknown, headers: Record<string, string> = {}) =>
  answer(
    await api.app.fetch("http://chirp.test/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", accept: ACCEPT, ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );

/** For each code, requests that produce it, with the status each should have. */
const triggers: Record<string, { name: string; send: () => Promise<Answer>; status: number }[]> = {
  GRAPHQL_PARSE_FAILED: [
    { name: "a syntax error", send: () => post({ query: "{ viewer { " }), status: 400 },
    { name: "too many tokens", send: () => post({ query: `{ ${"__typename ".repeat(2_100)}}` }), status: 400 },
  ],
  GRAPHQL_VALIDATION_FAILED: [
    { name: "an unknown field", send: () => post({ query: "{ viewer { nope } }" }), status: 400 },
    { name: "a subscription field the schema does not have", send: () => post({ query: "subscription { x }" }), status: 400 },
    {
      name: "a query too deep",
      send: () => post({ query: "{ viewer { followers(first: 1) { edges { node { followers(first: 1) { edges { node { followers(first: 1) { edges { node { followers(first: 1) { edges { node { handle } } } } } } } } } } } } } }" }),
      status: 400,
    },
  ],
  OPERATION_RESOLUTION_FAILURE: [{ name: "an unknown operation name", send: () => post({ query: "query A { __typename }", operationName: "B" }), status: 400 }],
  BAD_REQUEST: [
    { name: "a batch", send: () => post([{ query: "{ __typename }" }]), status: 400 },
    { name: "no query at all", send: () => post({}), status: 400 },
    { name: "no query at all, to a client that accepts only application/json", send: () => post({}, { accept: "application/json" }), status: 400 },
    { name: "a GET whose variables are not JSON", send: async () => answer(await api.app.fetch("http://chirp.test/graphql?query=%7B__typename%7D&variables=hunter2password", { headers: { accept: ACCEPT } })), status: 400 },
    { name: "a GET whose extensions are not JSON", send: async () => answer(await api.app.fetch("http://chirp.test/graphql?query=%7B__typename%7D&extensions=%7B", { headers: { accept: ACCEPT } })), status: 400 },
    { name: "a mutation over GET", send: async () => answer(await api.app.fetch(`http://chirp.test/graphql?query=${encodeURIComponent("mutation { logOut }")}`, { headers: { accept: ACCEPT } })), status: 405 },
    { name: "a body too large", send: () => post({ query: "{ __typename }", variables: { pad: "x".repeat(200_000) } }), status: 413 },
    { name: "a text/plain body", send: () => post({ query: "{ __typename }" }, { "content-type": "text/plain" }), status: 415 },
  ],
  BAD_USER_INPUT: [
    { name: "a variable of the wrong type", send: () => post({ query: "query Q($h: String!) { user(handle: $h) { handle } }", variables: { h: 5 } }), status: 200 },
    { name: "a malformed ID in a mutation", send: () => post({ query: `mutation { likePost(input: { postId: "nope" }) { __typename ... on Error { code } } }` }, { authorization: `Bearer ${user.token}` }), status: 200 },
  ],
  UNAUTHENTICATED: [
    { name: "a forged token", send: () => post({ query: "{ viewer { handle } }" }, { authorization: "Bearer forged" }), status: 200 },
    { name: "a wrong password", send: () => post({ query: `mutation { logIn(input: { login: "codes_user", password: "wrong password" }) { __typename ... on Error { code } } }` }), status: 200 },
  ],
  FORBIDDEN: [
    { name: "a read-only token writing", send: () => post({ query: `mutation { createPost(input: { body: "x" }) { __typename } }` }, { authorization: `Bearer ${readOnly.token}` }), status: 200 },
  ],
  NOT_FOUND: [
    {
      name: "liking a post that does not exist",
      send: () => post({ query: `mutation { likePost(input: { postId: "${encodeGlobalId("Post", 999_999)}" }) { __typename ... on Error { code } } }` }, { authorization: `Bearer ${user.token}` }),
      status: 200,
    },
  ],
  INTERNAL_SERVER_ERROR: [
    { name: "a fault in Chirp during a field", send: async () => answer(await faulty.app.fetch("http://chirp.test/graphql", { method: "POST", headers: { "content-type": "application/json", accept: ACCEPT }, body: JSON.stringify({ query: `{ user(handle: "codes_user") { handle } }` }) })), status: 200 },
    { name: "a fault in Chirp before anything ran", send: async () => answer(await faulty.app.fetch("http://chirp.test/graphql", { method: "POST", headers: { "content-type": "application/json", accept: ACCEPT, authorization: `Bearer ${user.token}` }, body: JSON.stringify({ query: "{ viewer { handle } }" }) })), status: 500 },
  ],
  RATE_LIMITED: [
    {
      name: "a sign-up over the limit",
      send: async () => {
        const signUp = (i: number) => post({ query: `mutation { signUp(input: { handle: "codes_${i}", email: "codes${i}@example.com", password: "long enough password" }) { __typename } }` });
        await signUp(1);
        return signUp(2);
      },
      status: 429,
    },
  ],
};

// Produced only while the database is down: test/outage.test.ts stops a PostgreSQL of its own for it.
const FAULTS = ["SERVICE_UNAVAILABLE"];

describe("error codes", () => {
  it("the README's table lists exactly the codes the server can answer with", () => {
    expect([...documented().keys()].sort()).toEqual([...ERROR_CODES].sort());
  });

  it("every code but the faults has a request here that produces it", () => {
    expect(Object.keys(triggers).sort()).toEqual(ERROR_CODES.filter((code) => !FAULTS.includes(code)).sort());
  });

  const cases = Object.entries(triggers).flatMap(([code, list]) => list.map((trigger) => [code, trigger.name, trigger] as const));
  it.each(cases)("%s: %s, with a status from the table", async (code, _, trigger) => {
    const result = await trigger.send();
    expect(result.codes).toEqual([code]);
    expect(result.status).toBe(trigger.status);
    expect(documented().get(code)).toContain(trigger.status);
  });
});
