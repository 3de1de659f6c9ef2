import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createEventBus } from "../src/realtime/bus.js";
import { createLogger } from "../src/logger.js";
import { redisReachable } from "./support/redis.js";

describe("the Redis event bus", () => {
  it.skipIf(!redisReachable)(
    `leaves no promise unhandled when a subscription ends after close()${redisReachable ? "" : " (skipped: no Redis answers at 127.0.0.1:6379)"}`,
    async () => {
      const unhandled: unknown[] = [];
      const record = (reason: unknown) => void unhandled.push(reason);
      process.on("unhandledRejection", record);
      try {
        const bus = createEventBus({ redisUrl: "redis://127.0.0.1:6379", channelPrefix: `chirp-bus-${randomUUID()}:` }, createLogger("silent"));
        const events = bus.subscribe("inbox", 1)[Symbol.asyncIterator]();
        void events.next();
        await new Promise((resolve) => setTimeout(resolve, 200));
        await bus.close();
        // Ending the subscription unsubscribes on a client that has quit.
        await events.return?.();
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(unhandled).toEqual([]);
      } finally {
        process.off("unhandledRejection", record);
      }
    },
  );
});
