import type { Post as PostRow } from "@prisma/client";
import { builder } from "../../builder.js";
import type { Context } from "../../context.js";
import { TickBatch } from "../../realtime/batch.js";
import { Audience, liveViewer } from "../../realtime/live.js";
import type { Viewer } from "../auth/viewer.js";
import { Conversation, ConversationId } from "../messages/messages.schema.js";
import { followersAmong, latestNotificationSeq, inHomeTimelines, mayReadMessage, postsById, notificationsAfter, unreadCounts, type UnreadCounts as Counts } from "./live.service.js";

/**
 * Live updates. Each field subscribes to ids on the event bus (src/realtime/bus.ts) and, per event,
 * reads as the viewer is now (ctx.realtime.stream authenticates again first) what that viewer gets.
 * The payload's fields then resolve as in any query, with the same rules.
 */
builder.subscriptionType({});

const UnreadCounts = builder.objectRef<Counts>("UnreadCounts").implement({
  description: "The viewer's badge counts.",
  fields: (t) => ({
    notifications: t.exposeInt("notifications", { description: "Unread notifications (User.unreadNotificationCount)." }),
    messages: t.exposeInt("messages", { description: "Unread messages over the viewer's conversations (the sum of Conversation.unreadCount)." }),
  }),
});

type Post = { postId: number; authorId: number };

/** The checks and reads of homeTimelineUpdated, each one statement for all the subscribers an event wakes on this instance. */
const visibleToEach = ({ realtime, reader, db }: Context) =>
  realtime.batch("homeTimelineUpdated:visible", () => new TickBatch<{ viewer: Viewer; post: Post }, boolean>((asks) => inHomeTimelines(reader, db, asks)));
const postsRead = ({ realtime, reader, db }: Context) =>
  realtime.batch("homeTimelineUpdated:posts", () => new TickBatch<{ query: object; id: number }, object | Error>((reads) => postsById(reader, db, reads)));

const readNotification = <Q extends object>(ctx: Context, query: Q, id: number) =>
  ctx.db.notification.findUniqueOrThrow({ ...query, where: { id, recipientId: ctx.viewer!.id } });

builder.subscriptionFields((t) => ({
  notificationReceived: t.prismaField({
    type: "Notification",
    description:
      "An entry of the viewer's notifications as it gets activity: a new entry, or a grouped one another actor joined (delivered again, updated). Missed ones: page `viewer.notifications`.",
    authScopes: { loggedIn: true },
    subscribe: async (_root, _args, ctx) => {
      let seen = await latestNotificationSeq(ctx.db, liveViewer(ctx).id);
      return ctx.realtime.stream(ctx, ctx.pubsub.subscribe("inbox", ctx.viewer!.id), async () => {
        const entries = await notificationsAfter(ctx.db, ctx.viewer!.id, seen);
        seen = entries.at(-1)?.seq ?? seen;
        return entries.map((entry) => entry.id);
      });
    },
    resolve: (query, id: number, _args, ctx) => readNotification(ctx, query, id),
  }),
  unreadCountsChanged: t.field({
    type: UnreadCounts,
    description: "The viewer's badge counts, each time one changes.",
    authScopes: { loggedIn: true },
    subscribe: async (_root, _args, ctx) => {
      let last = await unreadCounts(ctx.db, liveViewer(ctx).id);
      return ctx.realtime.stream(ctx, ctx.pubsub.subscribe("inbox", ctx.viewer!.id), async () => {
        const counts = await unreadCounts(ctx.db, ctx.viewer!.id);
        if (counts.notifications === last.notifications && counts.messages === last.messages) return [];
        last = counts;
        return [counts];
      });
    },
    resolve: (counts: Counts) => counts,
  }),
  messageReceived: t.prismaField({
    type: "Message",
    description:
      "Each new message of the viewer's conversations, or of one (`conversationId`), the viewer's own included (their other devices); not after they left, never one a block hides. Missed ones: page `Conversation.messages(last:, before:)` or `viewer.conversations`.",
    authScopes: { loggedIn: true },
    args: { conversationId: t.arg.globalID({ for: Conversation, required: false }) },
    subscribe: (_root, args, ctx) => {
      const only = args.conversationId ? ConversationId.key(args.conversationId) : null;
      return ctx.realtime.stream(
        ctx,
        ctx.pubsub.subscribe("message", liveViewer(ctx).id),
        async (event) => ((await mayReadMessage(ctx.db, ctx.viewer!, event.messageId)) ? [event.messageId] : []),
        { concerns: async (event) => only === null || event.conversationId === only },
      );
    },
    resolve: (query, messageId: number, _args, ctx) => ctx.db.message.findUniqueOrThrow({ ...query, where: { id: messageId } }),
  }),
  homeTimelineUpdated: t.prismaField({
    type: "Post",
    description:
      "A new post or repost of someone the viewer follows, as the home timeline would show it (mutes and blocks applied when it is written). Missed ones: page `homeTimeline` back to the newest post the client has.",
    authScopes: { loggedIn: true },
    subscribe: (_root, _args, ctx) => {
      const viewerId = liveViewer(ctx).id;
      // One statement per post for all subscribers of this instance; only the author's followers get it, and check the full rules.
      const audience = ctx.realtime.audience(
        "homeTimelineUpdated",
        () => new Audience(() => ctx.realtime.bus.subscribe("post"), (post, userIds) => followersAmong(ctx.reader, ctx.db, post.authorId, userIds)),
      );
      const visible = visibleToEach(ctx);
      return ctx.realtime.stream(ctx, audience.events(viewerId), async (post) => ((await visible.load({ viewer: ctx.viewer!, post })) ? [post.postId] : []));
    },
    resolve: async (query, postId: number, _args, ctx) => {
      const post = await postsRead(ctx).load({ query, id: postId });
      if (post instanceof Error) throw post;
      return post as PostRow;
    },
  }),
}));
