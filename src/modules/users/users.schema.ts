import { prismaConnectionHelpers } from "@pothos/plugin-prisma";
import type { User as UserRow } from "@prisma/client";
import { builder } from "../../builder.js";
import { ForbiddenError, NotFoundError } from "../../errors.js";
import { nodeId } from "../../graphql/ids.js";
import { keysetPage } from "../../graphql/pagination.js";
import { isPrivateTo } from "../auth/viewer.js";
import { Media, MediaId } from "../media/media.schema.js";
import { handleKey, setSuspended, updateProfile } from "./users.service.js";

export const Role = builder.enumType("Role", { values: ["USER", "ADMIN"] as const });

export const MessagePolicy = builder.enumType("MessagePolicy", {
  description: "Who may start a conversation with the user (a conversation already going on is not affected).",
  values: {
    EVERYONE: { description: "Anyone no block separates from the user." },
    FOLLOWING: { description: "People the user follows (the default, as on Twitter: strangers cannot message out of the blue)." },
    NOBODY: { description: "Nobody." },
  },
});

/** At most one row of a relation, the viewer's (an anonymous viewer selects none). */
export const viewerEdge = <W extends object>(where: W) => ({ where, take: 1, select: { id: true } }) as const;


export const UserId = nodeId("User");

export const User = builder.prismaNode("User", {
  id: UserId.option,
  // Load only the columns a query asks for: lists of authors never carry password hashes.
  select: { id: true },
  // node(id:) answers null for an unknown user and BAD_USER_INPUT for a malformed ID, never a database error.
  nullable: true,
  findUnique: (id) => ({ id: UserId.key(id) }),
  fields: (t) => ({
    handle: t.exposeString("handle"),
    displayName: t.exposeString("displayName"),
    bio: t.exposeString("bio"),
    role: t.expose("role", { type: Role }),
    isSuspended: t.boolean({ select: { suspendedAt: true }, resolve: (user) => user.suspendedAt !== null }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    messagePolicy: t.expose("messagePolicy", { type: MessagePolicy }),
    email: t.exposeString("email", { nullable: true, description: "Only the user sees their email.", authScopes: isPrivateTo }),
    followerCount: t.exposeInt("followerCount"),
    followingCount: t.exposeInt("followingCount"),
    postCount: t.exposeInt("postCount", { description: "Posts and replies, not counting reposts or deleted posts." }),
    // The viewer's edges are selected with the user, in the statement that loads it.
    viewerFollows: t.boolean({
      description: "Whether the viewer follows this user (false when anonymous).",
      select: (_args, ctx) => (ctx.viewer ? { followers: viewerEdge({ followerId: ctx.viewer.id }) } : {}),
      resolve: (user, _args, ctx) => ctx.viewer !== null && user.followers.length > 0,
    }),
    followsViewer: t.boolean({
      description: "Whether this user follows the viewer (false when anonymous).",
      select: (_args, ctx) => (ctx.viewer ? { following: viewerEdge({ followeeId: ctx.viewer.id }) } : {}),
      resolve: (user, _args, ctx) => ctx.viewer !== null && user.following.length > 0,
    }),
  }),
});

export const UserConnection = builder.connectionObject({ type: User, name: "UserConnection" }, { name: "UserEdge" });

// Followers and following page over the follow rows (newest first) and yield the users at the other end.
// Selecting the node's id keeps the query valid when a query asks only for cursors or pageInfo; the
// fields selected beneath the node are added to it, hence the cast to the full row.
const followers = prismaConnectionHelpers(builder, "Follow", {
  cursor: "id",
  query: { orderBy: { id: "desc" } },
  select: (nodeSelection) => ({ follower: nodeSelection({ select: { id: true } }) }),
  resolveNode: (follow) => follow.follower as UserRow,
});
const following = prismaConnectionHelpers(builder, "Follow", {
  cursor: "id",
  query: { orderBy: { id: "desc" } },
  select: (nodeSelection) => ({ followee: nodeSelection({ select: { id: true } }) }),
  resolveNode: (follow) => follow.followee as UserRow,
});

builder.prismaObjectFields("User", (t) => ({
  followers: t.connection({
    type: User,
    args: followers.getArgs(),
    select: (args, ctx, nestedSelection) => ({ followers: keysetPage(ctx, "Follow", followers.getQuery(args, ctx, nestedSelection), "desc") }),
    resolve: (user, args, ctx) => followers.resolve(user.followers, args, ctx),
  }, UserConnection),
  following: t.connection({
    type: User,
    args: following.getArgs(),
    select: (args, ctx, nestedSelection) => ({ following: keysetPage(ctx, "Follow", following.getQuery(args, ctx, nestedSelection), "desc") }),
    resolve: (user, args, ctx) => following.resolve(user.following, args, ctx),
  }, UserConnection),
}));

builder.queryFields((t) => ({
  viewer: t.prismaField({
    type: "User",
    nullable: true,
    description: "The logged-in user, or null when anonymous.",
    resolve: (query, _root, _args, ctx) => {
      // Spread before the branch: for an anonymous request the answer is null, not an unused query (a warning).
      const find = { ...query, where: { id: ctx.viewer?.id } };
      return ctx.viewer ? ctx.reader.findFirst("User", find, (q) => ctx.db.user.findUnique(q)) : null;
    },
  }),
  user: t.prismaField({
    type: "User",
    nullable: true,
    args: { handle: t.arg.string() },
    resolve: (query, _root, { handle }, ctx) =>
      ctx.reader.findFirst("User", { ...query, where: { handleKey: handleKey(handle) } }, (q) => ctx.db.user.findUnique(q)),
  }),
}));

const UpdateProfileInput = builder.inputType("UpdateProfileInput", {
  fields: (t) => ({
    displayName: t.string({ required: false, description: "1–50 characters." }),
    bio: t.string({ required: false, description: "At most 160 characters." }),
    avatarMediaId: t.globalID({ for: Media, required: false, description: "One of the viewer's uploads (uploadMedia) not attached elsewhere; null removes the avatar. The one it replaces stops being served." }),
    messagePolicy: t.field({ type: MessagePolicy, required: false }),
  }),
});

const SetUserSuspendedInput = builder.inputType("SetUserSuspendedInput", {
  fields: (t) => ({
    userId: t.globalID({ for: User }),
    suspended: t.boolean(),
  }),
});

builder.mutationFields((t) => ({
  updateProfile: t.prismaField({
    type: "User",
    authScopes: { writer: true },
    errors: { types: [NotFoundError] },
    args: { input: t.arg({ type: UpdateProfileInput }) },
    resolve: (query, _root, { input }, ctx) =>
      updateProfile(ctx.db, ctx.viewer!, {
        displayName: input.displayName ?? undefined,
        bio: input.bio ?? undefined,
        avatarMediaId: input.avatarMediaId === undefined ? undefined : input.avatarMediaId && MediaId.key(input.avatarMediaId),
        messagePolicy: input.messagePolicy ?? undefined,
      }, query),
  }),
  setUserSuspended: t.prismaField({
    type: "User",
    description:
      "Admins only. Suspension takes effect at once for every credential of the account: requests with its sessions' access tokens or its API tokens are refused (FORBIDDEN), and it cannot log in or refresh a session. Lifting it makes the same credentials work again.",
    // An admin's read-only API token reads; it does not suspend anyone.
    authScopes: { $all: { admin: true, writer: true } },
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { input: t.arg({ type: SetUserSuspendedInput }) },
    resolve: (query, _root, { input }, ctx) => setSuspended(ctx.db, ctx.viewer!, UserId.key(input.userId), input.suspended, query),
  }),
}));
