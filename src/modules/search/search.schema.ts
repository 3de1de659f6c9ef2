import { formatPrismaCursor, parsePrismaCursor, queryFromInfo } from "@pothos/plugin-prisma";
import type { GraphQLResolveInfo } from "graphql";
import { builder } from "../../builder.js";
import type { Context } from "../../context.js";
import { badUserInput } from "../../graphql/errors.js";
import { KEY_PARSERS } from "../../graphql/ids.js";
import { Post } from "../posts/posts.schema.js";
import { User } from "../users/users.schema.js";
import { type HighlightRun, type Hits, MAX_QUERY_LENGTH, type PostKey, type UserKey, searchPosts, searchUsers } from "./search.service.js";

/**
 * Search results are ordered by a score, not by id: their cursors hold the whole sort key, as text
 * in Pothos' cursor encoding (so the page checks of connection-args.ts accept them). `kind` keeps a
 * cursor of one search from being read as the other's.
 */
const formatCursor = (kind: string, parts: number[]) => formatPrismaCursor({ key: `${kind}:${parts.join(":")}` }, "key");

/** The parts of a cursor this list wrote, each checked, or BAD_USER_INPUT before any SQL runs. */
function parseCursor(kind: string, cursor: string, check: ((part: string) => number | null)[]): number[] {
  let value: unknown;
  try {
    value = parsePrismaCursor(cursor);
  } catch {
    value = null;
  }
  const parts = typeof value === "string" && value.startsWith(`${kind}:`) ? value.slice(kind.length + 1).split(":") : [];
  const keys = parts.length === check.length ? parts.map((part, i) => check[i]!(part)) : [];
  if (keys.length === 0 || keys.some((key) => key === null)) throw badUserInput("`after` is not a cursor of this list.");
  return keys as number[];
}

const int = (part: string) => KEY_PARSERS.int(part);
/** A rank as JavaScript prints a float8: finite and not negative. */
const rank = (part: string) => (/^\d+(\.\d+)?(e-\d+)?$/.test(part) && Number.isFinite(Number(part)) ? Number(part) : null);

const postCursor = ({ rank, id }: PostKey) => formatCursor("post", [rank, id]);
const userCursor = ({ tier, followerCount, id }: UserKey) => formatCursor("user", [tier, followerCount, id]);

export const HighlightedText = builder.objectRef<HighlightRun>("HighlightedText").implement({
  description: "A run of a post's body; the runs of a highlight, joined, are the whole body.",
  fields: (t) => ({
    text: t.exposeString("text"),
    matched: t.exposeBoolean("matched", { description: "Whether these are words the search matched (render them marked)." }),
  }),
});

interface SearchPostEdge {
  cursor: string;
  node: typeof Post.$inferType;
  highlight: HighlightRun[];
}

const SearchPostsEdge = builder.objectRef<SearchPostEdge>("SearchPostsEdge").implement({
  fields: (t) => ({
    cursor: t.exposeString("cursor"),
    node: t.field({ type: Post, resolve: (edge) => edge.node }),
    highlight: t.field({
      type: [HighlightedText],
      description: "The post's body cut into runs of text, the words the query matched marked: plain text, no markup to trust or parse.",
      resolve: (edge) => edge.highlight,
    }),
  }),
});

const SearchPostsConnection = builder.connectionObject({ type: Post, name: "SearchPostsConnection" }, SearchPostsEdge);
const SearchUsersConnection = builder.connectionObject({ type: User, name: "SearchUsersConnection" }, { name: "SearchUsersEdge" });

const QUERY_DESCRIPTION = `At most ${MAX_QUERY_LENGTH} characters; an empty query finds nothing.`;

/**
 * The page's rows with what the query selects beneath `edges.node`, through the SQL reader, in the
 * order of the hits; a row gone since the search (a post deleted meanwhile) drops its edge.
 */
async function withNodes<Hit extends { id: number }, Row extends { id: number }>(
  { hits, hasNextPage }: Hits<Hit>,
  after: string | null | undefined,
  read: (ids: number[]) => Promise<Row[]>,
  cursor: (hit: Hit) => string,
) {
  const rows = hits.length > 0 ? new Map((await read(hits.map((h) => h.id))).map((row) => [row.id, row])) : new Map<number, Row>();
  const edges = hits.flatMap((hit) => {
    const node = rows.get(hit.id);
    return node ? [{ ...hit, cursor: cursor(hit), node }] : [];
  });
  return {
    edges,
    pageInfo: { hasNextPage, hasPreviousPage: after != null, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
  };
}

const nodeQuery = (ctx: Context, info: GraphQLResolveInfo) => queryFromInfo({ context: ctx, info, path: ["edges", "node"] });

builder.queryFields((t) => ({
  searchPosts: t.field({
    type: SearchPostsConnection,
    description:
      'Posts whose text matches the query, best match first. Web-search syntax: words (all must match, English stemming, stop words ignored), "a quoted phrase", -excluded, or. Reposts and deleted posts never match; posts of users a block stands between with the viewer (either way) are left out.',
    args: { query: t.arg.string({ description: QUERY_DESCRIPTION }), first: t.arg.int(), after: t.arg.string({ required: false }) },
    resolve: async (_root, args, ctx, info) => {
      const after = args.after ? parseCursor("post", args.after, [rank, int]) : null;
      const hits = await searchPosts(ctx.reader, ctx.viewer, args.query, { first: args.first, after: after && { rank: after[0]!, id: after[1]! } });
      return withNodes(hits, args.after, (ids) => ctx.reader.findMany("Post", { ...nodeQuery(ctx, info), where: { id: { in: ids } } }, (q) => ctx.db.post.findMany(q)), postCursor);
    },
  }),
  searchUsers: t.field({
    type: SearchUsersConnection,
    description:
      "People whose handle or display name starts with the query, or a word of whose display name does, ignoring case (a leading @ is ignored; % and _ are literal): the exact handle first, then handle prefixes, display-name prefixes and words, each by follower count. Suspended users, and users a block stands between with the viewer (either way), are left out.",
    args: { query: t.arg.string({ description: QUERY_DESCRIPTION }), first: t.arg.int(), after: t.arg.string({ required: false }) },
    resolve: async (_root, args, ctx, info) => {
      const after = args.after ? parseCursor("user", args.after, [int, int, int]) : null;
      const hits = await searchUsers(ctx.reader, ctx.viewer, args.query, {
        first: args.first,
        after: after && { tier: after[0]!, followerCount: after[1]!, id: after[2]! },
      });
      return withNodes(hits, args.after, (ids) => ctx.reader.findMany("User", { ...nodeQuery(ctx, info), where: { id: { in: ids } } }, (q) => ctx.db.user.findMany(q)), userCursor);
    },
  }),
}));
