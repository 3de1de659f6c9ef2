import { prismaConnectionHelpers } from "@pothos/plugin-prisma";
import type { User as UserRow } from "@prisma/client";
import { builder } from "../../builder.js";
import type { Context } from "../../context.js";
import { NotFoundError } from "../../errors.js";
import { nodeId } from "../../graphql/ids.js";
import { keysetPage } from "../../graphql/pagination.js";
import { isPrivateTo } from "../auth/viewer.js";
import { User, UserConnection } from "../users/users.schema.js";
import { GROUP_WINDOW_HOURS, markNotificationsRead } from "./notifications.service.js";

const NotificationKind = builder.enumType("NotificationKind", {
  values: {
    LIKE: { description: "Likes of the recipient's post." },
    REPLY: { description: "A reply to the recipient's post; `post` is the reply." },
    REPOST: { description: "Reposts of the recipient's post." },
    FOLLOW: { description: "New followers; `post` is null." },
    MENTION: { description: "A post that mentions the recipient; `post` is that post." },
  },
});

const NotificationId = nodeId("Notification");

export const Notification = builder.prismaNode("Notification", {
  id: NotificationId.option,
  // node(id:) finds only the viewer's own notifications: anyone else's are null, like unknown ones.
  nullable: true,
  findUnique: (id, ctx) => ({ id: NotificationId.key(id), recipientId: ctx.viewer?.id ?? -1 }),
  description: `An entry of the viewer's notifications. Likes, reposts and follows of one subject within ${GROUP_WINDOW_HOURS} hours are one entry with every actor; a reply or a mention is an entry of its own.`,
  fields: (t) => ({
    kind: t.expose("kind", { type: NotificationKind }),
    actorCount: t.exposeInt("actorCount", { description: "How many people the entry is about (\"ana and 12 others\")." }),
    post: t.relation("post", {
      nullable: true,
      description: "The liked or reposted post; for REPLY and MENTION the reply or the mentioning post; null for FOLLOW.",
    }),
    createdAt: t.expose("latestAt", { type: "DateTime", description: "The latest activity of the entry." }),
    isRead: t.boolean({
      description: "False from new activity in the entry until markNotificationsRead covers it.",
      select: { firstUnreadSeq: true },
      resolve: (notification) => notification.firstUnreadSeq === null,
    }),
  }),
});

const NotificationConnection = builder.connectionObject({ type: Notification, name: "NotificationConnection" }, { name: "NotificationEdge" });

// Entries page by seq, which every new activity raises: an entry that moves to the top is never met
// again further down, and one entry is one row, so a page never splits it. An entry whose latest actor
// leaves falls back to the seq of the latest remaining one, and may be met again below (README).
const notifications = prismaConnectionHelpers(builder, "Notification", { cursor: "seq", query: { orderBy: { seq: "desc" } } });

// Actors page over the entry's actor rows, newest first, and yield the users.
const actors = prismaConnectionHelpers(builder, "NotificationActor", {
  cursor: "id",
  query: { orderBy: { id: "desc" } },
  select: (nodeSelection) => ({ actor: nodeSelection({ select: { id: true } }) }),
  resolveNode: (row) => row.actor as UserRow,
});

builder.prismaObjectFields("Notification", (t) => ({
  actors: t.connection({
    type: User,
    description: "Who the entry is about, most recent first.",
    args: actors.getArgs(),
    select: (args, ctx, nestedSelection) => ({ actors: keysetPage(ctx, "NotificationActor", actors.getQuery(args, ctx, nestedSelection), "desc") }),
    resolve: (notification, args, ctx) => actors.resolve(notification.actors, args, ctx),
  }, UserConnection),
}));

builder.prismaObjectFields("User", (t) => ({
  notifications: t.connection({
    type: Notification,
    description: "The user's notifications, latest activity first; `kinds` keeps only those. Only the user sees them.",
    nullable: true,
    authScopes: isPrivateTo,
    args: { ...notifications.getArgs(), kinds: t.arg({ type: [NotificationKind], required: false }) },
    select: (args, ctx, nestedSelection) => ({
      notifications: keysetPage(ctx, "Notification", notifications.getQuery(args, ctx, nestedSelection), "desc", args.kinds ? { kind: { in: args.kinds } } : undefined, {
        key: "seq",
      }),
    }),
    resolve: (user, args, ctx) => notifications.resolve(user.notifications, args, ctx),
  }, NotificationConnection),
  unreadNotificationCount: t.int({
    description: "How many of the user's notifications are unread. Only the user sees it.",
    nullable: true,
    authScopes: isPrivateTo,
    select: { notificationInbox: { select: { unreadCount: true } } },
    resolve: (user) => user.notificationInbox?.unreadCount ?? 0,
  }),
}));

const MarkNotificationsReadInput = builder.inputType("MarkNotificationsReadInput", {
  fields: (t) => ({
    upToId: t.globalID({
      for: Notification,
      required: false,
      description: "Marks read this entry and every entry below it in the list; every entry when omitted.",
    }),
  }),
});

const readViewer = <Q extends object>(ctx: Context, query: Q) =>
  ctx.reader.findFirst("User", { ...query, where: { id: ctx.viewer!.id } }, (q) => ctx.db.user.findUniqueOrThrow(q));

builder.mutationFields((t) => ({
  markNotificationsRead: t.prismaField({
    type: "User",
    description: "Marks the viewer's notifications read and returns the viewer (unreadNotificationCount is the new count).",
    authScopes: { writer: true },
    errors: { types: [NotFoundError] },
    args: { input: t.arg({ type: MarkNotificationsReadInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      await markNotificationsRead(ctx.db, ctx.viewer!, input.upToId ? NotificationId.key(input.upToId) : null, ctx.pubsub);
      return (await readViewer(ctx, query))!;
    },
  }),
}));
