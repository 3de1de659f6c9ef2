import { Prisma, type NotificationKind, type PrismaClient } from "@prisma/client";
import type { Viewer } from "../auth/viewer.js";
import { NotFoundError } from "../../errors.js";
import { type Publisher, publishInboxes } from "../../realtime/bus.js";

type Tx = Prisma.TransactionClient;

/**
 * Likes, reposts and follows of one subject join the entry whose window opened less than this many
 * hours (counted in whole hours, as Mastodon's group keys do) before the activity's hour.
 */
export const GROUP_WINDOW_HOURS = 12;

const HOUR = 3_600_000;

/**
 * The window an activity at `at` (ms) joins, given the start of its subject's latest window: that
 * one if it opened less than GROUP_WINDOW_HOURS before `at`'s hour, else `at`'s hour. The rule the
 * SQL of notifyGroupedCtes applies, for data built in bulk (src/demo.ts).
 */
export function windowFor(latest: number | null, at: number) {
  const hour = Math.floor(at / HOUR) * HOUR;
  return latest !== null && latest > hour - GROUP_WINDOW_HOURS * HOUR ? latest : hour;
}

/** The group key of an entry, as notifyGroupedCtes and notifySingle write it. */
export const groupKey = (kind: NotificationKind, postId: number | null, windowStart: number | null) =>
  windowStart === null ? `${kind}:${postId}` : kind === "FOLLOW" ? `FOLLOW:${windowStart / 1000}` : `${kind}:${postId}:${windowStart / 1000}`;

/**
 * Lock order of every write here, after the posts and users rows a write already holds: entries
 * (notifications rows, in id order when there are several), then their actor rows, then inboxes (in
 * user id order). The unread counter moves only with a change of an entry's read state seen under
 * the entry's row lock, so it stays exact whatever runs concurrently.
 */

const KINDS = {
  LIKE: Prisma.raw(`'LIKE'::"NotificationKind"`),
  REPOST: Prisma.raw(`'REPOST'::"NotificationKind"`),
  FOLLOW: Prisma.raw(`'FOLLOW'::"NotificationKind"`),
  REPLY: Prisma.raw(`'REPLY'::"NotificationKind"`),
  MENTION: Prisma.raw(`'MENTION'::"NotificationKind"`),
} satisfies Record<NotificationKind, Prisma.Sql>;

export type GroupedKind = "LIKE" | "REPOST" | "FOLLOW";

// The time of a change, taken when the statement runs (after its locks), in UTC as our timestamp columns hold it.
const CLOCK = Prisma.sql`(clock_timestamp() AT TIME ZONE 'UTC')`;
const NEXT_SEQ = Prisma.sql`nextval('notifications_seq_seq')::int`;

/**
 * Whether `actor` may notify the recipient in `recipient` (an SQL column): not themselves, not someone
 * the recipient blocked or muted, not someone who blocks the recipient. Read from the tables, as
 * committed: the actor's viewer has its own blocks, but not the recipient's mutes.
 */
const mayNotify = (recipient: Prisma.Sql, actor: number) => Prisma.sql`${recipient} <> ${actor}
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ${recipient} AND b.blocked_id = ${actor})
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ${actor} AND b.blocked_id = ${recipient})
  AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = ${recipient} AND m.muted_id = ${actor})`;

/** The entries of `kind` about the subject of a source row `s`: its post, or for follows the recipient alone. */
const sameSubject = (kind: GroupedKind, n: string, s: string) =>
  kind === "FOLLOW" ? Prisma.raw(`${n}.post_id IS NULL`) : Prisma.raw(`${n}.post_id = ${s}.post_id`);

/**
 * CTEs that add `actorId` to the entry of `kind` about each row of `source` (`recipient_id`,
 * `post_id`), in the current window or a new one; for a statement that already holds the lock that
 * serializes this subject's writes (the post's row, or the followee's). The entry is found by an
 * upsert on its group key, which sees the row a concurrent statement committed after this one began.
 */
export function notifyGroupedCtes(kind: GroupedKind, actorId: number, source: Prisma.Sql) {
  const key = kind === "FOLLOW" ? Prisma.sql`${kind} || ':'` : Prisma.sql`${kind} || ':' || post_id || ':'`;
  return Prisma.sql`
    n_source AS (
      SELECT s.recipient_id, s.post_id, ${CLOCK} AS at FROM (${source}) s WHERE ${mayNotify(Prisma.raw("s.recipient_id"), actorId)}
    ), n_key AS (
      SELECT s.recipient_id, s.post_id, s.at, ${NEXT_SEQ} AS seq, COALESCE((
        SELECT n.window_start FROM notifications n
        WHERE n.recipient_id = s.recipient_id AND n.kind = ${KINDS[kind]} AND ${sameSubject(kind, "n", "s")}
          AND n.window_start > date_trunc('hour', s.at) - make_interval(hours => ${GROUP_WINDOW_HOURS})
        ORDER BY n.seq DESC LIMIT 1
      ), date_trunc('hour', s.at)) AS window_start
      FROM n_source s
    ), n_entry AS (
      INSERT INTO notifications (recipient_id, kind, post_id, group_key, window_start, seq, first_unread_seq, actor_count, latest_at)
      SELECT recipient_id, ${KINDS[kind]}, post_id, ${key} || extract(epoch FROM window_start)::bigint, window_start, seq, seq, 1, at FROM n_key
      ON CONFLICT (recipient_id, group_key) DO UPDATE SET
        actor_count = notifications.actor_count + 1,
        seq = excluded.seq,
        latest_at = greatest(notifications.latest_at, excluded.latest_at),
        first_unread_seq = coalesce(notifications.first_unread_seq, excluded.seq)
      RETURNING id, recipient_id, first_unread_seq = seq AS became_unread
    ), n_actor AS (
      INSERT INTO notification_actors (notification_id, actor_id, created_at, seq)
      SELECT e.id, ${actorId}, k.at, k.seq FROM n_entry e JOIN n_key k ON k.recipient_id = e.recipient_id RETURNING id
    ), n_inbox AS (
      INSERT INTO notification_inboxes (user_id, unread_count) SELECT recipient_id, 1 FROM n_entry WHERE became_unread
      ON CONFLICT (user_id) DO UPDATE SET unread_count = notification_inboxes.unread_count + 1 RETURNING user_id
    )`;
}

/**
 * CTEs that take `actorId` out of the entries `where` selects (a condition on `n`, the entry, and
 * the tables `from` adds), as if they had never acted: an entry left without actors goes; the
 * others count one fewer and take back the seq and time of their latest remaining actor (moving
 * down the list when the one leaving was the latest), and an entry none of whose remaining actors
 * acted at or after its first unread seq is read again, one fewer in the recipient's unread count.
 * The entries are locked first, in id order, and read as they are now.
 */
export function withdrawActorCtes(actorId: number, where: Prisma.Sql, from: Prisma.Sql = Prisma.empty) {
  return Prisma.sql`
    r_entry AS (
      SELECT n.id, n.recipient_id, n.actor_count, n.seq, n.latest_at, n.first_unread_seq
      FROM notifications n JOIN notification_actors a ON a.notification_id = n.id AND a.actor_id = ${actorId}${from}
      WHERE ${where} ORDER BY n.id FOR UPDATE OF n
    ), r_actor AS (
      DELETE FROM notification_actors a USING r_entry e WHERE a.notification_id = e.id AND a.actor_id = ${actorId}
      RETURNING e.id, e.recipient_id, e.actor_count, e.seq, e.latest_at, e.first_unread_seq, a.id AS actor_row, a.seq AS actor_seq
    ), r_gone AS (
      DELETE FROM notifications n USING r_actor r WHERE n.id = r.id AND r.actor_count = 1
      RETURNING r.recipient_id, r.first_unread_seq IS NOT NULL AS unread
    ), r_kept AS (
      -- The entry's seq is its latest actor's (writes to one entry draw their seqs under the lock of
      -- its subject, so seq, id and time grow together). A later actor than this one is still in it
      -- (the entry row, locked, is read as it is now): it keeps its seq and time. Else the latest of
      -- the others, who all joined before this one, is read under a row lock, which passes over an
      -- actor someone took out since this statement's snapshot.
      UPDATE notifications n SET actor_count = r.actor_count - 1,
        seq = CASE WHEN r.seq > r.actor_seq THEN r.seq ELSE p.seq END,
        latest_at = CASE WHEN r.seq > r.actor_seq THEN r.latest_at ELSE p.created_at END,
        first_unread_seq = CASE WHEN r.seq > r.actor_seq OR p.seq >= r.first_unread_seq THEN r.first_unread_seq END
      FROM r_actor r LEFT JOIN LATERAL (
        SELECT x.seq, x.created_at FROM notification_actors x
        WHERE r.seq <= r.actor_seq AND x.notification_id = r.id AND x.id <> r.actor_row
        ORDER BY x.seq DESC, x.created_at DESC, x.id DESC LIMIT 1 FOR SHARE
      ) p ON true
      WHERE n.id = r.id AND r.actor_count > 1
      RETURNING n.recipient_id, r.first_unread_seq IS NOT NULL AND n.first_unread_seq IS NULL AS became_read
    ), r_inbox AS (
      UPDATE notification_inboxes i SET unread_count = i.unread_count - g.n
      FROM (
        SELECT recipient_id, count(*)::int AS n
        FROM (SELECT recipient_id FROM r_gone WHERE unread UNION ALL SELECT recipient_id FROM r_kept WHERE became_read) u
        GROUP BY recipient_id
      ) g
      WHERE i.user_id = g.recipient_id RETURNING i.user_id
    )`;
}

/** CTEs that take `actorId` out of the entry of `kind` about each row of `source` (`recipient_id`, `post_id`). */
export const withdrawGroupedCtes = (kind: GroupedKind, actorId: number, source: Prisma.Sql) =>
  withdrawActorCtes(
    actorId,
    Prisma.sql`n.recipient_id = s.recipient_id AND n.kind = ${KINDS[kind]} AND ${sameSubject(kind, "n", "s")}`,
    Prisma.sql`, (${source}) s`,
  );

const run = (tx: Tx, ctes: Prisma.Sql) => tx.$executeRaw`WITH ${ctes} SELECT 1`;
const subject = (recipientId: number, postId: number | null) => Prisma.sql`SELECT ${recipientId}::int AS recipient_id, ${postId}::int AS post_id`;

/** `actorId` reposted or followed: the recipient's entry for it, inside the write's transaction (holding its lock). */
export const notifyGrouped = (tx: Tx, kind: "REPOST" | "FOLLOW", actorId: number, recipientId: number, postId: number | null) =>
  run(tx, notifyGroupedCtes(kind, actorId, subject(recipientId, postId)));

/** A repost or follow taken back: its actor leaves the entry it is in. */
export const withdrawGrouped = (tx: Tx, kind: GroupedKind, actorId: number, recipientId: number, postId: number | null) =>
  run(tx, withdrawGroupedCtes(kind, actorId, subject(recipientId, postId)));

/**
 * One entry per recipient for a post of `actorId` (a reply, or a post mentioning them), never grouped;
 * a recipient who already has one for this post (its reply, or an earlier mention) gets none.
 */
async function notifySingle(tx: Tx, kind: "REPLY" | "MENTION", postId: number, actorId: number, recipientIds: number[]) {
  if (recipientIds.length === 0) return;
  // Recipients in id order, so that their inboxes are locked in that order.
  await tx.$executeRaw`
    WITH n_source AS (
      SELECT r.id AS recipient_id, ${CLOCK} AS at FROM users r
      WHERE r.id = ANY(${`{${recipientIds.join(",")}}`}::int[]) AND ${mayNotify(Prisma.raw("r.id"), actorId)}
        AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.post_id = ${postId} AND n.recipient_id = r.id)
    ), n_entry AS (
      INSERT INTO notifications (recipient_id, kind, post_id, group_key, seq, first_unread_seq, actor_count, latest_at)
      SELECT recipient_id, ${KINDS[kind]}, ${postId}, ${kind} || ':' || ${postId}::int, seq, seq, 1, at
      FROM (SELECT s.*, ${NEXT_SEQ} AS seq FROM n_source s ORDER BY recipient_id) s
      ON CONFLICT (recipient_id, group_key) DO NOTHING
      RETURNING id, recipient_id, latest_at, seq
    ), n_actor AS (
      INSERT INTO notification_actors (notification_id, actor_id, created_at, seq) SELECT id, ${actorId}, latest_at, seq FROM n_entry RETURNING id
    )
    INSERT INTO notification_inboxes (user_id, unread_count) SELECT recipient_id, 1 FROM n_entry ORDER BY recipient_id
    ON CONFLICT (user_id) DO UPDATE SET unread_count = notification_inboxes.unread_count + 1`;
}

/** A reply: its parent's author hears of it; the entry's post is the reply. */
export const notifyReply = (tx: Tx, { postId, actorId, recipientId }: { postId: number; actorId: number; recipientId: number }) =>
  notifySingle(tx, "REPLY", postId, actorId, [recipientId]);

/**
 * A post mentions users: each hears of it once per post (calling again after an edit adds only the
 * newly mentioned), unless they had a reply notification for it. The entry's post is the mentioning post.
 */
export const notifyMentions = (tx: Tx, { postId, actorId, userIds }: { postId: number; actorId: number; userIds: readonly number[] }) =>
  notifySingle(tx, "MENTION", postId, actorId, [...new Set(userIds)]);

/**
 * A post is deleted: the entries about it (likes, reposts) and those it caused (its reply and
 * mentions) go. Locks the entries in id order, then the inboxes in user id order.
 */
export async function removePostNotifications(tx: Tx, postId: number): Promise<number[]> {
  const recounted = await tx.$queryRaw<{ user_id: number }[]>`
    WITH locked AS (
      SELECT id FROM notifications WHERE post_id = ${postId} ORDER BY id FOR UPDATE
    ), gone AS (
      DELETE FROM notifications n USING locked l WHERE n.id = l.id RETURNING n.recipient_id, n.first_unread_seq IS NOT NULL AS unread
    ), counts AS (
      SELECT recipient_id, count(*)::int AS n FROM gone WHERE unread GROUP BY recipient_id
    ), inboxes AS (
      SELECT i.user_id FROM notification_inboxes i JOIN counts c ON c.recipient_id = i.user_id ORDER BY i.user_id FOR UPDATE OF i
    )
    UPDATE notification_inboxes i SET unread_count = i.unread_count - c.n FROM counts c, inboxes l
    WHERE i.user_id = c.recipient_id AND l.user_id = i.user_id RETURNING i.user_id`;
  return recounted.map((row) => row.user_id);
}

/**
 * Takes `actorId` out of every entry of `recipientId` (a block either way, or a mute): their likes,
 * reposts and follows leave the grouped entries, their replies and mentions go, with exact counts.
 */
export async function forgetActor(tx: Tx, recipientId: number, actorId: number) {
  await run(tx, withdrawActorCtes(actorId, Prisma.sql`n.recipient_id = ${recipientId}`));
}

/**
 * Marks read the entry `upToId` and everything below it in the list, or every entry when it is
 * null. An entry that gets new activity meanwhile has moved above it and stays unread.
 */
export async function markNotificationsRead(db: PrismaClient, viewer: Viewer, upToId: number | null, events: Publisher) {
  const bound = upToId === null ? Prisma.sql`(SELECT NULL::int AS seq)` : Prisma.sql`(SELECT seq FROM notifications WHERE id = ${upToId} AND recipient_id = ${viewer.id})`;
  const [result] = await db.$queryRaw<{ found: boolean }[]>`
    WITH bound AS ${bound}, locked AS (
      SELECT n.id FROM notifications n, bound b
      WHERE n.recipient_id = ${viewer.id} AND n.first_unread_seq IS NOT NULL AND (b.seq IS NULL OR n.seq <= b.seq)
      ORDER BY n.id FOR UPDATE OF n
    ), marked AS (
      UPDATE notifications n SET first_unread_seq = NULL FROM locked l WHERE n.id = l.id RETURNING n.id
    ), counted AS (
      UPDATE notification_inboxes SET unread_count = unread_count - (SELECT count(*)::int FROM marked)
      WHERE user_id = ${viewer.id} AND EXISTS (SELECT 1 FROM marked) RETURNING unread_count
    )
    SELECT EXISTS (SELECT 1 FROM bound) AS found`;
  if (!result?.found) throw new NotFoundError("Notification");
  publishInboxes(events, [viewer.id]);
}
