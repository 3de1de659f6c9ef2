import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { SignJWT, decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../gql/index.js";
import { DEFAULT_PASSWORD, type TestApi, type TestUser, testApi, testConfig } from "../support/api.js";

// Clients such as Apollo Client (an auth link plus an error link), urql (exchange-auth) and GraphiQL
// (headers kept in localStorage) attach the Authorization header to every request, including the one
// that refreshes the session or logs in again. These tests are those clients.

const LogIn = graphql(`
  mutation ClientLogIn($input: LogInInput!) {
    logIn(input: $input) {
      __typename
      ... on AuthPayload { accessToken refreshToken viewer { handle email sessions(first: 5) { edges { node { isCurrent } } } } }
      ... on Error { message }
    }
  }
`);
const SignUp = graphql(`
  mutation ClientSignUp($input: SignUpInput!) {
    signUp(input: $input) { __typename ... on AuthPayload { accessToken viewer { handle email } } }
  }
`);
const Refresh = graphql(`
  mutation ClientRefresh($refreshToken: String!) {
    refreshSession(input: { refreshToken: $refreshToken }) {
      __typename
      ... on AuthPayload { accessToken refreshToken viewer { handle email } }
      ... on Error { message code }
    }
  }
`);
const Home = graphql(`
  query ClientHome {
    homeTimeline(first: 5) { edges { node { body } } }
  }
`);
const Me = graphql(`
  query ClientMe {
    viewer { handle email }
  }
`);
const PublicProfile = graphql(`
  query ClientPublicProfile($handle: String!) {
    user(handle: $handle) { handle }
  }
`);

let api: TestApi;
beforeAll(async () => {
  api = await testApi();
});

/** A token for the user's session that expired a minute ago: what a client holds after a coffee break. */
const expiredToken = (user: TestUser) =>
  new SignJWT({ sid: decodeJwt(user.token).sid })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(String(user.dbId))
    .setIssuer(testConfig.jwt.issuer)
    .setAudience(testConfig.jwt.audience)
    .setIssuedAt(Math.floor(Date.now() / 1000) - 960)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
    .sign(testConfig.jwt.secret);

describe("a stale Authorization header", () => {
  it("does not stop logIn, signUp or refreshSession, whatever it holds", async () => {
    const user = await api.signUp({ handle: "stale_header" });
    const ended = await api.signUp({ handle: "stale_ended" });
    await api.execute("mutation { logOut }", {}, { as: ended });
    const suspended = await api.signUp({ handle: "stale_suspended", suspended: true });
    const headers = [
      `Bearer ${await expiredToken(user)}`,
      `Bearer ${ended.token}`,
      `Bearer ${suspended.token}`,
      "Bearer garbage",
      "Bearer <accessToken>",
      "Bearer chirp_pat_revoked-or-never-issued",
      "Basic dXNlcjpwYXNz",
    ];
    let refreshToken = user.refreshToken;
    for (const [i, authorization] of headers.entries()) {
      const options = { headers: { authorization } };
      const logIn = await api.execute(LogIn, { input: { login: "stale_header", password: DEFAULT_PASSWORD } }, options);
      expect(logIn.errors, authorization).toBeUndefined();
      expect(logIn.data?.logIn.__typename).toBe("AuthPayload");

      const signUp = await api.execute(SignUp, { input: { handle: `stale_new_${i}`, email: `stale${i}@example.com`, password: DEFAULT_PASSWORD } }, options);
      expect(signUp.data?.signUp).toMatchObject({ __typename: "AuthPayload", viewer: { handle: `stale_new_${i}` } });

      const refreshed = await api.execute(Refresh, { refreshToken }, options);
      if (refreshed.data?.refreshSession.__typename !== "AuthPayload") throw new Error(JSON.stringify(refreshed));
      refreshToken = refreshed.data.refreshSession.refreshToken;
    }
  });

  it("still fails any other request with UNAUTHENTICATED, so the client refreshes instead of reading as nobody", async () => {
    const user = await api.signUp({ handle: "stale_reader" });
    const result = await api.execute(PublicProfile, { handle: "stale_reader" }, { as: { token: await expiredToken(user) } });
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.map((e) => e.extensions?.code)).toEqual(["UNAUTHENTICATED"]);
  });

  it("tells a client whose header holds GraphiQL's placeholder, or a token in quotes or brackets, what to send", async () => {
    const user = await api.signUp({ handle: "stale_placeholder" });
    const message = 'The Authorization header holds no access token: after "Bearer " put the accessToken that logIn returned, without quotes or brackets.';
    for (const token of ["<accessToken>", `<${user.token}>`, `"${user.token}"`]) {
      const result = await api.execute(Home, {}, { as: { token } });
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.map((e) => [e.extensions?.code, e.message]), token).toEqual([["UNAUTHENTICATED", message]]);
    }
  });

  it("lets introspection through (GraphiQL keeps its headers), but not an operation of nothing but __typename", async () => {
    const user = await api.signUp({ handle: "stale_tools" });
    const as = { token: await expiredToken(user) };
    const schema = await api.execute("{ __schema { queryType { name } } __typename }", {}, { as });
    expect(schema).toEqual({ status: 200, data: { __schema: { queryType: { name: "Query" } }, __typename: "Query" } });
    for (const document of ["{ __typename }", "mutation { __typename }"]) {
      const result = await api.execute(document, {}, { as });
      expect(result.errors?.map((e) => e.extensions?.code), document).toEqual(["UNAUTHENTICATED"]);
    }
    const mixed = await api.execute(`{ __schema { queryType { name } } viewer { handle } }`, {}, { as });
    expect(mixed.errors?.map((e) => e.extensions?.code)).toEqual(["UNAUTHENTICATED"]);
  });

  it("does not let another operation ride along with a sign-in", async () => {
    const user = await api.signUp({ handle: "stale_rider" });
    const mixed = `mutation { logIn(input: { login: "stale_rider", password: "${DEFAULT_PASSWORD}" }) { __typename } logOut }`;
    const result = await api.execute(mixed, {}, { as: { token: await expiredToken(user) } });
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.map((e) => e.extensions?.code)).toEqual(["UNAUTHENTICATED"]);
  });
});

describe("what a sign-in answers", () => {
  it("shows the signed-in user their private fields in the same response", async () => {
    const user = await api.signUp({ handle: "signed_in_view", email: "signed.in@example.com" });
    const result = await api.execute(LogIn, { input: { login: "signed_in_view", password: DEFAULT_PASSWORD } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.logIn).toMatchObject({
      __typename: "AuthPayload",
      viewer: { handle: "signed_in_view", email: "signed.in@example.com" },
    });
    const sessions = result.data?.logIn.__typename === "AuthPayload" ? result.data.logIn.viewer.sessions!.edges : [];
    expect(sessions.map((e) => e.node.isCurrent)).toEqual([true, false]);
    const signedUp = await api.execute(SignUp, { input: { handle: "signed_up_view", email: "signed.up@example.com", password: DEFAULT_PASSWORD } });
    expect(signedUp.data?.signUp).toMatchObject({ viewer: { handle: "signed_up_view", email: "signed.up@example.com" } });
    const refreshed = await api.execute(Refresh, { refreshToken: user.refreshToken });
    expect(refreshed.data?.refreshSession).toMatchObject({ viewer: { handle: "signed_in_view", email: "signed.in@example.com" } });
  });
});

/**
 * The client of Apollo's and urql's auth recipes: the current access token on every request; on
 * UNAUTHENTICATED, refresh the session and retry the operation once. `singleFlight` is urql's
 * exchange-auth, which refreshes once for all operations waiting; without it, as in the common
 * Apollo onError recipe, every failed operation refreshes on its own, with the same refresh token.
 */
function authClient(start: { token: string; refreshToken: string }, { singleFlight }: { singleFlight: boolean }) {
  const tokens = { ...start };
  let refreshing: Promise<void> | null = null;
  const send = <R, V>(document: TypedDocumentNode<R, V>, variables?: V) =>
    api.execute(document, variables, { headers: { authorization: `Bearer ${tokens.token}` } });
  const refresh = async () => {
    const result = await send(Refresh, { refreshToken: tokens.refreshToken });
    const payload = result.data?.refreshSession;
    if (payload?.__typename !== "AuthPayload") throw new Error(`refresh failed: ${JSON.stringify(result)}`);
    tokens.token = payload.accessToken;
    tokens.refreshToken = payload.refreshToken;
  };
  return {
    tokens,
    async query<R, V>(document: TypedDocumentNode<R, V>, variables?: V) {
      const first = await send(document, variables);
      if (!first.errors?.some((e) => e.extensions?.code === "UNAUTHENTICATED")) return first;
      if (singleFlight) await (refreshing ??= refresh().finally(() => (refreshing = null)));
      else await refresh();
      return send(document, variables);
    },
  };
}

describe("refresh and retry, as Apollo Client and urql do it", () => {
  for (const singleFlight of [true, false]) {
    it(`recovers from an expired access token ${singleFlight ? "with one refresh for all waiting operations (urql)" : "with a refresh per failed operation (Apollo's onError recipe)"}`, async () => {
      const user = await api.signUp({ handle: `retry_${singleFlight ? "urql" : "apollo"}` });
      await api.execute("mutation { createPost(input: { body: \"hello\" }) { __typename } }", {}, { as: user });
      const client = authClient({ token: await expiredToken(user), refreshToken: user.refreshToken }, { singleFlight });

      // A screen loads two queries at once, both with the expired token.
      const [home, me] = await Promise.all([client.query(Home), client.query(Me)]);
      expect(home.errors).toBeUndefined();
      expect(home.data).toEqual({ homeTimeline: { edges: [{ node: { body: "hello" } }] } });
      expect(me.data).toEqual({ viewer: { handle: user.handle, email: user.email } });

      // The session survived: its tokens keep working, and it was not revoked as a replay.
      const session = await api.db.session.findUniqueOrThrow({ where: { id: decodeJwt(user.token).sid as string } });
      expect(session.revokedAt).toBeNull();
      expect((await client.query(Me)).data).toEqual({ viewer: { handle: user.handle, email: user.email } });
      const next = await api.execute(Refresh, { refreshToken: client.tokens.refreshToken });
      expect(next.data?.refreshSession.__typename).toBe("AuthPayload");
    });
  }

  it("still revokes the session when a used refresh token comes back after the reuse interval", async () => {
    const user = await api.signUp({ handle: "retry_late_replay" });
    const first = await api.execute(Refresh, { refreshToken: user.refreshToken });
    expect(first.data?.refreshSession.__typename).toBe("AuthPayload");
    // Within the interval, the same token refreshes again (two requests that failed together).
    const twin = await api.execute(Refresh, { refreshToken: user.refreshToken });
    expect(twin.data?.refreshSession.__typename).toBe("AuthPayload");
    await api.db.$executeRaw`UPDATE refresh_tokens SET used_at = used_at - interval '31 seconds' WHERE used_at IS NOT NULL
      AND session_id = ${decodeJwt(user.token).sid as string}::uuid`;
    const late = await api.execute(Refresh, { refreshToken: user.refreshToken });
    expect(late.data?.refreshSession).toMatchObject({ __typename: "AuthenticationError", code: "UNAUTHENTICATED" });
    const session = await api.db.session.findUniqueOrThrow({ where: { id: decodeJwt(user.token).sid as string } });
    expect(session.revokedAt).toBeInstanceOf(Date);
  });
});
