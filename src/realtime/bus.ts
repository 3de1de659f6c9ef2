import { setMaxListeners } from "node:events";
import { createRedisEventTarget } from "@graphql-yoga/redis-event-target";
import { type PubSub, type PubSubEvent, type PubSubEventTarget, createPubSub } from "graphql-yoga";
import { Redis } from "ioredis";
import type { RealtimeSettings } from "../config.js";
import type { Logger } from "../logger.js";

/**
 * What the bus carries: ids only. A subscriber reads what they mean with its own viewer (blocks,
 * membership), so a payload never travels to, or leaks across, viewers. Adding a kind of event: a
 * topic here, a publish where the write commits, a field in src/modules/live (README, "Live updates").
 */
export type RealtimeEvents = {
  /** The user's notifications or unread count may have changed. */
  inbox: [userId: number, event: { userId: number }];
  /** A post or repost was written. */
  post: [event: { postId: number; authorId: number }];
  /** A message the user may receive (as a member of its conversation, or its sender) was sent. */
  message: [userId: number, event: { messageId: number; conversationId: number }];
  /** An instance committed writes to these tables: the others' response caches drop what read them (src/graphql/response-cache.ts). */
  tables: [event: { tables: string[]; origin: string }];
};

/** What services publish through, once their transaction committed: a rolled-back write publishes nothing. */
export type Publisher = Pick<PubSub<RealtimeEvents>, "publish">;

export interface EventBus extends PubSub<RealtimeEvents> {
  /** "memory" for one process, "redis" across instances. */
  kind: "memory" | "redis";
  /** Called whenever the subscribing connection is ready again after a loss, when events may have been missed. */
  onReconnect(listener: () => void): () => void;
  /** Called (and awaited) when close() begins, while the connections still work: a subscription ended then unsubscribes cleanly. */
  onClose(listener: () => unknown): () => void;
  close(): Promise<void>;
}

/** In-process by default; through Redis pub/sub when REDIS_URL is set, so every instance sees every event. */
export function createEventBus(settings: Pick<RealtimeSettings, "redisUrl" | "channelPrefix">, logger: Logger): EventBus {
  if (!settings.redisUrl) {
    const eventTarget = new EventTarget();
    // Every subscriber of a topic is a listener of it; Node warns past 10 as if they leaked.
    setMaxListeners(0, eventTarget);
    const closing = listeners();
    return Object.assign(createPubSub<RealtimeEvents>({ eventTarget: eventTarget as Target }), {
      kind: "memory" as const,
      onReconnect: () => () => {},
      onClose: closing.add,
      close: async () => closing.call(),
    });
  }
  // A subscribing connection can do nothing else: one client to publish, one to subscribe.
  const options = { maxRetriesPerRequest: null, lazyConnect: false };
  const publishClient = new Redis(settings.redisUrl, options);
  const subscribeClient = new Redis(settings.redisUrl, options);
  for (const client of [publishClient, subscribeClient]) {
    // ioredis reconnects by itself; without a listener an outage would crash the process.
    client.on("error", (error: Error) => logger.warn({ err: { message: error.message } }, "Redis (live updates) is unreachable"));
    // redis-event-target leaves these promises unhandled: one that fails (a stream's unsubscribe after
    // close() quit the client) would end the process with an unhandled rejection.
    for (const command of ["publish", "subscribe", "unsubscribe"] as const) {
      const send = client[command].bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as Record<string, unknown>)[command] = (...args: unknown[]) =>
        send(...args).catch((error: Error) => logger.warn({ err: { message: error.message }, command }, "Redis (live updates) command failed"));
    }
  }
  // ioredis subscribes again by itself after a reconnect; what was published in between is lost.
  const reconnected = listeners();
  const closing = listeners();
  let connected = false;
  subscribeClient.on("ready", () => {
    if (connected) void reconnected.call();
    connected = true;
  });
  const eventTarget = prefixed(createRedisEventTarget<PubSubEvent<RealtimeEvents, keyof RealtimeEvents>>({ publishClient, subscribeClient }), settings.channelPrefix);
  return Object.assign(createPubSub<RealtimeEvents>({ eventTarget }), {
    kind: "redis" as const,
    onReconnect: reconnected.add,
    onClose: closing.add,
    close: async () => {
      await closing.call();
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  });
}

type Target = PubSubEventTarget<RealtimeEvents>;

/** A set of callbacks: `add` returns the function that removes it again; `call` settles once they all have. */
function listeners() {
  const set = new Set<() => unknown>();
  return {
    add: (listener: () => unknown) => {
      set.add(listener);
      return () => void set.delete(listener);
    },
    call: async () => {
      await Promise.allSettled([...set].map(async (listener) => listener()));
    },
  };
}

/** The event target with `prefix` before every channel name. */
function prefixed(target: Target, prefix: string): Target {
  return {
    addEventListener: (type, listener, options) => target.addEventListener(prefix + type, listener, options),
    removeEventListener: (type, listener, options) => target.removeEventListener(prefix + type, listener, options),
    dispatchEvent: (event) => target.dispatchEvent(new CustomEvent(prefix + event.type, { detail: event.detail }) as typeof event),
  };
}

/** After a commit: the users whose notifications or unread counts the write may have changed. */
export function publishInboxes(events: Publisher, userIds: Iterable<number | null | undefined>) {
  for (const userId of new Set(userIds)) if (userId != null) events.publish("inbox", userId, { userId });
}

/** After a commit: a message for each member it went to (the sender's other devices too), and their counts. */
export function publishMessage(events: Publisher, sent: { conversationId: number; messageId: number; senderId: number; recipientIds: readonly number[] }) {
  for (const userId of [sent.senderId, ...sent.recipientIds]) events.publish("message", userId, { messageId: sent.messageId, conversationId: sent.conversationId });
  publishInboxes(events, sent.recipientIds);
}

/** For writes made before anyone can listen (the demo data, loaded before the server starts). */
export const noEvents: Publisher = { publish: () => {} };
