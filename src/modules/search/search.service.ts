import { Prisma } from "@prisma/client";
import { ValidationError } from "../../errors.js";
import type { Viewer } from "../auth/viewer.js";
import { hiddenUsersSql } from "../blocks/visibility.js";
import type { SqlReader } from "../../sql/reader.js";
import { handleKey } from "../users/users.service.js";

/** The longest query, in Unicode code points: no person types more, and it bounds the lexemes a query looks up. */
export const MAX_QUERY_LENGTH = 200;

/** A run of a post's body: `matched` marks the words the query matched. Joined, the runs are the body. */
export interface HighlightRun {
  text: string;
  matched: boolean;
}

/** Where a page starts: after the row with this sort key, or from the top. */
export interface Page<Key> {
  first: number;
  after: Key | null;
}

/** Post results are ordered by rank, then newest first. */
export interface PostKey {
  rank: number;
  id: number;
}

export interface PostHit extends PostKey {
  highlight: HighlightRun[];
}

/** User results: by tier (exact handle 0, handle prefix 1, display-name prefix 2, word of the display name 3), followers, then oldest account first. */
export interface UserKey {
  tier: number;
  followerCount: number;
  id: number;
}

/** One page of hits, in order, and whether more follow. */
export interface Hits<Hit> {
  hits: Hit[];
  hasNextPage: boolean;
}

/** The query as searched: trimmed; longer than MAX_QUERY_LENGTH is the caller's mistake, said so. */
function searchText(query: string) {
  const text = query.trim();
  if ([...text].length > MAX_QUERY_LENGTH) throw ValidationError.of("query", `At most ${MAX_QUERY_LENGTH} characters`);
  return text;
}

// ts_headline marks matches with STX/ETX: no body can hold them (input checks refuse control characters).
const START = "\u0002";
const STOP = "\u0003";
// The whole body (a post is at most 500 characters), not a fragment of it.
const HEADLINE_OPTIONS = `HighlightAll=true, StartSel=${START}, StopSel=${STOP}`;

/** ts_headline's marked text as runs; the markers never reach a client. */
export function highlightRuns(headline: string): HighlightRun[] {
  const runs: HighlightRun[] = [];
  let matched = false;
  for (const part of headline.split(/([\u0002\u0003])/)) {
    if (part === START || part === STOP) matched = part === START;
    else if (part !== "") runs.push({ text: part, matched });
  }
  return runs;
}

const page = <Row>(rows: Row[], first: number): Hits<Row> => ({ hits: rows.slice(0, first), hasNextPage: rows.length > first });

/**
 * Posts whose body matches `query` with websearch_to_tsquery's syntax ("a phrase", -excluded, or),
 * best first (ts_rank_cd: more and closer matches rank higher), ties newest first, each with its body
 * cut into highlighted runs. One statement: the page is ranked and cut before ts_headline runs, so
 * only its rows are highlighted. A query without a lexeme to look up (empty, stop words only,
 * punctuation, or nothing but exclusions, which GIN cannot serve and which would rank every post)
 * finds nothing. Reposts and deleted posts have no vector; the posts of anyone a block stands between
 * with the viewer (either way) are left out. Suspended authors' posts stay, as in timelines and threads:
 * leaving them out joined every match to its author, most of the cost of a common word.
 */
export async function searchPosts(reader: SqlReader, viewer: Viewer | null, query: string, { first, after }: Page<PostKey>): Promise<Hits<PostHit>> {
  const text = searchText(query);
  if (text === "") return { hits: [], hasNextPage: false };
  // The cursor's rank is bound as text: Prisma sends a number parameter with fewer digits than a float8 holds.
  const rows = await reader.query<{ id: number; rank: number; headline: string }>(Prisma.sql`
    WITH q AS MATERIALIZED (SELECT websearch_to_tsquery('english', ${text}) AS q),
    hits AS (
      SELECT m.id, m.body, m.rank FROM (
        SELECT p.id, p.body, ts_rank_cd(p.search_vector, q.q)::float8 AS rank
        FROM q JOIN posts p ON p.search_vector @@ q.q
        WHERE querytree(q.q) NOT IN ('', 'T') AND ${hiddenUsersSql(viewer, Prisma.sql`p.author_id`)}
      ) m
      WHERE ${after ? Prisma.sql`(m.rank, m.id) < (${String(after.rank)}::float8, ${after.id}::int)` : Prisma.sql`TRUE`}
      ORDER BY m.rank DESC, m.id DESC
      LIMIT ${first + 1}
    )
    SELECT hits.id, hits.rank, ts_headline('english', hits.body, q.q, ${HEADLINE_OPTIONS}) AS headline
    FROM hits, q
    ORDER BY hits.rank DESC, hits.id DESC`);
  return page(rows.map(({ id, rank, headline }) => ({ id, rank, highlight: highlightRuns(headline) })), first);
}

/** `text` matched literally by LIKE: its wildcards and escape character escaped. */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, "\\$&");

/**
 * Users whose handle or display name starts with `query`, or with a word of whose display name it
 * does, case-insensitively ("@" before a handle is ignored; % and _ are literal). Ranked by tier (the
 * exact handle, a handle prefix, a display-name prefix, a later word of it), then follower count, then
 * the oldest account; suspended users and users a block separates from the viewer are left out. The
 * trigram indexes serve the three patterns.
 */
export async function searchUsers(reader: SqlReader, viewer: Viewer | null, query: string, { first, after }: Page<UserKey>): Promise<Hits<UserKey>> {
  const text = searchText(query).replace(/^@/, "");
  if (text === "") return { hits: [], hasNextPage: false };
  const handle = handleKey(text);
  const handlePrefix = `${likeLiteral(handle)}%`;
  const namePrefix = `${likeLiteral(text)}%`;
  const rows = await reader.query<UserKey>(Prisma.sql`
    SELECT m.id, m.tier, m.follower_count AS "followerCount" FROM (
      SELECT u.id, u.follower_count,
        CASE WHEN u.handle_key = ${handle} THEN 0 WHEN u.handle_key LIKE ${handlePrefix} THEN 1 WHEN u.display_name ILIKE ${namePrefix} THEN 2 ELSE 3 END AS tier
      FROM users u
      WHERE (u.handle_key LIKE ${handlePrefix} OR u.display_name ILIKE ${namePrefix} OR u.display_name ILIKE ${`% ${namePrefix}`})
        AND u.suspended_at IS NULL AND ${hiddenUsersSql(viewer, Prisma.sql`u.id`)}
    ) m
    WHERE ${after ? Prisma.sql`(m.tier, -m.follower_count, m.id) > (${after.tier}::int, ${-after.followerCount}::int, ${after.id}::int)` : Prisma.sql`TRUE`}
    ORDER BY m.tier, m.follower_count DESC, m.id
    LIMIT ${first + 1}`);
  return page(rows, first);
}
