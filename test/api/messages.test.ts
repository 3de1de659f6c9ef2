import { beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../gql/index.js";
import type { MessagePolicy } from "../gql/graphql.js";
import { type As, type TestApi, type TestUser, globalId, testApi, topLevelError } from "../support/api.js";

const Start = graphql(`
  mutation MessagesStart($input: StartConversationInput!) {
    startConversation(input: $input) {
      __typename
      ... on Conversation { id isGroup unreadCount lastReadMessageId lastMessage { id body sender { handle } } }
      ... on ValidationError { fieldErrors { field message } }
      ... on Error { code message }
    }
  }
`);
const Send = graphql(`
  mutation MessagesSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message { id body createdAt sender { handle } conversation { id updatedAt } }
      ... on ValidationError { fieldErrors { field message } }
      ... on Error { code message }
    }
  }
`);
const MarkRead = graphql(`
  mutation MessagesMarkRead($input: MarkConversationReadInput!) {
    markConversationRead(input: $input) {
      __typename
      ... on Conversation { id unreadCount lastReadMessageId }
      ... on ValidationError { fieldErrors { field message } }
      ... on Error { code message }
    }
  }
`);
const Leave = graphql(`
  mutation MessagesLeave($input: LeaveConversationInput!) {
    leaveConversation(input: $input) { __typename ... on User { handle } ... on Error { code message } }
  }
`);
const Conversations = graphql(`
  query MessagesConversations($first: Int!, $after: String) {
    viewer {
      conversations(first: $first, after: $after) {
        edges { cursor node { id unreadCount updatedAt lastMessage { body } } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);
const ConversationNode = graphql(`
  query MessagesConversationNode($id: ID!) {
    node(id: $id) {
      __typename
      ... on Conversation {
        id
        unreadCount
        lastReadMessageId
        members(first: 20) { edges { node { user { handle } lastReadMessageId } } }
        messages(last: 100) { edges { node { id body sender { handle } } } }
      }
    }
  }
`);
const Messages = graphql(`
  query MessagesPage($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    node(id: $id) {
      __typename
      ... on Conversation {
        messages(first: $first, after: $after, last: $last, before: $before) {
          edges { cursor node { body } }
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        }
      }
    }
  }
`);
const Nodes = graphql(`
  query MessagesNodes($ids: [ID!]!) {
    nodes(ids: $ids) { __typename ... on Conversation { id } ... on Message { id body } }
  }
`);
const MessageNode = graphql(`
  query MessagesMessageNode($id: ID!) {
    node(id: $id) { __typename ... on Message { id body conversation { id } readBy(first: 20) { edges { node { user { handle } } } } } }
  }
`);
const ReadByPage = graphql(`
  query MessagesReadByPage($id: ID!, $first: Int!, $after: String) {
    node(id: $id) {
      ... on Message { readBy(first: $first, after: $after) { edges { cursor node { user { handle } } } pageInfo { hasNextPage endCursor } } }
    }
  }
`);
const MemberIds = graphql(`
  query MessagesMemberIds($id: ID!) {
    node(id: $id) { ... on Conversation { members(first: 20) { edges { node { id user { handle } } } } } }
  }
`);
const MemberNode = graphql(`
  query MessagesMemberNode($id: ID!) {
    node(id: $id) { __typename ... on ConversationMember { id user { handle } } }
  }
`);
const SetPolicy = graphql(`
  mutation MessagesSetPolicy($input: UpdateProfileInput!) {
    updateProfile(input: $input) { __typename ... on User { messagePolicy } ... on Error { message } }
  }
`);
const Follow = graphql(`
  mutation MessagesFollow($input: FollowInput!) { follow(input: $input) { __typename } }
`);
const Block = graphql(`
  mutation MessagesBlock($input: BlockInput!) { block(input: $input) { __typename } }
`);

let api: TestApi;

beforeAll(async () => {
  api = await testApi();
});

async function user(policy: MessagePolicy = "EVERYONE") {
  const u = await api.signUp();
  if (policy !== "FOLLOWING") expect((await api.execute(SetPolicy, { input: { messagePolicy: policy } }, { as: u })).data?.updateProfile).toEqual({ __typename: "User", messagePolicy: policy });
  return u;
}

async function start(as: TestUser, members: TestUser[], body = "hello") {
  const result = await api.execute(Start, { input: { memberIds: members.map((m) => m.id), body } }, { as });
  return result.data!.startConversation;
}

async function startOk(as: TestUser, members: TestUser[], body = "hello") {
  const result = await start(as, members, body);
  if (result.__typename !== "Conversation") throw new Error(JSON.stringify(result));
  return result;
}

async function send(as: As, conversationId: string, body: string) {
  return (await api.execute(Send, { input: { conversationId, body } }, { as })).data?.sendMessage;
}

async function sendOk(as: TestUser, conversationId: string, body: string) {
  const result = await send(as, conversationId, body);
  if (result?.__typename !== "Message") throw new Error(JSON.stringify(result));
  return result;
}

const conversationIdsOf = async (as: TestUser) =>
  (await api.execute(Conversations, { first: 50 }, { as })).data!.viewer!.conversations!.edges.map((e) => e.node.id);

describe("starting a conversation", () => {
  it("starts one with its first message; the same two people meet in the same one again", async () => {
    const [ana, ben] = [await user(), await user()];
    const first = await startOk(ana, [ben], "hi ben");
    expect(first).toMatchObject({ isGroup: false, unreadCount: 0, lastMessage: { body: "hi ben", sender: { handle: ana.handle } } });
    expect(first.lastReadMessageId).toBe(first.lastMessage!.id);
    // Either of them, listing the viewer or not.
    const again = await startOk(ben, [ana, ben], "hi ana");
    expect(again.id).toBe(first.id);
    expect(again.lastMessage!.body).toBe("hi ana");
    expect(await conversationIdsOf(ana)).toEqual([first.id]);
  });

  it("makes one conversation of two concurrent starts between the same people", async () => {
    const [ana, ben] = [await user(), await user()];
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => startOk(i % 2 ? ana : ben, [i % 2 ? ben : ana], `race ${i}`)));
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    const messages = (await api.execute(ConversationNode, { id: results[0]!.id }, { as: ana })).data!.node;
    expect(messages).toMatchObject({ __typename: "Conversation" });
    if (messages?.__typename !== "Conversation") return;
    expect(messages.messages.edges).toHaveLength(10);
  });

  it("takes 2 to 20 people with the viewer, each existing", async () => {
    const ana = await user();
    const others = await Promise.all(Array.from({ length: 20 }, () => user()));
    expect(await start(ana, [])).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "memberIds" }] });
    expect(await start(ana, [ana])).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "memberIds" }] });
    expect(await start(ana, others)).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "memberIds" }] });
    const group = await startOk(ana, others.slice(0, 19));
    expect(group.isGroup).toBe(true);
    const missing = await api.execute(Start, { input: { memberIds: [globalId("User", 999_999)], body: "hi" } }, { as: ana });
    expect(missing.data!.startConversation).toMatchObject({ __typename: "NotFoundError" });
    const wrongType = await api.execute(Start, { input: { memberIds: [globalId("Post", 1)], body: "hi" } }, { as: ana });
    expect(wrongType.data!.startConversation).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "memberIds.0" }] });
  });

  it("counts 1–2,000 characters as people see them", async () => {
    const [ana, ben] = [await user(), await user()];
    const family = "👩‍👩‍👧";
    const { id } = await startOk(ana, [ben], family.repeat(2_000));
    expect(await send(ana, id, family.repeat(2_001))).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "body", message: "At most 2000 characters" }] });
    expect(await send(ana, id, `a${"\u0301".repeat(40_000)}`)).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "body", message: "At most 2000 characters" }] });
    expect(await send(ana, id, "  \n ")).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "body" }] });
    expect(await send(ana, id, "a\u0000b")).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "body" }] });
    expect(await start(ana, [ben], "x".repeat(2_001))).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "body" }] });
  });

  it("obeys messagePolicy: FOLLOWING by default (the recipient follows the starter), EVERYONE, NOBODY", async () => {
    const [ana, ben] = [await user(), await api.signUp()];
    expect(await start(ana, [ben])).toMatchObject({ __typename: "ForbiddenError", message: "This user accepts messages only from people they follow." });
    expect((await api.execute(Follow, { input: { userId: ana.id } }, { as: ben })).data?.follow.__typename).toBe("User");
    await startOk(ana, [ben]);
    const closed = await user("NOBODY");
    expect(await start(ana, [closed])).toMatchObject({ __typename: "ForbiddenError", message: "This user does not accept messages." });
    // In a group, everyone else must accept the starter.
    const open = await user();
    expect(await start(ana, [open, closed])).toMatchObject({ __typename: "ForbiddenError" });
    // A conversation already going on is not affected by a policy set afterwards.
    const { id } = await startOk(ana, [open]);
    await api.execute(SetPolicy, { input: { messagePolicy: "NOBODY" } }, { as: open });
    expect(await send(ana, id, "still here")).toMatchObject({ __typename: "Message" });
  });

  it("needs a writing credential", async () => {
    const ben = await user();
    const anonymous = await api.execute(Start, { input: { memberIds: [ben.id], body: "hi" } });
    expect(topLevelError(anonymous).code).toBe("UNAUTHENTICATED");
  });
});

describe("who sees a conversation", () => {
  it("only its active members, through node, nodes, nested fields and lists", async () => {
    const [ana, ben, eve] = [await user(), await user(), await user()];
    const conversation = await startOk(ana, [ben], "secret");
    const messageId = conversation.lastMessage!.id;
    for (const as of [ana, ben]) {
      expect((await api.execute(ConversationNode, { id: conversation.id }, { as })).data!.node).toMatchObject({ __typename: "Conversation" });
      expect((await api.execute(MessageNode, { id: messageId }, { as })).data!.node).toMatchObject({ body: "secret", conversation: { id: conversation.id } });
      expect((await api.execute(Nodes, { ids: [conversation.id, messageId] }, { as })).data!.nodes).toHaveLength(2);
    }
    for (const as of [eve, null]) {
      expect((await api.execute(ConversationNode, { id: conversation.id }, { as })).data).toEqual({ node: null });
      expect((await api.execute(MessageNode, { id: messageId }, { as })).data).toEqual({ node: null });
      expect((await api.execute(Nodes, { ids: [conversation.id, messageId] }, { as })).data).toEqual({ nodes: [null, null] });
    }
    expect(await conversationIdsOf(eve)).toEqual([]);
    expect(await send(eve, conversation.id, "let me in")).toMatchObject({ __typename: "NotFoundError" });
    const read = await api.execute(MarkRead, { input: { conversationId: conversation.id, upToId: messageId } }, { as: eve });
    expect(read.data!.markConversationRead).toMatchObject({ __typename: "NotFoundError" });
    expect((await api.execute(Leave, { input: { conversationId: conversation.id } }, { as: eve })).data!.leaveConversation).toMatchObject({ __typename: "NotFoundError" });
  });

  it("a member who left sees nothing of it from then on; the others go on without them", async () => {
    const [ana, ben, cat] = [await user(), await user(), await user()];
    const group = await startOk(ana, [ben, cat], "before");
    const before = group.lastMessage!.id;
    expect((await api.execute(Leave, { input: { conversationId: group.id } }, { as: cat })).data!.leaveConversation).toEqual({ __typename: "User", handle: cat.handle });
    const after = await sendOk(ana, group.id, "after");
    expect((await api.execute(ConversationNode, { id: group.id }, { as: cat })).data).toEqual({ node: null });
    expect((await api.execute(Nodes, { ids: [group.id, before, after.id] }, { as: cat })).data).toEqual({ nodes: [null, null, null] });
    expect(await conversationIdsOf(cat)).toEqual([]);
    expect(await send(cat, group.id, "back?")).toMatchObject({ __typename: "NotFoundError" });
    expect((await api.execute(Leave, { input: { conversationId: group.id } }, { as: cat })).data!.leaveConversation).toMatchObject({ __typename: "NotFoundError" });
    const seen = (await api.execute(ConversationNode, { id: group.id }, { as: ben })).data!.node;
    if (seen?.__typename !== "Conversation") throw new Error("ben lost the conversation");
    expect(seen.members.edges.map((e) => e.node.user.handle)).toEqual([ana.handle, ben.handle]);
    expect(seen.messages.edges.map((e) => e.node.body)).toEqual(["before", "after"]);
  });

  it("a conversation of two that one left: the other cannot send, and starting again opens a new one", async () => {
    const [ana, ben] = [await user(), await user()];
    const old = await startOk(ana, [ben]);
    await api.execute(Leave, { input: { conversationId: old.id } }, { as: ben });
    expect(await send(ana, old.id, "anyone?")).toMatchObject({ __typename: "ForbiddenError", message: "Everyone else has left this conversation." });
    const fresh = await startOk(ana, [ben], "new start");
    expect(fresh.id).not.toBe(old.id);
    const seen = (await api.execute(ConversationNode, { id: fresh.id }, { as: ben })).data!.node;
    if (seen?.__typename !== "Conversation") throw new Error("ben cannot see the new conversation");
    expect(seen.messages.edges.map((e) => e.node.body)).toEqual(["new start"]);
  });
});

describe("blocks and suspension", () => {
  it("a blocked user cannot start a conversation with the blocker, and a block stops a conversation of two both ways", async () => {
    const [ana, ben] = [await user(), await user()];
    const { id } = await startOk(ana, [ben]);
    await api.execute(Block, { input: { userId: ben.id } }, { as: ana });
    expect(await start(ben, [ana])).toMatchObject({ __typename: "ForbiddenError" });
    expect(await start(ana, [ben])).toMatchObject({ __typename: "ForbiddenError" });
    expect(await send(ben, id, "please")).toMatchObject({ __typename: "ForbiddenError" });
    expect(await send(ana, id, "no")).toMatchObject({ __typename: "ForbiddenError" });
  });

  it("in a group, a blocked member's messages are hidden from the blocker (and the blocker's from them), and count as nothing unread", async () => {
    const [ana, ben, cat] = [await user(), await user(), await user()];
    const group = await startOk(ana, [ben, cat], "hi all");
    await api.execute(Block, { input: { userId: ben.id } }, { as: cat });
    const fromBen = await sendOk(ben, group.id, "ben here");
    await sendOk(ana, group.id, "ana here");
    const seen = async (as: TestUser) => {
      const node = (await api.execute(ConversationNode, { id: group.id }, { as })).data!.node;
      if (node?.__typename !== "Conversation") throw new Error("not a member");
      return node;
    };
    const forCat = await seen(cat);
    expect(forCat.messages.edges.map((e) => e.node.body)).toEqual(["hi all", "ana here"]);
    expect(forCat.members.edges.map((e) => e.node.user.handle)).toEqual([ana.handle, cat.handle]);
    expect(forCat.unreadCount).toBe(2);
    expect((await api.execute(MessageNode, { id: fromBen.id }, { as: cat })).data).toEqual({ node: null });
    const forBen = await seen(ben);
    expect(forBen.unreadCount).toBe(1);
    await sendOk(cat, group.id, "cat here");
    expect((await seen(ben)).messages.edges.map((e) => e.node.body)).toEqual(["hi all", "ben here", "ana here"]);
    expect((await seen(ana)).messages.edges.map((e) => e.node.body)).toEqual(["hi all", "ben here", "ana here", "cat here"]);
    // Marking read recounts only what cat may see.
    const read = await api.execute(MarkRead, { input: { conversationId: group.id, upToId: group.lastMessage!.id } }, { as: cat });
    expect(read.data!.markConversationRead).toMatchObject({ unreadCount: 0 });
  });

  it("a suspended user cannot send", async () => {
    const [ana, ben] = [await user(), await user()];
    const { id } = await startOk(ana, [ben]);
    await api.db.user.update({ where: { id: ana.dbId }, data: { suspendedAt: new Date() } });
    expect(topLevelError(await api.execute(Send, { input: { conversationId: id, body: "hi" } }, { as: ana })).code).toBe("FORBIDDEN");
    expect(topLevelError(await api.execute(Start, { input: { memberIds: [ben.id], body: "hi" } }, { as: ana })).code).toBe("FORBIDDEN");
  });
});

describe("messages, unread counts and read receipts", () => {
  it("pages newest last with stable cursors both ways", async () => {
    const [ana, ben] = [await user(), await user()];
    const { id } = await startOk(ana, [ben], "m0");
    for (let i = 1; i < 7; i++) await sendOk(i % 2 ? ben : ana, id, `m${i}`);
    const page = async (vars: { first?: number; after?: string; last?: number; before?: string }) => {
      const node = (await api.execute(Messages, { id, ...vars }, { as: ana })).data!.node;
      if (node?.__typename !== "Conversation") throw new Error("no conversation");
      return node.messages;
    };
    const latest = await page({ last: 3 });
    expect(latest.edges.map((e) => e.node.body)).toEqual(["m4", "m5", "m6"]);
    expect(latest.pageInfo).toMatchObject({ hasPreviousPage: true });
    // A new message does not move the older pages.
    await sendOk(ben, id, "m7");
    const older = await page({ last: 3, before: latest.pageInfo.startCursor! });
    expect(older.edges.map((e) => e.node.body)).toEqual(["m1", "m2", "m3"]);
    const oldest = await page({ last: 3, before: older.pageInfo.startCursor! });
    expect(oldest.edges.map((e) => e.node.body)).toEqual(["m0"]);
    const forward = await page({ first: 3, after: older.pageInfo.endCursor! });
    expect(forward.edges.map((e) => e.node.body)).toEqual(["m4", "m5", "m6"]);
    expect((await page({ first: 3, after: forward.pageInfo.endCursor! })).edges.map((e) => e.node.body)).toEqual(["m7"]);
  });

  it("lists the viewer's conversations by latest message", async () => {
    const [ana, ben, cat, dan] = [await user(), await user(), await user(), await user()];
    const withBen = await startOk(ana, [ben], "1");
    const withCat = await startOk(cat, [ana], "2");
    const group = await startOk(dan, [ana, ben], "3");
    expect(await conversationIdsOf(ana)).toEqual([group.id, withCat.id, withBen.id]);
    await sendOk(ben, withBen.id, "4");
    expect(await conversationIdsOf(ana)).toEqual([withBen.id, group.id, withCat.id]);
    const first = (await api.execute(Conversations, { first: 2 }, { as: ana })).data!.viewer!.conversations!;
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await api.execute(Conversations, { first: 2, after: first.pageInfo.endCursor }, { as: ana })).data!.viewer!.conversations!;
    expect(second.edges.map((e) => e.node.id)).toEqual([withCat.id]);
    expect(first.edges[0]!.node).toMatchObject({ unreadCount: 1, lastMessage: { body: "4" } });
  });

  it("keeps unread counts equal to the rows under 50 parallel sendMessage calls", async () => {
    const [ana, ben, cat] = [await user(), await user(), await user()];
    const group = await startOk(ana, [ben, cat], "start");
    const sent = await Promise.all(Array.from({ length: 50 }, (_, i) => send(i % 2 ? ben : cat, group.id, `parallel ${i}`)));
    expect(sent.every((s) => s?.__typename === "Message")).toBe(true);
    const rows = await api.db.message.findMany({ where: { conversationId: Number(Buffer.from(group.id, "base64").toString().split(":")[1]) }, select: { senderId: true } });
    expect(rows).toHaveLength(51);
    const members = await api.db.conversationMember.findMany({ where: { userId: { in: [ana.dbId, ben.dbId, cat.dbId] } }, select: { userId: true, unreadCount: true } });
    const unread = Object.fromEntries(members.map((m) => [m.userId, m.unreadCount]));
    expect(unread[ana.dbId]).toBe(rows.filter((r) => r.senderId !== ana.dbId).length);
    // Each sender has read up to their own latest message: only the other's messages after it are unread.
    const [nodeForAna] = [(await api.execute(ConversationNode, { id: group.id }, { as: ana })).data!.node];
    if (nodeForAna?.__typename !== "Conversation") throw new Error("no conversation");
    expect(nodeForAna.unreadCount).toBe(50);
    for (const [member, other] of [[ben, cat], [cat, ben]] as const) {
      const ids = nodeForAna.messages.edges.map((e) => e.node);
      const lastOwn = ids.map((m) => m.sender.handle).lastIndexOf(member.handle);
      const expected = ids.slice(lastOwn + 1).filter((m) => m.sender.handle === other.handle).length;
      expect(unread[member.dbId]).toBe(expected);
    }
  });

  it("marks read exactly, while others send, and gives read receipts", async () => {
    const [ana, ben, cat] = [await user(), await user(), await user()];
    const group = await startOk(ana, [ben, cat], "m0");
    const ids = [group.lastMessage!.id];
    for (let i = 1; i < 5; i++) ids.push((await sendOk(ana, group.id, `m${i}`)).id);
    const mark = (as: TestUser, upToId: string) => api.execute(MarkRead, { input: { conversationId: group.id, upToId } }, { as });
    expect((await mark(ben, ids[2]!)).data!.markConversationRead).toEqual({ __typename: "Conversation", id: group.id, unreadCount: 2, lastReadMessageId: ids[2] });
    // Never back to before what was read.
    expect((await mark(ben, ids[0]!)).data!.markConversationRead).toMatchObject({ unreadCount: 2, lastReadMessageId: ids[2] });
    const readers = async (id: string) => {
      const node = (await api.execute(MessageNode, { id }, { as: ana })).data!.node;
      if (node?.__typename !== "Message") throw new Error("no message");
      return node.readBy.edges.map((e) => e.node.user.handle);
    };
    expect(await readers(ids[2]!)).toEqual([ben.handle]);
    expect(await readers(ids[3]!)).toEqual([]);
    const members = (await api.execute(ConversationNode, { id: group.id }, { as: cat })).data!.node;
    if (members?.__typename !== "Conversation") throw new Error("no conversation");
    expect(members.members.edges.map((e) => e.node.lastReadMessageId)).toEqual([ids[4], ids[2], null]);
    // Marks racing sends leave the count equal to the messages after the mark.
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => send(ana, group.id, `race ${i}`)),
      ...Array.from({ length: 5 }, () => mark(cat, ids[4]!)),
    ]);
    const catRow = await api.db.conversationMember.findFirstOrThrow({ where: { userId: cat.dbId }, select: { unreadCount: true, lastReadMessageId: true } });
    const after = await api.db.message.count({ where: { conversation: { members: { some: { userId: cat.dbId } } }, id: { gt: catRow.lastReadMessageId! } } });
    expect(catRow.unreadCount).toBe(after);
    expect(after).toBe(20);
    // A message of another conversation is not a place to read up to.
    const other = await startOk(ana, [cat], "elsewhere");
    expect((await mark(cat, other.lastMessage!.id)).data!.markConversationRead).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ field: "upToId" }] });
  });

  it("pages read receipts by cursor, and leaves out a reader the viewer has blocked", async () => {
    const [ana, ben, cat, dan] = [await user(), await user(), await user(), await user()];
    const group = await startOk(ana, [ben, cat, dan], "read me");
    const messageId = group.lastMessage!.id;
    for (const reader of [ben, cat, dan]) await api.execute(MarkRead, { input: { conversationId: group.id, upToId: messageId } }, { as: reader });
    const page = async (as: TestUser, after?: string | null) => {
      const node = (await api.execute(ReadByPage, { id: messageId, first: 2, after }, { as })).data!.node;
      if (!node || !("readBy" in node)) throw new Error("no message");
      return node.readBy;
    };
    const first = await page(ana);
    expect(first.edges.map((e) => e.node.user.handle)).toEqual([ben.handle, cat.handle]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await page(ana, first.pageInfo.endCursor);
    expect(second.edges.map((e) => e.node.user.handle)).toEqual([dan.handle]);
    expect(second.pageInfo.hasNextPage).toBe(false);
    expect((await api.execute(ReadByPage, { id: messageId, first: 2, after: "bm90IGEgY3Vyc29y" }, { as: ana })).errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");

    await api.execute(Block, { input: { userId: cat.id } }, { as: ana });
    expect((await page(ana)).edges.map((e) => e.node.user.handle)).toEqual([ben.handle, dan.handle]);
    // The block is ana's: ben still sees every reader, himself included.
    expect((await page(ben)).edges.map((e) => e.node.user.handle)).toEqual([ben.handle, cat.handle]);
  });

  it("gives each member an id, as a Node only the conversation's active members find", async () => {
    const [ana, ben, eve] = [await user(), await user(), await user()];
    const group = await startOk(ana, [ben], "members");
    const node = (await api.execute(MemberIds, { id: group.id }, { as: ana })).data!.node;
    if (!node || !("members" in node)) throw new Error("no conversation");
    const benRow = node.members.edges.find((e) => e.node.user.handle === ben.handle)!.node;
    expect((await api.execute(MemberNode, { id: benRow.id }, { as: ana })).data!.node).toEqual({ __typename: "ConversationMember", id: benRow.id, user: { handle: ben.handle } });
    expect((await api.execute(MemberNode, { id: benRow.id }, { as: eve })).data!.node).toBeNull();
    expect((await api.execute(MemberNode, { id: benRow.id })).data!.node).toBeNull();
    await api.execute(Leave, { input: { conversationId: group.id } }, { as: ana });
    expect((await api.execute(MemberNode, { id: benRow.id }, { as: ana })).data!.node).toBeNull();
  });
});
