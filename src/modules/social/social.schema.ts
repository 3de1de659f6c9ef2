import { builder } from "../../builder.js";
import { ForbiddenError, NotFoundError } from "../../errors.js";
import { User, UserId } from "../users/users.schema.js";
import { setFollowing } from "./social.service.js";

const FollowInput = builder.inputType("FollowInput", { fields: (t) => ({ userId: t.globalID({ for: User }) }) });
const UnfollowInput = builder.inputType("UnfollowInput", { fields: (t) => ({ userId: t.globalID({ for: User }) }) });

builder.mutationFields((t) => ({
  follow: t.prismaField({
    type: "User",
    description: "Follows a user (idempotent) and returns them.",
    authScopes: { writer: true },
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { input: t.arg({ type: FollowInput }) },
    resolve: (query, _root, { input }, ctx) => setFollowing(ctx.db, ctx.viewer!, UserId.key(input.userId), true, query, ctx.pubsub),
  }),
  unfollow: t.prismaField({
    type: "User",
    description: "Stops following a user (idempotent) and returns them.",
    authScopes: { writer: true },
    errors: { types: [NotFoundError] },
    args: { input: t.arg({ type: UnfollowInput }) },
    resolve: (query, _root, { input }, ctx) => setFollowing(ctx.db, ctx.viewer!, UserId.key(input.userId), false, query, ctx.pubsub),
  }),
}));
