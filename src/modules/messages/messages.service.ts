import { Prisma, type PrismaClient } from "@prisma/client";
import { z } from "zod";
import type { Viewer } from "../auth/viewer.js";
import { assertNoBlock, hiddenUserIds } from "../blocks/visibility.js";
import { ForbiddenError, NotFoundError, ValidationError, parseInput } from "../../errors.js";
import { type Publisher, publishInboxes, publishMessage } from "../../realtime/bus.js";
import { visibleText } from "../posts/posts.service.js";

type Db = PrismaClient;
type Tx = Prisma.TransactionClient;

export const MAX_MESSAGE_LENGTH = 2_000;
export const MAX_MEMBERS = 20;

const Body = visibleText(MAX_MESSAGE_LENGTH, "A message cannot be empty");

/** Conversations `viewer` is an active member of (none for anyone else, anonymous included), as a relation filter. */
export const memberOf = (viewer: Viewer | null) => ({ members: { some: { userId: viewer?.id ?? -1, leftAt: null } } });

/** The message `id` if `viewer` may read it, on every path (node, a live event): a member of its conversation, no block with its sender. */
export const readableMessage = (viewer: Viewer | null, id: number) => ({ id, senderId: { notIn: hiddenUserIds(viewer) }, conversation: memberOf(viewer) });

const parseBody = (body: string) => parseInput(z.object({ body: Body }), { body }).body;

/** What a live update needs after a message is sent: the lead publishes it once the write commits. */
export interface MessageSent {
  conversationId: number;
  messageId: number;
  senderId: number;
  /** The active members but the sender: whose unread count went up. */
  recipientIds: number[];
}

/** What a live update needs after a member marks a conversation read. */
export interface ConversationRead {
  conversationId: number;
  userId: number;
  lastReadMessageId: number | null;
  unreadCount: number;
}

/** The pair key of a conversation of two: one per pair of people, whoever starts it. */
const pairKey = (a: number, b: number) => `${Math.min(a, b)}:${Math.max(a, b)}`;

/** Whether a block stands between `user` (an SQL column) and `other`, either way, as committed. */
const blockedSql = (user: Prisma.Sql, other: number) => Prisma.sql`EXISTS (
  SELECT 1 FROM blocks b WHERE (b.blocker_id = ${user} AND b.blocked_id = ${other}) OR (b.blocker_id = ${other} AND b.blocked_id = ${user}))`;

/**
 * Starts a conversation of the viewer and `memberIds` (2–20 people with the viewer) with its first
 * message. Everyone else must accept messages from the viewer (their messagePolicy) and no block may
 * stand between the viewer and any of them. A conversation of two that already exists between the
 * same people, both still in it, is reused: the message goes there (two concurrent starts meet on the
 * pair key's unique index and find one conversation).
 */
export async function startConversation(db: Db, viewer: Viewer, input: { memberIds: number[]; body: string }, events: Publisher) {
  const body = parseBody(input.body);
  const others = [...new Set(input.memberIds)].filter((id) => id !== viewer.id);
  if (others.length < 1 || others.length > MAX_MEMBERS - 1) {
    throw ValidationError.of("memberIds", `A conversation has 2 to ${MAX_MEMBERS} people, you included`);
  }
  const users = await db.user.findMany({
    where: { id: { in: others } },
    select: { id: true, messagePolicy: true, following: { where: { followeeId: viewer.id }, take: 1, select: { id: true } } },
  });
  if (users.length !== others.length) throw new NotFoundError("User");
  for (const user of users) {
    assertNoBlock(viewer, user.id);
    if (user.messagePolicy === "NOBODY") throw new ForbiddenError("This user does not accept messages.");
    if (user.messagePolicy === "FOLLOWING" && user.following.length === 0) {
      throw new ForbiddenError("This user accepts messages only from people they follow.");
    }
  }
  const key = others.length === 1 ? pairKey(viewer.id, others[0]!) : null;
  const sent = await db.$transaction(async (tx) => {
    let conversationId: number | null = null;
    if (key !== null) {
      const [created] = await tx.$queryRaw<{ id: number }[]>`
        INSERT INTO conversations (pair_key, is_group, last_message_at) VALUES (${key}, false, now() AT TIME ZONE 'UTC')
        ON CONFLICT (pair_key) DO NOTHING RETURNING id`;
      if (created) conversationId = created.id;
      else {
        const existing = await tx.conversation.findUniqueOrThrow({ where: { pairKey: key }, select: { id: true } });
        return send(tx, viewer, existing.id, body);
      }
    } else {
      conversationId = (await tx.conversation.create({ data: { isGroup: true, lastMessageAt: new Date() }, select: { id: true } })).id;
    }
    await tx.conversationMember.createMany({ data: [viewer.id, ...others].map((userId) => ({ conversationId: conversationId!, userId })) });
    return send(tx, viewer, conversationId, body);
  });
  publishMessage(events, sent);
  return sent;
}

/** Sends a message to a conversation the viewer is in. */
export async function sendMessage(db: Db, viewer: Viewer, conversationId: number, body: string, events: Publisher) {
  const text = parseBody(body);
  const sent = await db.$transaction((tx) => send(tx, viewer, conversationId, text));
  publishMessage(events, sent);
  return sent;
}

/**
 * Locks the conversation's row, so messages to one conversation queue up, and returns it with its
 * other active members; NotFoundError unless the viewer is an active member (nobody else learns
 * whether it exists).
 */
async function lockConversation(tx: Tx, viewer: Viewer, conversationId: number) {
  const [row] = await tx.$queryRaw<{ is_group: boolean; others: number[] }[]>`
    SELECT c.is_group, ARRAY(
      SELECT o.user_id FROM conversation_members o WHERE o.conversation_id = c.id AND o.left_at IS NULL AND o.user_id <> ${viewer.id} ORDER BY o.user_id
    ) AS others
    FROM conversations c
    WHERE c.id = ${conversationId}
      AND EXISTS (SELECT 1 FROM conversation_members m WHERE m.conversation_id = c.id AND m.user_id = ${viewer.id} AND m.left_at IS NULL)
    FOR NO KEY UPDATE OF c`;
  if (!row) throw new NotFoundError("Conversation");
  return { isGroup: row.is_group, others: row.others };
}

/**
 * The message goes in, and in one statement every other active member's unread count goes up by
 * one (except for someone a block separates from the sender, who never sees it) and every active
 * member's row takes a new seq, moving the conversation to the top of their lists; the sender has
 * read the conversation up to their own message.
 */
async function send(tx: Tx, viewer: Viewer, conversationId: number, body: string): Promise<MessageSent> {
  const { isGroup, others } = await lockConversation(tx, viewer, conversationId);
  if (others.length === 0) throw new ForbiddenError("Everyone else has left this conversation.");
  // A block between the two people of a conversation stops it both ways; a group goes on, hiding
  // each one's messages from the other (LIST_RULES.Message).
  if (!isGroup) assertNoBlock(viewer, others[0]!);
  const message = await tx.message.create({ data: { conversationId, senderId: viewer.id, body }, select: { id: true, createdAt: true } });
  await tx.$executeRaw`
    UPDATE conversation_members m SET
      seq = nextval('conversation_members_seq_seq'),
      unread_count = CASE WHEN m.user_id = ${viewer.id} THEN 0 WHEN ${blockedSql(Prisma.sql`m.user_id`, viewer.id)} THEN m.unread_count ELSE m.unread_count + 1 END,
      last_read_message_id = CASE WHEN m.user_id = ${viewer.id} THEN ${message.id} ELSE m.last_read_message_id END
    WHERE m.conversation_id = ${conversationId} AND m.left_at IS NULL`;
  await tx.conversation.update({ where: { id: conversationId }, data: { lastMessageId: message.id, lastMessageAt: message.createdAt }, select: { id: true } });
  return { conversationId, messageId: message.id, senderId: viewer.id, recipientIds: others };
}

/**
 * Marks the conversation read up to `upToId` (a message of it; never back to before what the member
 * already read) and sets the unread count to the messages after it that the member may see. The
 * member's row is locked first and the count is a statement of its own, so it sees every message
 * whose sender's increment it waited for: concurrent sends leave the count equal to the rows.
 */
export async function markConversationRead(db: Db, viewer: Viewer, conversationId: number, upToId: number, events: Publisher): Promise<ConversationRead> {
  const read = await db.$transaction(async (tx) => {
    const [member] = await tx.$queryRaw<{ id: number }[]>`
      SELECT id FROM conversation_members WHERE conversation_id = ${conversationId} AND user_id = ${viewer.id} AND left_at IS NULL FOR UPDATE`;
    if (!member) throw new NotFoundError("Conversation");
    const message = await tx.message.findFirst({ where: { id: upToId, conversationId }, select: { id: true } });
    if (!message) throw ValidationError.of("upToId", "Not a message of this conversation");
    const [read] = await tx.$queryRaw<{ last_read_message_id: number; unread_count: number }[]>`
      UPDATE conversation_members m SET
        last_read_message_id = greatest(m.last_read_message_id, ${upToId}),
        unread_count = (
          SELECT count(*)::int FROM messages x
          WHERE x.conversation_id = m.conversation_id AND x.id > greatest(m.last_read_message_id, ${upToId})
            AND x.sender_id <> m.user_id AND NOT ${blockedSql(Prisma.sql`x.sender_id`, viewer.id)}
        )
      WHERE m.id = ${member.id}
      RETURNING last_read_message_id, unread_count`;
    return { conversationId, userId: viewer.id, lastReadMessageId: read!.last_read_message_id, unreadCount: read!.unread_count };
  });
  publishInboxes(events, [viewer.id]);
  return read;
}

/**
 * The viewer leaves: the conversation and its messages are gone for them from then on, through every
 * path. A conversation of two lets go of its pair key, so the next start between the two opens a new
 * one. Leaving twice, or a conversation one is not in, is NotFoundError.
 */
export async function leaveConversation(db: Db, viewer: Viewer, conversationId: number, events: Publisher) {
  await db.$transaction(async (tx) => {
    await lockConversation(tx, viewer, conversationId);
    await tx.conversationMember.update({
      where: { conversationId_userId: { conversationId, userId: viewer.id } },
      data: { leftAt: new Date(), unreadCount: 0 },
      select: { id: true },
    });
    await tx.conversation.update({ where: { id: conversationId }, data: { pairKey: null }, select: { id: true } });
  });
  // Their unread count for it went to nothing.
  publishInboxes(events, [viewer.id]);
  return { conversationId, userId: viewer.id };
}
