import { prismaConnectionHelpers } from "@pothos/plugin-prisma";
import type { Hashtag as HashtagRow, Post as PostRow } from "@prisma/client";
import { builder } from "../../builder.js";
import { badUserInput } from "../../graphql/errors.js";
import { nodeId } from "../../graphql/ids.js";
import { keysetPage } from "../../graphql/pagination.js";
import { hides } from "../blocks/visibility.js";
import { Post, PostConnection } from "../posts/posts.schema.js";
import { User } from "../users/users.schema.js";
import { MAX_TRENDING, hashtagLookupKey, trendingHashtags } from "./entities.service.js";

export const EntityKind = builder.enumType("EntityKind", {
  description: "What a PostEntity is: a @mention of a user, a #hashtag, or a link.",
  values: ["MENTION", "HASHTAG", "LINK"] as const,
});

const HashtagId = nodeId("Hashtag");

export const Hashtag = builder.prismaNode("Hashtag", {
  id: HashtagId.option,
  select: { id: true },
  nullable: true,
  findUnique: (id) => ({ id: HashtagId.key(id) }),
  description:
    "A tag, #name in a post. Tags compare without case or Unicode width (#Chirp, #chirp and #ＣＨＩＲＰ are one tag), which shows the spelling of its first use. A tag of more than 100 characters is plain text.",
  fields: (t) => ({
    name: t.exposeString("name", { description: "Without the #, spelled as in the first post that used the tag." }),
    postCount: t.exposeInt("postCount", { description: "Posts that use the tag, not counting deleted ones." }),
  }),
});

const PostEntity = builder.prismaObject("PostEntity", {
  description:
    "A mention, hashtag or link in a post's body. `start` and `end` are offsets in UTF-16 code units (what JavaScript strings index; an emoji outside the Basic Multilingual Plane counts 2), `end` exclusive: `body.slice(start, end)` is `text`.",
  fields: (t) => ({
    kind: t.expose("kind", { type: EntityKind }),
    start: t.exposeInt("start", { description: "Where the entity begins in the body, in UTF-16 code units." }),
    end: t.exposeInt("end", { description: "Where it ends (exclusive), in UTF-16 code units." }),
    text: t.exposeString("text", { description: "As written: @Alice, #Café, chirp.dev/about." }),
    user: t.field({
      type: User,
      nullable: true,
      description: "The mentioned user (a mention is stored only for an existing one); null for other kinds, and when a block separates that user and the viewer.",
      select: (_args, _ctx, nestedSelection) => ({ user: nestedSelection() }),
      resolve: (entity, _args, ctx) => (entity.user && !hides(ctx.viewer, entity.user.id) ? entity.user : null),
    }),
    url: t.exposeString("url", { nullable: true, description: "Where a link goes: its text, with https:// in front when it has no scheme." }),
    hashtag: t.relation("hashtag", { nullable: true, description: "The tag of a hashtag." }),
  }),
});

builder.prismaObjectField("Post", "entities", (t) =>
  t.field({
    type: [PostEntity],
    description:
      "The mentions, hashtags and links of the body, in order, parsed when the post was written or edited. None for a repost, a deleted post or an unavailable one.",
    // With the post, in its statement: reading them on a timeline costs nothing per post.
    select: (_args, _ctx, nestedSelection) => ({ authorId: true, entities: nestedSelection({ orderBy: { start: "asc" } }) }),
    resolve: (post, _args, ctx) => (hides(ctx.viewer, post.authorId) ? [] : post.entities),
  }),
);

// A tag's posts page over its post_hashtags rows, whose ids order them like the posts, newest first.
const taggedPosts = prismaConnectionHelpers(builder, "PostHashtag", {
  cursor: "id",
  query: { orderBy: { id: "desc" } },
  select: (nodeSelection) => ({ post: nodeSelection({ select: { id: true } }) }),
  resolveNode: (row) => row.post as PostRow,
});

builder.prismaObjectFields("Hashtag", (t) => ({
  posts: t.connection({
    type: Post,
    description: "Posts that use the tag, newest first; deleted posts are not among them.",
    args: taggedPosts.getArgs(),
    select: (args, ctx, nestedSelection) => ({ posts: keysetPage(ctx, "PostHashtag", taggedPosts.getQuery(args, ctx, nestedSelection), "desc") }),
    resolve: (hashtag, args, ctx) => taggedPosts.resolve(hashtag.posts, args, ctx),
  }, PostConnection),
}));

type Trending = HashtagRow & { authorCount: number };

const TrendingHashtag = builder.prismaObject("Hashtag", {
  variant: "TrendingHashtag",
  select: { id: true },
  description: "A tag among the most used of the last 24 hours.",
  fields: (t) => ({
    hashtag: t.variant(Hashtag),
    authorCount: t.int({
      description: "How many people (not posts) used the tag in the last 24 hours, as the viewer sees them.",
      // Set by trendingHashtags from its ranking, on the rows it loaded.
      resolve: (hashtag) => (hashtag as Trending).authorCount,
    }),
  }),
});

builder.queryFields((t) => ({
  hashtag: t.prismaField({
    type: "Hashtag",
    nullable: true,
    description: "A tag by name, with or without its #, in any case; null for a tag no post has ever used.",
    args: { name: t.arg.string() },
    resolve: (query, _root, { name }, ctx) =>
      ctx.reader.findFirst("Hashtag", { ...query, where: { nameKey: hashtagLookupKey(name) } }, (q) => ctx.db.hashtag.findUnique(q)),
  }),
  trendingHashtags: t.prismaField({
    type: [TrendingHashtag],
    description: `The tags the most people used in the last 24 hours, most first: an account counts once however often it posts a tag, suspended accounts not at all, and nor does anyone a block separates from the viewer. Ties go to the tag used most recently. At most ${MAX_TRENDING}.`,
    // Non-null with a default: an explicit null would otherwise slip past the page-size check as 1.
    args: { first: t.arg.int({ required: true, defaultValue: 10, description: `1–${MAX_TRENDING}.` }) },
    resolve: async (query, _root, args, ctx) => {
      const { first } = args;
      if (first < 1 || first > MAX_TRENDING) throw badUserInput(`\`first\` must be between 1 and ${MAX_TRENDING}, got ${first}.`);
      const ranked = await trendingHashtags(ctx.db, ctx.viewer, first);
      if (ranked.length === 0) return [];
      const rows = await ctx.reader.findMany("Hashtag", { ...query, where: { id: { in: ranked.map((r) => r.id) } } }, (q) => ctx.db.hashtag.findMany(q));
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ranked.flatMap(({ id, authorCount }) => {
        const row = byId.get(id);
        return row ? [Object.assign(row, { authorCount })] : [];
      });
    },
  }),
}));
