import { prismaConnectionHelpers } from "@pothos/plugin-prisma";
import { builder } from "../../builder.js";
import { keysetPage } from "../../graphql/pagination.js";
import { AuthenticationError, ForbiddenError, NotFoundError } from "../../errors.js";
import { nodeId } from "../../graphql/ids.js";
import type { Context } from "../../context.js";
import { SIGNS_IN, signedIn } from "./auth.plugin.js";
import { isPrivateTo } from "./viewer.js";
import {
  type AuthResult,
  type Client,
  createApiToken,
  logIn,
  logOut,
  logOutEverywhere,
  refreshSession,
  revokeApiToken,
  revokeSession,
  signUp,
} from "./auth.service.js";

const client = (ctx: Context): Client => ({ userAgent: ctx.userAgent, ip: ctx.clientIp, rateLimits: ctx.rateLimits });

const TokenScope = builder.enumType("TokenScope", {
  values: {
    READ: { description: "Run queries as the user, private fields (email, sessions, tokens) included." },
    WRITE: { description: "Run mutations as the user: post, like, follow… A token with WRITE alone reads only what its mutations return." },
  },
});

const AuthPayload = builder.objectRef<AuthResult>("AuthPayload").implement({
  description: "A signed-in session. Send `accessToken` as `Authorization: Bearer …`; trade `refreshToken` for a new pair with refreshSession.",
  fields: (t) => ({
    viewer: t.prismaField({
      type: "User",
      resolve: (query, auth, _args, ctx) => ctx.db.user.findUniqueOrThrow({ ...query, where: { id: auth.viewer.id } }),
    }),
    accessToken: t.exposeString("accessToken"),
    accessTokenExpiresAt: t.expose("accessTokenExpiresAt", { type: "DateTime" }),
    refreshToken: t.exposeString("refreshToken", { description: "Works once: each refresh returns a new one." }),
    refreshTokenExpiresAt: t.expose("refreshTokenExpiresAt", { type: "DateTime" }),
  }),
});

// node(id:) finds only the viewer's own sessions and tokens: anyone else's are null, like unknown ones.
const ownedBy = (ctx: Context) => ({ userId: ctx.viewer?.id ?? -1 });

const SessionId = nodeId("Session");
const ApiTokenId = nodeId("ApiToken");

export const Session = builder.prismaNode("Session", {
  id: SessionId.option,
  nullable: true,
  findUnique: (id, ctx) => ({ id: SessionId.key(id), ...ownedBy(ctx) }),
  fields: (t) => ({
    userAgent: t.exposeString("userAgent", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastUsedAt: t.expose("lastUsedAt", { type: "DateTime" }),
    expiresAt: t.expose("expiresAt", { type: "DateTime" }),
    isCurrent: t.boolean({ resolve: (session, _args, ctx) => session.id === ctx.viewer?.sessionId }),
  }),
});

export const ApiToken = builder.prismaNode("ApiToken", {
  id: ApiTokenId.option,
  nullable: true,
  findUnique: (id, ctx) => ({ id: ApiTokenId.key(id), ...ownedBy(ctx) }),
  fields: (t) => ({
    name: t.exposeString("name"),
    prefix: t.exposeString("prefix", { description: "The first characters of the secret, to tell tokens apart." }),
    scopes: t.expose("scopes", { type: [TokenScope] }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastUsedAt: t.expose("lastUsedAt", { type: "DateTime", nullable: true }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
  }),
});

const SessionConnection = builder.connectionObject({ type: Session, name: "SessionConnection" }, { name: "SessionEdge" });
const ApiTokenConnection = builder.connectionObject({ type: ApiToken, name: "ApiTokenConnection" }, { name: "ApiTokenEdge" });

// Session ids are UUIDv7 and token ids a sequence: newest first is highest id first, a keyset page.
const sessions = prismaConnectionHelpers(builder, "Session", { cursor: "id", query: { orderBy: { id: "desc" } } });
const apiTokens = prismaConnectionHelpers(builder, "ApiToken", { cursor: "id", query: { orderBy: { id: "desc" } } });

builder.prismaObjectFields("User", (t) => ({
  sessions: t.connection(
    {
      type: Session,
      description: "The user's active sessions, newest first. Only the user sees them.",
      nullable: true,
      authScopes: isPrivateTo,
      args: sessions.getArgs(),
      select: (args, ctx, nestedSelection) => ({
        sessions: keysetPage(ctx, "Session", sessions.getQuery(args, ctx, nestedSelection), "desc", { revokedAt: null, expiresAt: { gt: new Date() } }),
      }),
      resolve: (user, args, ctx) => sessions.resolve(user.sessions, args, ctx),
    },
    SessionConnection,
  ),
  apiTokens: t.connection(
    {
      type: ApiToken,
      description: "The user's personal API tokens that are not revoked, newest first. Only the user sees them.",
      nullable: true,
      authScopes: isPrivateTo,
      args: apiTokens.getArgs(),
      select: (args, ctx, nestedSelection) => ({
        apiTokens: keysetPage(ctx, "ApiToken", apiTokens.getQuery(args, ctx, nestedSelection), "desc", { revokedAt: null }),
      }),
      resolve: (user, args, ctx) => apiTokens.resolve(user.apiTokens, args, ctx),
    },
    ApiTokenConnection,
  ),
}));

const CreatedApiToken = builder.objectRef<{ apiToken: { id: number }; secret: string }>("CreatedApiToken").implement({
  fields: (t) => ({
    apiToken: t.prismaField({
      type: "ApiToken",
      resolve: (query, created, _args, ctx) => ctx.db.apiToken.findUniqueOrThrow({ ...query, where: { id: created.apiToken.id } }),
    }),
    secret: t.exposeString("secret", { description: "Shown once: Chirp keeps only a hash of it." }),
  }),
});

const SignUpInput = builder.inputType("SignUpInput", {
  fields: (t) => ({
    handle: t.string({ description: "3–20 letters, digits or underscores; unique regardless of case." }),
    email: t.string(),
    password: t.string({ description: "At least 10 characters." }),
    displayName: t.string({ required: false, description: "Defaults to the handle." }),
  }),
});
const LogInInput = builder.inputType("LogInInput", {
  fields: (t) => ({ login: t.string({ description: "Handle or email." }), password: t.string() }),
});
const RefreshSessionInput = builder.inputType("RefreshSessionInput", { fields: (t) => ({ refreshToken: t.string() }) });
const CreateApiTokenInput = builder.inputType("CreateApiTokenInput", {
  fields: (t) => ({
    name: t.string(),
    scopes: t.field({ type: [TokenScope] }),
    expiresAt: t.field({ type: "DateTime", required: false, description: "Never expires when omitted." }),
  }),
});
const RevokeApiTokenInput = builder.inputType("RevokeApiTokenInput", { fields: (t) => ({ apiTokenId: t.globalID({ for: ApiToken }) }) });
const RevokeSessionInput = builder.inputType("RevokeSessionInput", { fields: (t) => ({ sessionId: t.globalID({ for: Session }) }) });

/** The rest of the request runs as the user the mutation signed in. */
const signingIn = (ctx: Context) => (result: AuthResult) => {
  signedIn(ctx, result.viewer);
  return result;
};

builder.mutationFields((t) => ({
  signUp: t.field({
    type: AuthPayload,
    description: "Creates an account and signs in. Works whatever the Authorization header holds.",
    extensions: SIGNS_IN,
    errors: {},
    args: { input: t.arg({ type: SignUpInput }) },
    resolve: (_root, { input }, ctx) =>
      signUp(ctx.db, ctx.config, { ...input, displayName: input.displayName ?? undefined }, client(ctx)).then(signingIn(ctx)),
  }),
  logIn: t.field({
    type: AuthPayload,
    description: "Starts a session. Works whatever the Authorization header holds.",
    extensions: SIGNS_IN,
    errors: { types: [AuthenticationError, ForbiddenError] },
    args: { input: t.arg({ type: LogInInput }) },
    resolve: (_root, { input }, ctx) => logIn(ctx.db, ctx.config, input, client(ctx)).then(signingIn(ctx)),
  }),
  refreshSession: t.field({
    type: AuthPayload,
    description:
      "Trades a refresh token for a new pair. Works whatever the Authorization header holds, so a client can send its expired access token along. A refresh token works once; presented again later than REFRESH_TOKEN_REUSE_INTERVAL seconds (30) after its use, it ends the session.",
    extensions: SIGNS_IN,
    errors: { types: [AuthenticationError, ForbiddenError] },
    args: { input: t.arg({ type: RefreshSessionInput }) },
    resolve: (_root, { input }, ctx) => refreshSession(ctx.db, ctx.config, input.refreshToken).then(signingIn(ctx)),
  }),
  logOut: t.boolean({
    description: "Ends the current session.",
    authScopes: { loggedIn: true },
    resolve: (_root, _args, ctx) => logOut(ctx.db, ctx.viewer!),
  }),
  logOutEverywhere: t.int({
    description: "Ends every session of the viewer and returns how many. API tokens stay valid.",
    authScopes: { writer: true },
    resolve: (_root, _args, ctx) => logOutEverywhere(ctx.db, ctx.viewer!),
  }),
  revokeSession: t.prismaField({
    type: "Session",
    description: "Ends one of the viewer's sessions, e.g. a lost phone.",
    authScopes: { writer: true },
    errors: { types: [NotFoundError] },
    args: { input: t.arg({ type: RevokeSessionInput }) },
    resolve: (query, _root, { input }, ctx) => revokeSession(ctx.db, ctx.viewer!, SessionId.key(input.sessionId), query),
  }),
  createApiToken: t.field({
    type: CreatedApiToken,
    authScopes: { writer: true },
    errors: { types: [ForbiddenError] },
    args: { input: t.arg({ type: CreateApiTokenInput }) },
    resolve: (_root, { input }, ctx) => createApiToken(ctx.db, ctx.viewer!, input),
  }),
  revokeApiToken: t.prismaField({
    type: "ApiToken",
    authScopes: { writer: true },
    errors: { types: [NotFoundError] },
    args: { input: t.arg({ type: RevokeApiTokenInput }) },
    resolve: (query, _root, { input }, ctx) => revokeApiToken(ctx.db, ctx.viewer!, ApiTokenId.key(input.apiTokenId), query),
  }),
}));
