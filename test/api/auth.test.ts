import { SignJWT, decodeJwt } from "jose";
import { sha256 } from "../../src/modules/auth/credentials.js";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { graphql } from "../gql/index.js";
import { type As, DEFAULT_PASSWORD, type Result, type TestApi, type TestUser, globalId, testApi, testConfig, topLevelError } from "../support/api.js";

const SignUp = graphql(`
  mutation AuthSignUp($input: SignUpInput!) {
    signUp(input: $input) {
      __typename
      ... on AuthPayload {
        accessToken
        accessTokenExpiresAt
        refreshToken
        refreshTokenExpiresAt
        viewer { id handle displayName }
      }
      ... on ValidationError { message code fieldErrors { field message } }
    }
  }
`);
const LogIn = graphql(`
  mutation AuthLogIn($input: LogInInput!) {
    logIn(input: $input) {
      __typename
      ... on AuthPayload { accessToken refreshToken viewer { id handle } }
      ... on Error { message code }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);
const RefreshSession = graphql(`
  mutation AuthRefreshSession($input: RefreshSessionInput!) {
    refreshSession(input: $input) {
      __typename
      ... on AuthPayload { accessToken refreshToken refreshTokenExpiresAt viewer { id handle } }
      ... on Error { message code }
    }
  }
`);
const Viewer = graphql(`
  query AuthViewer {
    viewer { id handle }
  }
`);
const LogOut = graphql(`
  mutation AuthLogOut {
    logOut
  }
`);
const LogOutEverywhere = graphql(`
  mutation AuthLogOutEverywhere {
    logOutEverywhere
  }
`);
const Sessions = graphql(`
  query AuthSessions {
    viewer {
      sessions(first: 10) { edges { node { id userAgent isCurrent createdAt lastUsedAt expiresAt } } }
    }
  }
`);
const RevokeSession = graphql(`
  mutation AuthRevokeSession($input: RevokeSessionInput!) {
    revokeSession(input: $input) {
      __typename
      ... on Session { id isCurrent }
      ... on Error { message code }
    }
  }
`);
const PrivateFields = graphql(`
  query AuthPrivateFields($handle: String!) {
    user(handle: $handle) {
      handle
      email
      sessions(first: 5) { edges { node { id } } }
      apiTokens(first: 5) { edges { node { id } } }
    }
  }
`);
const CreateApiToken = graphql(`
  mutation AuthCreateApiToken($input: CreateApiTokenInput!) {
    createApiToken(input: $input) {
      __typename
      ... on CreatedApiToken {
        secret
        apiToken { id name prefix scopes createdAt lastUsedAt expiresAt revokedAt }
      }
      ... on ValidationError { message code fieldErrors { field message } }
      ... on ForbiddenError { message code }
    }
  }
`);
const ApiTokens = graphql(`
  query AuthApiTokens {
    viewer {
      apiTokens(first: 10) { edges { node { id name prefix scopes lastUsedAt revokedAt } } }
    }
  }
`);
const RevokeApiToken = graphql(`
  mutation AuthRevokeApiToken($input: RevokeApiTokenInput!) {
    revokeApiToken(input: $input) {
      __typename
      ... on ApiToken { id name revokedAt }
      ... on Error { message code }
    }
  }
`);
const CreatePost = graphql(`
  mutation AuthCreatePost($body: String!) {
    createPost(input: { body: $body }) {
      __typename
      ... on Post { body author { handle } }
    }
  }
`);
const Node = graphql(`
  query AuthNode($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on Session { isCurrent }
      ... on ApiToken { name }
    }
  }
`);

const SESSION_ENDED = "The session has ended; log in again.";
const INVALID_LOGIN = "Wrong handle, email or password.";
const MUST_LOG_IN = "You must be logged in to do this.";
const NOT_ALLOWED = "You are not allowed to do this.";
const BAD_HEADER = 'The Authorization header must be "Bearer <token>".';
const BAD_API_TOKEN = "The API token is invalid, expired or revoked.";

let api: TestApi;
beforeAll(async () => {
  api = await testApi();
});

/** Asserts that a credential is refused before anything runs: no data, one UNAUTHENTICATED error. */
async function expectRefused(as: As, message: string) {
  const result = await api.execute(Viewer, {}, { as });
  expect(result.data ?? null).toBeNull();
  expect(topLevelError(result)).toEqual({ message, code: "UNAUTHENTICATED" });
}

async function viewerHandle(as: As) {
  const result = await api.execute(Viewer, {}, { as });
  expect(result.errors).toBeUndefined();
  return result.data?.viewer?.handle ?? null;
}

async function logIn(login: string, password = DEFAULT_PASSWORD, headers?: Record<string, string>) {
  const { data, errors } = await api.execute(LogIn, { input: { login, password } }, { headers });
  expect(errors).toBeUndefined();
  return data!.logIn;
}

/** Logs in and returns the session's credentials; fails the test unless it worked. */
async function newSession(user: TestUser, headers?: Record<string, string>) {
  const payload = await logIn(user.handle, user.password, headers);
  if (payload.__typename !== "AuthPayload") throw new Error(`logIn failed: ${JSON.stringify(payload)}`);
  return { token: payload.accessToken, refreshToken: payload.refreshToken, sessionId: decodeJwt(payload.accessToken).sid as string };
}

async function refresh(refreshToken: string) {
  const { data, errors } = await api.execute(RefreshSession, { input: { refreshToken } });
  expect(errors).toBeUndefined();
  return data!.refreshSession;
}

async function createApiToken(as: As, input: { name: string; scopes: ("READ" | "WRITE")[]; expiresAt?: string }) {
  const { data, errors } = await api.execute(CreateApiToken, { input }, { as });
  expect(errors).toBeUndefined();
  const created = data!.createApiToken;
  if (created.__typename !== "CreatedApiToken") throw new Error(`createApiToken failed: ${JSON.stringify(created)}`);
  return created;
}

const sessionIdOf = (user: { token: string }) => decodeJwt(user.token).sid as string;
/** Moves a used refresh token's use out of the reuse interval, as if it were replayed later. */
const usedLongAgo = (refreshToken: string) =>
  api.db.refreshToken.update({ where: { tokenHash: sha256(refreshToken) }, data: { usedAt: new Date(Date.now() - 3_600_000) } });
const sessionRow = (id: string) => api.db.session.findUniqueOrThrow({ where: { id } });

describe("signUp", () => {
  it("creates the account and returns tokens that work", async () => {
    const before = Date.now();
    const { data, errors } = await api.execute(
      SignUp,
      { input: { handle: "  New_Bird  ", email: "  New.Bird@Example.COM ", password: "ten chars!" } },
      { headers: { "user-agent": "chirp-tests/1.0" } },
    );
    expect(errors).toBeUndefined();
    const payload = data!.signUp;
    if (payload.__typename !== "AuthPayload") throw new Error(JSON.stringify(payload));

    const user = await api.db.user.findUniqueOrThrow({ where: { handleKey: "new_bird" } });
    expect(user).toMatchObject({ handle: "New_Bird", email: "new.bird@example.com", displayName: "New_Bird", role: "USER", suspendedAt: null });
    expect(payload.viewer).toEqual({ id: globalId("User", user.id), handle: "New_Bird", displayName: "New_Bird" });

    // The access token is a JWT for this user and the new session, living 15 minutes.
    const claims = decodeJwt(payload.accessToken);
    expect(claims).toMatchObject({ sub: String(user.id), iss: "chirp", aud: "chirp-api" });
    expect(claims.exp! - claims.iat!).toBeGreaterThanOrEqual(899);
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(900);
    expect(new Date(payload.accessTokenExpiresAt).getTime()).toBeGreaterThanOrEqual(before + 899_000);
    expect(new Date(payload.accessTokenExpiresAt).getTime()).toBeLessThanOrEqual(Date.now() + 900_000);
    expect(payload.refreshToken).toMatch(/^chirp_rt_[\w-]{43}$/);
    expect(new Date(payload.refreshTokenExpiresAt).getTime()).toBeGreaterThanOrEqual(before + 30 * 86_400_000 - 1000);

    const session = await sessionRow(claims.sid as string);
    expect(session).toMatchObject({ userId: user.id, userAgent: "chirp-tests/1.0", revokedAt: null });

    expect(await viewerHandle({ token: payload.accessToken })).toBe("New_Bird");
    const refreshed = await refresh(payload.refreshToken);
    expect(refreshed).toMatchObject({ __typename: "AuthPayload", viewer: { handle: "New_Bird" } });
  });

  it("takes the display name when given one", async () => {
    const { data } = await api.execute(SignUp, {
      input: { handle: "named_bird", email: "named@example.com", password: DEFAULT_PASSWORD, displayName: "  Named Bird " },
    });
    expect(data?.signUp).toMatchObject({ __typename: "AuthPayload", viewer: { handle: "named_bird", displayName: "Named Bird" } });
  });

  it("stores the password as an argon2id hash, never the password", async () => {
    await api.signUp({ handle: "hash_check", password: "my secret passphrase" });
    const rows = await api.db.$queryRaw<{ password_hash: string }[]>`SELECT password_hash FROM users WHERE handle_key = 'hash_check'`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(rows[0]!.password_hash).not.toContain("my secret passphrase");
  });

  it("stores refresh tokens hashed, never the token", async () => {
    const user = await api.signUp({ handle: "rt_hashed" });
    const rows = await api.db.$queryRaw<Record<string, unknown>[]>`
      SELECT r.* FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE s.user_id = ${user.dbId}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    const everything = JSON.stringify(await api.db.$queryRaw`SELECT * FROM refresh_tokens`);
    expect(everything).not.toContain(user.refreshToken);
    expect(everything).not.toContain(user.refreshToken.slice("chirp_rt_".length));
  });

  it("accepts a handle of 3 and of 20 characters and a password of exactly 10", async () => {
    for (const handle of ["a_1", "A".repeat(10) + "_".repeat(5) + "12345"]) {
      const { data } = await api.execute(SignUp, { input: { handle, email: `${handle}@example.com`, password: "0123456789" } });
      expect(data?.signUp).toMatchObject({ __typename: "AuthPayload", viewer: { handle } });
    }
  });

  const invalid: [string, { handle?: string; email?: string; password?: string }, { field: string; message: string }][] = [
    ["a handle under 3 characters", { handle: "ab" }, { field: "handle", message: "At least 3 characters" }],
    ["a handle that is only short after trimming", { handle: "  ab  " }, { field: "handle", message: "At least 3 characters" }],
    ["a handle over 20 characters", { handle: "a".repeat(21) }, { field: "handle", message: "At most 20 characters" }],
    ["a handle with a dash", { handle: "bad-handle" }, { field: "handle", message: "Only letters, digits and underscores" }],
    ["a handle with a space inside", { handle: "bad handle" }, { field: "handle", message: "Only letters, digits and underscores" }],
    ["a handle with an accented letter", { handle: "héllo" }, { field: "handle", message: "Only letters, digits and underscores" }],
    ["a reserved handle", { handle: "admin" }, { field: "handle", message: "This handle is reserved" }],
    ["a reserved handle in another case", { handle: "GraphQL" }, { field: "handle", message: "This handle is reserved" }],
    ["an email without @", { email: "not-an-email" }, { field: "email", message: "Enter a valid email address" }],
    ["an email without a domain", { email: "someone@" }, { field: "email", message: "Enter a valid email address" }],
    ["a password of 9 characters", { password: "123456789" }, { field: "password", message: "At least 10 characters" }],
    ["a password over 256 characters", { password: "x".repeat(257) }, { field: "password", message: "At most 256 characters" }],
  ];
  it.each(invalid)("rejects %s with a ValidationError on that field", async (_, override, fieldError) => {
    const usersBefore = await api.db.user.count();
    const input = { handle: "valid_handle", email: "valid@example.com", password: DEFAULT_PASSWORD, ...override };
    const { data, errors } = await api.execute(SignUp, { input });
    expect(errors).toBeUndefined();
    expect(data?.signUp).toEqual({
      __typename: "ValidationError",
      code: "BAD_USER_INPUT",
      message: `${fieldError.field}: ${fieldError.message}`,
      fieldErrors: [fieldError],
    });
    expect(await api.db.user.count()).toBe(usersBefore);
  });

  it("rejects a taken handle in any case and a taken email in any case", async () => {
    await api.signUp({ handle: "Taken_One", email: "taken.one@example.com" });
    const usersBefore = await api.db.user.count();

    const handle = await api.execute(SignUp, { input: { handle: "tAKEN_oNE", email: "other@example.com", password: DEFAULT_PASSWORD } });
    expect(handle.data?.signUp).toEqual({
      __typename: "ValidationError",
      code: "BAD_USER_INPUT",
      message: "handle: This handle is taken",
      fieldErrors: [{ field: "handle", message: "This handle is taken" }],
    });

    const email = await api.execute(SignUp, { input: { handle: "fresh_one", email: "TAKEN.One@Example.com", password: DEFAULT_PASSWORD } });
    expect(email.data?.signUp).toEqual({
      __typename: "ValidationError",
      code: "BAD_USER_INPUT",
      message: "email: An account with this email exists",
      fieldErrors: [{ field: "email", message: "An account with this email exists" }],
    });

    const both = await api.execute(SignUp, { input: { handle: "TAKEN_ONE", email: "taken.one@example.com", password: DEFAULT_PASSWORD } });
    expect(both.data?.signUp).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [
        { field: "handle", message: "This handle is taken" },
        { field: "email", message: "An account with this email exists" },
      ],
    });
    expect(await api.db.user.count()).toBe(usersBefore);
  });

  it("reports every invalid field at once", async () => {
    const { data } = await api.execute(SignUp, { input: { handle: "a!", email: "nope", password: "short" } });
    expect(data?.signUp).toEqual({
      __typename: "ValidationError",
      code: "BAD_USER_INPUT",
      message: "handle: At least 3 characters; handle: Only letters, digits and underscores; email: Enter a valid email address; password: At least 10 characters",
      fieldErrors: [
        { field: "handle", message: "At least 3 characters" },
        { field: "handle", message: "Only letters, digits and underscores" },
        { field: "email", message: "Enter a valid email address" },
        { field: "password", message: "At least 10 characters" },
      ],
    });
  });
});

describe("logIn", () => {
  let robin: TestUser;
  beforeAll(async () => {
    robin = await api.signUp({ handle: "Robin_Bird", email: "robin@example.com", password: "robin's long password" });
  });

  it.each(["Robin_Bird", "robin_bird", "ROBIN_BIRD", "  robin_BIRD  "])("logs in by handle %j in any case", async (login) => {
    const payload = await logIn(login, robin.password);
    expect(payload).toMatchObject({ __typename: "AuthPayload", viewer: { id: robin.id, handle: "Robin_Bird" } });
    if (payload.__typename !== "AuthPayload") return;
    expect(await viewerHandle({ token: payload.accessToken })).toBe("Robin_Bird");
  });

  it.each(["robin@example.com", "Robin@Example.COM"])("logs in by email %j", async (login) => {
    const payload = await logIn(login, robin.password);
    expect(payload).toMatchObject({ __typename: "AuthPayload", viewer: { id: robin.id, handle: "Robin_Bird" } });
  });

  it("starts a new session on every log-in, recording the user agent", async () => {
    const sessionsBefore = await api.db.session.count({ where: { userId: robin.dbId } });
    const session = await newSession(robin, { "user-agent": "RobinPhone/2" });
    expect(await api.db.session.count({ where: { userId: robin.dbId } })).toBe(sessionsBefore + 1);
    expect(await sessionRow(session.sessionId)).toMatchObject({ userId: robin.dbId, userAgent: "RobinPhone/2", revokedAt: null });
  });

  it("gives the same answer for a wrong password, an unknown handle and an unknown email", async () => {
    const expected = { __typename: "AuthenticationError", message: INVALID_LOGIN, code: "UNAUTHENTICATED" };
    expect(await logIn("Robin_Bird", "not robin's password")).toEqual(expected);
    expect(await logIn("robin@example.com", "not robin's password")).toEqual(expected);
    expect(await logIn("nobody_here", "not robin's password")).toEqual(expected);
    expect(await logIn("nobody@example.com", "not robin's password")).toEqual(expected);
    // A near miss in the password's case is wrong too.
    expect(await logIn("Robin_Bird", robin.password.toUpperCase())).toEqual(expected);
  });

  it("requires both fields", async () => {
    expect(await logIn("   ", "")).toEqual({
      __typename: "ValidationError",
      message: "login: Enter your handle or email; password: Enter your password",
      code: "BAD_USER_INPUT",
      fieldErrors: [
        { field: "login", message: "Enter your handle or email" },
        { field: "password", message: "Enter your password" },
      ],
    });
  });

  it("refuses a suspended user with the right password, and gives a wrong password the usual answer", async () => {
    const suspended = await api.signUp({ handle: "suspended_login", suspended: true });
    const sessionsBefore = await api.db.session.count({ where: { userId: suspended.dbId } });
    expect(await logIn("suspended_login", suspended.password)).toEqual({
      __typename: "ForbiddenError",
      message: "This account is suspended.",
      code: "FORBIDDEN",
    });
    expect(await logIn("suspended_login", "wrong password!")).toEqual({
      __typename: "AuthenticationError",
      message: INVALID_LOGIN,
      code: "UNAUTHENTICATED",
    });
    expect(await api.db.session.count({ where: { userId: suspended.dbId } })).toBe(sessionsBefore);
  });
});

describe("refreshSession", () => {
  it("refuses a suspended account without using up the refresh token", async () => {
    const user = await api.signUp({ handle: "paused" });
    await api.db.user.update({ where: { id: user.dbId }, data: { suspendedAt: new Date() } });
    expect(await refresh(user.refreshToken)).toMatchObject({ __typename: "ForbiddenError", message: "This account is suspended." });
    await api.db.user.update({ where: { id: user.dbId }, data: { suspendedAt: null } });
    expect((await refresh(user.refreshToken)).__typename).toBe("AuthPayload");
  });

  it("rotates the pair: the new access token works and the old refresh token does not", async () => {
    const user = await api.signUp({ handle: "rotator" });
    const sessionId = sessionIdOf(user);
    const expiresAt = (await sessionRow(sessionId)).expiresAt;

    const refreshed = await refresh(user.refreshToken);
    if (refreshed.__typename !== "AuthPayload") throw new Error(JSON.stringify(refreshed));
    expect(refreshed.viewer).toEqual({ id: user.id, handle: "rotator" });
    expect(refreshed.refreshToken).toMatch(/^chirp_rt_/);
    expect(refreshed.refreshToken).not.toBe(user.refreshToken);
    // Same session: the refresh token lives as long as the session, not 30 days from now.
    expect(decodeJwt(refreshed.accessToken).sid).toBe(sessionId);
    expect(refreshed.refreshTokenExpiresAt).toBe(expiresAt.toISOString());

    expect(await viewerHandle({ token: refreshed.accessToken })).toBe("rotator");
    const tokens = await api.db.refreshToken.findMany({ where: { sessionId }, orderBy: { createdAt: "asc" } });
    expect(tokens).toHaveLength(2);
    expect(tokens.filter((t) => t.usedAt === null)).toHaveLength(1);

    await usedLongAgo(user.refreshToken);
    const replayed = await refresh(user.refreshToken);
    expect(replayed).toEqual({
      __typename: "AuthenticationError",
      message: "This refresh token was already used; the session has been revoked. Log in again.",
      code: "UNAUTHENTICATED",
    });
  });

  it("revokes the whole session when a used refresh token is replayed", async () => {
    const user = await api.signUp({ handle: "replayed" });
    const other = await newSession(user);
    const first = await refresh(user.refreshToken);
    if (first.__typename !== "AuthPayload") throw new Error(JSON.stringify(first));
    const second = await refresh(first.refreshToken);
    if (second.__typename !== "AuthPayload") throw new Error(JSON.stringify(second));
    expect(await viewerHandle({ token: second.accessToken })).toBe("replayed");

    // An attacker replays the first, already used, refresh token, later.
    await usedLongAgo(first.refreshToken);
    expect(await refresh(first.refreshToken)).toMatchObject({ __typename: "AuthenticationError", code: "UNAUTHENTICATED" });

    expect((await sessionRow(sessionIdOf(user))).revokedAt).toBeInstanceOf(Date);
    await expectRefused({ token: second.accessToken }, SESSION_ENDED);
    await expectRefused({ token: user.token }, SESSION_ENDED);
    expect(await refresh(second.refreshToken)).toEqual({ __typename: "AuthenticationError", message: SESSION_ENDED, code: "UNAUTHENTICATED" });
    // The user's other session is untouched.
    expect(await viewerHandle({ token: other.token })).toBe("replayed");
    expect((await sessionRow(other.sessionId)).revokedAt).toBeNull();
  });

  it("refuses an unknown refresh token", async () => {
    expect(await refresh("chirp_rt_this-token-was-never-issued")).toEqual({
      __typename: "AuthenticationError",
      message: "The refresh token is invalid.",
      code: "UNAUTHENTICATED",
    });
  });

  it("refuses the refresh token of an expired session", async () => {
    const user = await api.signUp({ handle: "expired_session" });
    await api.db.session.update({ where: { id: sessionIdOf(user) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await refresh(user.refreshToken)).toEqual({ __typename: "AuthenticationError", message: SESSION_ENDED, code: "UNAUTHENTICATED" });
  });

  it("refuses a suspended user", async () => {
    const user = await api.signUp({ handle: "suspended_refresh", suspended: true });
    expect(await refresh(user.refreshToken)).toEqual({
      __typename: "ForbiddenError",
      message: "This account is suspended.",
      code: "FORBIDDEN",
    });
  });
});

describe("access tokens", () => {
  const sign = (claims: { sub: string; sid: string }, options: { exp: number; secret?: string; issuer?: string }) =>
    new SignJWT({ sid: claims.sid })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(claims.sub)
      .setIssuer(options.issuer ?? testConfig.jwt.issuer)
      .setAudience(testConfig.jwt.audience)
      .setIssuedAt(options.exp - 900)
      .setExpirationTime(options.exp)
      .sign(options.secret ? new TextEncoder().encode(options.secret) : testConfig.jwt.secret);

  it("says when an access token has expired", async () => {
    const user = await api.signUp({ handle: "expired_access" });
    const claims = { sub: String(user.dbId), sid: sessionIdOf(user) };
    const now = Math.floor(Date.now() / 1000);
    // The same claims, still valid, pass: only the expiry differs.
    expect(await viewerHandle({ token: await sign(claims, { exp: now + 60 }) })).toBe("expired_access");
    await expectRefused({ token: await sign(claims, { exp: now - 5 }) }, "The access token has expired; refresh the session.");
  });

  it("refuses a token it accepted before once it expires (verified tokens are remembered, their expiry is not)", async () => {
    const user = await api.signUp({ handle: "expiring_access" });
    const token = await sign({ sub: String(user.dbId), sid: sessionIdOf(user) }, { exp: Math.floor(Date.now() / 1000) + 2 });
    expect(await viewerHandle({ token })).toBe("expiring_access");
    expect(await viewerHandle({ token })).toBe("expiring_access");
    vi.useFakeTimers({ now: Date.now() + 3_000, toFake: ["Date"] });
    try {
      await expectRefused({ token }, "The access token has expired; refresh the session.");
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuses a validly signed token whose subject is not its session's user, either way round", async () => {
    const alice = await api.signUp({ handle: "sub_alice" });
    const bob = await api.signUp({ handle: "sub_bob" });
    const exp = Math.floor(Date.now() / 1000) + 600;
    // The right pairs pass, so only the mismatch differs.
    expect(await viewerHandle({ token: await sign({ sub: String(alice.dbId), sid: sessionIdOf(alice) }, { exp }) })).toBe("sub_alice");
    await expectRefused({ token: await sign({ sub: String(bob.dbId), sid: sessionIdOf(alice) }, { exp }) }, "The access token is invalid.");
    await expectRefused({ token: await sign({ sub: String(alice.dbId), sid: sessionIdOf(bob) }, { exp }) }, "The access token is invalid.");
  });

  it.each([
    ["a session id that is not a UUID", { sub: "1", sid: "not-a-uuid" }],
    ["a session id with SQL in it", { sub: "1", sid: "' OR 1=1 --" }],
    ["a subject that is not a number", { sub: "alice", sid: "00000000-0000-7000-8000-000000000000" }],
    ["a subject beyond the id range", { sub: "99999999999", sid: "00000000-0000-7000-8000-000000000000" }],
  ])("refuses a validly signed token with %s as UNAUTHENTICATED, not a server error", async (_, claims) => {
    await expectRefused({ token: await sign(claims, { exp: Math.floor(Date.now() / 1000) + 600 }) }, "The access token is malformed.");
  });

  it("refuses the access token of a session that has expired, for reads and writes", async () => {
    const user = await api.signUp({ handle: "session_past" });
    expect(await viewerHandle(user)).toBe("session_past");
    await api.db.session.update({ where: { id: sessionIdOf(user) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await expectRefused(user, SESSION_ENDED);
    const post = await api.execute(CreatePost, { body: "after the end" }, { as: user });
    expect(post.data ?? null).toBeNull();
    expect(topLevelError(post)).toEqual({ message: SESSION_ENDED, code: "UNAUTHENTICATED" });
    expect(await api.db.post.count({ where: { authorId: user.dbId } })).toBe(0);
  });

  it("refuses a token signed with another key, from another issuer, or that is not a JWT", async () => {
    const user = await api.signUp({ handle: "forged_access" });
    const claims = { sub: String(user.dbId), sid: sessionIdOf(user) };
    const exp = Math.floor(Date.now() / 1000) + 600;
    await expectRefused({ token: await sign(claims, { exp, secret: "another-secret-that-is-32-chars-long!!" }) }, "The access token is invalid.");
    await expectRefused({ token: await sign(claims, { exp, issuer: "evil" }) }, "The access token is invalid.");
    await expectRefused({ token: "garbage" }, "The access token is invalid.");
    await expectRefused({ token: user.token.slice(0, -2) }, "The access token is invalid.");
  });

  it.each([["Basic dXNlcjpwYXNz"], ["Bearer"], ["Bearer "], ["Bearer two tokens"], ["Token abc"], ["abc"]])(
    "refuses the malformed Authorization header %j",
    async (authorization) => {
      const result = await api.execute(Viewer, {}, { headers: { authorization } });
      expect(result.data ?? null).toBeNull();
      expect(topLevelError(result)).toEqual({ message: BAD_HEADER, code: "UNAUTHENTICATED" });
    },
  );

  it("accepts the scheme in any case", async () => {
    const user = await api.signUp({ handle: "scheme_case" });
    const result = await api.execute(Viewer, {}, { headers: { authorization: `bearer ${user.token}` } });
    expect(result).toEqual({ status: 200, data: { viewer: { id: user.id, handle: "scheme_case" } } });
  });

  it("treats no Authorization header as anonymous", async () => {
    expect(await api.execute(Viewer, {})).toEqual({ status: 200, data: { viewer: null } });
  });
});

describe("logOut", () => {
  it("ends the current session only", async () => {
    const user = await api.signUp({ handle: "leaver" });
    const other = await newSession(user);
    const result = await api.execute(LogOut, {}, { as: user });
    expect(result).toEqual({ status: 200, data: { logOut: true } });

    expect((await sessionRow(sessionIdOf(user))).revokedAt).toBeInstanceOf(Date);
    await expectRefused(user, SESSION_ENDED);
    const afterLogOut = await api.execute(LogOut, {}, { as: user });
    expect(afterLogOut.data ?? null).toBeNull();
    expect(topLevelError(afterLogOut)).toEqual({ message: SESSION_ENDED, code: "UNAUTHENTICATED" });
    expect(await refresh(user.refreshToken)).toEqual({ __typename: "AuthenticationError", message: SESSION_ENDED, code: "UNAUTHENTICATED" });

    expect(await viewerHandle(other)).toBe("leaver");
  });

  it("needs a session: anonymous is UNAUTHENTICATED, an API token is FORBIDDEN", async () => {
    const anonymous = await api.execute(LogOut, {});
    expect(anonymous.data).toBeNull();
    expect(topLevelError(anonymous)).toEqual({ message: MUST_LOG_IN, code: "UNAUTHENTICATED" });

    const user = await api.signUp({ handle: "token_leaver" });
    const { secret } = await createApiToken(user, { name: "script", scopes: ["READ", "WRITE"] });
    const withToken = await api.execute(LogOut, {}, { as: { token: secret } });
    expect(withToken.data).toBeNull();
    expect(topLevelError(withToken)).toEqual({ message: "An API token has no session to end; revoke the token instead.", code: "FORBIDDEN" });
    expect(await viewerHandle(user)).toBe("token_leaver");
  });
});

describe("logOutEverywhere", () => {
  it("ends every active session, returns how many, and leaves API tokens working", async () => {
    const user = await api.signUp({ handle: "everywhere" });
    const bystander = await api.signUp({ handle: "bystander" });
    const second = await newSession(user);
    const third = await newSession(user);
    expect(await api.execute(LogOut, {}, { as: second })).toMatchObject({ data: { logOut: true } });
    const { secret } = await createApiToken(user, { name: "cron", scopes: ["READ"] });

    const result = await api.execute(LogOutEverywhere, {}, { as: third });
    // The sign-up session and the third; the second had already ended.
    expect(result).toEqual({ status: 200, data: { logOutEverywhere: 2 } });

    expect(await api.db.session.count({ where: { userId: user.dbId, revokedAt: null } })).toBe(0);
    await expectRefused(user, SESSION_ENDED);
    await expectRefused(third, SESSION_ENDED);
    expect(await refresh(third.refreshToken)).toMatchObject({ __typename: "AuthenticationError", message: SESSION_ENDED });
    expect(await viewerHandle({ token: secret })).toBe("everywhere");
    expect(await viewerHandle(bystander)).toBe("bystander");
  });

  it("is refused to anonymous callers and to read-only API tokens", async () => {
    const anonymous = await api.execute(LogOutEverywhere, {});
    expect(anonymous.data).toBeNull();
    expect(topLevelError(anonymous)).toEqual({ message: MUST_LOG_IN, code: "UNAUTHENTICATED" });

    const user = await api.signUp({ handle: "ro_everywhere" });
    const { secret } = await createApiToken(user, { name: "dashboard", scopes: ["READ"] });
    const readOnly = await api.execute(LogOutEverywhere, {}, { as: { token: secret } });
    expect(readOnly.data).toBeNull();
    expect(topLevelError(readOnly)).toEqual({ message: NOT_ALLOWED, code: "FORBIDDEN" });
    expect(await viewerHandle(user)).toBe("ro_everywhere");
  });
});

describe("sessions", () => {
  it("lists the viewer's active sessions, newest first, marking the current one", async () => {
    const user = await api.signUp({ handle: "session_lister" });
    const phone = await newSession(user, { "user-agent": "Phone" });
    const laptop = await newSession(user, { "user-agent": "Laptop" });
    const gone = await newSession(user, { "user-agent": "Gone" });
    await api.execute(LogOut, {}, { as: gone });

    const { data, errors } = await api.execute(Sessions, {}, { as: phone });
    expect(errors).toBeUndefined();
    const nodes = data!.viewer!.sessions!.edges.map((e) => e.node);
    expect(nodes.map((n) => ({ id: n.id, userAgent: n.userAgent, isCurrent: n.isCurrent }))).toEqual([
      { id: globalId("Session", laptop.sessionId), userAgent: "Laptop", isCurrent: false },
      { id: globalId("Session", phone.sessionId), userAgent: "Phone", isCurrent: true },
      { id: globalId("Session", sessionIdOf(user)), userAgent: null, isCurrent: false },
    ]);
    const phoneRow = await sessionRow(phone.sessionId);
    expect(nodes[1]).toMatchObject({ createdAt: phoneRow.createdAt.toISOString(), expiresAt: phoneRow.expiresAt.toISOString() });
  });

  it("revokes one of the viewer's own sessions", async () => {
    const user = await api.signUp({ handle: "revoker" });
    const lost = await newSession(user, { "user-agent": "Lost phone" });
    const result = await api.execute(RevokeSession, { input: { sessionId: globalId("Session", lost.sessionId) } }, { as: user });
    expect(result).toEqual({
      status: 200,
      data: { revokeSession: { __typename: "Session", id: globalId("Session", lost.sessionId), isCurrent: false } },
    });
    const revokedAt = (await sessionRow(lost.sessionId)).revokedAt;
    expect(revokedAt).toBeInstanceOf(Date);
    await expectRefused(lost, SESSION_ENDED);
    expect(await refresh(lost.refreshToken)).toMatchObject({ __typename: "AuthenticationError", message: SESSION_ENDED });
    expect(await viewerHandle(user)).toBe("revoker");

    // Revoking it again changes nothing.
    const again = await api.execute(RevokeSession, { input: { sessionId: globalId("Session", lost.sessionId) } }, { as: user });
    expect(again.data?.revokeSession).toMatchObject({ __typename: "Session" });
    expect((await sessionRow(lost.sessionId)).revokedAt).toEqual(revokedAt);

    const listed = await api.execute(Sessions, {}, { as: user });
    expect(listed.data!.viewer!.sessions!.edges.map((e) => e.node.id)).toEqual([globalId("Session", sessionIdOf(user))]);
  });

  it("does not find another user's session, nor an unknown one", async () => {
    const owner = await api.signUp({ handle: "session_owner" });
    const intruder = await api.signUp({ handle: "session_intruder" });
    for (const id of [sessionIdOf(owner), "00000000-0000-4000-8000-000000000000"]) {
      const result = await api.execute(RevokeSession, { input: { sessionId: globalId("Session", id) } }, { as: intruder });
      expect(result).toEqual({
        status: 200,
        data: { revokeSession: { __typename: "NotFoundError", message: "Session not found", code: "NOT_FOUND" } },
      });
    }
    expect((await sessionRow(sessionIdOf(owner))).revokedAt).toBeNull();
    expect(await viewerHandle(owner)).toBe("session_owner");
  });

  it("cannot be revoked with a read-only API token or anonymously", async () => {
    const user = await api.signUp({ handle: "ro_revoker" });
    const other = await newSession(user);
    const { secret } = await createApiToken(user, { name: "read only", scopes: ["READ"] });
    const input = { sessionId: globalId("Session", other.sessionId) };

    const readOnly = await api.execute(RevokeSession, { input }, { as: { token: secret } });
    expect(readOnly.data).toBeNull();
    expect(topLevelError(readOnly)).toEqual({ message: NOT_ALLOWED, code: "FORBIDDEN" });
    const anonymous = await api.execute(RevokeSession, { input });
    expect(anonymous.data).toBeNull();
    expect(topLevelError(anonymous)).toEqual({ message: MUST_LOG_IN, code: "UNAUTHENTICATED" });

    expect((await sessionRow(other.sessionId)).revokedAt).toBeNull();
  });

  it("answers an ID of another type or a malformed one with a ValidationError on sessionId", async () => {
    const user = await api.signUp({ handle: "bad_session_id" });
    for (const [id, message] of [
      [user.id, "Not the ID of a Session"],
      [globalId("Session", "not-a-uuid"), "Not a valid ID"],
      ["not-base64!!", "Not a valid ID"],
    ]) {
      const result = await api.execute(RevokeSession, { input: { sessionId: id! } }, { as: user });
      expect(result.errors).toBeUndefined();
      expect(result.data?.revokeSession).toMatchObject({ __typename: "ValidationError", message: `sessionId: ${message}` });
    }
  });
});

describe("private fields", () => {
  let owner: TestUser;
  beforeAll(async () => {
    owner = await api.signUp({ handle: "private_owner", email: "private.owner@example.com" });
    await createApiToken(owner, { name: "owner's token", scopes: ["READ"] });
  });

  const privateErrors = (result: Result<unknown>) =>
    (result.errors ?? [])
      .map((e) => ({ path: e.path?.join("."), message: e.message, code: e.extensions?.code }))
      .sort((a, b) => a.path!.localeCompare(b.path!));

  it("shows the owner their email, sessions and API tokens", async () => {
    const result = await api.execute(PrivateFields, { handle: "private_owner" }, { as: owner });
    expect(result.errors).toBeUndefined();
    expect(result.data?.user).toMatchObject({
      handle: "private_owner",
      email: "private.owner@example.com",
      sessions: { edges: [{ node: { id: globalId("Session", sessionIdOf(owner)) } }] },
      apiTokens: { edges: [{ node: { id: expect.any(String) } }] },
    });
  });

  it("hides them from another user: null and FORBIDDEN for each", async () => {
    const stranger = await api.signUp({ handle: "private_stranger" });
    const result = await api.execute(PrivateFields, { handle: "private_owner" }, { as: stranger });
    expect(result.data?.user).toEqual({ handle: "private_owner", email: null, sessions: null, apiTokens: null });
    expect(privateErrors(result)).toEqual(
      ["user.apiTokens", "user.email", "user.sessions"].map((path) => ({ path, message: NOT_ALLOWED, code: "FORBIDDEN" })),
    );
  });

  it("hides them from an admin too", async () => {
    const admin = await api.signUp({ handle: "private_admin", role: "ADMIN" });
    const result = await api.execute(PrivateFields, { handle: "private_owner" }, { as: admin });
    expect(result.data?.user).toEqual({ handle: "private_owner", email: null, sessions: null, apiTokens: null });
    expect(privateErrors(result).map((e) => e.code)).toEqual(["FORBIDDEN", "FORBIDDEN", "FORBIDDEN"]);
  });

  it("hides them from anonymous callers: null and UNAUTHENTICATED for each", async () => {
    const result = await api.execute(PrivateFields, { handle: "private_owner" });
    expect(result.data?.user).toEqual({ handle: "private_owner", email: null, sessions: null, apiTokens: null });
    expect(privateErrors(result)).toEqual(
      ["user.apiTokens", "user.email", "user.sessions"].map((path) => ({ path, message: MUST_LOG_IN, code: "UNAUTHENTICATED" })),
    );
  });

  it("does not hand out someone else's session or API token through node(id:)", async () => {
    const stranger = await api.signUp({ handle: "node_stranger" });
    const token = await createApiToken(owner, { name: "node probe", scopes: ["READ"] });
    const sessionId = globalId("Session", sessionIdOf(owner));

    expect(await api.execute(Node, { id: sessionId }, { as: owner })).toEqual({
      status: 200,
      data: { node: { __typename: "Session", id: sessionId, isCurrent: true } },
    });
    expect(await api.execute(Node, { id: token.apiToken.id }, { as: owner })).toEqual({
      status: 200,
      data: { node: { __typename: "ApiToken", id: token.apiToken.id, name: "node probe" } },
    });
    for (const as of [stranger, null]) {
      expect(await api.execute(Node, { id: sessionId }, { as })).toEqual({ status: 200, data: { node: null } });
      expect(await api.execute(Node, { id: token.apiToken.id }, { as })).toEqual({ status: 200, data: { node: null } });
    }
  });
});

describe("API tokens", () => {
  it("are created from a signed-in session, never with another API token", async () => {
    const user = await api.signUp({ handle: "token_minter" });
    const { secret } = await createApiToken(user, { name: "expiring", scopes: ["READ", "WRITE"], expiresAt: new Date(Date.now() + 60_000).toISOString() });
    const { data } = await api.execute(CreateApiToken, { input: { name: "forever", scopes: ["READ", "WRITE"] } }, { as: { token: secret } });
    expect(data?.createApiToken).toEqual({
      __typename: "ForbiddenError",
      code: "FORBIDDEN",
      message: "API tokens are created from a signed-in session, not with another API token.",
    });
    expect(await api.db.apiToken.count({ where: { userId: user.dbId } })).toBe(1);
  });

  it("returns the secret once and keeps only its hash", async () => {
    const user = await api.signUp({ handle: "token_maker" });
    const created = await createApiToken(user, { name: "  deploy bot ", scopes: ["READ", "READ", "WRITE"] });
    expect(created.secret).toMatch(/^chirp_pat_[\w-]{43}$/);
    const row = await api.db.apiToken.findFirstOrThrow({ where: { userId: user.dbId } });
    expect(created.apiToken).toEqual({
      id: globalId("ApiToken", row.id),
      name: "deploy bot",
      prefix: created.secret.slice(0, "chirp_pat_".length + 4),
      scopes: ["READ", "WRITE"],
      createdAt: row.createdAt.toISOString(),
      lastUsedAt: null,
      expiresAt: null,
      revokedAt: null,
    });

    expect(row.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    const everything = JSON.stringify(await api.db.$queryRaw`SELECT * FROM api_tokens`);
    expect(everything).not.toContain(created.secret);
    expect(everything).not.toContain(created.secret.slice("chirp_pat_".length));

    const listed = await api.execute(ApiTokens, {}, { as: user });
    expect(listed.data?.viewer?.apiTokens?.edges.map((e) => e.node)).toEqual([
      { id: created.apiToken.id, name: "deploy bot", prefix: created.apiToken.prefix, scopes: ["READ", "WRITE"], lastUsedAt: null, revokedAt: null },
    ]);
  });

  it("authenticates as its user with Authorization: Bearer chirp_pat_…, and records when it was used", async () => {
    const user = await api.signUp({ handle: "token_user" });
    const { secret, apiToken } = await createApiToken(user, { name: "reader", scopes: ["READ"] });
    const before = Date.now();
    const result = await api.execute(Viewer, {}, { headers: { authorization: `Bearer ${secret}` } });
    expect(result).toEqual({ status: 200, data: { viewer: { id: user.id, handle: "token_user" } } });
    const row = await api.db.apiToken.findUniqueOrThrow({ where: { id: Number(Buffer.from(apiToken.id, "base64").toString().split(":")[1]) } });
    expect(row.lastUsedAt!.getTime()).toBeGreaterThanOrEqual(before - 1000);
  });

  it("with READ only can read but not write", async () => {
    const user = await api.signUp({ handle: "read_only" });
    const { secret } = await createApiToken(user, { name: "reader", scopes: ["READ"] });
    const token = { token: secret };
    expect(await viewerHandle(token)).toBe("read_only");

    const post = await api.execute(CreatePost, { body: "should not be posted" }, { as: token });
    expect(post.data).toBeNull();
    expect(topLevelError(post)).toEqual({ message: NOT_ALLOWED, code: "FORBIDDEN" });
    expect(await api.db.post.count({ where: { authorId: user.dbId } })).toBe(0);

    // Nor can it mint itself a token that writes.
    const minted = await api.execute(CreateApiToken, { input: { name: "escalate", scopes: ["WRITE"] } }, { as: token });
    expect(minted.data).toBeNull();
    expect(topLevelError(minted)).toEqual({ message: NOT_ALLOWED, code: "FORBIDDEN" });
    expect(await api.db.apiToken.count({ where: { userId: user.dbId } })).toBe(1);
  });

  it("with WRITE can write", async () => {
    const user = await api.signUp({ handle: "writer_token" });
    const { secret } = await createApiToken(user, { name: "writer", scopes: ["WRITE"] });
    const post = await api.execute(CreatePost, { body: "posted by a script" }, { as: { token: secret } });
    expect(post).toEqual({ status: 200, data: { createPost: { __typename: "Post", body: "posted by a script", author: { handle: "writer_token" } } } });
  });

  it("rejects invalid input: a past expiry, an empty name, no scopes", async () => {
    const user = await api.signUp({ handle: "token_invalid" });
    const past = await api.execute(CreateApiToken, { input: { name: "old", scopes: ["READ"], expiresAt: "2020-01-01T00:00:00Z" } }, { as: user });
    expect(past.data?.createApiToken).toEqual({
      __typename: "ValidationError",
      message: "expiresAt: Must be in the future",
      code: "BAD_USER_INPUT",
      fieldErrors: [{ field: "expiresAt", message: "Must be in the future" }],
    });
    const empty = await api.execute(CreateApiToken, { input: { name: "   ", scopes: [] } }, { as: user });
    expect(empty.data?.createApiToken).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [
        { field: "name", message: "Give the token a name" },
        { field: "scopes", message: "Choose at least one scope" },
      ],
    });
    const long = await api.execute(CreateApiToken, { input: { name: "x".repeat(51), scopes: ["READ"] } }, { as: user });
    expect(long.data?.createApiToken).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "name", message: "At most 50 characters" }] });
    expect(await api.db.apiToken.count({ where: { userId: user.dbId } })).toBe(0);
  });

  it("needs a writing viewer: anonymous is UNAUTHENTICATED, suspended is FORBIDDEN", async () => {
    const anonymous = await api.execute(CreateApiToken, { input: { name: "anon", scopes: ["READ"] } });
    expect(anonymous.data).toBeNull();
    expect(topLevelError(anonymous)).toEqual({ message: MUST_LOG_IN, code: "UNAUTHENTICATED" });
    const suspended = await api.signUp({ handle: "token_suspended", suspended: true });
    const result = await api.execute(CreateApiToken, { input: { name: "nope", scopes: ["READ"] } }, { as: suspended });
    expect(result.data ?? null).toBeNull();
    expect(topLevelError(result)).toEqual({ message: "This account is suspended.", code: "FORBIDDEN" });
  });

  it("takes an expiry only as a real date and time with its offset", async () => {
    const user = await api.signUp({ handle: "token_dates" });
    for (const expiresAt of ["2030-02-31T00:00:00Z", "2030-01-01T24:00:00Z", "2030-01-01T00:00:00Z\u0000", "2030-01-01T00:00:00", "tomorrow"]) {
      const result = await api.execute(CreateApiToken, { input: { name: "dated", scopes: ["READ"], expiresAt } }, { as: user });
      expect(result.errors?.map((e) => e.extensions?.code), expiresAt).toEqual(["BAD_USER_INPUT"]);
    }
    const literal = await api.execute(`mutation { createApiToken(input: { name: "dated", scopes: [READ], expiresAt: "2030-02-31T00:00:00Z" }) { __typename } }`, {}, { as: user });
    expect(literal.errors?.map((e) => e.extensions?.code)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    const offset = await createApiToken(user, { name: "dated", scopes: ["READ"], expiresAt: "2030-01-01T09:30:00.5+05:30" });
    expect(offset.apiToken.expiresAt).toBe("2030-01-01T04:00:00.500Z");
    expect(await api.db.apiToken.count({ where: { userId: user.dbId } })).toBe(1);
  });

  it("allows at most 50 active tokens", async () => {
    const user = await api.signUp({ handle: "token_hoarder" });
    await api.db.apiToken.createMany({
      data: Array.from({ length: 50 }, (_, i) => ({ userId: user.dbId, name: `t${i}`, prefix: "chirp_pat_xxxx", tokenHash: `hoard-${i}`, scopes: ["READ" as const] })),
    });
    const result = await api.execute(CreateApiToken, { input: { name: "one too many", scopes: ["READ"] } }, { as: user });
    expect(result.data?.createApiToken).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ field: "name", message: "You can have at most 50 active tokens; revoke one first." }],
    });
    await api.db.apiToken.updateMany({ where: { userId: user.dbId, name: "t0" }, data: { revokedAt: new Date() } });
    await createApiToken(user, { name: "fits again", scopes: ["READ"] });
  });

  it("works until it expires", async () => {
    const user = await api.signUp({ handle: "token_expiry" });
    const inOneHour = new Date(Date.now() + 3_600_000).toISOString();
    const { secret, apiToken } = await createApiToken(user, { name: "temporary", scopes: ["READ"], expiresAt: inOneHour });
    expect(apiToken.expiresAt).toBe(inOneHour);
    expect(await viewerHandle({ token: secret })).toBe("token_expiry");

    await api.db.apiToken.updateMany({ where: { userId: user.dbId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await expectRefused({ token: secret }, BAD_API_TOKEN);
  });

  it("refuses an unknown token", async () => {
    await expectRefused({ token: "chirp_pat_never-issued" }, BAD_API_TOKEN);
  });

  it("stops working once revoked, and leaves the list", async () => {
    const user = await api.signUp({ handle: "token_revoker" });
    const kept = await createApiToken(user, { name: "kept", scopes: ["READ"] });
    const doomed = await createApiToken(user, { name: "doomed", scopes: ["READ", "WRITE"] });
    expect(await viewerHandle({ token: doomed.secret })).toBe("token_revoker");

    const result = await api.execute(RevokeApiToken, { input: { apiTokenId: doomed.apiToken.id } }, { as: user });
    expect(result.errors).toBeUndefined();
    expect(result.data?.revokeApiToken).toMatchObject({ __typename: "ApiToken", id: doomed.apiToken.id, name: "doomed" });
    const revokedAt = result.data?.revokeApiToken.__typename === "ApiToken" ? result.data.revokeApiToken.revokedAt : null;
    expect(new Date(revokedAt!).getTime()).toBeGreaterThan(Date.now() - 60_000);

    await expectRefused({ token: doomed.secret }, BAD_API_TOKEN);
    expect(await viewerHandle({ token: kept.secret })).toBe("token_revoker");
    const listed = await api.execute(ApiTokens, {}, { as: user });
    expect(listed.data?.viewer?.apiTokens?.edges.map((e) => e.node.name)).toEqual(["kept"]);
  });

  it("does not let another user revoke a token", async () => {
    const owner = await api.signUp({ handle: "token_owner" });
    const other = await api.signUp({ handle: "token_other" });
    const { secret, apiToken } = await createApiToken(owner, { name: "mine", scopes: ["READ"] });
    for (const id of [apiToken.id, globalId("ApiToken", 999_999)]) {
      const result = await api.execute(RevokeApiToken, { input: { apiTokenId: id } }, { as: other });
      expect(result).toEqual({ status: 200, data: { revokeApiToken: { __typename: "NotFoundError", message: "API token not found", code: "NOT_FOUND" } } });
    }
    expect(await viewerHandle({ token: secret })).toBe("token_owner");
    expect(await api.db.apiToken.count({ where: { userId: owner.dbId, revokedAt: null } })).toBe(1);
  });
});

describe("API token scopes", () => {
  it("WRITE alone runs mutations and reads what they return, but no query and no private field", async () => {
    const user = await api.signUp({ handle: "write_only" });
    const { secret } = await createApiToken(user, { name: "poster", scopes: ["WRITE"] });
    const as = { token: secret };
    const query = await api.execute(Viewer, {}, { as });
    expect(query.data ?? null).toBeNull();
    expect(topLevelError(query)).toEqual({ message: "This API token has no READ scope: it can only run mutations.", code: "FORBIDDEN" });
    const post = await api.execute(CreatePost, { body: "posted by a bot" }, { as });
    expect(post.data?.createPost).toEqual({ __typename: "Post", body: "posted by a bot", author: { handle: "write_only" } });
    const email = await api.execute(`mutation { createPost(input: { body: "again" }) { ... on Post { author { email } } } }`, {}, { as });
    expect(email.data).toEqual({ createPost: { author: { email: null } } });
    expect(email.errors?.map((e) => e.extensions?.code)).toEqual(["FORBIDDEN"]);
  });

  it("READ and WRITE together read the user's private fields", async () => {
    const user = await api.signUp({ handle: "read_write" });
    const { secret } = await createApiToken(user, { name: "both", scopes: ["READ", "WRITE"] });
    const result = await api.execute(PrivateFields, { handle: "read_write" }, { as: { token: secret } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.user?.email).toBe(user.email);
  });
});

describe("kept sessions (SESSION_CACHE_MS)", () => {
  const sessionReads = (statements: string[]) => statements.filter((sql) => /FROM "sessions"/.test(sql)).length;
  const PostBody = `query($id: ID!) { post(id: $id) { isUnavailable body } }`;

  it("reads a token's session on its first request only", async () => {
    const user = await api.signUp({ handle: "kept_session" });
    const other = await newSession(user);
    expect(sessionReads((await api.executeCounted(Viewer, {}, { as: other })).statements)).toBe(1);
    const again = await api.executeCounted(Viewer, {}, { as: other });
    expect(again.data?.viewer?.handle).toBe("kept_session");
    expect(sessionReads(again.statements)).toBe(0);
  });

  it("reads it again once it is revoked, its user suspended, or a block changes what the viewer sees", async () => {
    const user = await api.signUp({ handle: "kept_revoked" });
    const lost = await newSession(user);
    expect(await viewerHandle(lost)).toBe("kept_revoked");
    await api.execute(RevokeSession, { input: { sessionId: globalId("Session", lost.sessionId) } }, { as: user });
    await expectRefused(lost, SESSION_ENDED);

    const suspended = await api.signUp({ handle: "kept_suspended" });
    expect(await viewerHandle(suspended)).toBe("kept_suspended");
    await api.db.user.update({ where: { id: suspended.dbId }, data: { suspendedAt: new Date() } });
    const refused = await api.execute(Viewer, {}, { as: suspended });
    expect(topLevelError(refused)?.code).toBe("FORBIDDEN");

    const reader = await api.signUp({ handle: "kept_reader" });
    const author = await api.signUp({ handle: "kept_author" });
    const created = await api.execute<{ createPost: { id: string } }, object>(`mutation { createPost(input: { body: "seen, then blocked" }) { ... on Post { id } } }`, {}, { as: author });
    const postId = created.data!.createPost.id;
    expect((await api.execute(PostBody, { id: postId }, { as: reader })).data).toEqual({ post: { isUnavailable: false, body: "seen, then blocked" } });
    await api.execute(`mutation($id: ID!) { block(input: { userId: $id }) { __typename } }`, { id: reader.id }, { as: author });
    expect((await api.execute(PostBody, { id: postId }, { as: reader })).data).toEqual({ post: { isUnavailable: true, body: null } });
  });
});
