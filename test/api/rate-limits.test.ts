import { beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../gql/index.js";
import { type TestApi, testApi, testConfig } from "../support/api.js";

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

let api: TestApi;
beforeAll(async () => {
  api = await testApi({
    ...testConfig,
    rateLimits: { loginFailuresPerAccount: 3, loginFailuresPerIp: 5, signUpsPerIp: 4, windowSeconds: 60 },
  });
});

describe("rate limits", () => {
  it("blocks an account after repeated failed log-ins, even with the right password, and says when to retry", async () => {
    const victim = await api.signUp({ handle: "victim" });
    for (let i = 0; i < 3; i++) {
      const { data } = await api.execute(LogIn, { input: { login: "victim", password: "wrong password!" } });
      expect(data?.logIn).toEqual({ __typename: "AuthenticationError", message: "Wrong handle, email or password." });
    }
    const blocked = await api.execute(LogIn, { input: { login: "VICTIM", password: victim.password } });
    expect(blocked.status).toBe(429);
    expect(blocked.data?.logIn ?? null).toBeNull();
    expect(blocked.errors?.[0]?.extensions).toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: expect.any(Number) });
    expect(blocked.errors?.[0]?.message).toMatch(/^Too many failed log-ins; try again in \d+ seconds\.$/);
  });

  it("counts failures per address across accounts", async () => {
    // The first test spent 3 of this address's 5 failures; unknown accounts count too.
    for (const login of ["nobody1", "nobody2"]) {
      const { data } = await api.execute(LogIn, { input: { login, password: "whatever-password" } });
      expect(data?.logIn?.__typename).toBe("AuthenticationError");
    }
    const blocked = await api.execute(LogIn, { input: { login: "nobody3", password: "whatever-password" } });
    expect(blocked.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
  });

  it("limits sign-ups per address", async () => {
    // One sign-up was spent on the victim above.
    const results = [];
    for (let i = 0; i < 4; i++) {
      results.push(await api.execute(SignUp, { input: { handle: `flood_${i}`, email: `flood${i}@example.com`, password: "long enough password" } }));
    }
    expect(results.map((r) => r.data?.signUp?.__typename ?? r.errors?.[0]?.extensions?.code)).toEqual([
      "AuthPayload",
      "AuthPayload",
      "AuthPayload",
      "RATE_LIMITED",
    ]);
    expect(await api.db.user.count({ where: { handle: { startsWith: "flood_" } } })).toBe(3);
  });
});
