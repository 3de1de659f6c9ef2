import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { graphql } from "../gql/index.js";
import { type Result, type TestApi, testApi, testConfig } from "../support/api.js";

const LogIn = graphql(`
  mutation RateLimitLogIn($input: LogInInput!) {
    logIn(input: $input) { __typename ... on Error { message } }
  }
`);
const SignUp = graphql(`
  mutation RateLimitSignUp($input: SignUpInput!) {
    signUp(input: $input) { __typename }
  }
`);

const limits = { loginFailuresPerAccountAndIp: 3, loginFailuresPerAccount: 8, loginFailuresPerIp: 6, signUpsPerIp: 4, mailsPerAddress: 3, passwordResetsPerIp: 5, windowSeconds: 60 };
/** A fresh app per test: the counters live in the app. */
const freshApi = (overrides: Partial<typeof limits> = {}) => testApi({ ...testConfig, rateLimits: { ...limits, ...overrides } });

let n = 0;
async function account(api: TestApi) {
  const user = await api.signUp({ handle: `rl_user_${++n}`, email: `rl${n}@example.com` });
  const logIn = (login: string, password: string, ip = "198.51.100.1") => api.execute(LogIn, { input: { login, password } }, { ip });
  return { user, logIn };
}

const outcome = (result: Result<{ logIn: { __typename: string } } | { signUp: { __typename: string } }>) =>
  result.data ? Object.values(result.data)[0]!.__typename : String(result.errors?.[0]?.extensions?.code);

/** A 429 that says when to come back, in the body and in the Retry-After header. */
function expectRetryAfter(result: Result<unknown>) {
  expect(result.status).toBe(429);
  const seconds = result.errors?.[0]?.extensions?.retryAfterSeconds as number;
  expect(seconds).toBeGreaterThanOrEqual(1);
  expect(seconds).toBeLessThanOrEqual(60);
  expect(result.headers?.get("retry-after")).toBe(String(seconds));
}

describe("failed log-ins", () => {
  it("counts each guess before checking it: 30 at once against a limit of 3 get 3 answers and 27 refusals", async () => {
    const api = await freshApi();
    const { user, logIn } = await account(api);
    const results = await Promise.all(Array.from({ length: 30 }, () => logIn(user.handle, "wrong password!")));
    expect(results.filter((r) => outcome(r) === "AuthenticationError")).toHaveLength(3);
    const refused = results.filter((r) => outcome(r) === "RATE_LIMITED");
    expect(refused).toHaveLength(27);
    for (const result of refused) expectRetryAfter(result);
    // Even the right password waits now, from that address.
    expect(outcome(await logIn(user.handle, user.password))).toBe("RATE_LIMITED");
  });

  it("counts by the account, however it is typed: handle, other case, email", async () => {
    const api = await freshApi();
    const { user, logIn } = await account(api);
    expect(outcome(await logIn(user.handle, "wrong password!"))).toBe("AuthenticationError");
    expect(outcome(await logIn(user.handle.toUpperCase(), "wrong password!"))).toBe("AuthenticationError");
    expect(outcome(await logIn(user.email.toUpperCase(), "wrong password!"))).toBe("AuthenticationError");
    expect(outcome(await logIn(user.email, "wrong password!"))).toBe("RATE_LIMITED");
  });

  it("locks out the guesser's address, not the owner: the owner logs in from elsewhere", async () => {
    const api = await freshApi();
    const { user, logIn } = await account(api);
    for (let i = 0; i < 3; i++) await logIn(user.handle, "wrong password!", "203.0.113.66");
    expect(outcome(await logIn(user.handle, "wrong password!", "203.0.113.66"))).toBe("RATE_LIMITED");
    // More refused guesses from the same address spend none of the account's allowance.
    for (let i = 0; i < 10; i++) await logIn(user.handle, "wrong password!", "203.0.113.66");
    expect(outcome(await logIn(user.handle, user.password, "192.0.2.10"))).toBe("AuthPayload");
  });

  it("forgets a run of failures when the right password comes", async () => {
    const api = await freshApi();
    const { user, logIn } = await account(api);
    for (let i = 0; i < 2; i++) expect(outcome(await logIn(user.handle, "wrong password!"))).toBe("AuthenticationError");
    expect(outcome(await logIn(user.handle, user.password))).toBe("AuthPayload");
    for (let i = 0; i < 2; i++) expect(outcome(await logIn(user.handle, "wrong password!"))).toBe("AuthenticationError");
    expect(outcome(await logIn(user.handle, user.password))).toBe("AuthPayload");
  });

  it("limits one address guessing across many accounts, unknown ones included", async () => {
    const api = await freshApi();
    const ip = "203.0.113.77";
    const logins = ["nobody_1", "nobody_2", "nobody@example.com", "nobody_3", "nobody_4", "nobody_5"];
    for (const login of logins) expect(outcome(await api.execute(LogIn, { input: { login, password: "whatever!" } }, { ip }))).toBe("AuthenticationError");
    const blocked = await api.execute(LogIn, { input: { login: "nobody_6", password: "whatever!" } }, { ip });
    expect(outcome(blocked)).toBe("RATE_LIMITED");
    expectRetryAfter(blocked);
    // Another address is not affected.
    expect(outcome(await api.execute(LogIn, { input: { login: "nobody_6", password: "whatever!" } }, { ip: "203.0.113.78" }))).toBe("AuthenticationError");
  });

  it("limits guessing one account from many addresses, more loosely", async () => {
    const api = await freshApi();
    const { user, logIn } = await account(api);
    for (let i = 0; i < 8; i++) expect(outcome(await logIn(user.handle, "wrong password!", `203.0.113.${i + 1}`))).toBe("AuthenticationError");
    expect(outcome(await logIn(user.handle, "wrong password!", "203.0.113.100"))).toBe("RATE_LIMITED");
  });
});

describe("sign-ups", () => {
  it("are limited per address, with Retry-After", async () => {
    const api = await freshApi();
    const results = [];
    for (let i = 0; i < 5; i++) {
      results.push(await api.execute(SignUp, { input: { handle: `flood_${i}`, email: `flood${i}@example.com`, password: "long enough password" } }, { ip: "198.51.100.9" }));
    }
    expect(results.map(outcome)).toEqual(["AuthPayload", "AuthPayload", "AuthPayload", "AuthPayload", "RATE_LIMITED"]);
    expectRetryAfter(results[4]!);
    expect(await api.db.user.count({ where: { handle: { startsWith: "flood_" } } })).toBe(4);
  });
});

describe("the client address behind proxies (TRUST_PROXY)", () => {
  const signUps = async (trustProxy: string, requests: { socket: string; forwardedFor?: string }[]) => {
    const config = { ...loadConfig({ ...process.env, JWT_SECRET: "test-secret-that-is-at-least-32-chars!", TRUST_PROXY: trustProxy }), logLevel: "silent" };
    const api = await testApi({ ...config, rateLimits: { ...limits, signUpsPerIp: 2 } });
    const results = [];
    for (const { socket, forwardedFor } of requests) {
      const i = ++n;
      const headers: Record<string, string> = forwardedFor ? { "x-forwarded-for": forwardedFor } : {};
      results.push(outcome(await api.execute(SignUp, { input: { handle: `proxy_${i}`, email: `proxy${i}@example.com`, password: "long enough password" } }, { ip: socket, headers })));
    }
    return results;
  };

  it("takes the address the trusted proxy saw, not what the client wrote before it", async () => {
    // The client writes a new X-Forwarded-For entry each time; the proxy (10.0.0.1) appends the real address.
    const requests = Array.from({ length: 6 }, (_, i) => ({ socket: "10.0.0.1", forwardedFor: `10.0.0.${i + 2}, 203.0.113.7` }));
    expect(await signUps("1", requests)).toEqual(["AuthPayload", "AuthPayload", "RATE_LIMITED", "RATE_LIMITED", "RATE_LIMITED", "RATE_LIMITED"]);
    expect(await signUps("10.0.0.0/8", requests)).toEqual(["AuthPayload", "AuthPayload", "RATE_LIMITED", "RATE_LIMITED", "RATE_LIMITED", "RATE_LIMITED"]);
  });

  it("believes X-Forwarded-For only from a trusted proxy", async () => {
    // Not behind a proxy: the header is the client's own writing, and the socket's address counts.
    const forged = Array.from({ length: 3 }, (_, i) => ({ socket: "198.51.100.20", forwardedFor: `203.0.113.${i + 1}` }));
    expect(await signUps("false", forged)).toEqual(["AuthPayload", "AuthPayload", "RATE_LIMITED"]);
    // A request that does not come from the trusted proxy's subnet is taken at its socket's address.
    const direct = Array.from({ length: 3 }, (_, i) => ({ socket: "198.51.100.21", forwardedFor: `203.0.113.${i + 10}` }));
    expect(await signUps("10.0.0.0/8", direct)).toEqual(["AuthPayload", "AuthPayload", "RATE_LIMITED"]);
    // Two proxies: the second-nearest entry is the client.
    const chain = Array.from({ length: 3 }, (_, i) => ({ socket: "10.0.0.1", forwardedFor: `10.9.9.${i}, 203.0.113.50, 10.0.0.2` }));
    expect(await signUps("2", chain)).toEqual(["AuthPayload", "AuthPayload", "RATE_LIMITED"]);
  });
});
