import { type EntityKind, Prisma, type PrismaClient } from "@prisma/client";
import { LinkifyIt } from "linkify-it";
import twitter from "twitter-text";
import type { Viewer } from "../auth/viewer.js";
import { hiddenUsersSql, hides } from "../blocks/visibility.js";
import { handleKey } from "../users/users.service.js";

type Tx = Prisma.TransactionClient;

/** Longer tags (their name or key, in UTF-16 code units) stay plain text: keys are indexed, and a B-tree entry is bounded. */
const MAX_HASHTAG_LENGTH = 100;

/** What tags compare by: NFKC folds widths and composes accents (#ＣＨＩＲＰ, #cafe\u0301), then case is dropped. */
export const hashtagKey = (name: string) => name.normalize("NFKC").toLowerCase();

/** The key `hashtag(name:)` looks up: the name with or without its leading # (or full-width ＃). */
export const hashtagLookupKey = (name: string) => {
  const key = hashtagKey(name.trim());
  return key.startsWith("#") ? key.slice(1) : key;
};

/** An entity of a body as parsed, before mentions are matched to users. */
export interface ParsedEntity {
  kind: EntityKind;
  /** UTF-16 code units, as JavaScript strings index (twitter-text's own indices): body.slice(start, end) is `text`. */
  start: number;
  end: number;
  text: string;
  handleKey?: string;
  url?: string;
  hashtag?: { name: string; key: string };
}

// Links with a scheme whatever their host (localhost, an address, a name without a known TLD), which
// twitter-text takes only for hosts under a known TLD; e-mail addresses too, to keep mentions out of them.
const schemeLinks = new LinkifyIt({ fuzzyLink: false, fuzzyIP: false });

/**
 * Mentions, hashtags and links of a body, in order, as twitter-text extracts them: Unicode letters,
 * marks and digits in tags, nothing inside a URL or an e-mail address, overlaps removed. A link with
 * a scheme that twitter-text does not see (http://localhost:3000/@dave) is found by linkify-it, and
 * whatever twitter-text took inside it is not an entity. Cashtags ($CHIRP) are not an entity of ours;
 * a list (@alice/friends) is a mention of its owner.
 */
export function parseEntities(body: string): ParsedEntity[] {
  const entities: ParsedEntity[] = [];
  const links = (schemeLinks.match(body) ?? []).map((m) => ({ start: m.index, end: m.lastIndex, schema: m.schema, url: m.url }));
  const inLink = (start: number, end: number) => links.some((link) => start < link.end && end > link.start);
  for (const found of twitter.extractEntitiesWithIndices(body)) {
    const [start, end] = found.indices;
    if ("url" in found) {
      const text = body.slice(start, end);
      const scheme = text.slice(0, 8).toLowerCase();
      const url = scheme.startsWith("http://") || scheme.startsWith("https://") ? text : `https://${text}`;
      entities.push({ kind: "LINK", start, end, text, url });
    } else if (inLink(start, end)) {
      continue;
    } else if ("screenName" in found) {
      const mentionEnd = start + 1 + found.screenName.length;
      entities.push({ kind: "MENTION", start, end: mentionEnd, text: body.slice(start, mentionEnd), handleKey: handleKey(found.screenName) });
    } else if ("hashtag" in found) {
      const name = found.hashtag.normalize("NFC");
      const key = hashtagKey(found.hashtag);
      if (name.length > MAX_HASHTAG_LENGTH || key.length > MAX_HASHTAG_LENGTH) continue;
      entities.push({ kind: "HASHTAG", start, end, text: body.slice(start, end), hashtag: { name, key } });
    }
  }
  // The scheme links twitter-text missed, where no entity of its own is.
  for (const link of links) {
    if (link.schema === "mailto:" || entities.some((e) => e.kind === "LINK" && e.start < link.end && e.end > link.start)) continue;
    if (!/^https?:$/i.test(link.schema)) continue;
    entities.push({ kind: "LINK", start: link.start, end: link.end, text: body.slice(link.start, link.end), url: link.url });
  }
  return entities.sort((a, b) => a.start - b.start);
}

/** The post whose entities are written: its body (null for a repost), author and creation time. */
export interface EntityPost {
  id: number;
  authorId: number;
  body: string | null;
  createdAt: Date;
}

/** A tag's row for a post: post_id * 2^31 + hashtag_id orders a tag's rows like their posts (see PostHashtag). */
export const postHashtagId = (postId: number, hashtagId: number) => (BigInt(postId) << 31n) | BigInt(hashtagId);

/**
 * Stores the entities of a new post and counts its tags up, in the caller's transaction. A mention
 * is stored only for an existing user (handles compare without case) whom no block separates from
 * the author. Returns the users the post mentions, for the notifications of mentions.
 */
export async function storeEntities(tx: Tx, author: Viewer, post: EntityPost) {
  return writeEntities(tx, author, post, []);
}

/** An edit: the new body's entities replace the old ones; tags the edit removed count down, new ones up. */
export async function replaceEntities(tx: Tx, author: Viewer, post: EntityPost) {
  return writeEntities(tx, author, post, await removeEntities(tx, post.id));
}

/** A deleted post loses its entities, and its tags count it off. */
export async function dropEntities(tx: Tx, postId: number) {
  await countTags(tx, await removeEntities(tx, postId), []);
}

interface Tag {
  name: string;
  key: string;
}
type StoredTag = Tag & { id: number };

/** Deletes a post's entities and tag rows; returns the tags it had. */
async function removeEntities(tx: Tx, postId: number): Promise<StoredTag[]> {
  return tx.$queryRaw<StoredTag[]>`
    WITH entities AS (DELETE FROM post_entities WHERE post_id = ${postId})
    DELETE FROM post_hashtags p USING hashtags h WHERE p.post_id = ${postId} AND h.id = p.hashtag_id
    RETURNING h.id, h.name, h.name_key AS key`;
}

async function writeEntities(tx: Tx, author: Viewer, post: EntityPost, before: StoredTag[]) {
  const parsed = post.body === null ? [] : parseEntities(post.body);
  const after = new Map<string, Tag>();
  for (const { hashtag } of parsed) if (hashtag && !after.has(hashtag.key)) after.set(hashtag.key, hashtag);
  const ids = await countTags(tx, before, [...after.values()]);

  const handles = [...new Set(parsed.flatMap((e) => e.handleKey ?? []))];
  const users = handles.length ? await tx.user.findMany({ where: { handleKey: { in: handles } }, select: { id: true, handleKey: true } }) : [];
  const mentioned = new Map(users.filter((u) => !hides(author, u.id)).map((u) => [u.handleKey, u.id]));

  const rows = parsed.flatMap(({ kind, start, end, text, handleKey, url, hashtag }) => {
    const userId = handleKey === undefined ? null : mentioned.get(handleKey);
    if (userId === undefined) return [];
    return [{ postId: post.id, kind, start, end, text, userId, url: url ?? null, hashtagId: hashtag ? ids.get(hashtag.key)! : null }];
  });
  if (rows.length) await tx.postEntity.createMany({ data: rows });
  if (after.size) {
    await tx.postHashtag.createMany({
      data: [...after.keys()].map((key) => {
        const hashtagId = ids.get(key)!;
        return { id: postHashtagId(post.id, hashtagId), postId: post.id, hashtagId, authorId: post.authorId, createdAt: post.createdAt };
      }),
    });
  }
  return { mentionedUserIds: [...new Set(mentioned.values())] };
}

/**
 * Moves the counters of the tags a post stops and starts using, creating new tags with the spelling
 * of this use, in one statement. Rows are locked in key order, so concurrent posts sharing tags
 * cannot deadlock. Returns the id of every tag in `after`.
 */
async function countTags(tx: Tx, before: StoredTag[], after: Tag[]): Promise<Map<string, number>> {
  const dropped = new Map(before.map((tag) => [tag.key, tag]));
  const ids = new Map<string, number>();
  const changes: (Tag & { delta: number })[] = [];
  for (const tag of after) {
    const kept = dropped.get(tag.key);
    if (kept) ids.set(tag.key, kept.id);
    else changes.push({ ...tag, delta: 1 });
    dropped.delete(tag.key);
  }
  for (const tag of dropped.values()) changes.push({ ...tag, delta: -1 });
  if (changes.length === 0) return ids;
  const values = changes.map(({ name, key, delta }) => Prisma.sql`(${name}, ${key}, ${delta}::int)`);
  const rows = await tx.$queryRaw<{ id: number; key: string }[]>`
    INSERT INTO hashtags (name, name_key, post_count)
    SELECT name, key, delta FROM (VALUES ${Prisma.join(values)}) AS change (name, key, delta) ORDER BY key
    ON CONFLICT (name_key) DO UPDATE SET post_count = hashtags.post_count + EXCLUDED.post_count
    RETURNING id, name_key AS key`;
  for (const row of rows) ids.set(row.key, row.id);
  return ids;
}

/** How many tags trendingHashtags may ask for. */
export const MAX_TRENDING = 50;

/**
 * The tags the most distinct authors used in posts of the last 24 hours (an account counts once
 * however often it posts a tag), suspended authors left out and, for the viewer, anyone a block
 * separates them from. Ties go to the tag used most recently, then to the lower key. The window is
 * a range of post_hashtags' (created_at, hashtag_id, author_id) index, read without the table.
 */
export async function trendingHashtags(db: Pick<PrismaClient, "$queryRaw">, viewer: Viewer | null, first: number) {
  // Timestamps are stored as UTC without a zone, so the window is computed in UTC, whatever the session's TimeZone.
  return db.$queryRaw<{ id: number; authorCount: number }[]>`
    SELECT h.id, count(*)::int AS "authorCount"
    FROM (
      SELECT hashtag_id, author_id, max(created_at) AS latest
      FROM post_hashtags
      WHERE created_at > (now() AT TIME ZONE 'UTC') - interval '24 hours' AND ${hiddenUsersSql(viewer, Prisma.sql`author_id`)}
      GROUP BY hashtag_id, author_id
    ) uses
    JOIN users u ON u.id = uses.author_id AND u.suspended_at IS NULL
    JOIN hashtags h ON h.id = uses.hashtag_id
    GROUP BY h.id
    ORDER BY count(*) DESC, max(uses.latest) DESC, h.name_key
    LIMIT ${first}`;
}
