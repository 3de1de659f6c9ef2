import { prismaConnectionHelpers } from "@pothos/plugin-prisma";
import type { User as UserRow } from "@prisma/client";
import { builder } from "../../builder.js";
import type { Context } from "../../context.js";
import { ForbiddenError, NotFoundError } from "../../errors.js";
import { nodeId } from "../../graphql/ids.js";
import { User, UserConnection, viewerEdge } from "../users/users.schema.js";
import { Media, MediaId } from "../media/media.schema.js";
import { keysetPage } from "../../graphql/pagination.js";
import { hides } from "../blocks/visibility.js";
import { canDeletePost, canEditPost, createPost, deletePost, editPost, repost, setLiked, undoRepost } from "./posts.service.js";

const PostId = nodeId("Post");

/** What a post shows of its author and content: nothing, when a block separates the author and the viewer. */
const shown = <T>(ctx: Context, post: { authorId: number }, value: T) => (hides(ctx.viewer, post.authorId) ? null : value);

export const Post = builder.prismaNode("Post", {
  id: PostId.option,
  // node(id:) and nodes(ids:): an unknown post is null, as for post(id:), and a malformed id is the caller's input.
  nullable: true,
  findUnique: (id) => ({ id: PostId.key(id) }),
  description:
    "A post, a reply (replyTo is set) or a repost (repostOf is set, body is null). A post whose author and the viewer are separated by a block (either blocked the other) is unavailable: it keeps its place in its thread, with its id, time, thread links and counts, but shows nothing of its author or content.",
  fields: (t) => ({
    isUnavailable: t.boolean({
      description: "True when a block separates the author and the viewer: body, author, repostOf and editedAt are then null.",
      resolve: (post, _args, ctx) => hides(ctx.viewer, post.authorId),
    }),
    body: t.string({
      nullable: true,
      description: "Null for a repost, a deleted post and an unavailable one.",
      resolve: (post, _args, ctx) => shown(ctx, post, post.body),
    }),
    author: t.field({
      type: User,
      nullable: true,
      description: "Null only when the post is unavailable.",
      select: (_args, _ctx, nestedSelection) => ({ author: nestedSelection() }),
      resolve: (post, _args, ctx) => shown(ctx, post, post.author),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    editedAt: t.field({ type: "DateTime", nullable: true, resolve: (post, _args, ctx) => shown(ctx, post, post.editedAt) }),
    deletedAt: t.expose("deletedAt", { type: "DateTime", nullable: true }),
    isDeleted: t.boolean({ select: { deletedAt: true }, resolve: (post) => post.deletedAt !== null }),
    replyTo: t.relation("replyTo", { nullable: true, description: "The post this one answers." }),
    threadRoot: t.relation("root", { nullable: true, description: "The post that started the thread; null when this one did." }),
    likeCount: t.exposeInt("likeCount"),
    replyCount: t.exposeInt("replyCount"),
    repostCount: t.exposeInt("repostCount"),
    // The viewer's like and repost are selected with the post, in the statement that loads it.
    viewerHasLiked: t.boolean({
      select: (_args, ctx) => (ctx.viewer ? { likes: viewerEdge({ userId: ctx.viewer.id }) } : {}),
      resolve: (post, _args, ctx) => ctx.viewer !== null && post.likes.length > 0,
    }),
    viewerCanEdit: t.boolean({
      description: "Whether editPost would change this post for the viewer: their own, not a repost, not deleted.",
      select: { authorId: true, repostOfId: true, deletedAt: true },
      resolve: (post, _args, ctx) => canEditPost(ctx.viewer, post),
    }),
    viewerCanDelete: t.boolean({
      description: "Whether deletePost would remove this post for the viewer: their own or, for an admin, anyone's; not already deleted.",
      select: { authorId: true, repostOfId: true, deletedAt: true },
      resolve: (post, _args, ctx) => canDeletePost(ctx.viewer, post),
    }),
    viewerHasReposted: t.boolean({
      select: (_args, ctx) => (ctx.viewer ? { reposts: viewerEdge({ authorId: ctx.viewer.id }) } : {}),
      resolve: (post, _args, ctx) => ctx.viewer !== null && post.reposts.length > 0,
    }),
  }),
});

export const PostConnection = builder.connectionObject({ type: Post, name: "PostConnection" }, { name: "PostEdge" });

// Replies and likers are built from helpers rather than t.relatedConnection, so keysetPage can replace Prisma's cursor.
const replies = prismaConnectionHelpers(builder, "Post", { cursor: "id", query: { orderBy: { id: "asc" } } });

// Likers page over the like rows, newest first, and yield the users who liked.
const likers = prismaConnectionHelpers(builder, "Like", {
  cursor: "id",
  query: { orderBy: { id: "desc" } },
  // As for followers: the id keeps the query valid when only cursors or pageInfo are asked for.
  select: (nodeSelection) => ({ user: nodeSelection({ select: { id: true } }) }),
  resolveNode: (like) => like.user as UserRow,
});

builder.prismaObjectFields("Post", (t) => ({
    repostOf: t.field({
      type: Post,
      nullable: true,
      description: "The original of a repost; null for an unavailable one.",
      select: (_args, _ctx, nestedSelection) => ({ repostOf: nestedSelection() }),
      resolve: (post, _args, ctx) => shown(ctx, post, post.repostOf),
    }),
  replies: t.connection({
    type: Post,
    description: "Direct replies, oldest first.",
    args: replies.getArgs(),
    select: (args, ctx, nestedSelection) => ({ replies: keysetPage(ctx, "Post", replies.getQuery(args, ctx, nestedSelection), "asc", undefined, { blocked: "shown" }) }),
    resolve: (post, args, ctx) => replies.resolve(post.replies, args, ctx),
  }, PostConnection),
  likers: t.connection({
    type: User,
    description: "Who liked the post, most recent first.",
    args: likers.getArgs(),
    select: (args, ctx, nestedSelection) => ({ likes: keysetPage(ctx, "Like", likers.getQuery(args, ctx, nestedSelection), "desc") }),
    resolve: (post, args, ctx) => likers.resolve(post.likes, args, ctx),
  }, UserConnection),
}));

/** A post by id, with what the query selects, through the SQL reader. */
const readPost = <Q extends object>(ctx: Context, query: Q, id: number) =>
  ctx.reader.findFirst("Post", { ...query, where: { id } }, (q) => ctx.db.post.findUnique(q));

builder.queryFields((t) => ({
  post: t.prismaField({
    type: "Post",
    nullable: true,
    args: { id: t.arg.globalID({ for: Post }) },
    resolve: (query, _root, { id }, ctx) => readPost(ctx, query, PostId.key(id)),
  }),
}));

const CreatePostInput = builder.inputType("CreatePostInput", {
  fields: (t) => ({
    body: t.string({ description: "1–500 characters, counted as people see them (an emoji is one)." }),
    replyToId: t.globalID({ for: Post, required: false, description: "The post this one replies to." }),
    mediaIds: t.globalIDList({ for: Media, required: false, description: "Up to 4 of the viewer's uploads (uploadMedia), in order; each can be attached once." }),
  }),
});
const EditPostInput = builder.inputType("EditPostInput", {
  fields: (t) => ({ postId: t.globalID({ for: Post }), body: t.string() }),
});
const PostIdInput = (name: string) => builder.inputType(name, { fields: (t) => ({ postId: t.globalID({ for: Post }) }) });
const DeletePostInput = PostIdInput("DeletePostInput");
const RepostInput = PostIdInput("RepostInput");
const UndoRepostInput = PostIdInput("UndoRepostInput");
const LikePostInput = PostIdInput("LikePostInput");
const UnlikePostInput = PostIdInput("UnlikePostInput");

builder.mutationFields((t) => ({
  createPost: t.prismaField({
    type: "Post",
    authScopes: { writer: true },
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { input: t.arg({ type: CreatePostInput }) },
    resolve: (query, _root, { input }, ctx) =>
      createPost(
        ctx.db,
        ctx.viewer!,
        { body: input.body, replyToId: input.replyToId ? PostId.key(input.replyToId) : null, mediaIds: (input.mediaIds ?? []).map((id) => MediaId.key(id)) },
        query,
        ctx.pubsub,
      ),
  }),
  editPost: t.prismaField({
    type: "Post",
    authScopes: { writer: true },
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { input: t.arg({ type: EditPostInput }) },
    resolve: (query, _root, { input }, ctx) => editPost(ctx.db, ctx.viewer!, PostId.key(input.postId), input.body, query, ctx.pubsub),
  }),
  deletePost: t.prismaField({
    type: "Post",
    description: "The author or an admin deletes a post: it keeps its place in its thread but loses its body. Returns it.",
    authScopes: { writer: true },
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { input: t.arg({ type: DeletePostInput }) },
    resolve: (query, _root, { input }, ctx) => deletePost(ctx.db, ctx.viewer!, PostId.key(input.postId), query, ctx.pubsub),
  }),
  repost: t.prismaField({
    type: "Post",
    description: "Reposts a post (idempotent) and returns the repost.",
    authScopes: { writer: true },
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { input: t.arg({ type: RepostInput }) },
    resolve: (query, _root, { input }, ctx) => repost(ctx.db, ctx.viewer!, PostId.key(input.postId), query, ctx.pubsub),
  }),
  undoRepost: t.prismaField({
    type: "Post",
    description: "Removes the viewer's repost (idempotent) and returns the original post.",
    authScopes: { writer: true },
    errors: { types: [NotFoundError] },
    args: { input: t.arg({ type: UndoRepostInput }) },
    resolve: (query, _root, { input }, ctx) => undoRepost(ctx.db, ctx.viewer!, PostId.key(input.postId), query, ctx.pubsub),
  }),
  likePost: t.prismaField({
    type: "Post",
    description: "Likes a post (idempotent) and returns it.",
    authScopes: { writer: true },
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { input: t.arg({ type: LikePostInput }) },
    resolve: (query, _root, { input }, ctx) => setLiked(ctx.reader, ctx.viewer!, PostId.key(input.postId), true, (id) => readPost(ctx, query, id), ctx.pubsub),
  }),
  unlikePost: t.prismaField({
    type: "Post",
    description: "Removes the viewer's like (idempotent) and returns the post.",
    authScopes: { writer: true },
    errors: { types: [NotFoundError] },
    args: { input: t.arg({ type: UnlikePostInput }) },
    resolve: (query, _root, { input }, ctx) => setLiked(ctx.reader, ctx.viewer!, PostId.key(input.postId), false, (id) => readPost(ctx, query, id), ctx.pubsub),
  }),
}));
