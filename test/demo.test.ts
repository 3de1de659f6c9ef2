import { beforeAll, describe, expect, it } from "vitest";
import { DEMO_PASSWORD, generateDemoRows, loadDemoData } from "../src/demo.js";
import { graphql } from "./gql/index.js";
import { type TestApi, testApi } from "./support/api.js";
import { workerDatabase } from "./support/database.js";

const size = { users: 60, posts: 900, likes: 3_000, follows: 500, seed: 7 };
let api: TestApi;
let loaded: Awaited<ReturnType<typeof loadDemoData>>;

beforeAll(async () => {
  api = await testApi();
  loaded = await loadDemoData((await workerDatabase()).db, size);
});

describe("demo data", () => {
  it("is the same for the same seed and sizes, and different for another seed", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(generateDemoRows(size, now)).toEqual(generateDemoRows(size, now));
    expect(generateDemoRows({ ...size, seed: 8 }, now).posts.body).not.toEqual(generateDemoRows(size, now).posts.body);
  });

  it("loads the requested sizes with every counter equal to the rows it counts", async () => {
    expect(loaded).toEqual({ users: 60, posts: 900, likes: 3_000, follows: 500 });
    const drift = await api.db.$queryRaw<unknown[]>`
      SELECT p.id FROM posts p
      WHERE p.like_count <> (SELECT count(*) FROM likes l WHERE l.post_id = p.id)
         OR p.reply_count <> (SELECT count(*) FROM posts r WHERE r.reply_to_id = p.id)
         OR p.repost_count <> (SELECT count(*) FROM posts r WHERE r.repost_of_id = p.id)
      UNION ALL
      SELECT u.id FROM users u
      WHERE u.follower_count <> (SELECT count(*) FROM follows f WHERE f.followee_id = u.id)
         OR u.following_count <> (SELECT count(*) FROM follows f WHERE f.follower_id = u.id)
         OR u.post_count <> (SELECT count(*) FROM posts p WHERE p.author_id = u.id AND p.repost_of_id IS NULL)`;
    expect(drift).toEqual([]);
    const replies = await api.db.post.count({ where: { replyToId: { not: null } } });
    expect(replies / 900).toBeGreaterThan(0.15);
    expect(replies / 900).toBeLessThan(0.25);
  });

  it("has the notifications the write paths make for its likes, reposts, replies, mentions and follows, counters included", async () => {
    const drift = await api.db.$queryRaw<unknown[]>`
      SELECT n.id FROM notifications n
      WHERE n.actor_count <> (SELECT count(*) FROM notification_actors a WHERE a.notification_id = n.id)
         OR n.latest_at <> (SELECT max(a.created_at) FROM notification_actors a WHERE a.notification_id = n.id)
         OR n.seq <> (SELECT max(a.seq) FROM notification_actors a WHERE a.notification_id = n.id)
         OR n.first_unread_seq > n.seq
      UNION ALL
      SELECT u.id FROM users u LEFT JOIN notification_inboxes i ON i.user_id = u.id
      WHERE coalesce(i.unread_count, 0) <> (SELECT count(*) FROM notifications n WHERE n.recipient_id = u.id AND n.first_unread_seq IS NOT NULL)`;
    expect(drift).toEqual([]);
    // Blocks and mutes (made after the rest, as the mutations make them) took their pairs' parts out.
    const [counts] = await api.db.$queryRaw<Record<string, bigint>[]>`
      WITH silenced(recipient_id, actor_id) AS (
        SELECT blocker_id, blocked_id FROM blocks UNION SELECT blocked_id, blocker_id FROM blocks UNION SELECT muter_id, muted_id FROM mutes
      )
      SELECT
        (SELECT count(*) FROM likes l JOIN posts p ON p.id = l.post_id WHERE l.user_id <> p.author_id
           AND (p.author_id, l.user_id) NOT IN (SELECT * FROM silenced)) AS likes,
        (SELECT count(*) FROM notification_actors a JOIN notifications n ON n.id = a.notification_id JOIN likes l ON l.post_id = n.post_id AND l.user_id = a.actor_id WHERE n.kind = 'LIKE') AS liked,
        (SELECT count(*) FROM follows f WHERE (f.followee_id, f.follower_id) NOT IN (SELECT * FROM silenced)) AS follows,
        (SELECT count(*) FROM notification_actors a JOIN notifications n ON n.id = a.notification_id JOIN follows f ON f.followee_id = n.recipient_id AND f.follower_id = a.actor_id WHERE n.kind = 'FOLLOW') AS followed,
        (SELECT count(*) FROM posts r JOIN posts p ON p.id = r.reply_to_id WHERE r.author_id <> p.author_id
           AND (p.author_id, r.author_id) NOT IN (SELECT * FROM silenced)) AS replies,
        (SELECT count(*) FROM notifications n JOIN posts r ON r.id = n.post_id WHERE n.kind = 'REPLY' AND n.actor_count = 1) AS replied,
        (SELECT count(*) FROM notifications WHERE kind = 'LIKE' AND actor_count > 1) AS grouped,
        (SELECT count(DISTINCT (e.post_id, e.user_id)) FROM post_entities e JOIN posts p ON p.id = e.post_id LEFT JOIN posts parent ON parent.id = p.reply_to_id
           WHERE e.kind = 'MENTION' AND e.user_id <> p.author_id AND e.user_id IS DISTINCT FROM parent.author_id
             AND (e.user_id, p.author_id) NOT IN (SELECT * FROM silenced)) AS mentions,
        (SELECT count(*) FROM notifications WHERE kind = 'MENTION') AS mentioned`;
    expect(counts!.liked).toBe(counts!.likes);
    expect(counts!.followed).toBe(counts!.follows);
    expect(counts!.replied).toBe(counts!.replies);
    expect(counts!.grouped).toBeGreaterThan(0n);
    expect(counts!.mentioned).toBe(counts!.mentions);
    expect(counts!.mentions).toBeGreaterThan(0n);
  });

  it("has blocks and mutes, made as the mutations make them: nothing of one in the other's notifications", async () => {
    const [counts] = await api.db.$queryRaw<Record<string, bigint>[]>`
      SELECT (SELECT count(*) FROM blocks) AS blocks, (SELECT count(*) FROM mutes) AS mutes,
        (SELECT count(*) FROM blocks b JOIN notifications n ON n.recipient_id IN (b.blocker_id, b.blocked_id)
           JOIN notification_actors a ON a.notification_id = n.id AND a.actor_id IN (b.blocker_id, b.blocked_id) AND a.actor_id <> n.recipient_id) AS across_blocks,
        (SELECT count(*) FROM mutes m JOIN notifications n ON n.recipient_id = m.muter_id
           JOIN notification_actors a ON a.notification_id = n.id AND a.actor_id = m.muted_id) AS from_muted`;
    expect(counts!.blocks! + counts!.mutes!).toBeGreaterThan(0n);
    expect(counts!.mutes).toBe(2n);
    expect([counts!.across_blocks, counts!.from_muted]).toEqual([0n, 0n]);
  });

  it("lets the demo users log in and new rows take the next ids", async () => {
    const logIn = await api.execute(
      graphql(`mutation DemoLogIn($input: LogInInput!) { logIn(input: $input) { __typename ... on AuthPayload { accessToken } } }`),
      { input: { login: "alice", password: DEMO_PASSWORD } },
    );
    expect(logIn.data?.logIn.__typename).toBe("AuthPayload");
    const token = logIn.data?.logIn.__typename === "AuthPayload" ? logIn.data.logIn.accessToken : "";
    const timeline = await api.execute(
      graphql(`query DemoTimeline { homeTimeline(first: 20) { edges { node { id } } } }`),
      {},
      { as: { token } },
    );
    expect(timeline.data?.homeTimeline.edges).toHaveLength(20);
    const newcomer = await api.signUp({ handle: "newcomer" });
    expect(newcomer.dbId).toBe(61);
    const post = await api.execute(graphql(`mutation DemoPost { createPost(input: { body: "hi" }) { __typename } }`), {}, { as: newcomer });
    expect(post.data?.createPost.__typename).toBe("Post");
    expect(await api.db.post.findFirst({ where: { authorId: newcomer.dbId }, select: { id: true } })).toEqual({ id: 901 });
  });

  it("has mentions, tags and links as createPost stores them, tag counters exact, and tags trending", async () => {
    const entities = await api.db.postEntity.findMany({ select: { kind: true, start: true, end: true, text: true, post: { select: { body: true } } } });
    expect(new Set(entities.map((e) => e.kind))).toEqual(new Set(["MENTION", "HASHTAG", "LINK"]));
    expect(entities.filter((e) => e.post.body!.slice(e.start, e.end) !== e.text)).toEqual([]);
    const drift = await api.db.$queryRaw<unknown[]>`
      SELECT h.id FROM hashtags h WHERE h.post_count <> (SELECT count(*) FROM post_hashtags p WHERE p.hashtag_id = h.id)`;
    expect(drift).toEqual([]);
    const trending = await api.execute(graphql(`query DemoTrending { trendingHashtags(first: 3) { authorCount hashtag { name } } }`));
    expect(trending.data?.trendingHashtags.length).toBeGreaterThan(0);
  });

  it("has conversations among the named users, unread counts equal to the rows", async () => {
    const conversations = await api.db.conversation.findMany({ select: { isGroup: true, members: { select: { user: { select: { handleKey: true } } } }, _count: { select: { messages: true } } } });
    expect(conversations.map((c) => [c.isGroup, c.members.length, c._count.messages])).toEqual([[false, 2, 4], [true, 4, 3], [false, 2, 2]]);
    const drift = await api.db.$queryRaw<unknown[]>`
      SELECT m.id FROM conversation_members m WHERE m.unread_count <> (
        SELECT count(*) FROM messages x WHERE x.conversation_id = m.conversation_id AND x.sender_id <> m.user_id AND x.id > coalesce(m.last_read_message_id, 0))`;
    expect(drift).toEqual([]);
    const unread = await api.db.conversationMember.aggregate({ _sum: { unreadCount: true } });
    expect(unread._sum.unreadCount).toBeGreaterThan(0);
  });
});
