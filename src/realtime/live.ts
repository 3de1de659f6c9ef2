import { Repeater } from "graphql-yoga";
import { decodeJwt } from "jose";
import type { RealtimeSettings } from "../config.js";
import type { Context } from "../context.js";
import { AuthenticationError, ForbiddenError, RateLimitedError } from "../errors.js";
import type { Logger } from "../logger.js";
import { signedIn } from "../modules/auth/auth.plugin.js";
import { type Authenticated, authenticateMany } from "../modules/auth/auth.service.js";
import { API_TOKEN_PREFIX } from "../modules/auth/credentials.js";
import { detached } from "../observability/scope.js";
import { TickBatch } from "./batch.js";
import type { EventBus } from "./bus.js";

/** WebSocket close codes Chirp uses (4403 as graphql-ws refuses a connection_init). */
export const CLOSE = {
  /** The credential expired, or its session ended, or the account was suspended: reconnect with a fresh token. */
  credentialEnded: 4403,
  /** More unsent data than REALTIME_MAX_BUFFERED_BYTES, or unread events than REALTIME_MAX_QUEUED_EVENTS. */
  slowConsumer: 4008,
  /** The server is shutting down: reconnect (to another instance). */
  goingAway: 1001,
} as const;

/** How live updates travel: a WebSocket, one SSE stream per subscription (Yoga's), or a graphql-sse single connection. */
export const LIVE_TRANSPORTS = ["websocket", "sse", "graphql-sse"] as const;
export type LiveTransport = (typeof LIVE_TRANSPORTS)[number];

/** A WebSocket or a graphql-sse single connection, as the subscriptions running on it see it. */
export interface LiveConnection {
  transport: Exclude<LiveTransport, "sse">;
  close(code: number, reason: string): void;
}

const perTransport = (): Record<LiveTransport, number> => ({ websocket: 0, sse: 0, "graphql-sse": 0 });

interface StreamOptions<E> {
  /** Asked first, cheaply: an event it refuses costs no statement of this subscriber. */
  concerns?: (event: E) => Promise<boolean>;
}

/** Why a live stream ended from the server's side. */
type EndReason = keyof typeof CLOSE;

const CREDENTIAL_ENDED = "The credential expired or its session ended: sign in again, then subscribe again.";

// setTimeout takes at most 2^31-1 ms; a later expiry is caught by the periodic re-check.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Live updates of one instance: the event bus, the limits (subscriptions per user, connections per
 * address) and every open stream, so that shutting down can end them all.
 */
export class Realtime {
  private readonly subscriptionsByUser = new Map<number, number>();
  private readonly connectionsByIp = new Map<string, number>();
  private readonly enders = new Set<(reason: EndReason) => void>();
  closing = false;
  /** Streams listening on the bus now. */
  openStreams = 0;
  /** Open subscriptions and connections, by transport (for the metrics). */
  readonly subscriptions = perTransport();
  readonly connections = perTransport();
  /** Told the name of each limit that refuses a subscription or a connection (the metrics count them). */
  onRefusal: (limit: string) => void = () => {};
  /** graphql-sse single-connection streams, reserved or open (src/realtime/sse.ts). */
  sseStreams = 0;

  constructor(
    readonly bus: EventBus,
    readonly settings: RealtimeSettings,
    private readonly logger: Logger,
  ) {}

  /** Counts a connection (a WebSocket, or an SSE stream) from `ip`; false when it has as many as allowed. */
  openConnection(ip: string, transport: LiveTransport): boolean {
    const open = this.connectionsByIp.get(ip) ?? 0;
    if (this.closing) return false;
    if (open >= this.settings.connectionsPerIp) {
      this.onRefusal("live-connections-per-ip");
      return false;
    }
    this.connectionsByIp.set(ip, open + 1);
    this.connections[transport]++;
    return true;
  }

  closeConnection(ip: string, transport: LiveTransport) {
    const open = (this.connectionsByIp.get(ip) ?? 1) - 1;
    if (open > 0) this.connectionsByIp.set(ip, open);
    else this.connectionsByIp.delete(ip);
    this.connections[transport]--;
  }

  /** Registers how to end a WebSocket when the server shuts down; returns the unregistration. */
  track(end: (reason: EndReason) => void): () => void {
    this.enders.add(end);
    return () => this.enders.delete(end);
  }

  /**
   * A subscription's stream: each event of `source` is handled as the viewer is now — the credential
   * is authenticated again (blocks and mutes reloaded, a revoked session or a suspension noticed), in
   * one statement with every other stream the event woke — and
   * `handle` turns it into what this viewer gets (often nothing). The stream ends when the credential
   * stops working (its expiry, or a re-check every REALTIME_AUTH_RECHECK), closing a WebSocket with
   * 4403; when more than REALTIME_MAX_QUEUED_EVENTS of `source` wait for it (so a broadcast source
   * should carry only what may concern the viewer: see Audience); and at shutdown.
   */
  stream<E, T>(ctx: Context, source: AsyncIterable<E>, handle: (event: E) => Promise<readonly T[]>, options: StreamOptions<E> = {}): AsyncIterable<T> {
    const { concerns } = options;
    const viewer = liveViewer(ctx);
    const header = ctx.request.headers.get("authorization")!;
    const userSubscriptions = this.subscriptionsByUser.get(viewer.id) ?? 0;
    if (this.closing) throw new RateLimitedError("The server is shutting down; subscribe again.", 1);
    if (userSubscriptions >= this.settings.subscriptionsPerUser) {
      this.onRefusal("live-subscriptions-per-user");
      throw new RateLimitedError(`At most ${this.settings.subscriptionsPerUser} live subscriptions per user.`, 60);
    }
    // A distinct SSE stream is a connection of its own; a WebSocket or a graphql-sse single connection was counted when it opened.
    const sse = ctx.connection === null;
    const transport = ctx.connection?.transport ?? "sse";
    if (sse && !this.openConnection(ctx.clientIp, "sse")) throw new RateLimitedError(`At most ${this.settings.connectionsPerIp} live connections per address.`, 60);
    this.subscriptionsByUser.set(viewer.id, userSubscriptions + 1);

    return new Repeater<T>(async (push, stop) => {
      const queue: E[] = [];
      let wake: (() => void) | undefined;
      let ended = false;
      const end = (reason: EndReason | null) => {
        if (ended) return;
        ended = true;
        if (reason && reason !== "goingAway" && ctx.connection) ctx.connection.close(CLOSE[reason], reason === "credentialEnded" ? "Credential ended" : "Slow consumer");
        // The error becomes a last UNAUTHENTICATED result (useCredentialEndNotice), so an SSE client can tell it from a normal end.
        if (reason === "credentialEnded") stop(new AuthenticationError(CREDENTIAL_ENDED));
        else stop();
        wake?.();
      };
      const untrack = this.track(end);
      const iterator = source[Symbol.asyncIterator]();
      const unrecheck = this.onRecheck(() => void this.stillValid(ctx, header).then((valid) => valid || end("credentialEnded"), (error) => stop(error)));
      const expiresInMs = accessTokenExpiry(header) - Date.now();
      const expiry = Number.isFinite(expiresInMs) && expiresInMs < MAX_TIMER_MS ? setTimeout(() => end("credentialEnded"), Math.max(0, expiresInMs)) : undefined;
      this.openStreams++;
      this.subscriptions[transport]++;
      void stop.then(() => {
        this.openStreams--;
        this.subscriptions[transport]--;
        ended = true;
        wake?.();
        unrecheck();
        clearTimeout(expiry);
        untrack();
        void iterator.return?.();
        const left = (this.subscriptionsByUser.get(viewer.id) ?? 1) - 1;
        if (left > 0) this.subscriptionsByUser.set(viewer.id, left);
        else this.subscriptionsByUser.delete(viewer.id);
        if (sse) this.closeConnection(ctx.clientIp, "sse");
      });

      // The source delivers as events come; a subscriber that falls behind is dropped rather than buffered without bound.
      void (async () => {
        for (let next = await iterator.next(); !next.done && !ended; next = await iterator.next()) {
          if (queue.length >= this.settings.maxQueuedEvents) {
            this.logger.info({ userId: viewer.id }, "dropped a slow live-update subscriber");
            return end("slowConsumer");
          }
          queue.push(next.value);
          wake?.();
        }
      })().catch((error: unknown) => stop(error));

      while (!ended) {
        const event = queue.shift();
        if (event === undefined) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        // An event that cannot concern the viewer is passed over before the credential's statement.
        if (concerns && !(await concerns(event))) continue;
        if (!(await this.stillValid(ctx, header))) return end("credentialEnded");
        for (const value of await handle(event)) {
          if (ended) return;
          await push(value);
        }
      }
    });
  }

  private readonly rechecks = new Set<() => void>();
  private recheckTimer: NodeJS.Timeout | undefined;

  /**
   * Runs `check` every REALTIME_AUTH_RECHECK with every other stream's, on one timer of the instance:
   * the credentials of all its streams go out in one statement, where a timer per stream sent one
   * statement each (1,000 subscribers: 1,000 a minute). Returns the unregistration.
   */
  private onRecheck(check: () => void): () => void {
    this.rechecks.add(check);
    // Out of the first stream's scope: the timer serves every stream, and outlives that one.
    this.recheckTimer ??= detached(() =>
      setInterval(() => {
        for (const each of [...this.rechecks]) each();
      }, this.settings.authRecheckMs),
    );
    return () => {
      this.rechecks.delete(check);
      if (this.rechecks.size === 0) {
        clearInterval(this.recheckTimer);
        this.recheckTimer = undefined;
      }
    };
  }

  private readonly audiences = new Map<string, Audience<object>>();
  private readonly batches = new Map<string, TickBatch<unknown, unknown>>();

  /** The audience of a broadcast field on this instance (`create` runs for its first subscriber), shared by all its subscribers. */
  audience<E extends object>(name: string, create: () => Audience<E>): Audience<E> {
    let audience = this.audiences.get(name) as Audience<E> | undefined;
    if (!audience) this.audiences.set(name, (audience = create()) as unknown as Audience<object>);
    return audience;
  }

  /** A batch of this instance shared by the streams that use it (`create` runs at the first use): see TickBatch. */
  batch<K, V>(name: string, create: () => TickBatch<K, V>): TickBatch<K, V> {
    let batch = this.batches.get(name) as TickBatch<K, V> | undefined;
    if (!batch) this.batches.set(name, (batch = create()) as TickBatch<unknown, unknown>);
    return batch;
  }

  /**
   * Authenticates the credential again, as fresh as a request would, in one statement with every
   * other stream the same event woke; the context then runs as the viewer is now.
   */
  private async stillValid(ctx: Context, header: string) {
    // The instance's database and settings, the same in every context (the first one is not kept).
    const { db, reader, config } = ctx;
    const credentials = this.batch("credentials", () => new TickBatch<string, Authenticated>((headers) => authenticateMany(db, reader, config.jwt, headers)));
    const answer = await credentials.load(header);
    if (answer instanceof AuthenticationError || answer instanceof ForbiddenError) return false;
    signedIn(ctx, answer);
    return true;
  }

  /** Ends every stream (SSE responses complete) and closes every WebSocket with 1001; new ones are refused. */
  async close() {
    this.closing = true;
    for (const end of [...this.enders]) end("goingAway");
    await this.bus.close();
  }
}

/**
 * The subscribers of one broadcast field (a post for every home timeline) on this instance. It listens
 * to the bus once and asks once per event, for all of them, which users it may concern (`lookup`);
 * only their streams get the event. The others are sent nothing and spend nothing on it: before, each
 * of 1,000 subscribers queued and filtered every post itself, and a burst they fell behind on dropped
 * them all as slow consumers.
 */
export class Audience<E extends object> {
  private readonly members = new Map<number, Set<Member<E>>>();
  private listening: AsyncIterator<E> | undefined;

  constructor(
    private readonly source: () => AsyncIterable<E>,
    private readonly lookup: (event: E, userIds: number[]) => Promise<ReadonlySet<number>>,
  ) {}

  /** The events of the source that may concern `userId`, from now on. */
  events(userId: number): AsyncIterable<E> {
    return new Repeater<E>(async (push, stop) => {
      const member: Member<E> = { deliver: (event) => void push(event), fail: (error) => stop(error) };
      const mine = this.members.get(userId) ?? new Set();
      this.members.set(userId, mine.add(member));
      this.listen();
      await stop;
      mine.delete(member);
      if (mine.size === 0) this.members.delete(userId);
      if (this.members.size === 0) {
        void this.listening?.return?.();
        this.listening = undefined;
      }
    });
  }

  private listen() {
    if (this.listening) return;
    // Out of the first subscriber's scope: the loop serves every subscriber, and outlives that one.
    detached(() => this.loop());
  }

  private loop() {
    const iterator = (this.listening = this.source()[Symbol.asyncIterator]());
    let delivered = Promise.resolve();
    void (async () => {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        const event = next.value;
        // Each lookup starts as its event comes; deliveries keep the events' order.
        const found = this.lookup(event, [...this.members.keys()]).catch((error: unknown) => {
          // The streams end with a (masked) error: their clients subscribe again and catch up.
          for (const mine of [...this.members.values()]) for (const member of [...mine]) member.fail(error);
          return new Set<number>();
        });
        delivered = delivered.then(async () => this.deliver(event, await found));
      }
    })();
  }

  private deliver(event: E, userIds: ReadonlySet<number>) {
    for (const userId of userIds) for (const member of this.members.get(userId) ?? []) member.deliver(event);
  }
}

interface Member<E> {
  deliver(event: E): void;
  fail(error: unknown): void;
}

/**
 * The viewer of a subscription. Scope-auth checks a field's resolve, not its subscribe, which runs
 * first: each subscribe asks here before it reads anything.
 */
export function liveViewer(ctx: Context) {
  if (!ctx.viewer) throw new AuthenticationError("You must be logged in to do this.");
  return ctx.viewer;
}

/** When an access token stops working (ms); Infinity for an API token, whose expiry the re-check notices. */
export function accessTokenExpiry(header: string): number {
  const token = header.replace(/^Bearer\s+/i, "").trim();
  if (token.startsWith(API_TOKEN_PREFIX)) return Number.POSITIVE_INFINITY;
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === "number" ? exp * 1000 : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
