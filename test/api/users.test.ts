import { beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../gql/index.js";
import { type As, type Result, type TestApi, type TestUser, globalId, testApi, topLevelError } from "../support/api.js";

const Profile = graphql(`
  query UsersProfile($handle: String!) {
    user(handle: $handle) {
      id
      handle
      displayName
      bio
      avatarUrl
      role
      isSuspended
      followerCount
      followingCount
      postCount
      viewerFollows
      followsViewer
    }
  }
`);
const Viewer = graphql(`
  query UsersViewer {
    viewer { id handle isSuspended }
  }
`);
const UpdateProfile = graphql(`
  mutation UsersUpdateProfile($input: UpdateProfileInput!) {
    updateProfile(input: $input) {
      __typename
      ... on User { id handle displayName bio avatarUrl }
      ... on ValidationError { message code fieldErrors { field message } }
    }
  }
`);
const SetSuspended = graphql(`
  mutation UsersSetSuspended($input: SetUserSuspendedInput!) {
    setUserSuspended(input: $input) {
      __typename
      ... on User { id handle isSuspended }
      ... on Error { message code }
    }
  }
`);
const Node = graphql(`
  query UsersNode($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on User { handle }
    }
  }
`);
const Nodes = graphql(`
  query UsersNodes($ids: [ID!]!) {
    nodes(ids: $ids) {
      __typename
      id
      ... on User { handle }
    }
  }
`);
const Follow = graphql(`
  mutation UsersFollow($input: FollowInput!) {
    follow(input: $input) {
      __typename
      ... on User { handle followerCount viewerFollows }
      ... on Error { message code }
    }
  }
`);
const Unfollow = graphql(`
  mutation UsersUnfollow($input: UnfollowInput!) {
    unfollow(input: $input) {
      __typename
      ... on User { handle }
      ... on Error { message code }
    }
  }
`);
const CreatePost = graphql(`
  mutation UsersCreatePost($body: String!) {
    createPost(input: { body: $body }) {
      __typename
      ... on Post { body }
    }
  }
`);
const LogIn = graphql(`
  mutation UsersLogIn($input: LogInInput!) {
    logIn(input: $input) {
      __typename
      ... on Error { message code }
    }
  }
`);
const CreateReadToken = graphql(`
  mutation UsersCreateReadToken {
    createApiToken(input: { name: "read only", scopes: [READ] }) {
      __typename
      ... on CreatedApiToken { secret }
    }
  }
`);

const MUST_LOG_IN = "You must be logged in to do this.";
const NOT_ALLOWED = "You are not allowed to do this.";
const SUSPENDED = "This account is suspended.";

let api: TestApi;
beforeAll(async () => {
  api = await testApi();
});

async function readToken(user: TestUser) {
  const { data } = await api.execute(CreateReadToken, {}, { as: user });
  if (data?.createApiToken.__typename !== "CreatedApiToken") throw new Error("createApiToken failed");
  return { token: data.createApiToken.secret };
}

const userRow = (user: TestUser) => api.db.user.findUniqueOrThrow({ where: { id: user.dbId } });

describe("user(handle:)", () => {
  let mixed: TestUser;
  beforeAll(async () => {
    mixed = await api.signUp({ handle: "Mixed_Case" });
  });

  it.each(["Mixed_Case", "mixed_case", "MIXED_CASE", "  mIxEd_cAsE "])("finds the profile by %j, showing the handle as typed at sign-up", async (handle) => {
    const result = await api.execute(Profile, { handle });
    expect(result).toEqual({
      status: 200,
      data: {
        user: {
          id: mixed.id,
          handle: "Mixed_Case",
          displayName: "Mixed_Case",
          bio: "",
          avatarUrl: null,
          role: "USER",
          isSuspended: false,
          followerCount: 0,
          followingCount: 0,
          postCount: 0,
          viewerFollows: false,
          followsViewer: false,
        },
      },
    });
  });

  it.each(["nobody_home", "Mixed_Case_", "no such!", ""])("answers null for the unknown handle %j", async (handle) => {
    expect(await api.execute(Profile, { handle }, { as: mixed })).toEqual({ status: 200, data: { user: null } });
  });
});

describe("viewer", () => {
  it("is null when anonymous", async () => {
    expect(await api.execute(Viewer, {})).toEqual({ status: 200, data: { viewer: null } });
  });

  it("is the signed-in user, including through an API token", async () => {
    const me = await api.signUp({ handle: "viewer_me" });
    const expected = { status: 200, data: { viewer: { id: me.id, handle: "viewer_me", isSuspended: false } } };
    expect(await api.execute(Viewer, {}, { as: me })).toEqual(expected);
    expect(await api.execute(Viewer, {}, { as: await readToken(me) })).toEqual(expected);
  });
});

describe("updateProfile", () => {
  it("changes only the given fields, trimmed, and returns the user", async () => {
    const user = await api.signUp({ handle: "profile_editor" });
    const result = await api.execute(
      UpdateProfile,
      { input: { displayName: "  Pat Editor ", bio: "  Writes things.  " } },
      { as: user },
    );
    expect(result).toEqual({
      status: 200,
      data: {
        updateProfile: {
          __typename: "User",
          id: user.id,
          handle: "profile_editor",
          displayName: "Pat Editor",
          bio: "Writes things.",
          avatarUrl: null,
        },
      },
    });
    expect(await userRow(user)).toMatchObject({ displayName: "Pat Editor", bio: "Writes things." });

    // Omitted fields stay as they are.
    const bioOnly = await api.execute(UpdateProfile, { input: { bio: "New bio" } }, { as: user });
    expect(bioOnly.data?.updateProfile).toMatchObject({ displayName: "Pat Editor", bio: "New bio" });

    // An empty bio clears it (avatars: test/api/media.test.ts).
    const cleared = await api.execute(UpdateProfile, { input: { bio: "" } }, { as: user });
    expect(cleared.data?.updateProfile).toMatchObject({ displayName: "Pat Editor", bio: "", avatarUrl: null });
    expect(await userRow(user)).toMatchObject({ displayName: "Pat Editor", bio: "", avatarMediaId: null });

    // Others see the change.
    const seen = await api.execute(Profile, { handle: "profile_editor" });
    expect(seen.data?.user).toMatchObject({ displayName: "Pat Editor", bio: "", avatarUrl: null });
  });

  it("accepts the longest values", async () => {
    const user = await api.signUp({ handle: "profile_limits" });
    const input = { displayName: "d".repeat(50), bio: "b".repeat(160) };
    const result = await api.execute(UpdateProfile, { input }, { as: user });
    expect(result.data?.updateProfile).toEqual({ __typename: "User", id: user.id, handle: "profile_limits", avatarUrl: null, ...input });
  });

  const invalid: [string, { displayName?: string; bio?: string; avatarMediaId?: string }, { field: string; message: string }][] = [
    ["an empty display name", { displayName: "" }, { field: "displayName", message: "Must not be empty" }],
    ["a blank display name", { displayName: "   " }, { field: "displayName", message: "Must not be empty" }],
    ["a display name of 51 characters", { displayName: "d".repeat(51) }, { field: "displayName", message: "At most 50 characters" }],
    ["a bio of 161 characters", { bio: "b".repeat(161) }, { field: "bio", message: "At most 160 characters" }],
    ["an avatar that is a post's ID", { avatarMediaId: globalId("Post", 1) }, { field: "avatarMediaId", message: "Not the ID of a Media" }],
    ["an avatar that is not an ID", { avatarMediaId: "https://example.com/a.png" }, { field: "avatarMediaId", message: "Not a valid ID" }],
  ];
  it.each(invalid)("rejects %s with a ValidationError and changes nothing", async (_, input, fieldError) => {
    const user = await api.signUp();
    const before = await userRow(user);
    const result = await api.execute(UpdateProfile, { input }, { as: user });
    expect(result).toEqual({
      status: 200,
      data: {
        updateProfile: {
          __typename: "ValidationError",
          message: `${fieldError.field}: ${fieldError.message}`,
          code: "BAD_USER_INPUT",
          fieldErrors: [fieldError],
        },
      },
    });
    expect(await userRow(user)).toEqual(before);
  });

  it("reports every invalid field at once", async () => {
    const user = await api.signUp({ handle: "profile_all_bad" });
    const result = await api.execute(UpdateProfile, { input: { displayName: "", bio: "b".repeat(161) } }, { as: user });
    expect(result.data?.updateProfile).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [
        { field: "displayName", message: "Must not be empty" },
        { field: "bio", message: "At most 160 characters" },
      ],
    });
  });

  it("is refused to anonymous callers with a top-level UNAUTHENTICATED error", async () => {
    const result = await api.execute(UpdateProfile, { input: { bio: "anonymous" } });
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toEqual([
      expect.objectContaining({ message: MUST_LOG_IN, path: ["updateProfile"], extensions: { code: "UNAUTHENTICATED" } }),
    ]);
  });

  it("is refused to a suspended user and to a read-only API token", async () => {
    const suspended = await api.signUp({ handle: "profile_suspended", suspended: true });
    const before = await userRow(suspended);
    const bySuspended = await api.execute(UpdateProfile, { input: { bio: "still here" } }, { as: suspended });
    expect(bySuspended.data ?? null).toBeNull();
    expect(topLevelError(bySuspended)).toEqual({ message: SUSPENDED, code: "FORBIDDEN" });
    expect(await userRow(suspended)).toEqual(before);

    const reader = await api.signUp({ handle: "profile_reader" });
    const byToken = await api.execute(UpdateProfile, { input: { bio: "via token" } }, { as: await readToken(reader) });
    expect(byToken.data).toBeNull();
    expect(topLevelError(byToken)).toEqual({ message: NOT_ALLOWED, code: "FORBIDDEN" });
    expect((await userRow(reader)).bio).toBe("");
  });
});

describe("setUserSuspended", () => {
  let admin: TestUser;
  beforeAll(async () => {
    admin = await api.signUp({ handle: "the_admin", role: "ADMIN" });
  });

  const suspend = (as: As, userId: string, suspended = true) => api.execute(SetSuspended, { input: { userId, suspended } }, { as });

  it("is refused to anonymous callers and to users who are not admins", async () => {
    const target = await api.signUp({ handle: "suspend_target_1" });
    const user = await api.signUp({ handle: "not_an_admin" });

    const anonymous = await suspend(null, target.id);
    expect(anonymous.data).toBeNull();
    expect(topLevelError(anonymous)).toEqual({ message: MUST_LOG_IN, code: "UNAUTHENTICATED" });

    const byUser = await suspend(user, target.id);
    expect(byUser.data).toBeNull();
    expect(topLevelError(byUser)).toEqual({ message: NOT_ALLOWED, code: "FORBIDDEN" });

    expect((await userRow(target)).suspendedAt).toBeNull();
  });

  it("is refused to a suspended admin and to an admin's read-only API token", async () => {
    const target = await api.signUp({ handle: "suspend_target_2" });
    const suspendedAdmin = await api.signUp({ handle: "suspended_admin", role: "ADMIN", suspended: true });
    const bySuspended = await suspend(suspendedAdmin, target.id);
    expect(bySuspended.data ?? null).toBeNull();
    expect(topLevelError(bySuspended)).toEqual({ message: SUSPENDED, code: "FORBIDDEN" });

    const byReadToken = await suspend(await readToken(admin), target.id);
    expect(byReadToken.data).toBeNull();
    expect(topLevelError(byReadToken)).toEqual({ message: NOT_ALLOWED, code: "FORBIDDEN" });

    expect((await userRow(target)).suspendedAt).toBeNull();
  });

  it("does not let an admin suspend themselves", async () => {
    const result = await suspend(admin, admin.id);
    expect(result).toEqual({
      status: 200,
      data: { setUserSuspended: { __typename: "ForbiddenError", message: "You cannot suspend yourself.", code: "FORBIDDEN" } },
    });
    expect((await userRow(admin)).suspendedAt).toBeNull();
  });

  it("answers NotFoundError for an unknown user", async () => {
    const result = await suspend(admin, globalId("User", 999_999));
    expect(result).toEqual({
      status: 200,
      data: { setUserSuspended: { __typename: "NotFoundError", message: "User not found", code: "NOT_FOUND" } },
    });
  });

  it("suspends every credential of the user at once, sessions and API tokens, and unsuspending restores them", async () => {
    const target = await api.signUp({ handle: "suspend_target_3" });
    const followee = await api.signUp({ handle: "suspend_followee" });
    const token = await readToken(target);
    const before = Date.now();

    const suspended = await suspend(admin, target.id);
    expect(suspended).toEqual({
      status: 200,
      data: { setUserSuspended: { __typename: "User", id: target.id, handle: "suspend_target_3", isSuspended: true } },
    });
    const suspendedAt = (await userRow(target)).suspendedAt;
    expect(suspendedAt!.getTime()).toBeGreaterThanOrEqual(before - 1000);

    // Suspending again keeps the first date.
    expect((await suspend(admin, target.id)).data?.setUserSuspended).toMatchObject({ isSuspended: true });
    expect((await userRow(target)).suspendedAt).toEqual(suspendedAt);

    // Neither the session's access token nor the API token does anything any more, reads included.
    for (const as of [target, token]) {
      for (const result of [
        await api.execute(Viewer, {}, { as }),
        await api.execute("{ viewer { sessions(first: 5) { edges { node { id } } } } }", {}, { as }),
        await api.execute("{ homeTimeline(first: 5) { edges { node { id } } } }", {}, { as }),
        await api.execute(Profile, { handle: "suspend_followee" }, { as }),
        await api.execute(CreatePost, { body: "from a suspended account" }, { as }),
        await api.execute(Follow, { input: { userId: followee.id } }, { as }),
      ]) {
        expect(result.data ?? null).toBeNull();
        expect(topLevelError(result)).toEqual({ message: SUSPENDED, code: "FORBIDDEN" });
      }
    }
    expect(await api.db.post.count({ where: { authorId: target.dbId } })).toBe(0);
    expect(await api.db.follow.count({ where: { followerId: target.dbId } })).toBe(0);
    // Others still see the profile, marked suspended.
    expect((await api.execute(Profile, { handle: "suspend_target_3" })).data?.user).toMatchObject({ isSuspended: true });

    const logIn = await api.execute(LogIn, { input: { login: target.handle, password: target.password } });
    expect(logIn.data?.logIn).toEqual({ __typename: "ForbiddenError", message: "This account is suspended.", code: "FORBIDDEN" });

    const restored = await suspend(admin, target.id, false);
    expect(restored.data?.setUserSuspended).toEqual({ __typename: "User", id: target.id, handle: "suspend_target_3", isSuspended: false });
    expect((await userRow(target)).suspendedAt).toBeNull();

    expect(await api.execute(CreatePost, { body: "back again" }, { as: target })).toEqual({
      status: 200,
      data: { createPost: { __typename: "Post", body: "back again" } },
    });
    expect(await api.execute(Follow, { input: { userId: followee.id } }, { as: target })).toEqual({
      status: 200,
      data: { follow: { __typename: "User", handle: "suspend_followee", followerCount: 1, viewerFollows: true } },
    });
    expect((await api.execute(Viewer, {}, { as: token })).data?.viewer).toMatchObject({ handle: "suspend_target_3", isSuspended: false });
    expect((await api.execute(LogIn, { input: { login: target.handle, password: target.password } })).data?.logIn).toEqual({
      __typename: "AuthPayload",
    });
  });
});

describe("node(id:) and nodes(ids:)", () => {
  let first: TestUser;
  let second: TestUser;
  beforeAll(async () => {
    first = await api.signUp({ handle: "node_first" });
    second = await api.signUp({ handle: "node_second" });
  });

  it("resolves a user by its global ID, which is opaque base64 of User:<id>", async () => {
    expect(first.id).toBe(Buffer.from(`User:${first.dbId}`).toString("base64"));
    expect(await api.execute(Node, { id: first.id })).toEqual({
      status: 200,
      data: { node: { __typename: "User", id: first.id, handle: "node_first" } },
    });
  });

  it("resolves several users in the order asked, repeats included", async () => {
    expect(await api.execute(Nodes, { ids: [second.id, first.id, second.id] }, { as: first })).toEqual({
      status: 200,
      data: {
        nodes: [
          { __typename: "User", id: second.id, handle: "node_second" },
          { __typename: "User", id: first.id, handle: "node_first" },
          { __typename: "User", id: second.id, handle: "node_second" },
        ],
      },
    });
  });

  it("answers null for a well-formed ID of a user that does not exist", async () => {
    const unknown = globalId("User", 999_999);
    expect(await api.execute(Node, { id: unknown })).toEqual({ status: 200, data: { node: null } });
    expect(await api.execute(Nodes, { ids: [first.id, unknown] })).toEqual({
      status: 200,
      data: { nodes: [{ __typename: "User", id: first.id, handle: "node_first" }, null] },
    });
  });
});

describe("malformed global IDs", () => {
  let user: TestUser;
  let admin: TestUser;
  beforeAll(async () => {
    user = await api.signUp({ handle: "malformed_user" });
    admin = await api.signUp({ handle: "malformed_admin", role: "ADMIN" });
  });

  const malformed: [string, string][] = [
    ["not base64", "not-base64!!"],
    ["empty", ""],
    ["base64 without a type", Buffer.from("12345").toString("base64")],
    ["User with a non-numeric id", globalId("User", "abc")],
    ["User with a negative id", globalId("User", "-1")],
    ["User with a trailing part", globalId("User", "1:2")],
    ["User with an id beyond Int", globalId("User", "99999999999")],
    ["an unknown type", globalId("Nope", 1)],
    ["a type that is not a node", globalId("PageInfo", 1)],
  ];

  /** One top-level BAD_USER_INPUT error and nothing masked as an unexpected error. */
  function expectBadUserInput(result: Result<unknown>) {
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.message).not.toBe("Unexpected error.");
    expect(result.errors![0]!.extensions?.code).toBe("BAD_USER_INPUT");
  }

  it.each(malformed)("node(id:) rejects %s as BAD_USER_INPUT", async (_, id) => {
    const result = await api.execute(Node, { id });
    expectBadUserInput(result);
    expect(result.data).toEqual({ node: null });
  });

  it.each(malformed)("nodes(ids:) rejects %s as BAD_USER_INPUT", async (_, id) => {
    const result = await api.execute(Nodes, { ids: [user.id, id] });
    expectBadUserInput(result);
    expect(result.data ?? null).toBeNull();
  });

  /** A mutation's typed ValidationError on `userId`. */
  function expectUserIdError(result: Result<unknown>, message: string) {
    expect(result.errors, JSON.stringify(result)).toBeUndefined();
    const payload = Object.values(result.data as Record<string, unknown>)[0];
    expect(payload).toMatchObject({ __typename: "ValidationError", code: "BAD_USER_INPUT", message: `userId: ${message}` });
  }

  it.each(malformed)("follow and unfollow answer %s with a ValidationError on userId", async (_, id) => {
    expectUserIdError(await api.execute(Follow, { input: { userId: id } }, { as: user }), "Not a valid ID");
    expectUserIdError(await api.execute(Unfollow, { input: { userId: id } }, { as: user }), "Not a valid ID");
    expect(await api.db.follow.count({ where: { followerId: user.dbId } })).toBe(0);
  });

  it.each(malformed)("setUserSuspended answers %s with a ValidationError on userId", async (_, id) => {
    expectUserIdError(await api.execute(SetSuspended, { input: { userId: id, suspended: true } }, { as: admin }), "Not a valid ID");
  });

  it("answers the ID of another type where a user is expected with a ValidationError", async () => {
    const sessionId = globalId("Session", "00000000-0000-4000-8000-000000000000");
    expectUserIdError(await api.execute(Follow, { input: { userId: sessionId } }, { as: user }), "Not the ID of a User");
  });

  it("follows a well-formed ID of an unknown user with NotFoundError, not an input error", async () => {
    const result = await api.execute(Follow, { input: { userId: globalId("User", 999_999) } }, { as: user });
    expect(result).toEqual({ status: 200, data: { follow: { __typename: "NotFoundError", message: "User not found", code: "NOT_FOUND" } } });
  });
});
