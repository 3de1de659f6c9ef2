import { beforeAll, describe, expect, it } from "vitest";
import { type TestApi, testApi } from "../support/api.js";
import { logLines } from "../support/logs.js";

// What Chirp writes to its log when clients get things wrong: one line per request, at info, with
// its request id and error codes; nothing of what they sent; nothing at warn or error.

let api: TestApi;
beforeAll(async () => {
  api = await testApi();
});

const PASSWORD = "hunter2-but-longer!";
const REFRESH = "chirp_rt_secret-refresh-token-value";
const EMAIL = "someone.private@example.com";
const SECRETS = [PASSWORD, REFRESH, EMAIL];

const raw = (body: string, headers: Record<string, string> = {}) =>
  api.app.fetch("http://chirp.test/graphql", { method: "POST", headers: { "content-type": "application/json", ...headers }, body }, { req: { socket: { remoteAddress: "127.0.0.1" } } });
const send = (query: string, variables?: unknown, headers?: Record<string, string>) => raw(JSON.stringify({ query, variables }), headers);

/** Client mistakes, each carrying secrets in its variables, literals or body. */
const corpus: [string, () => Response | Promise<Response>][] = [
  ["a variable of the wrong type", () => send("mutation L($i: LogInInput!) { logIn(input: $i) { __typename } }", { i: { login: EMAIL, password: 42 } })],
  ["a missing input field", () => send("mutation L($i: LogInInput!) { logIn(input: $i) { __typename } }", { i: { password: PASSWORD } })],
  ["an unknown input field", () => send("mutation L($i: LogInInput!) { logIn(input: $i) { __typename } }", { i: { login: EMAIL, password: PASSWORD, extra: REFRESH } })],
  ["a wrong literal", () => send(`mutation { logIn(input: { login: "${EMAIL}", password: 7 }) { __typename } }`)],
  ["an unknown field", () => send(`mutation { logIn(input: { login: "${EMAIL}", password: "${PASSWORD}" }) { nope } }`)],
  ["a syntax error", () => send(`mutation { refreshSession(input: { refreshToken: "${REFRESH}" }`)],
  ["a query too deep", () => send(`mutation { logIn(input: { login: "${EMAIL}", password: "${PASSWORD}" }) { ... on AuthPayload { viewer { followers(first: 1) { edges { node { followers(first: 1) { edges { node { followers(first: 1) { edges { node { followers(first: 1) { edges { node { handle } } } } } } } } } } } } } } } }`)],
  ["a refresh token of the wrong type", () => send("mutation R($t: String!) { refreshSession(input: { refreshToken: $t }) { __typename } }", { t: { value: REFRESH } })],
  ["an unknown refresh token", () => send("mutation R($t: String!) { refreshSession(input: { refreshToken: $t }) { __typename } }", { t: REFRESH })],
  ["a wrong password", () => send("mutation L($i: LogInInput!) { logIn(input: $i) { __typename } }", { i: { login: EMAIL, password: PASSWORD } })],
  ["a bad sign-up", () => send("mutation S($i: SignUpInput!) { signUp(input: $i) { __typename } }", { i: { handle: "x", email: EMAIL, password: PASSWORD } })],
  ["a forged token", () => send("{ viewer { handle } }", undefined, { authorization: `Bearer ${REFRESH}` })],
  ["invalid JSON", () => raw(`{"query": "mutation { logIn(input: {login: \\"${EMAIL}\\", password: \\"${PASSWORD}\\"}) { __typename } }"`)],
  ["a body too large", () => raw(JSON.stringify({ query: "{ __typename }", variables: { password: PASSWORD, pad: "x".repeat(200_000) } }))],
  ["an unknown operation name", () => raw(JSON.stringify({ query: "query A { __typename }", operationName: PASSWORD }))],
  ["a GET whose variables are not JSON", () => api.app.fetch(`http://chirp.test/graphql?query=%7B__typename%7D&variables=${encodeURIComponent(PASSWORD)}`, { headers: { accept: "application/json" } })],
  ["a GET with variables in the URL", () => api.app.fetch(`http://chirp.test/graphql?query=${encodeURIComponent("query Q($p: Int) { __typename }")}&variables=${encodeURIComponent(JSON.stringify({ p: PASSWORD }))}`, { headers: { accept: "application/json" } })],
];

// Typed results (wrong password, invalid sign-up) are in the data, and their codes in the line too.
const typed: Record<string, string> = { "an unknown refresh token": "UNAUTHENTICATED", "a wrong password": "UNAUTHENTICATED", "a bad sign-up": "BAD_USER_INPUT" };

describe("the log of client mistakes", () => {
  it.each(corpus)("%s: one line with a request id and the codes, nothing the client sent", async (name, request) => {
    const before = logLines.length;
    const response = await request();
    const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
    const lines = logLines.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line).toMatchObject({ level: 30, msg: "request", reqId: response.headers.get("x-request-id"), status: response.status, method: expect.any(String) });
    expect(line!.codes).toEqual(body.errors ? [...new Set(body.errors.map((e) => e.extensions?.code))] : [typed[name]]);
    const text = logLines.slice(before).join("\n");
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  });

  it("logs a successful request once, at debug, with its operation name and viewer", async () => {
    const user = await api.signUp({ handle: "logged_viewer" });
    const before = logLines.length;
    const response = await send("query WhoAmI { viewer { handle } }", undefined, { authorization: `Bearer ${user.token}` });
    expect(response.status).toBe(200);
    const lines = logLines.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({ level: 20, msg: "request", operation: "WhoAmI", userId: user.dbId, status: 200, path: "/graphql", reqId: response.headers.get("x-request-id") }),
    ]);
  });

  it("never logs at warn or error for anything a client did", () => {
    const loud = logLines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((line) => line.level >= 40);
    expect(loud).toEqual([]);
  });
});
