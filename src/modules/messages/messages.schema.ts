import { formatPrismaCursor, parsePrismaCursor, prismaConnectionHelpers } from "@pothos/plugin-prisma";
import type { DefaultConnectionArguments } from "@pothos/plugin-relay";
import type { ConversationMember as ConversationMemberRow, Conversation as ConversationRow, Message as MessageRow } from "@prisma/client";
import { builder } from "../../builder.js";
import type { Context } from "../../context.js";
import { ForbiddenError, NotFoundError } from "../../errors.js";
import { badUserInput } from "../../graphql/errors.js";
import { encodeGlobalId, nodeId } from "../../graphql/ids.js";
import { keysetPage } from "../../graphql/pagination.js";
import { isPrivateTo } from "../auth/viewer.js";
import { hiddenUserIds, hides, visibleRows } from "../blocks/visibility.js";
import { User, UserId } from "../users/users.schema.js";
import { MAX_MEMBERS, MAX_MESSAGE_LENGTH, memberOf, readableMessage, leaveConversation, markConversationRead, sendMessage, startConversation } from "./messages.service.js";

export const ConversationId = nodeId("Conversation");
const MessageId = nodeId("Message");
const ConversationMemberId = nodeId("ConversationMember");


/** The viewer's own membership row of a conversation, selected with it. */
const viewerMembership = (ctx: Context) => ({ members: { where: { userId: ctx.viewer?.id ?? -1 }, take: 1, select: { unreadCount: true, lastReadMessageId: true } } });

const messageGlobalId = (id: number | null) => (id === null ? null : encodeGlobalId("Message", id));

export const Conversation = builder.prismaNode("Conversation", {
  id: ConversationId.option,
  // node(id:) and nodes(ids:) find only conversations the viewer is in: any other is null, like an unknown one.
  nullable: true,
  findUnique: (id, ctx) => ({ id: ConversationId.key(id), ...memberOf(ctx.viewer) }),
  description: `A direct conversation among 2 to ${MAX_MEMBERS} people. Only its members see it; one who leaves sees nothing of it from then on.`,
  fields: (t) => ({
    isGroup: t.exposeBoolean("isGroup", { description: "False for a conversation of two, which a block between them stops both ways." }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("lastMessageAt", { type: "DateTime", description: "The time of the latest message." }),
    unreadCount: t.int({
      description: "Messages of others after the viewer's last read one (not counting those a block hides).",
      select: (_args, ctx) => viewerMembership(ctx),
      resolve: (conversation) => conversation.members[0]?.unreadCount ?? 0,
    }),
    lastReadMessageId: t.id({
      nullable: true,
      description: "The viewer's read receipt: the latest message they have read (their own messages count as read).",
      select: (_args, ctx) => viewerMembership(ctx),
      resolve: (conversation) => messageGlobalId(conversation.members[0]?.lastReadMessageId ?? null),
    }),
    lastMessage: t.field({
      type: Message,
      nullable: true,
      description: "The latest message; null when it is by someone a block separates the viewer from.",
      select: (_args, _ctx, nestedSelection) => ({ lastMessage: nestedSelection({ select: { senderId: true } }) }),
      // The fields selected beneath are added to the selection, hence the cast to the full row.
      resolve: (conversation, _args, ctx) =>
        conversation.lastMessage && !hides(ctx.viewer, conversation.lastMessage.senderId) ? (conversation.lastMessage as MessageRow) : null,
    }),
  }),
});

export const ConversationMember = builder.prismaNode("ConversationMember", {
  id: ConversationMemberId.option,
  description: "A member of a conversation and how far they have read. A Node, so that a client cache merges a read receipt that moves.",
  // As its conversation: only its active members see who is in it, and not someone a block separates them from.
  nullable: true,
  findUnique: (id, ctx) => ({ id: ConversationMemberId.key(id), leftAt: null, userId: { notIn: hiddenUserIds(ctx.viewer) }, conversation: memberOf(ctx.viewer) }),
  fields: (t) => ({
    user: t.relation("user"),
    joinedAt: t.expose("joinedAt", { type: "DateTime" }),
    lastReadMessageId: t.id({
      nullable: true,
      description: "The member's read receipt: the latest message they have read.",
      resolve: (member) => messageGlobalId(member.lastReadMessageId),
    }),
  }),
});

export const Message = builder.prismaNode("Message", {
  id: MessageId.option,
  nullable: true,
  // As its conversation: members only, and not a message of someone a block separates the viewer from.
  findUnique: (id, ctx) => readableMessage(ctx.viewer, MessageId.key(id)),
  fields: (t) => ({
    body: t.exposeString("body"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    sender: t.relation("sender"),
    conversation: t.relation("conversation"),
  }),
});

const ConversationConnection = builder.connectionObject({ type: Conversation, name: "ConversationConnection" }, { name: "ConversationEdge" });
const MessageConnection = builder.connectionObject({ type: Message, name: "MessageConnection" }, { name: "MessageEdge" });
const ConversationMemberConnection = builder.connectionObject(
  { type: ConversationMember, name: "ConversationMemberConnection" },
  { name: "ConversationMemberEdge" },
);

// The viewer's conversations page over their membership rows by seq, which every message raises:
// the conversation with the latest message comes first, and one that gets a new message moves to the top.
const conversations = prismaConnectionHelpers(builder, "ConversationMember", {
  cursor: "seq",
  query: { orderBy: { seq: "desc" } },
  select: (nodeSelection) => ({ conversation: nodeSelection({ select: { id: true } }) }),
  resolveNode: (member) => member.conversation as ConversationRow,
});
const messages = prismaConnectionHelpers(builder, "Message", { cursor: "id", query: { orderBy: { id: "asc" } } });
const members = prismaConnectionHelpers(builder, "ConversationMember", { cursor: "id", query: { orderBy: { id: "asc" } } });

builder.prismaObjectFields("Conversation", (t) => ({
  members: t.connection({
    type: ConversationMember,
    description: "The people in the conversation now, in the order they joined.",
    args: members.getArgs(),
    select: (args, ctx, nestedSelection) => ({ members: keysetPage(ctx, "ConversationMember", members.getQuery(args, ctx, nestedSelection), "asc", { leftAt: null }) }),
    resolve: (conversation, args, ctx) => members.resolve(conversation.members, args, ctx),
  }, ConversationMemberConnection),
  messages: t.connection({
    type: Message,
    description: "The messages, oldest first: `last: 20` is the latest 20, and `before` pages back from there.",
    args: messages.getArgs(),
    select: (args, ctx, nestedSelection) => ({ messages: keysetPage(ctx, "Message", messages.getQuery(args, ctx, nestedSelection), "asc") }),
    resolve: (conversation, args, ctx) => messages.resolve(conversation.messages, args, ctx),
  }, MessageConnection),
}));

/** A page of rows already in memory, ordered by id, with the cursors a Prisma connection over them would have. */
function pageById<T extends { id: number }>(rows: T[], { first, last, after, before }: DefaultConnectionArguments) {
  const bound = (cursor: string | null | undefined, name: string) => {
    if (cursor == null) return null;
    const id = parsePrismaCursor(cursor);
    if (typeof id !== "number") throw badUserInput(`\`${name}\` is not a cursor of this list.`);
    return id;
  };
  const [afterId, beforeId] = [bound(after, "after"), bound(before, "before")];
  const window = rows.filter((row) => (afterId === null || row.id > afterId) && (beforeId === null || row.id < beforeId));
  const backward = first == null && last != null;
  const size = (backward ? last : first) ?? 20; // as builder.ts' defaultConnectionSize
  const page = backward ? window.slice(Math.max(0, window.length - size)) : window.slice(0, size);
  const edges = page.map((node) => ({ cursor: formatPrismaCursor(node, "id"), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: !backward && window.length > size,
      hasPreviousPage: backward && window.length > size,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

// A message's readers come from its conversation's active members (at most MAX_MEMBERS), selected with
// the message so that a page of messages with their receipts is one statement; they are paged here.
builder.prismaObjectFields("Message", (t) => ({
  readBy: t.connection({
    type: ConversationMember,
    description: "The members other than the sender who have read this message (their last read message is this one or later), in the order they joined.",
    select: (_args, ctx, nestedSelection) => ({
      id: true,
      senderId: true,
      conversation: {
        select: {
          members: nestedSelection(
            { where: { leftAt: null, ...visibleRows(ctx.viewer, "ConversationMember") }, orderBy: { id: "asc" }, select: { id: true, userId: true, lastReadMessageId: true } },
            ["edges", "node"],
          ),
        },
      },
    }),
    resolve: (message, args) =>
      pageById(
        (message.conversation.members as ConversationMemberRow[]).filter(
          (m) => m.userId !== message.senderId && m.lastReadMessageId !== null && m.lastReadMessageId >= message.id,
        ),
        args,
      ),
  }, ConversationMemberConnection),
}));

builder.prismaObjectFields("User", (t) => ({
  conversations: t.connection({
    type: Conversation,
    description: "The user's conversations, the one with the latest message first. Only the user sees them.",
    nullable: true,
    authScopes: isPrivateTo,
    args: conversations.getArgs(),
    select: (args, ctx, nestedSelection) => ({
      conversationMemberships: keysetPage(ctx, "ConversationMember", conversations.getQuery(args, ctx, nestedSelection), "desc", { leftAt: null }, { key: "seq" }),
    }),
    resolve: (user, args, ctx) => conversations.resolve(user.conversationMemberships, args, ctx),
  }, ConversationConnection),
}));

const StartConversationInput = builder.inputType("StartConversationInput", {
  fields: (t) => ({
    memberIds: t.globalIDList({ for: User, description: `The others (the viewer is always in it): 2 to ${MAX_MEMBERS} people in all.` }),
    body: t.string({ description: `The first message: 1–${MAX_MESSAGE_LENGTH} characters, counted as people see them.` }),
  }),
});
const SendMessageInput = builder.inputType("SendMessageInput", {
  fields: (t) => ({
    conversationId: t.globalID({ for: Conversation }),
    body: t.string({ description: `1–${MAX_MESSAGE_LENGTH} characters, counted as people see them (an emoji is one).` }),
  }),
});
const MarkConversationReadInput = builder.inputType("MarkConversationReadInput", {
  fields: (t) => ({
    conversationId: t.globalID({ for: Conversation }),
    upToId: t.globalID({ for: Message, description: "The latest message the viewer has read; an earlier one than already read changes nothing." }),
  }),
});
const LeaveConversationInput = builder.inputType("LeaveConversationInput", {
  fields: (t) => ({ conversationId: t.globalID({ for: Conversation }) }),
});

const readConversation = <Q extends object>(ctx: Context, query: Q, id: number) =>
  ctx.reader.findFirst("Conversation", { ...query, where: { id } }, (q) => ctx.db.conversation.findUniqueOrThrow(q));

builder.mutationFields((t) => ({
  startConversation: t.prismaField({
    type: "Conversation",
    description:
      "Starts a conversation with its first message and returns it. Starting again with the same one other person, while both are in it, sends the message to the existing conversation.",
    authScopes: { writer: true },
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { input: t.arg({ type: StartConversationInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const sent = await startConversation(ctx.db, ctx.viewer!, { memberIds: input.memberIds.map((id) => UserId.key(id)), body: input.body }, ctx.pubsub);
      return (await readConversation(ctx, query, sent.conversationId))!;
    },
  }),
  sendMessage: t.prismaField({
    type: "Message",
    description: "Sends a message to a conversation the viewer is in and returns it.",
    authScopes: { writer: true },
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { input: t.arg({ type: SendMessageInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const sent = await sendMessage(ctx.db, ctx.viewer!, ConversationId.key(input.conversationId), input.body, ctx.pubsub);
      return (await ctx.reader.findFirst("Message", { ...query, where: { id: sent.messageId } }, (q) => ctx.db.message.findUniqueOrThrow(q)))!;
    },
  }),
  markConversationRead: t.prismaField({
    type: "Conversation",
    description: "Marks the conversation read up to a message and returns it (unreadCount is the new count).",
    authScopes: { writer: true },
    errors: { types: [NotFoundError] },
    args: { input: t.arg({ type: MarkConversationReadInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const read = await markConversationRead(ctx.db, ctx.viewer!, ConversationId.key(input.conversationId), MessageId.key(input.upToId), ctx.pubsub);
      return (await readConversation(ctx, query, read.conversationId))!;
    },
  }),
  leaveConversation: t.prismaField({
    type: "User",
    description: "The viewer leaves the conversation, which is gone for them from then on; returns the viewer.",
    authScopes: { writer: true },
    errors: { types: [NotFoundError] },
    args: { input: t.arg({ type: LeaveConversationInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      await leaveConversation(ctx.db, ctx.viewer!, ConversationId.key(input.conversationId), ctx.pubsub);
      return (await ctx.reader.findFirst("User", { ...query, where: { id: ctx.viewer!.id } }, (q) => ctx.db.user.findUniqueOrThrow(q)))!;
    },
  }),
}));
