import type { Database, SqlSession } from "./db.js";
import { hashPassword } from "./modules/auth/credentials.js";
import { toViewer } from "./modules/auth/viewer.js";
import { setBlocked, setMuted } from "./modules/blocks/blocks.service.js";
import { groupKey, windowFor } from "./modules/notifications/notifications.service.js";
import { parseEntities, postHashtagId } from "./modules/entities/entities.service.js";
import { markConversationRead, sendMessage, startConversation } from "./modules/messages/messages.service.js";
import { noEvents } from "./realtime/bus.js";

/** How much demo data to make. The same sizes and seed always make the same rows. */
export interface DemoSize {
  users: number;
  posts: number;
  likes: number;
  follows: number;
  seed: number;
}

/** What `npm start` loads into a new embedded database: enough for GraphiQL to show something. */
export const SMALL_DEMO: DemoSize = { users: 40, posts: 400, likes: 1_500, follows: 300, seed: 42 };

export const DEMO_PASSWORD = "chirp-demo-password";

const NAMED_USERS = [
  ["ada_admin", "Ada (admin)"],
  ["alice", "Alice Liddell"],
  ["bob", "Bob Marley"],
  ["carol", "Carol Danvers"],
  ["dave", "Dave Lister"],
  ["erin", "Erin Brockovich"],
  ["frank", "Frank Ocean"],
  ["grace", "Grace Hopper"],
  ["heidi", "Heidi Klum"],
  ["ivan", "Ivan Drago"],
  ["judy", "Judy Hopps"],
] as const;

const FIRST = ["sam", "max", "lee", "kim", "ana", "joe", "mia", "noa", "eli", "zoe", "ray", "ivy", "leo", "amy", "tom", "sky"];
const LAST = ["river", "stone", "field", "brook", "wood", "hill", "lake", "moss", "frost", "vale", "reed", "ash"];
const OPENERS = ["Just", "Finally", "Honestly,", "Today I", "Reminder:", "Hot take:", "TIL", "Anyone else", "Can't believe I", "So I"];
const VERBS = ["shipped", "rewrote", "broke", "fixed", "benchmarked", "deleted", "refactored", "deployed", "reviewed", "tested"];
const THINGS = [
  "the login flow", "a GraphQL resolver", "my sourdough starter", "the staging database", "a 300-line regex",
  "the coffee machine", "our cursor pagination", "a flaky test", "the release notes", "my bike", "the cache",
];
const ENDINGS = ["🎉", "and it works.", "in production 😅", "before lunch.", "— ask me how.", "#devlife", "🚀", "…again.", "👀", "and learned a lot."];
const TAGS = ["#GraphQL", "#TypeScript", "#Postgres", "#devlife", "#café", "#日本語", "#100DaysOfCode", "#ChirpLaunch"];
const REPLIES = ["Same here!", "Congrats 🎉", "How long did that take?", "Bold move.", "Tell me more.", "😂", "+1", "Respect.", "Wait, what?", "Been there."];

/** mulberry32: a small, fast, seedable PRNG, so demo data is the same on every machine. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Rows {
  users: { id: number[]; handle: string[]; displayName: string[]; bio: string[]; email: string[]; role: string[]; createdAt: string[]; followerCount: number[]; followingCount: number[]; postCount: number[] };
  posts: { id: number[]; authorId: number[]; body: (string | null)[]; replyToId: (number | null)[]; rootId: (number | null)[]; repostOfId: (number | null)[]; createdAt: string[]; likeCount: number[]; replyCount: number[]; repostCount: number[] };
  likes: { userId: number[]; postId: number[]; createdAt: string[] };
  follows: { followerId: number[]; followeeId: number[]; createdAt: string[] };
  notifications: {
    id: number[]; recipientId: number[]; kind: string[]; postId: (number | null)[]; groupKey: string[]; windowStart: (string | null)[];
    seq: number[]; firstUnreadSeq: (number | null)[]; actorCount: number[]; latestAt: string[];
  };
  notificationActors: { notificationId: number[]; actorId: number[]; createdAt: string[]; seq: number[] };
  notificationInboxes: { userId: number[]; unreadCount: number[] };
  hashtags: { id: number[]; name: string[]; nameKey: string[]; postCount: number[]; createdAt: string[] };
  postEntities: { postId: number[]; start: number[]; end: number[]; kind: string[]; text: string[]; userId: (number | null)[]; url: (string | null)[]; hashtagId: (number | null)[] };
  postHashtags: { id: string[]; postId: number[]; hashtagId: number[]; authorId: number[]; createdAt: string[] };
}

type Kind = "LIKE" | "REPLY" | "REPOST" | "FOLLOW" | "MENTION";
const GROUPED = new Set<Kind>(["LIKE", "REPOST", "FOLLOW"]);
/** Demo notifications older than this are read. */
const READ_BEFORE = 3 * 86_400_000;

/**
 * The notifications the write paths would have made for the demo's likes, reposts, replies, mentions
 * and follows, taken in time order: the same entries, windows, actors, order and counters.
 */
function generateNotifications(posts: Rows["posts"], likes: Rows["likes"], follows: Rows["follows"], entities: Rows["postEntities"], now: number) {
  const activities: { kind: Kind; recipientId: number; actorId: number; postId: number | null; at: number }[] = [];
  const authorOf = (postId: number) => posts.authorId[postId - 1]!;
  likes.userId.forEach((actorId, i) => {
    const postId = likes.postId[i]!;
    activities.push({ kind: "LIKE", recipientId: authorOf(postId), actorId, postId, at: Date.parse(likes.createdAt[i]!) });
  });
  posts.id.forEach((id, i) => {
    const at = Date.parse(posts.createdAt[i]!);
    const actorId = posts.authorId[i]!;
    const repostOf = posts.repostOfId[i];
    const replyTo = posts.replyToId[i];
    if (repostOf != null) activities.push({ kind: "REPOST", recipientId: authorOf(repostOf), actorId, postId: repostOf, at });
    else if (replyTo != null) activities.push({ kind: "REPLY", recipientId: authorOf(replyTo), actorId, postId: id, at });
  });
  // As createPost: once per mentioned user and post, and not for the author a reply already tells.
  const mentioned = new Set<string>();
  entities.kind.forEach((kind, i) => {
    const postId = entities.postId[i]!;
    const recipientId = entities.userId[i];
    const replyTo = posts.replyToId[postId - 1];
    if (kind !== "MENTION" || recipientId == null || mentioned.has(`${postId}:${recipientId}`)) return;
    if (replyTo != null && authorOf(replyTo) === recipientId) return;
    mentioned.add(`${postId}:${recipientId}`);
    activities.push({ kind: "MENTION", recipientId, actorId: posts.authorId[postId - 1]!, postId, at: Date.parse(posts.createdAt[postId - 1]!) });
  });
  follows.followerId.forEach((actorId, i) => {
    activities.push({ kind: "FOLLOW", recipientId: follows.followeeId[i]!, actorId, postId: null, at: Date.parse(follows.createdAt[i]!) });
  });
  activities.sort((a, b) => a.at - b.at); // stable: same-time activities keep the order above

  const n: Rows["notifications"] = { id: [], recipientId: [], kind: [], postId: [], groupKey: [], windowStart: [], seq: [], firstUnreadSeq: [], actorCount: [], latestAt: [] };
  const actors: Rows["notificationActors"] = { notificationId: [], actorId: [], createdAt: [], seq: [] };
  const latestWindow = new Map<string, { start: number; entry: number }>();
  const open = (kind: Kind, recipientId: number, postId: number | null, start: number | null) => {
    const row = { id: n.id.length + 1, recipientId, kind, postId, groupKey: groupKey(kind, postId, start), windowStart: start === null ? null : new Date(start).toISOString() };
    for (const [column, value] of Object.entries(row)) (n[column as keyof typeof row] as unknown[]).push(value);
    n.seq.push(0);
    n.firstUnreadSeq.push(null);
    n.actorCount.push(0);
    n.latestAt.push("");
    return row.id - 1;
  };
  let seq = 0;
  for (const { kind, recipientId, actorId, postId, at } of activities) {
    if (recipientId === actorId) continue;
    let entry: number;
    if (GROUPED.has(kind)) {
      const subject = `${recipientId}:${kind}:${postId}`;
      const latest = latestWindow.get(subject);
      const start = windowFor(latest?.start ?? null, at);
      if (latest?.start === start) {
        entry = latest.entry;
      } else {
        entry = open(kind, recipientId, postId, start);
        latestWindow.set(subject, { start, entry });
      }
    } else {
      entry = open(kind, recipientId, postId, null);
    }
    n.seq[entry] = ++seq;
    n.actorCount[entry]!++;
    n.latestAt[entry] = new Date(at).toISOString();
    actors.notificationId.push(entry + 1);
    actors.actorId.push(actorId);
    actors.createdAt.push(new Date(at).toISOString());
    actors.seq.push(seq);
  }
  const unread = new Map<number, number>();
  n.id.forEach((_, i) => {
    if (Date.parse(n.latestAt[i]!) < now - READ_BEFORE) return;
    n.firstUnreadSeq[i] = n.seq[i]!;
    unread.set(n.recipientId[i]!, (unread.get(n.recipientId[i]!) ?? 0) + 1);
  });
  const inboxes: Rows["notificationInboxes"] = { userId: [...unread.keys()], unreadCount: [...unread.values()] };
  return { notifications: n, notificationActors: actors, notificationInboxes: inboxes };
}

/** Builds every row in memory, counters included, so the database gets only bulk inserts. */
export function generateDemoRows(size: DemoSize, now = Date.now()): Rows {
  const rand = random(size.seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)]!;
  // Skewed towards low ids: a few people post, get liked and get followed much more than the rest.
  const popular = (n: number) => 1 + Math.floor(n * rand() ** 2.5);
  const span = 30 * 86_400_000;
  const iso = (ms: number) => new Date(ms).toISOString();

  const userCount = Math.max(size.users, NAMED_USERS.length);
  const users: Rows["users"] = { id: [], handle: [], displayName: [], bio: [], email: [], role: [], createdAt: [], followerCount: [], followingCount: [], postCount: [] };
  for (let i = 1; i <= userCount; i++) {
    const named = NAMED_USERS[i - 1];
    const first = pick(FIRST);
    const handle = named ? named[0] : `${first}_${pick(LAST)}${i}`.slice(0, 20);
    users.id.push(i);
    users.handle.push(handle);
    users.displayName.push(named ? named[1] : `${first[0]!.toUpperCase()}${first.slice(1)} ${pick(LAST)}`);
    users.bio.push(`${pick(VERBS)} ${pick(THINGS)} for a living. ${pick(ENDINGS)}`.slice(0, 160));
    users.email.push(`${handle.toLowerCase()}@demo.chirp.test`);
    users.role.push(i === 1 ? "ADMIN" : "USER");
    users.createdAt.push(iso(now - span - (userCount - i) * 60_000));
    users.followerCount.push(0);
    users.followingCount.push(0);
    users.postCount.push(0);
  }

  const posts: Rows["posts"] = { id: [], authorId: [], body: [], replyToId: [], rootId: [], repostOfId: [], createdAt: [], likeCount: [], replyCount: [], repostCount: [] };
  const reposted = new Set<number>();
  for (let id = 1; id <= size.posts; id++) {
    const authorId = popular(userCount);
    const kind = id > 10 ? rand() : 1;
    let body: string | null = `${pick(OPENERS)} ${pick(VERBS)} ${pick(THINGS)} ${pick(ENDINGS)}`;
    // Some posts tag a topic, mention one of the named users or link to notes.
    const extra = rand();
    if (extra < 0.3) body += ` ${pick(TAGS)}`;
    else if (extra < 0.4) body += ` cc @${pick(NAMED_USERS)[0]}`;
    else if (extra < 0.45) body += ` notes: chirp.dev/notes/${id}`;
    let replyToId: number | null = null;
    let rootId: number | null = null;
    let repostOfId: number | null = null;
    const earlier = () => {
      // An earlier original post (never a repost), recent ones more likely.
      let target = id - 1 - Math.floor((id - 1) * rand() ** 3);
      while (posts.repostOfId[target - 1] !== null) target--;
      return target;
    };
    if (kind < 0.2) {
      replyToId = earlier();
      rootId = posts.rootId[replyToId - 1] ?? replyToId;
      body = extra < 0.5 ? `@${users.handle[posts.authorId[replyToId - 1]! - 1]} ${pick(REPLIES)}` : pick(REPLIES);
      posts.replyCount[replyToId - 1]!++;
    } else if (kind < 0.25) {
      const original = earlier();
      if (posts.authorId[original - 1] !== authorId && !reposted.has(authorId * (size.posts + 1) + original)) {
        reposted.add(authorId * (size.posts + 1) + original);
        repostOfId = original;
        body = null;
        posts.repostCount[original - 1]!++;
      }
    }
    if (repostOfId === null) users.postCount[authorId - 1]!++;
    posts.id.push(id);
    posts.authorId.push(authorId);
    posts.body.push(body);
    posts.replyToId.push(replyToId);
    posts.rootId.push(rootId);
    posts.repostOfId.push(repostOfId);
    posts.createdAt.push(iso(now - span + Math.floor((span * id) / (size.posts + 1))));
    posts.likeCount.push(0);
    posts.replyCount.push(0);
    posts.repostCount.push(0);
  }

  const likes: Rows["likes"] = { userId: [], postId: [], createdAt: [] };
  const liked = new Set<number>();
  const originals = posts.id.filter((id) => posts.repostOfId[id - 1] === null);
  const likeTarget = Math.min(size.likes, Math.floor((userCount * originals.length) / 2));
  while (likes.userId.length < likeTarget && originals.length > 0) {
    const userId = 1 + Math.floor(rand() * userCount);
    const postId = originals[originals.length - popular(originals.length)]!;
    const key = userId * (size.posts + 1) + postId;
    if (liked.has(key)) continue;
    liked.add(key);
    likes.userId.push(userId);
    likes.postId.push(postId);
    likes.createdAt.push(posts.createdAt[postId - 1]!);
    posts.likeCount[postId - 1]!++;
  }

  const follows: Rows["follows"] = { followerId: [], followeeId: [], createdAt: [] };
  const followed = new Set<number>();
  const follow = (followerId: number, followeeId: number) => {
    const key = followerId * (userCount + 1) + followeeId;
    if (followerId === followeeId || followed.has(key)) return;
    followed.add(key);
    follows.followerId.push(followerId);
    follows.followeeId.push(followeeId);
    follows.createdAt.push(iso(now - span + follows.followerId.length * 1000));
    users.followingCount[followerId - 1]!++;
    users.followerCount[followeeId - 1]!++;
  };
  // The named users follow each other, so their home timelines have something in them.
  for (let a = 2; a <= NAMED_USERS.length; a++) for (let b = 2; b <= NAMED_USERS.length; b++) follow(a, b);
  const followTarget = Math.min(size.follows, Math.floor((userCount * (userCount - 1)) / 2));
  while (follows.followerId.length < followTarget) follow(1 + Math.floor(rand() * userCount), popular(userCount));

  const entities = entityRows(users, posts);
  return { users, posts, likes, follows, ...generateNotifications(posts, likes, follows, entities.postEntities, now), ...entities };
}

/** The mentions, tags and links of the posts, parsed as createPost does, with the tags' counters. */
function entityRows(users: Rows["users"], posts: Rows["posts"]): Pick<Rows, "hashtags" | "postEntities" | "postHashtags"> {
  const userIds = new Map(users.handle.map((handle, i) => [handle.toLowerCase(), users.id[i]!]));
  const hashtags: Rows["hashtags"] = { id: [], name: [], nameKey: [], postCount: [], createdAt: [] };
  const tagIds = new Map<string, number>();
  const postEntities: Rows["postEntities"] = { postId: [], start: [], end: [], kind: [], text: [], userId: [], url: [], hashtagId: [] };
  const postHashtags: Rows["postHashtags"] = { id: [], postId: [], hashtagId: [], authorId: [], createdAt: [] };
  const tagId = ({ name, key }: { name: string; key: string }, createdAt: string) => {
    let id = tagIds.get(key);
    if (id === undefined) {
      id = hashtags.id.length + 1;
      tagIds.set(key, id);
      hashtags.id.push(id);
      hashtags.name.push(name);
      hashtags.nameKey.push(key);
      hashtags.postCount.push(0);
      hashtags.createdAt.push(createdAt);
    }
    return id;
  };
  posts.id.forEach((postId, i) => {
    const body = posts.body[i];
    if (!body) return;
    const tagged = new Set<number>();
    for (const entity of parseEntities(body)) {
      const userId = entity.handleKey === undefined ? null : userIds.get(entity.handleKey);
      if (userId === undefined) continue;
      const hashtagId = entity.hashtag ? tagId(entity.hashtag, posts.createdAt[i]!) : null;
      if (hashtagId !== null && !tagged.has(hashtagId)) {
        tagged.add(hashtagId);
        hashtags.postCount[hashtagId - 1]!++;
        postHashtags.id.push(String(postHashtagId(postId, hashtagId)));
        postHashtags.postId.push(postId);
        postHashtags.hashtagId.push(hashtagId);
        postHashtags.authorId.push(posts.authorId[i]!);
        postHashtags.createdAt.push(posts.createdAt[i]!);
      }
      postEntities.postId.push(postId);
      postEntities.start.push(entity.start);
      postEntities.end.push(entity.end);
      postEntities.kind.push(entity.kind);
      postEntities.text.push(entity.text);
      postEntities.userId.push(userId);
      postEntities.url.push(entity.url ?? null);
      postEntities.hashtagId.push(hashtagId);
    }
  });
  return { hashtags, postEntities, postHashtags };
}

const CHUNK = 20_000;

/** A PostgreSQL array literal: PGlite passes JS arrays through as their toString(), pg would not quote them alike. */
const arrayLiteral = (values: unknown[]) =>
  `{${values.map((v) => (v === null ? "NULL" : `"${String(v).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`)).join(",")}}`;

/** Inserts columns of values with one `INSERT … SELECT FROM unnest(…)` per chunk of rows. */
async function bulkInsert(session: SqlSession, table: string, columns: Record<string, { type: string; values: unknown[] }>) {
  const names = Object.keys(columns);
  const total = Object.values(columns)[0]!.values.length;
  const unnest = names.map((name, i) => `$${i + 1}::${columns[name]!.type}[]`).join(", ");
  const sql = `INSERT INTO ${table} (${names.join(", ")}) SELECT * FROM unnest(${unnest})`;
  for (let start = 0; start < total; start += CHUNK) {
    await session.query(sql, names.map((name) => arrayLiteral(columns[name]!.values.slice(start, start + CHUNK))));
  }
}

export interface DemoCounts {
  users: number;
  posts: number;
  likes: number;
  follows: number;
}

/** Loads demo data into an empty database; every demo user's password is DEMO_PASSWORD. */
export async function loadDemoData(db: Database, size: DemoSize = SMALL_DEMO): Promise<DemoCounts> {
  const { users, posts, likes, follows, notifications, notificationActors, notificationInboxes, hashtags, postEntities, postHashtags } = generateDemoRows(size);
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  const session = await db.session();
  try {
    await session.exec("BEGIN");
    await bulkInsert(session, "users", {
      id: { type: "int", values: users.id },
      handle: { type: "text", values: users.handle },
      handle_key: { type: "text", values: users.handle.map((h) => h.toLowerCase()) },
      display_name: { type: "text", values: users.displayName },
      bio: { type: "text", values: users.bio },
      email: { type: "text", values: users.email },
      password_hash: { type: "text", values: users.id.map(() => passwordHash) },
      role: { type: '"Role"', values: users.role },
      created_at: { type: "timestamp", values: users.createdAt },
      follower_count: { type: "int", values: users.followerCount },
      following_count: { type: "int", values: users.followingCount },
      post_count: { type: "int", values: users.postCount },
    });
    await bulkInsert(session, "posts", {
      id: { type: "int", values: posts.id },
      author_id: { type: "int", values: posts.authorId },
      body: { type: "text", values: posts.body },
      reply_to_id: { type: "int", values: posts.replyToId },
      root_id: { type: "int", values: posts.rootId },
      repost_of_id: { type: "int", values: posts.repostOfId },
      created_at: { type: "timestamp", values: posts.createdAt },
      like_count: { type: "int", values: posts.likeCount },
      reply_count: { type: "int", values: posts.replyCount },
      repost_count: { type: "int", values: posts.repostCount },
    });
    await bulkInsert(session, "likes", {
      user_id: { type: "int", values: likes.userId },
      post_id: { type: "int", values: likes.postId },
      created_at: { type: "timestamp", values: likes.createdAt },
    });
    await bulkInsert(session, "follows", {
      follower_id: { type: "int", values: follows.followerId },
      followee_id: { type: "int", values: follows.followeeId },
      created_at: { type: "timestamp", values: follows.createdAt },
    });
    await bulkInsert(session, "notifications", {
      id: { type: "int", values: notifications.id },
      recipient_id: { type: "int", values: notifications.recipientId },
      kind: { type: '"NotificationKind"', values: notifications.kind },
      post_id: { type: "int", values: notifications.postId },
      group_key: { type: "text", values: notifications.groupKey },
      window_start: { type: "timestamp", values: notifications.windowStart },
      seq: { type: "int", values: notifications.seq },
      first_unread_seq: { type: "int", values: notifications.firstUnreadSeq },
      actor_count: { type: "int", values: notifications.actorCount },
      latest_at: { type: "timestamp", values: notifications.latestAt },
    });
    await bulkInsert(session, "notification_actors", {
      notification_id: { type: "int", values: notificationActors.notificationId },
      actor_id: { type: "int", values: notificationActors.actorId },
      created_at: { type: "timestamp", values: notificationActors.createdAt },
      seq: { type: "int", values: notificationActors.seq },
    });
    await bulkInsert(session, "notification_inboxes", {
      user_id: { type: "int", values: notificationInboxes.userId },
      unread_count: { type: "int", values: notificationInboxes.unreadCount },
    });
    await bulkInsert(session, "hashtags", {
      id: { type: "int", values: hashtags.id },
      name: { type: "text", values: hashtags.name },
      name_key: { type: "text", values: hashtags.nameKey },
      post_count: { type: "int", values: hashtags.postCount },
      created_at: { type: "timestamp", values: hashtags.createdAt },
    });
    await bulkInsert(session, "post_entities", {
      post_id: { type: "int", values: postEntities.postId },
      start_offset: { type: "int", values: postEntities.start },
      end_offset: { type: "int", values: postEntities.end },
      kind: { type: '"EntityKind"', values: postEntities.kind },
      text: { type: "text", values: postEntities.text },
      user_id: { type: "int", values: postEntities.userId },
      url: { type: "text", values: postEntities.url },
      hashtag_id: { type: "int", values: postEntities.hashtagId },
    });
    await bulkInsert(session, "post_hashtags", {
      id: { type: "bigint", values: postHashtags.id },
      post_id: { type: "int", values: postHashtags.postId },
      hashtag_id: { type: "int", values: postHashtags.hashtagId },
      author_id: { type: "int", values: postHashtags.authorId },
      created_at: { type: "timestamp", values: postHashtags.createdAt },
    });
    // Explicit ids leave the sequences behind: the next sign-up, post, notification or tag must not collide.
    await session.exec(`
      SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));
      SELECT setval(pg_get_serial_sequence('posts', 'id'), greatest((SELECT max(id) FROM posts), 1));
      SELECT setval(pg_get_serial_sequence('notifications', 'id'), greatest((SELECT max(id) FROM notifications), 1));
      SELECT setval(pg_get_serial_sequence('notifications', 'seq'), greatest((SELECT max(seq) FROM notifications), 1));
      SELECT setval(pg_get_serial_sequence('hashtags', 'id'), greatest((SELECT max(id) FROM hashtags), 1));
    `);
    await session.exec("COMMIT");
    // Fresh statistics, so the first queries after a bulk load get the planner's real choices.
    await session.exec("ANALYZE users, posts, likes, follows, notifications, notification_actors, notification_inboxes, hashtags, post_entities, post_hashtags");
    // The load left the search indexes' new entries in GIN's pending lists, which every search would scan until a vacuum.
    await session.exec(`SELECT gin_clean_pending_list(i::regclass) FROM unnest(ARRAY['posts_search_vector_idx', 'users_handle_key_trgm_idx', 'users_display_name_trgm_idx']) i`);
  } catch (error) {
    await session.exec("ROLLBACK");
    throw error;
  } finally {
    await session.release();
  }
  await blockAndMute(db);
  await converse(db);
  return { users: users.id.length, posts: posts.id.length, likes: likes.userId.length, follows: follows.followerId.length };
}

/** Who blocks and who mutes whom in the demo: named users other than alice and bob, whom the benchmark reads as. */
const DEMO_BLOCKS = [["heidi", "ivan"], ["judy", "dave"]] as const;
const DEMO_MUTES = [["grace", "frank"], ["erin", "carol"]] as const;

/**
 * The demo's blocks and mutes, made by the services the mutations use (notifications forgotten
 * included). A block between two who follow each other either way is left out, so the data keeps
 * the follows its size says (the benchmark checks them).
 */
async function blockAndMute(db: Database) {
  const named = await db.prisma.user.findMany({ where: { handleKey: { in: NAMED_USERS.map(([handle]) => handle) } }, select: { id: true, handleKey: true, role: true } });
  const byHandle = new Map(named.map((u) => [u.handleKey, u]));
  for (const [pairs, set] of [[DEMO_BLOCKS, setBlocked], [DEMO_MUTES, setMuted]] as const) {
    for (const [from, to] of pairs) {
      const [actor, other] = [byHandle.get(from)!, byHandle.get(to)!];
      const follows = await db.prisma.follow.count({ where: { OR: [{ followerId: actor.id, followeeId: other.id }, { followerId: other.id, followeeId: actor.id }] } });
      if (set === setBlocked && follows > 0) continue;
      const viewer = toViewer({ ...actor, blocking: [], blockedBy: [], muting: [] }, { canRead: true, canWrite: true, sessionId: null });
      await set(db.prisma, viewer, other.id, true, { select: { id: true } }, noEvents);
    }
  }
}

/** The demo's conversations among named users no block separates: [starter, others, messages as [sender, body]]. */
const DEMO_CONVERSATIONS: [string, string[], [string, string][]][] = [
  ["alice", ["bob"], [["alice", "Lunch tomorrow? 🌮"], ["bob", "Sure, 12:30?"], ["alice", "Perfect."], ["bob", "See you there 👋"]]],
  ["carol", ["alice", "bob", "erin"], [["carol", "Release notes are up for review"], ["erin", "Reading now"], ["bob", "LGTM 🚀"]]],
  ["grace", ["alice"], [["grace", "Did you see the new pagination?"], ["grace", "Cursors both ways now."]]],
];

/**
 * The demo's conversations, made by the services the mutations use. Everyone named accepts messages
 * from anyone, so that GraphiQL visitors can try startConversation among them; each member but the
 * last has read up to the message before the latest, so unread counts show.
 */
async function converse(db: Database) {
  const handles = NAMED_USERS.map(([handle]) => handle as string);
  await db.prisma.user.updateMany({ where: { handleKey: { in: handles } }, data: { messagePolicy: "EVERYONE" } });
  const named = await db.prisma.user.findMany({ where: { handleKey: { in: handles } }, select: { id: true, handleKey: true, role: true } });
  const byHandle = new Map(named.map((u) => [u.handleKey, toViewer({ ...u, blocking: [], blockedBy: [], muting: [] }, { canRead: true, canWrite: true, sessionId: null })]));
  for (const [starter, others, messages] of DEMO_CONVERSATIONS) {
    const [[, first], ...rest] = messages as [[string, string], ...[string, string][]];
    const { conversationId, messageId } = await startConversation(db.prisma, byHandle.get(starter)!, { memberIds: others.map((h) => byHandle.get(h)!.id), body: first }, noEvents);
    let previous = messageId;
    let latest = messageId;
    for (const [sender, body] of rest) {
      previous = latest;
      latest = (await sendMessage(db.prisma, byHandle.get(sender)!, conversationId, body, noEvents)).messageId;
    }
    for (const handle of others.slice(0, -1)) await markConversationRead(db.prisma, byHandle.get(handle)!, conversationId, previous, noEvents);
  }
}
