import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signAccessToken } from "../../src/modules/auth/credentials.js";
import { testConfig } from "../support/api.js";
import { type LiveApi, collect, listenApi, untilSubscribed } from "../support/live.js";

const HOME = `subscription LiveHome { homeTimelineUpdated { id body author { handle } repostOf { body author { handle } } } }`;
const NOTIFICATIONS = `subscription LiveNotifications { notificationReceived { id kind actorCount isRead actors(first: 5) { edges { node { handle } } } } }`;
const COUNTS = `subscription LiveCounts { unreadCountsChanged { notifications } }`;

type User = Awaited<ReturnType<LiveApi["signUp"]>>;
type Home = { homeTimelineUpdated: { id: string; body: string | null; author: { handle: string } | null; repostOf: { body: string | null } | null } };

let live: LiveApi;
beforeAll(async () => {
  live = await listenApi();
});
afterAll(() => live.close());

const createPost = async (as: User, body: string, replyToId?: string) => {
  const result = await live.execute(`mutation ($input: CreatePostInput!) { createPost(input: $input) { __typename ... on Post { id } ... on Error { message } } }`, { input: { body, replyToId } }, as);
  return result.data.createPost as { __typename: string; id: string };
};
const run = (as: User, mutation: string, id: string) => live.execute(`mutation ($id: ID!) { ${mutation}(input: { ${mutation.endsWith("Post") || mutation === "repost" ? "postId" : "userId"}: $id }) { __typename } }`, { id }, as);
const bearer = (user: { token: string }) => ({ authorization: `Bearer ${user.token}` });

describe("homeTimelineUpdated", () => {
  it("brings the posts and reposts of people the viewer follows, over WebSocket, and nobody else's", async () => {
    const [reader, followed, stranger] = [await live.signUp(), await live.signUp(), await live.signUp()];
    await run(reader, "follow", followed.id);
    const received = collect<Home>(live.ws(bearer(reader)), HOME);
    await untilSubscribed(live.realtime, 1);
    await createPost(stranger, "not for the reader");
    await createPost(reader, "the reader's own");
    const first = await createPost(followed, "for the reader");
    const strangers = await createPost(stranger, "reposted");
    await run(followed, "repost", strangers.id);
    await received.nth(2);
    expect(received.values.map((v) => [v.homeTimelineUpdated.body, v.homeTimelineUpdated.author?.handle, v.homeTimelineUpdated.repostOf?.body ?? null])).toEqual([
      ["for the reader", followed.handle, null],
      [null, followed.handle, "reposted"],
    ]);
    expect(received.values[0]!.homeTimelineUpdated.id).toBe(first.id);
    received.stop();
  });

  it("applies mutes and blocks made after subscribing, per event", async () => {
    const [reader, muted, friend, blocked] = [await live.signUp(), await live.signUp(), await live.signUp(), await live.signUp()];
    for (const user of [muted, friend]) await run(reader, "follow", user.id);
    const received = collect<Home>(live.ws(bearer(reader)), HOME);
    await untilSubscribed(live.realtime, 1);
    await run(reader, "mute", muted.id);
    await run(reader, "block", blocked.id);
    const mutedPost = await createPost(muted, "muted");
    const blockedPost = await createPost(blocked, "blocked");
    await run(friend, "repost", blockedPost.id);
    // A repost of a muted author's post is muted too, as in homeTimeline.
    await run(friend, "repost", mutedPost.id);
    await createPost(friend, "seen");
    await received.nth(1);
    // The last write went out last: had an earlier one been delivered, it would be first.
    await createPost(friend, "seen too");
    await received.nth(2);
    expect(received.values.map((v) => v.homeTimelineUpdated.body)).toEqual(["seen", "seen too"]);
    received.stop();
  });

  it("over Yoga's SSE (distinct connections), with the Authorization header", async () => {
    const [reader, followed] = [await live.signUp(), await live.signUp()];
    await run(reader, "follow", followed.id);
    const response = await fetch(live.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", ...bearer(reader) },
      body: JSON.stringify({ query: HOME }),
    });
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    await untilSubscribed(live.realtime, 1);
    await createPost(followed, "over sse");
    const reader_ = response.body!.getReader();
    let text = "";
    while (!text.includes("over sse")) text += new TextDecoder().decode((await reader_.read()).value);
    const event = text.split("\n\n").find((chunk) => chunk.startsWith("event: next"))!;
    expect(JSON.parse(event.split("data: ")[1]!)).toMatchObject({ data: { homeTimelineUpdated: { body: "over sse", author: { handle: followed.handle } } } });
    await reader_.cancel();
    // The server counts the stream off once it notices the cancel; the next test's untilSubscribed counts from zero.
    for (let attempt = 0; attempt < 500 && live.realtime.openStreams > 0; attempt++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(live.realtime.openStreams).toBe(0);
  });

  it("a write that rolls back publishes nothing", async () => {
    const [reader, followed] = [await live.signUp(), await live.signUp()];
    await run(reader, "follow", followed.id);
    const received = collect<Home>(live.ws(bearer(reader)), HOME);
    await untilSubscribed(live.realtime, 1);
    const parent = await createPost(followed, "to be deleted");
    await received.nth(1);
    await run(followed, "deletePost", parent.id);
    // The reply's transaction fails on the deleted parent, after its post row was written.
    expect((await createPost(followed, "a reply that fails", parent.id)).__typename).toBe("ValidationError");
    await createPost(followed, "committed");
    await received.nth(2);
    expect(received.values.map((v) => v.homeTimelineUpdated.body)).toEqual(["to be deleted", "committed"]);
    received.stop();
  });
});

describe("notificationReceived and unreadCountsChanged", () => {
  it("deliver a grouped entry again as another actor joins it, and the counts as they change", async () => {
    const [author, liker, other] = [await live.signUp(), await live.signUp(), await live.signUp()];
    const post = await createPost(author, "like me");
    const client = live.ws({ Authorization: `Bearer ${author.token}` });
    const notifications = collect<{ notificationReceived: { id: string; kind: string; actorCount: number; actors: { edges: { node: { handle: string } }[] } } }>(client, NOTIFICATIONS);
    const counts = collect<{ unreadCountsChanged: { notifications: number } }>(client, COUNTS);
    await untilSubscribed(live.realtime, 2);
    await run(liker, "likePost", post.id);
    await notifications.nth(1);
    await run(other, "likePost", post.id);
    const second = (await notifications.nth(2)).notificationReceived;
    const first = notifications.values[0]!.notificationReceived;
    expect(second.id).toBe(first.id);
    expect([first.actorCount, second.actorCount]).toEqual([1, 2]);
    expect(second.actors.edges.map((e) => e.node.handle)).toEqual([other.handle, liker.handle]);
    await live.execute(`mutation { markNotificationsRead(input: {}) { __typename } }`, {}, author);
    await counts.nth(2);
    expect(counts.values.map((v) => v.unreadCountsChanged.notifications)).toEqual([1, 0]);
    notifications.stop();
    counts.stop();
  });

  it("over graphql-sse's single connection mode, as the header's user only", async () => {
    const [author, replier, bystander] = [await live.signUp(), await live.signUp(), await live.signUp()];
    const post = await createPost(author, "reply to me");
    const mine = collect<{ notificationReceived: { kind: string } }>(live.sse(author.token), NOTIFICATIONS);
    const theirs = collect<{ notificationReceived: { kind: string } }>(live.sse(bystander.token), NOTIFICATIONS);
    await untilSubscribed(live.realtime, 2);
    await createPost(replier, "a reply", post.id);
    await createPost(replier, `hello @${bystander.handle}`);
    expect((await mine.nth(1)).notificationReceived.kind).toBe("REPLY");
    expect((await theirs.nth(1)).notificationReceived.kind).toBe("MENTION");
    expect([mine.values.length, theirs.values.length]).toEqual([1, 1]);
    mine.stop();
    theirs.stop();
  });
});

describe("messageReceived", () => {
  const MESSAGES = `subscription LiveMessages($conversationId: ID) { messageReceived(conversationId: $conversationId) { id body sender { handle } } }`;
  type Received_ = { messageReceived: { body: string; sender: { handle: string } | null } };
  const openTo = (user: User) => live.execute(`mutation { updateProfile(input: { messagePolicy: EVERYONE }) { __typename } }`, {}, user);
  const start = async (as: User, members: User[], body: string) =>
    (await live.execute(`mutation ($input: StartConversationInput!) { startConversation(input: $input) { __typename ... on Conversation { id } } }`, { input: { memberIds: members.map((m) => m.id), body } }, as)).data
      .startConversation as { id: string };
  const send = async (as: User, conversationId: string, body: string) =>
    (await live.execute(`mutation ($input: SendMessageInput!) { sendMessage(input: $input) { __typename } }`, { input: { conversationId, body } }, as)).data.sendMessage.__typename as string;

  it("reaches members only, not after they left, never across a block, and counts unread messages", async () => {
    const [ana, ben, cat, dan] = [await live.signUp(), await live.signUp(), await live.signUp(), await live.signUp()];
    for (const user of [ben, cat, dan]) await openTo(user);
    const group = await start(ana, [ben, cat], "hello all");
    const other = await start(ana, [dan], "just dan");
    const ben_ = collect<Received_>(live.ws(bearer(ben)), MESSAGES);
    const catClient = live.ws(bearer(cat));
    const cat_ = collect<Received_>(catClient, MESSAGES, { conversationId: group.id });
    const catCounts = collect<{ unreadCountsChanged: { messages: number; notifications: number } }>(catClient, `subscription { unreadCountsChanged { messages notifications } }`);
    // Dan names a conversation he is not in: nothing of it reaches him.
    const dan_ = collect<Received_>(live.ws(bearer(dan)), MESSAGES, { conversationId: group.id });
    await untilSubscribed(live.realtime, 4);
    expect(await send(ana, group.id, "first")).toBe("Message");
    expect(await send(ana, other.id, "to dan only")).toBe("Message");
    await Promise.all([ben_.nth(1), cat_.nth(1), catCounts.nth(1)]);
    // Cat blocks ana after subscribing: the group goes on, ana's messages are hidden from cat.
    await live.execute(`mutation ($id: ID!) { block(input: { userId: $id }) { __typename } }`, { id: ana.id }, cat);
    await live.execute(`mutation ($id: ID!) { leaveConversation(input: { conversationId: $id }) { __typename } }`, { id: group.id }, ben);
    expect(await send(ana, group.id, "second")).toBe("Message");
    expect(await send(cat, group.id, "from cat")).toBe("Message");
    await cat_.nth(2);
    expect(ben_.values.map((v) => v.messageReceived.body)).toEqual(["first"]);
    expect(cat_.values.map((v) => v.messageReceived.body)).toEqual(["first", "from cat"]);
    expect(catCounts.values[0]!.unreadCountsChanged).toEqual({ messages: 2, notifications: 0 });
    expect(dan_.values).toEqual([]);
    for (const s of [ben_, cat_, catCounts, dan_]) s.stop();
  });
});

describe("authentication", () => {
  it("needs a credential: an anonymous subscription is UNAUTHENTICATED, a bad token too", async () => {
    const anonymous = collect(live.ws(), HOME);
    await anonymous.done;
    const bad = collect(live.ws({ authorization: "Bearer nonsense" }), HOME);
    await bad.done;
    expect([anonymous.errors, bad.errors].map((errors) => (errors as { extensions?: { code?: string } }[][]).flat().map((e) => e.extensions?.code))).toEqual([["UNAUTHENTICATED"], ["UNAUTHENTICATED"]]);
  });

  it("closes a WebSocket with 4403 and ends an SSE stream when the access token expires", async () => {
    const user = await live.signUp();
    const { sid } = decodeJwt(user.token) as { sid: string };
    const userId = Number(Buffer.from(user.id, "base64").toString().split(":")[1]);
    // A real token of the user's session, signed with the server's secret, expiring in 2 s.
    const { token } = await signAccessToken({ ...testConfig.jwt, accessTtl: 2 }, userId, sid);
    let closed: number | undefined;
    const ws = collect(live.ws(bearer({ token }), { onClose: (code) => (closed = code) }), COUNTS);
    const response = await fetch(live.url, { method: "POST", headers: { "content-type": "application/json", accept: "text/event-stream", ...bearer({ token }) }, body: JSON.stringify({ query: COUNTS }) });
    await untilSubscribed(live.realtime, 2);
    const body = await response.text();
    await ws.done;
    expect(closed).toBe(4403);
    expect(body).toMatch(/event: complete/);
  });

  it("closes the WebSocket with 4403 at the first event after its session ended", async () => {
    const [user, liker] = [await live.signUp(), await live.signUp()];
    const post = await createPost(user, "post");
    let closed: number | undefined;
    const counts = collect(live.ws(bearer(user), { onClose: (code) => (closed = code) }), COUNTS);
    await untilSubscribed(live.realtime, 1);
    expect((await live.execute(`mutation { logOut }`, {}, user)).data).toEqual({ logOut: true });
    await run(liker, "likePost", post.id);
    await counts.done;
    expect(closed).toBe(4403);
    expect(counts.values).toEqual([]);
  });
});

describe("request checks", () => {
  it("apply the page-size and depth limits to subscription documents", async () => {
    const user = await live.signUp();
    const client = live.ws(bearer(user));
    const pages = collect(client, `subscription { homeTimelineUpdated { replies(first: 101) { edges { node { id } } } } }`);
    const nested = "replyTo { ".repeat(12) + "id" + " }".repeat(12);
    const deep = collect(client, `subscription { homeTimelineUpdated { ${nested} } }`);
    await Promise.all([pages.done, deep.done]);
    const codes = (errors: unknown[]) => (errors as { extensions?: { code?: string } }[][]).flat().map((e) => e.extensions?.code);
    expect(codes(pages.errors)).toEqual(["BAD_USER_INPUT"]);
    expect(codes(deep.errors)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
  });
});
