import { prismaConnectionHelpers } from "@pothos/plugin-prisma";
import type { User as UserRow } from "@prisma/client";
import { builder } from "../../builder.js";
import { NotFoundError } from "../../errors.js";
import { keysetPage } from "../../graphql/pagination.js";
import { isPrivateTo } from "../auth/viewer.js";
import { User, UserConnection, UserId } from "../users/users.schema.js";
import { setBlocked, setMuted } from "./blocks.service.js";

// The viewer's relation to a user is in their credential's sets: these cost no statement.
builder.prismaObjectFields("User", (t) => ({
  viewerHasBlocked: t.boolean({ description: "Whether the viewer has blocked this user (false when anonymous).", resolve: (user, _args, ctx) => ctx.viewer?.blocking.has(user.id) ?? false }),
  viewerHasMuted: t.boolean({ description: "Whether the viewer has muted this user (false when anonymous). Only the viewer knows: a muted user is never told.", resolve: (user, _args, ctx) => ctx.viewer?.muting.has(user.id) ?? false }),
  blocksViewer: t.boolean({
    description: "Whether this user has blocked the viewer: their posts are then unavailable to the viewer, and the viewer cannot follow, reply to, like or repost them.",
    resolve: (user, _args, ctx) => ctx.viewer?.blockedBy.has(user.id) ?? false,
  }),
}));

// Newest first, paged over the block and mute rows, yielding the users at the other end.
const blocked = prismaConnectionHelpers(builder, "Block", {
  cursor: "id",
  query: { orderBy: { id: "desc" } },
  select: (nodeSelection) => ({ blocked: nodeSelection({ select: { id: true } }) }),
  resolveNode: (block) => block.blocked as UserRow,
});
const muted = prismaConnectionHelpers(builder, "Mute", {
  cursor: "id",
  query: { orderBy: { id: "desc" } },
  select: (nodeSelection) => ({ muted: nodeSelection({ select: { id: true } }) }),
  resolveNode: (mute) => mute.muted as UserRow,
});

builder.prismaObjectFields("User", (t) => ({
  blockedUsers: t.connection({
    type: User,
    nullable: true,
    description: "Whom the user blocked, most recent first. Only the user sees it.",
    authScopes: isPrivateTo,
    args: blocked.getArgs(),
    select: (args, ctx, nestedSelection) => ({ blocking: keysetPage(ctx, "Block", blocked.getQuery(args, ctx, nestedSelection), "desc") }),
    resolve: (user, args, ctx) => blocked.resolve(user.blocking, args, ctx),
  }, UserConnection),
  mutedUsers: t.connection({
    type: User,
    nullable: true,
    description: "Whom the user muted, most recent first. Only the user sees it.",
    authScopes: isPrivateTo,
    args: muted.getArgs(),
    select: (args, ctx, nestedSelection) => ({ muting: keysetPage(ctx, "Mute", muted.getQuery(args, ctx, nestedSelection), "desc") }),
    resolve: (user, args, ctx) => muted.resolve(user.muting, args, ctx),
  }, UserConnection),
}));

const UserIdInput = (name: string) => builder.inputType(name, { fields: (t) => ({ userId: t.globalID({ for: User }) }) });

const toggles = [
  ["block", "Blocks a user (idempotent) and returns them. The two stop seeing each other's posts and lose their follows of each other; neither can follow, reply to, like or repost the other.", setBlocked, true],
  ["unblock", "Lifts a block (idempotent) and returns the user. Follows ended by the block are not restored.", setBlocked, false],
  ["mute", "Mutes a user (idempotent) and returns them: their posts and reposts leave the viewer's home timeline and they no longer cause the viewer notifications. They are not told.", setMuted, true],
  ["unmute", "Lifts a mute (idempotent) and returns the user.", setMuted, false],
] as const;

builder.mutationFields((t) =>
  Object.fromEntries(
    toggles.map(([name, description, set, on]) => [
      name,
      t.prismaField({
        type: "User",
        description,
        authScopes: { writer: true },
        errors: { types: [NotFoundError] },
        args: { input: t.arg({ type: UserIdInput(`${name[0]!.toUpperCase()}${name.slice(1)}Input`) }) },
        resolve: (query, _root, { input }, ctx) => set(ctx.db, ctx.viewer!, UserId.key(input.userId), on, query, ctx.pubsub),
      }),
    ]),
  ),
);
