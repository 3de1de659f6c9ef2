import { builder } from "../../builder.js";
import { PostConnection } from "../posts/posts.schema.js";
import { keysetPage } from "../../graphql/pagination.js";
import { homeTimelineWhere, userTimeline } from "./timeline.service.js";

builder.queryFields((t) => ({
  homeTimeline: t.prismaConnection({
    type: "Post",
    cursor: "id",
    description: "Posts and reposts of the people the viewer follows and the viewer's own, newest first; not those of or reposting people the viewer muted.",
    authScopes: { loggedIn: true },
    resolve: (query, _root, _args, ctx) =>
      ctx.reader.findMany("Post", { ...keysetPage(ctx, "Post", query, "desc", homeTimelineWhere(ctx.viewer!)), orderBy: { id: "desc" as const } }, (q) =>
        ctx.db.post.findMany(q),
      ),
  }, PostConnection),
  userTimeline: t.prismaConnection({
    type: "Post",
    cursor: "id",
    description: "A user's posts and reposts, newest first; replies too when includeReplies is true. Empty for an unknown handle.",
    args: { handle: t.arg.string(), includeReplies: t.arg.boolean({ required: false, defaultValue: false }) },
    resolve: (query, _root, args, ctx) => userTimeline(ctx.db, ctx.reader, args.handle, args.includeReplies ?? false, keysetPage(ctx, "Post", query, "desc")),
  }, PostConnection),
}));
